"""The sample flows end to end: real flows under the Prefect test harness, against the local
server seeded with the demo project."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from prefect.artifacts import Artifact as PrefectArtifact
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - pytest fixture
from prefect.transactions import transaction
from pydantic import SecretStr

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.errors import NotFoundError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DemoSeed, seed_demo
from prefect_wandb_public.testing.urls import BLOBS_PREFIX

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def history_export() -> ModuleType:
    return importlib.import_module("prefect_wandb_public.flows.history_export")


@pytest.fixture(scope="module")
def model_promotion() -> ModuleType:
    return importlib.import_module("prefect_wandb_public.flows.model_promotion")


@pytest.fixture
def demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[LocalWandbServer, WandbCredentials, DemoSeed]]:
    """A fresh server with the demo project and an empty download cache per test."""
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "download-cache"))
    with LocalWandbServer() as server:
        seed = seed_demo(server.store)
        block = WandbCredentials(
            api_key=SecretStr(server.api_key),
            base_url=server.url,
            entity=seed.entity,
            project=seed.project,
            retry_attempts=2,
        )
        yield server, block, seed


def _alias_holder(server: LocalWandbServer, seed: DemoSeed, alias: str) -> str | None:
    proj = server.store.require_project(seed.entity, seed.project)
    index = proj.collections["mnist-cnn"].aliases.get(alias)
    return None if index is None else f"v{index}"


# --------------------------------------------------------------------------- history export
def test_history_export_writes_every_finished_run_and_is_idempotent(
    history_export: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
    tmp_path: Path,
) -> None:
    server, block, seed = demo
    path = f"{seed.entity}/{seed.project}"
    summary = history_export.history_export(block, path, str(tmp_path / "out"))
    finished = [r for r in server.store.require_project(*path.split("/")).runs.values()]
    finished = [r for r in finished if r.state == "finished"]
    assert {row["run"] for row in summary} == {f"{path}/{r.name}" for r in finished}
    assert all(row["status"] == "exported" for row in summary)
    for run in finished:
        frame = pd.read_parquet(tmp_path / "out" / f"{run.name}.parquet")
        assert list(frame["_step"]) == list(run.history.steps)
        assert frame["loss"].tolist() == [
            pytest.approx(row["loss"]) for row in map(_json, run.history.rows)
        ]
    table = PrefectArtifact.get(f"wandb-history-export-{seed.entity}-{seed.project}")
    assert table is not None and table.type == "table"

    again = history_export.history_export(block, path, str(tmp_path / "out"))
    assert {row["status"] for row in again} == {"skipped (exists)"}
    assert len(again) == len(finished)


def _json(text: str) -> dict[str, Any]:
    import json

    return dict(json.loads(text))


def test_history_export_runs_unchanged_under_dask(
    history_export: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
    tmp_path: Path,
) -> None:
    from prefect_dask import DaskTaskRunner

    from prefect_wandb_public.tasks import export_project_histories

    _, block, seed = demo
    path = f"{seed.entity}/{seed.project}"
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2})
    flow = history_export.history_export.with_options(task_runner=runner)
    summary = flow(block, path, str(tmp_path / "dask"))
    assert len(summary) == 12 and {row["rows"] for row in summary} == {60}
    assert len(list((tmp_path / "dask").glob("*.parquet"))) == 12

    from prefect import flow as make_flow

    @make_flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 1}))
    def project_export() -> list[dict[str, Any]]:
        return export_project_histories.submit(
            block, path, str(tmp_path / "project"), filters={"tags": "baseline"}
        ).result()

    rows = project_export()
    assert [row["run"] for row in rows] == [f"{path}/run-0{i}" for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == [
        f"run-0{i}.parquet" for i in range(4)
    ]


# --------------------------------------------------------------------------- model promotion
def test_promotion_moves_the_alias_and_tells_prefect(
    model_promotion: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
    asserting_events_worker: EventsWorker,  # noqa: F811 - pytest fixture
) -> None:
    server, block, seed = demo
    assert _alias_holder(server, seed, "production") == "v0"
    outcome = model_promotion.model_promotion(block, f"{seed.entity}/{seed.project}")
    assert outcome["promoted"] is True and outcome["best_run"].endswith("/run-07")
    version = outcome["candidate"].rsplit(":", 1)[1]
    assert _alias_holder(server, seed, "production") == version
    assert outcome["previous"] == f"{seed.entity}/{seed.project}/mnist-cnn:v0"

    asserting_events_worker.drain()
    events = [
        event
        for client in AssertingEventsClient.all
        for event in client.events
        if event.event == "wandb.artifact.promoted"
    ]
    assert len(events) == 1
    event = events[0]
    assert event.resource.id == f"wandb.artifact.{outcome['candidate']}"
    assert event.payload["alias"] == "production" and event.payload["previous"] == "v0"
    assert [r.id for r in event.related if r.role == "run"] == [
        f"wandb.run.{seed.entity}/{seed.project}/run-07"
    ]
    summary = PrefectArtifact.get("wandb-promotion-mnist-cnn-production")
    assert summary is not None and version in str(summary.data)


def test_the_gate_keeps_a_better_holder(
    model_promotion: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    # A champion outside the sweep holds production with a metric no sweep run beats.
    server.create_run(seed.entity, seed.project, "champion", summary={"val_loss": 0.01})
    version = server.create_artifact(
        seed.entity,
        seed.project,
        "mnist-cnn",
        "model",
        {"model.json": b"{}"},
        created_by="champion",
        aliases=("production",),
    )
    outcome = model_promotion.model_promotion(
        block, f"{seed.entity}/{seed.project}", metric=None, sweep=seed.sweep
    )
    assert outcome["promoted"] is False and outcome["reason"].startswith("gate")
    assert outcome["best_run"].endswith("/run-07")
    assert _alias_holder(server, seed, "production") == version


def test_no_run_with_the_metric_fails_and_moves_nothing(
    model_promotion: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    with pytest.raises(NotFoundError, match="reports the metric 'f1'"):
        model_promotion.model_promotion(block, f"{seed.entity}/{seed.project}", metric="f1")
    assert _alias_holder(server, seed, "production") == "v0"


def test_failed_verification_moves_nothing(
    model_promotion: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    fast = model_promotion.model_promotion.with_options(retries=0)
    # Every download of stored bytes comes back corrupted.
    server.inject_fault(BLOBS_PREFIX, kind="corrupt", method="GET", times=1000)
    with pytest.raises(Exception, match=r"(?i)checksum|md5|digest"):
        fast(block, f"{seed.entity}/{seed.project}")
    assert _alias_holder(server, seed, "production") == "v0"


def test_rollback_gives_the_alias_back(
    model_promotion: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    path = f"{seed.entity}/{seed.project}"
    from prefect import flow

    @flow
    def promote_then_fail() -> None:
        with transaction():
            model_promotion.move_alias(block, f"{path}/mnist-cnn:v3", "production")
            assert _alias_holder(server, seed, "production") == "v3"
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError, match="a later step failed"):
        promote_then_fail()
    assert _alias_holder(server, seed, "production") == "v0"


def test_deployments_carry_their_schedules(
    history_export: ModuleType, model_promotion: ModuleType
) -> None:
    nightly = history_export.history_export.to_deployment(
        name="nightly-history-export", cron=history_export.NIGHTLY_CRON
    )
    assert [s.schedule.cron for s in nightly.schedules] == ["0 3 * * *"]
    daily = model_promotion.model_promotion.to_deployment(
        name="daily-model-promotion",
        cron=model_promotion.DAILY_CRON,
        parameters={"credentials": "wandb", "alias": "production"},
    )
    assert [s.schedule.cron for s in daily.schedules] == ["30 6 * * *"]
    assert daily.parameters == {"credentials": "wandb", "alias": "production"}


# --------------------------------------------------------------------------- CI lineage
@pytest.fixture(scope="module")
def ci_lineage() -> ModuleType:
    return importlib.import_module("prefect_wandb_public.flows.ci_lineage")


def test_ci_lineage_uses_the_dataset_and_publishes_with_lineage(
    ci_lineage: ModuleType,
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
    tmp_path: Path,
) -> None:
    _, block, seed = demo
    path = f"{seed.entity}/{seed.project}"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x01" * 1000)
    (model_dir / "config.json").write_text('{"layers": 3}')
    result = ci_lineage.ci_lineage(
        block, path, dataset="mnist:latest", model="ci-model", model_paths=[str(model_dir)]
    )
    assert result["dataset"] == f"{path}/mnist:v0"
    assert result["artifact"] == f"{path}/ci-model:v0"
    api = block.get_client()
    published = api.artifact(result["artifact"])
    assert sorted(published.aliases) == ["candidate", "latest"]
    assert sorted(published.manifest.entries) == ["config.json", "weights.bin"]
    run = api.run(result["run"])
    assert run.job_type == "ci"
    assert [a.name for a in run.used_artifacts()] == ["mnist:v0"]
    assert [a.name for a in run.logged_artifacts()] == ["ci-model:v0"]
    assert published.logged_by() is not None and published.logged_by().id == run.id
    link = PrefectArtifact.get("wandb-ci-lineage-ci-model")
    assert link is not None and result["url"] in str(link.data)

    again = ci_lineage.ci_lineage(
        block, path, dataset="mnist:latest", model="ci-model", model_paths=[str(model_dir)]
    )
    assert again["artifact"] == result["artifact"], "identical content reuses the version"


def test_ci_lineage_reports_wandb_assets(
    ci_lineage: ModuleType, demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed]
) -> None:
    from prefect.assets import Asset

    _, block, seed = demo
    path = f"{seed.entity}/{seed.project}"
    captured: list[Asset] = []
    original = ci_lineage.materialize

    def spy(*assets: Asset, **kwargs: Any) -> Any:
        captured.extend(assets)
        captured.extend(Asset(key=key) for key in kwargs.get("asset_deps", []))
        return original(*assets, **kwargs)

    ci_lineage.materialize = spy
    try:
        ci_lineage.ci_lineage(block, path)
    finally:
        ci_lineage.materialize = original
    assert [a.key for a in captured] == [f"wandb://{path}/mnist-cnn", f"wandb://{path}/mnist"]


# --------------------------------------------------------------------------- the scripts
def test_the_flow_scripts_are_the_packaged_flows() -> None:
    """prefect.yaml deploys the packaged flows by module path (no checkout needed where the
    worker runs), and `flows/<name>.py` expose the same flow objects as runnable scripts."""
    import yaml
    from prefect.flows import load_flow_from_entrypoint
    from script_loader import CHECKOUT, load_script

    import prefect_wandb_public.flows as packaged

    spec = yaml.safe_load((CHECKOUT / "flows" / "prefect.yaml").read_text())
    entrypoints = {d["entrypoint"] for d in spec["deployments"]}
    assert entrypoints == {f"prefect_wandb_public.flows.{n}:{n}" for n in packaged.__all__}
    for entrypoint in entrypoints:
        name = entrypoint.rpartition(":")[2]
        assert load_flow_from_entrypoint(entrypoint) is getattr(packaged, name)
        assert getattr(load_script(CHECKOUT / "flows" / f"{name}.py"), name) is getattr(
            packaged, name
        )
    assert {d["work_pool"]["name"] for d in spec["deployments"]} == {"wandb-process"}
    assert all(
        "://" not in str(d["parameters"].get("destination", "")) for d in spec["deployments"]
    )


def test_serving_never_replaces_a_prefect_yaml_deployment() -> None:
    import yaml
    from script_loader import CHECKOUT

    spec = yaml.safe_load((CHECKOUT / "flows" / "prefect.yaml").read_text())
    declared = {d["name"] for d in spec["deployments"]}
    modules = [
        importlib.import_module(f"prefect_wandb_public.flows.{n}")
        for n in ("history_export", "model_promotion", "ci_lineage", "watch_wandb")
    ]
    served = {module.served_deployment().name for module in modules}
    assert len(served) == 4 and served.isdisjoint(declared)
    assert served <= {f"{name}-served" for name in declared}
