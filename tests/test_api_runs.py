"""Runs and Run through the client against the local server: listing, paging, filters, updates."""

from __future__ import annotations

import json
import math

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Run, Runs
from prefect_wandb_public.api.queries.runs import RUN_QUERY
from prefect_wandb_public.errors import CommError, NotFoundError
from prefect_wandb_public.testing import LocalWandbServer, resolvers_projects


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    """Twelve runs with varied config, summary, tags and states; returns `entity/project`."""
    for i in range(12):
        server.create_run(
            entity,
            project,
            f"r{i:02d}",
            display_name=f"run number {i}",
            state="finished" if i % 3 else "crashed",
            config={"lr": 0.01 * (i + 1), "opt": {"name": "adam" if i % 2 else "sgd"}},
            summary={"loss": 1.0 / (i + 1), "nested": {"acc": i / 12}} if i != 7 else {},
            tags=["even"] if i % 2 == 0 else ["odd", "x"],
            group="g1" if i < 6 else "g2",
            job_type="train",
        )
    return f"{entity}/{project}"


def test_lists_all_runs_newest_first_by_default(api: Api, seeded: str) -> None:
    runs = api.runs(seeded)
    assert isinstance(runs, Runs)
    assert [r.id for r in runs] == [f"r{i:02d}" for i in reversed(range(12))]
    assert len(runs) == 12


@pytest.mark.parametrize("per_page", [1, 5, 11, 12, 50])
def test_paging_has_no_gaps_or_duplicates(api: Api, seeded: str, per_page: int) -> None:
    ids = [r.id for r in api.runs(seeded, order="+created_at", per_page=per_page)]
    assert ids == [f"r{i:02d}" for i in range(12)]


def test_paging_requests_one_query_per_page(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    list(api.runs(seeded, per_page=5))
    assert server.request_log.count(operation="Runs") == 3


def test_iterating_a_lazy_listing_grows_its_pages(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    ids = [run.id for run in api.runs(seeded, order="+created_at", per_page=2)]
    grown = server.request_log.count(operation="Runs")
    server.request_log.clear()
    full = [run.id for run in api.runs(seeded, order="+created_at", per_page=2, lazy=False)]

    assert ids == full == [f"r{i:02d}" for i in range(12)]
    assert grown == 3  # pages of 2, 4 and 8 runs
    assert server.request_log.count(operation="Runs") == 6  # full nodes: per_page each time


def test_len_comes_from_run_count_without_loading_everything(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    runs = api.runs(seeded, per_page=2)
    server.request_log.clear()
    assert len(runs) == 12
    assert server.request_log.count(operation="Runs") == 1
    assert len(runs.objects) == 2


def test_indexing_and_slicing_load_lazily(api: Api, seeded: str) -> None:
    runs = api.runs(seeded, order="+created_at", per_page=4)
    assert runs[5].id == "r05"
    assert len(runs.objects) == 8
    assert [r.id for r in runs[1:3]] == ["r01", "r02"]
    assert runs[-1].id == "r11"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"config.lr": {"$gt": 0.1}}, {"r10", "r11"}),
        ({"config.lr.value": {"$lte": 0.02}}, {"r00", "r01"}),
        ({"config.opt.name": "adam", "group": "g1"}, {"r01", "r03", "r05"}),
        ({"tags": "odd", "state": "crashed"}, {"r03", "r09"}),
        ({"$or": [{"name": "r00"}, {"display_name": "run number 4"}]}, {"r00", "r04"}),
        ({"summary_metrics.nested.acc": {"$gte": 0.75}}, {"r09", "r10", "r11"}),
        ({"summary_metrics.loss": {"$exists": False}}, {"r07"}),
        ({"displayName": {"$regex": "number 1[01]$"}}, {"r10", "r11"}),
        ({"name": {"$in": ["r01", "r02", "nope"]}}, {"r01", "r02"}),
        ({"$nor": [{"group": "g1"}, {"tags": "even"}]}, {"r07", "r09", "r11"}),
    ],
)
def test_filters(api: Api, seeded: str, filters: dict, expected: set[str]) -> None:
    runs = api.runs(seeded, filters=filters)
    assert {r.id for r in runs} == expected
    assert len(runs) == len(expected)


