"""Projects, sweeps and reports through the client; the demo seed and the CLI server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.api import BetaReport, Project, Sweep
from prefect_wandb_public.errors import NotFoundError
from prefect_wandb_public.testing import LocalWandbServer, WandbStore
from prefect_wandb_public.testing.seed import DEMO_RUNS, seed_demo

SWEEP_CONFIG = {
    "method": "bayes",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 1e-05, "max": 0.1}},
}


def test_projects_of_an_entity(server: LocalWandbServer) -> None:
    server.create_project("proj-owner", "a")
    server.create_project("proj-owner", "b")
    server.create_project("someone-else", "c")
    api = Api(api_key=server.api_key, overrides={"base_url": server.url})
    projects = api.projects("proj-owner", per_page=1)
    assert [p.name for p in projects] == ["a", "b"]
    assert all(isinstance(p, Project) and p.entity == "proj-owner" for p in projects)
    assert len(projects) == 2
    one = api.project("b", entity="proj-owner")
    assert one.path == ["proj-owner", "b"] and one.url == f"{server.url}/proj-owner/b"
    assert one.created_at and one.internal_id is not None
    with pytest.raises(NotFoundError, match="proj-owner/zzz"):
        api.project("zzz", entity="proj-owner")


@pytest.fixture
def sweep_path(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_sweep(entity, project, "sw1", SWEEP_CONFIG, display_name="My sweep")
    losses = {"a": 0.5, "b": 0.2, "c": 0.9}
    for name, loss in losses.items():
        server.create_run(entity, project, name, sweep="sw1", summary={"val_loss": loss})
    server.create_run(entity, project, "no-metric", sweep="sw1")
    server.create_run(entity, project, "outsider", summary={"val_loss": 0.01})
    return f"{entity}/{project}/sw1"


def test_sweep_attributes_and_runs(api: Api, sweep_path: str, server: LocalWandbServer) -> None:
    sweep = api.sweep(sweep_path)
    assert isinstance(sweep, Sweep)
    assert sweep.id == "sw1" and sweep.name == "My sweep" and sweep.state == "FINISHED"
    assert sweep.config == SWEEP_CONFIG, "YAML round trip keeps 1e-05 a float"
    assert sweep.order == "+summary_metrics.val_loss"
    assert sweep.best_loss == pytest.approx(0.2)
    assert sweep.run_count == 4
    assert [r.id for r in sweep.runs] == ["a", "b", "c", "no-metric"]
    assert sweep.url == f"{server.url}/{sweep_path.replace('/sw1', '/sweeps/sw1')}"


def test_best_run_follows_the_goal(
    api: Api, sweep_path: str, server: LocalWandbServer, entity: str, project: str
) -> None:
    assert api.sweep(sweep_path).best_run().id == "b"
    server.create_sweep(entity, project, "sw-max", {"metric": {"name": "acc", "goal": "maximize"}})
    for name, acc in {"m1": 0.7, "m2": 0.9, "m3": None}.items():
        summary = {} if acc is None else {"acc": acc}
        server.create_run(entity, project, name, sweep="sw-max", summary=summary)
    best = api.sweep(f"{entity}/{project}/sw-max").best_run()
    assert best is not None and best.id == "m2"
    assert api.sweep(sweep_path).best_run(order="-summary_metrics.val_loss").id == "c"


def test_best_run_of_an_empty_sweep_is_none(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_sweep(entity, project, "empty", SWEEP_CONFIG)
    assert api.sweep(f"{entity}/{project}/empty").best_run() is None


def test_sweep_get_and_project_sweeps(api: Api, sweep_path: str, entity: str, project: str) -> None:
    assert Sweep.get(api, entity, project, "sw1").id == "sw1"
    assert Sweep.get(api, entity, project, "missing") is None
    sweeps = api.project(project, entity=entity).sweeps()
    assert [s.id for s in sweeps] == ["sw1"] and len(sweeps) == 1


def test_missing_sweep_names_the_path(api: Api, sweep_path: str, entity: str, project: str) -> None:
    with pytest.raises(NotFoundError, match=f"{entity}/{project}/nope"):
        api.sweep(f"{entity}/{project}/nope")


def test_reports(api: Api, server: LocalWandbServer, entity: str, project: str) -> None:
    spec = {"version": 5, "panelGroups": [{"name": "S1"}], "blocks": []}
    first = server.create_report(entity, project, "Weekly: loss/acc!", description="d1", spec=spec)
    server.create_report(entity, project, "Second")
    reports = api.reports(f"{entity}/{project}", per_page=1)
    assert [r.display_name for r in reports] == ["Weekly: loss/acc!", "Second"]
    report = reports[0]
    assert isinstance(report, BetaReport)
    assert report.description == "d1" and report.spec == spec
    assert report.sections == [{"name": "S1"}]
    assert report.user is not None and report.user["username"] == "local-user"
    assert report.created_at and report.updated_at
    expected_id = report.id.replace("=", "")
    assert report.url == f"{server.url}/{entity}/{project}/reports/Weekly-loss-acc--{expected_id}"
    only = api.reports(f"{entity}/{project}", name=first.name)
    assert [r.name for r in only] == [first.name]


def test_demo_seed_is_deterministic_and_complete() -> None:
    one, two = WandbStore(), WandbStore()
    seed = seed_demo(one)
    seed_demo(two)
    proj = one.require_project(seed.entity, seed.project)
    assert len(proj.runs) == DEMO_RUNS >= 12
    assert [r.summary for r in proj.runs.values()] == [
        r.summary for r in two.require_project(seed.entity, seed.project).runs.values()
    ]
    assert all(r.sweep == seed.sweep and r.history.rows and r.files for r in proj.runs.values())
    assert {"mnist", "mnist-cnn"} <= set(proj.collections)
    assert proj.reports


def test_cli_server_serves_the_demo_seed() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect_wandb_public.cli", "server", "--port=0", "--seed=demo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[1].split(" at ")[1].strip()
        key = lines[3].strip()
        assert url.startswith("http://127.0.0.1:")
        query = '{ project(name: "mnist-demo", entityName: "local-user") { runCount } }'
        response = requests.post(f"{url}/graphql", json={"query": query}, auth=("api", key))
        assert json.loads(response.text)["data"]["project"]["runCount"] == DEMO_RUNS
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prefect_wandb_public.cli", "server", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr
