"""Projects, runs, sweeps and reports: our client and the official SDK read the same answers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

ENTITY = "oracle-team"
PROJECT = "oracle-runs"
PATH = f"{ENTITY}/{PROJECT}"


@pytest.fixture(scope="module")
def seeded(session_server: LocalWandbServer) -> str:
    server = session_server
    server.create_sweep(
        ENTITY,
        PROJECT,
        "sweep1",
        {"method": "grid", "metric": {"name": "val.loss", "goal": "minimize"}},
    )
    for i in range(9):
        server.create_run(
            ENTITY,
            PROJECT,
            f"run{i}",
            display_name=f"trial {i}",
            state=["finished", "crashed", "running"][i % 3],
            config={
                "lr": round(0.001 * (i + 1), 4),
                "arch": {"layers": i % 4, "act": "relu" if i % 2 else "gelu"},
                "name": f"exp-{i % 3}",
            },
            summary={"val": {"loss": 1 / (i + 1)}, "acc": i / 10, "best": i == 4}
            if i != 6
            else {"acc": float("nan")},
            tags=["a", "b"][: i % 3],
            notes=f"note {i}",
            group="g" + str(i % 2),
            job_type="train" if i < 5 else "eval",
            sweep="sweep1" if i < 6 else None,
            system_metrics={"system.cpu": float(i)},
            history=[{"loss": 1.0 / (s + 1), "nested": {"x": s}} for s in range(5)],
        )
    server.create_project(ENTITY, "second-project")
    server.create_report(ENTITY, PROJECT, "Oracle report", description="both read this")
    return PATH


@pytest.fixture
def ours(session_server: LocalWandbServer) -> Api:
    return Api(api_key=session_server.api_key, overrides={"base_url": session_server.url})


FILTER_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "+created_at"),
    ({}, "-created_at"),
    ({"config.lr": {"$gt": 0.004}}, "+config.lr.value"),
    ({"config.arch.act": "relu"}, "-summary_metrics.acc"),
    ({"config.arch.value.layers": {"$in": [0, 3]}}, "+name"),
    ({"summary_metrics.val.loss": {"$lt": 0.3}}, "+summary_metrics.val.loss"),
    ({"tags": "b"}, "-config.lr.value"),
    ({"state": {"$ne": "finished"}, "group": "g1"}, "+created_at"),
    ({"$or": [{"jobType": "eval"}, {"displayName": {"$regex": "^trial [12]$"}}]}, "name"),
    ({"$and": [{"sweep": "sweep1"}, {"summary_metrics.best": {"$exists": True}}]}, "-name"),
    ({"$nor": [{"tags": "a"}, {"state": "running"}]}, "+created_at"),
    ({"config.name": {"$nin": ["exp-0"]}, "summary_metrics.acc": {"$gte": 0.3}}, "-created_at"),
]


@pytest.mark.parametrize(("filters", "order"), FILTER_CASES)
def test_run_listing_agrees(
    ours: Api, official: Any, seeded: str, filters: dict[str, Any], order: str
) -> None:
    mine = ours.runs(seeded, filters=filters, order=order, per_page=2)
    theirs = official.runs(seeded, filters=filters, order=order, per_page=2)
    assert [r.id for r in mine] == [r.id for r in theirs]
    assert len(mine) == len(theirs)


def plain(value: Any) -> Any:
    """The SDK's summary is a dict-like object with dict-like children: make it plain data."""
    if hasattr(value, "items"):
        return {k: plain(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@pytest.mark.parametrize("run_id", ["run0", "run4", "run6"])
def test_run_attributes_agree(ours: Api, official: Any, seeded: str, run_id: str) -> None:
    mine = ours.run(f"{seeded}/{run_id}")
    theirs = official.run(f"{seeded}/{run_id}")
    for attribute in (
        "id",
        "name",
        "state",
        "tags",
        "notes",
        "group",
        "job_type",
        "sweep_name",
        "storage_id",
        "entity",
        "project",
        "path",
        "created_at",
        "heartbeat_at",
        "read_only",
        "lastHistoryStep",
        "url",
    ):
        assert getattr(mine, attribute) == getattr(theirs, attribute), attribute
    assert mine.config == theirs.config
    assert mine.rawconfig == theirs.rawconfig
    assert _same(mine.summary, plain(theirs.summary))
    assert mine.system_metrics == theirs.system_metrics
    assert mine.history_keys == theirs.history_keys


def test_projects_agree(ours: Api, official: Any, seeded: str) -> None:
    mine = [(p.name, p.entity, p.id) for p in ours.projects(ENTITY)]
    theirs = [(p.name, p.entity, p.id) for p in official.projects(ENTITY)]
    assert mine == theirs and len(mine) == 2


def test_sweep_and_best_run_agree(ours: Api, official: Any, seeded: str) -> None:
    mine = ours.sweep(f"{seeded}/sweep1")
    theirs = official.sweep(f"{seeded}/sweep1")
    assert (mine.id, mine.name, mine.state, mine.config) == (
        theirs.id,
        theirs.name,
        theirs.state,
        theirs.config,
    )
    assert mine.order == theirs.order
    assert mine.best_run().id == theirs.best_run().id == "run5"
    assert [r.id for r in mine.runs] == [r.id for r in theirs.runs]


def test_reports_agree(ours: Api, official: Any, seeded: str) -> None:
    mine = list(ours.reports(seeded))
    theirs = list(official.reports(seeded))
    assert [(r.id, r.name, r.display_name, r.description, r.spec) for r in mine] == [
        (r.id, r.name, r.display_name, r.description, r.spec) for r in theirs
    ]
    assert [r.url for r in mine] == [r.url for r in theirs]


def test_updates_by_one_client_are_read_by_the_other(ours: Api, official: Any, seeded: str) -> None:
    mine = ours.run(f"{seeded}/run2")
    mine.summary["oracle_mark"] = 42
    mine.tags = ["from-ours"]
    mine.config["added"] = "by ours"
    mine.update()
    theirs = official.run(f"{seeded}/run2")
    assert theirs.summary["oracle_mark"] == 42 and theirs.tags == ["from-ours"]
    assert theirs.config["added"] == "by ours"

    theirs.summary["oracle_back"] = "sdk"
    theirs.notes = "written by the SDK"
    theirs.config["lr"] = 0.5
    theirs.update()
    again = ours.run(f"{seeded}/run2")
    assert again.summary["oracle_back"] == "sdk" and again.notes == "written by the SDK"
    assert again.config["lr"] == 0.5 and again.config["added"] == "by ours"


@pytest.mark.parametrize("order", ["acc", "+acc", "-acc", "val.loss", "+summary_metrics.acc"])
def test_best_run_with_an_explicit_order_agrees(
    ours: Api, official: Any, seeded: str, order: str
) -> None:
    mine = ours.sweep(f"{seeded}/sweep1").best_run(order=order)
    theirs = official.sweep(f"{seeded}/sweep1").best_run(order=order)
    assert mine is not None and theirs is not None
    assert mine.id == theirs.id


def test_best_run_without_any_order_is_the_first_created(
    ours: Api, official: Any, session_server: LocalWandbServer
) -> None:
    session_server.create_sweep(ENTITY, PROJECT, "no-metric", {"method": "grid"})
    for name in ("older", "newer"):
        session_server.create_run(ENTITY, PROJECT, f"nm-{name}", sweep="no-metric")
    mine = ours.sweep(f"{PATH}/no-metric").best_run()
    theirs = official.sweep(f"{PATH}/no-metric").best_run()
    assert mine is not None and mine.id == theirs.id == "nm-older"