@pytest.mark.parametrize(
    ("order", "first_three"),
    [
        ("+summary_metrics.loss", ["r11", "r10", "r09"]),
        ("-summary_metrics.loss", ["r00", "r01", "r02"]),
        ("-config.lr.value", ["r11", "r10", "r09"]),
        ("+name", ["r00", "r01", "r02"]),
        ("createdAt", ["r00", "r01", "r02"]),
    ],
)
def test_order(api: Api, seeded: str, order: str, first_three: list[str]) -> None:
    ids = [r.id for r in api.runs(seeded, order=order)]
    assert ids[:3] == first_three
    if "summary_metrics.loss" in order:
        assert ids[-1] == "r07", "runs without the metric sort last either way"


def test_listed_runs_load_config_on_first_use(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    run = api.runs(seeded, filters={"name": "r03"})[0]
    server.request_log.clear()
    assert run.config == {"lr": pytest.approx(0.04), "opt": {"name": "adam"}}
    assert run.summary["loss"] == pytest.approx(0.25)
    assert server.request_log.count(operation="Run") == 1
    assert run.summary["nested"] == {"acc": 0.25}
    assert server.request_log.count(operation="Run") == 1


def test_full_listing_needs_no_per_run_query(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    configs = {r.id: r.config["lr"] for r in api.runs(seeded, lazy=False)}
    assert configs["r04"] == pytest.approx(0.05)
    assert server.request_log.count(operation="Run") == 0


@pytest.mark.parametrize(
    "form",
    ["{e}/{p}/r02", "{e}/{p}/runs/r02", "{p}/r02", "{e}/{p}:r02"],
)
def test_run_path_forms(api: Api, seeded: str, entity: str, project: str, form: str) -> None:
    run = api.run(form.format(e=entity, p=project))
    assert (run.entity, run.project, run.id) == (entity, project, "r02")


def test_bare_run_id_uses_the_api_defaults(
    server: LocalWandbServer, seeded: str, entity: str, project: str
) -> None:
    api = Api(api_key=server.api_key, overrides={"base_url": server.url, "project": project})
    assert api.run("r05").path == [entity, project, "r05"]


def test_run_attributes(api: Api, server: LocalWandbServer, entity: str, project: str) -> None:
    server.create_sweep(entity, project, "sw", {"method": "grid"})
    server.create_run(
        entity,
        project,
        "attrs",
        display_name="Nice name",
        state="running",
        config={"lr": 0.5, "_wandb": {"cli_version": "0.31.0"}},
        summary={"acc": float("nan"), "big": float("inf")},
        tags=["a", "b"],
        notes="some notes",
        group="grp",
        job_type="eval",
        sweep="sw",
        history=[{"_step": 3, "loss": 1}, {"_step": 9, "loss": 0.5}],
        system_metrics={"system.cpu": 12.5},
        created_at="2025-01-02T03:04:05",
    )
    run = api.run(f"{entity}/{project}/attrs")
    assert isinstance(run, Run)
    assert run.id == "attrs" and run.name == "Nice name" and run.display_name == "Nice name"
    assert run.state == "running" and run.tags == ["a", "b"] and run.notes == "some notes"
    assert run.group == "grp" and run.job_type == "eval" and run.sweep_name == "sw"
    assert run.config == {"lr": 0.5}, "_wandb is hidden"
    assert run.rawconfig["_wandb"] == {"cli_version": "0.31.0"}
    assert math.isnan(run.summary["acc"]) and run.summary["big"] == math.inf
    assert run.system_metrics == {"system.cpu": 12.5}
    assert run.created_at == "2025-01-02T03:04:05"
    assert run.heartbeat_at is not None and run.read_only is False
    assert run.history_keys["lastStep"] == 9 and run.lastHistoryStep == 9
    assert set(run.history_keys["keys"]) == {"_step", "loss"}
    assert (run.user.name, run.user.username) == ("local-user", "local-user")  # a User now
    assert run.username == "local-user"
    assert run.path == [entity, project, "attrs"]
    assert run.url == f"{server.url}/{entity}/{project}/runs/attrs"
    assert run.storage_id and run.storage_id != "attrs"
    assert run.sweep is not None and run.sweep.id == "sw"


def test_update_persists_every_editable_field(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "upd", config={"lr": 0.1, "_wandb": {"x": 1}})
    run = api.run(f"{entity}/{project}/upd")
    run.config["lr"] = 0.2
    run.config["new"] = {"deep": [1, 2]}
    run.summary["best"] = 1
    run.tags.append("promoted")
    run.notes = "looked at"
    run.name = "renamed"
    run.group = "grp2"
    run.job_type = "finetune"
    run.update()
    again = api.run(f"{entity}/{project}/upd")
    assert again.config == {"lr": 0.2, "new": {"deep": [1, 2]}}
    assert again.summary["best"] == 1
    assert again.tags == ["promoted"] and again.notes == "looked at" and again.name == "renamed"
    assert again.group == "grp2" and again.job_type == "finetune"
    stored = server.store.require_run(entity, project, "upd")
    assert stored.config["_wandb"] == {"value": {"x": 1}, "desc": None}, "_wandb is kept"
    assert stored.config["lr"] == {"value": 0.2, "desc": None}


def test_create_and_delete(api: Api, server: LocalWandbServer, entity: str, project: str) -> None:
    run = api.create_run(run_id="fresh", project=project, entity=entity)
    assert run.state == "pending" and run.id == "fresh"
    assert server.store.get_run(entity, project, "fresh") is not None
    generated = Run.create(api, project=project, entity=entity)
    assert len(generated.id) == 8
    run.delete()
    assert server.store.get_run(entity, project, "fresh") is None
    with pytest.raises(NotFoundError, match=f"{entity}/{project}/fresh"):
        api.run(f"{entity}/{project}/fresh")


def test_runs_of_missing_project(api: Api, entity: str) -> None:
    with pytest.raises(NotFoundError, match=f"{entity}/no-such-project"):
        list(api.runs(f"{entity}/no-such-project"))


def test_indexing_while_iterating_yields_each_run_once(api: Api, seeded: str) -> None:
    runs = api.runs(seeded, order="+created_at", per_page=2)
    seen = []
    for run in runs:
        seen.append(run.id)
        if run.id == "r01":
            assert runs[7].id == "r07"  # loads pages ahead of the iteration
            assert len(runs) == 12
    assert seen == [f"r{i:02d}" for i in range(12)]


def test_breaking_out_of_a_listing_stops_paging(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    for run in api.runs(seeded, per_page=2):
        if run.id == "r11":
            break
    assert server.request_log.count(operation="Runs") <= 2  # the page read + one prefetched


def test_server_fields_are_read_only(api: Api, seeded: str) -> None:
    run = api.run(f"{seeded}/r01")
    with pytest.raises(AttributeError, match="state"):
        run.state = "finished"  # type: ignore[misc]
    assert run.state == "finished"


@pytest.mark.parametrize(
    ("field", "stored_as"),
    [("config", "config"), ("summaryMetrics", "summary"), ("systemMetrics", "system_metrics")],
)
def test_a_json_field_the_server_sends_corrupt_is_an_error_naming_run_and_field(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    stored_as: str,
) -> None:
    server.create_run(
        entity, project, "corrupt", config={"lr": 0.1}, summary={"loss": float("nan")}
    )
    corrupt = getattr(server.store.require_run(entity, project, "corrupt"), stored_as)
    serialize = resolvers_projects.json_dumps
    monkeypatch.setattr(  # the server writes this one field cut short, as a broken backend might
        resolvers_projects,
        "json_dumps",
        lambda value: serialize(value)[:-1] if value is corrupt else serialize(value),
    )
    sent = api.transport.graphql(
        RUN_QUERY, {"project": project, "entity": entity, "name": "corrupt"}
    )["project"]["run"][field]
    with pytest.raises(ValueError):  # the client really receives text that is not JSON
        json.loads(sent, strict=False)

    with pytest.raises(CommError, match=rf"{field} of run {entity}/{project}/corrupt is not valid"):
        api.run(f"{entity}/{project}/corrupt")
