"""Issue 14, runs and files: each 0.31 behaviour pinned by running our client and the official
SDK against the same local server and comparing what they return and what the server stored.

Every test seeds two identical runs (`mine`, `theirs`) so writes by one client never show up in
the other's reads.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import BetaReport, Project, Run, Sweep
from prefect_wandb_public.errors import DestinationExistsError
from prefect_wandb_public.testing import LocalWandbServer

from .conftest import plain, same

ENTITY = "oracle-compat"
SUMMARY = {"acc": 0.5, "loss": math.nan, "nested": {"a": 1, "deep": {"b": [1, 2]}}}
METADATA = {"host": "gpu-7", "program": "train.py", "python": "3.11.9", "gpu_count": 2}
CONSOLE = [
    "2025-01-10T05:00:00.123456 epoch 1",
    "ERROR 2025-01-10T05:00:01.5 warning: slow disk",
    "2025-01-10T05:00:02Z epoch 2",
    "no timestamp here",
    "2025-01-10T05:00:03 done",
]


def _seed(server: LocalWandbServer, project: str, run_id: str, **extra: Any) -> Any:
    run = server.create_run(
        ENTITY,
        project,
        run_id,
        config={"lr": 0.1, "arch": {"depth": 3}},
        summary=SUMMARY,
        files={"wandb-metadata.json": json.dumps(METADATA).encode()},
        **extra,
    )
    run.log_lines[:] = list(CONSOLE)
    return run


@pytest.fixture
def pair(server: LocalWandbServer, project: str) -> tuple[str, str]:
    """Paths of two identical runs: one for our client, one for the SDK."""
    for run_id in ("mine", "theirs"):
        _seed(server, project, run_id, state="running")
    return f"{ENTITY}/{project}/mine", f"{ENTITY}/{project}/theirs"


def _stored(server: LocalWandbServer, path: str) -> dict[str, Any]:
    return dict(server.store.require_run(*path.split("/")).summary)


# ---------------------------------------------------------------------- Run.summary
def test_summary_reads_as_the_same_mapping(ours: Api, official: Any, pair: tuple[str, str]):
    mine, theirs = ours.run(pair[0]).summary, official.run(pair[1]).summary
    assert isinstance(mine, Mapping)
    assert same(plain(mine), plain(theirs))
    assert same(mine._json_dict, theirs._json_dict)
    assert json.dumps(mine._json_dict) == json.dumps(theirs._json_dict)
    assert same(plain(dict(mine)), plain(dict(theirs)))
    assert sorted(mine.keys()) == sorted(theirs.keys())
    assert mine.nested.a == theirs.nested.a == 1
    assert plain(mine["nested"]["deep"]) == plain(theirs["nested"]["deep"]) == {"b": [1, 2]}
    assert mine.get("missing", 7) == theirs.get("missing", 7) == 7
    assert ("acc" in mine, " acc " in mine) == ("acc" in theirs, " acc " in theirs)
    for summary in (mine, theirs):
        with pytest.raises(KeyError):
            summary["missing"]
        with pytest.raises(KeyError):
            summary.missing  # noqa: B018 - 0.31 raises KeyError for a missing attribute
    assert ours.run(pair[0]).summary._json_dict is not None


def test_summary_json_dict_is_the_runs_summary_metrics(
    ours: Api, official: Any, pair: tuple[str, str]
) -> None:
    for run in (ours.run(pair[0]), official.run(pair[1])):
        run.summary["local"] = 1
        assert run.summary_metrics["local"] == 1
        assert run.summary._json_dict is run.summary_metrics


def test_summary_writes_as_0_31_does(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    summaries = ours.run(pair[0]).summary, official.run(pair[1]).summary

    def stored() -> tuple[dict[str, Any], dict[str, Any]]:
        return _stored(server, pair[0]), _stored(server, pair[1])

    def agree() -> dict[str, Any]:
        a, b = stored()
        assert same(a, b), (a, b)
        return a

    for s in summaries:
        s["acc"] = 0.9  # local only
        s.epochs = 3  # local only, attribute form
    assert agree()["acc"] == 0.5 and "epochs" not in agree()
    for s in summaries:
        s.update()  # saves the local edits
    assert (agree()["acc"], agree()["epochs"]) == (0.9, 3)
    for s in summaries:
        s["eval"] = {"f1": 0.25}  # a dict value saves at once
    assert agree()["eval"] == {"f1": 0.25}
    for s in summaries:
        s.update({"loss": 0.125, "acc": 1.0})
    assert (agree()["loss"], agree()["acc"]) == (0.125, 1.0)
    for s in summaries:
        s["nested"]["a"] = 9  # a nested edit is local
        del s["acc"]  # so is a deletion
        with pytest.raises(KeyError):
            del s["acc"]
    assert agree()["acc"] == 1.0 and agree()["nested"]["a"] == 1
    # 0.31 reads stale values through sub-mappings it cached (`eval` reads `{}` there); the
    # JSON both keep, and save, is the same.
    assert same(summaries[0]._json_dict, summaries[1]._json_dict)
    for s in summaries:
        s.update()
    assert "acc" not in agree() and agree()["nested"]["a"] == 9


def test_run_update_saves_the_summary_too(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    for run in (ours.run(pair[0]), official.run(pair[1])):
        run.summary["acc"] = 0.75
        run.config["lr"] = 0.2
        run.update()
    assert same(_stored(server, pair[0]), _stored(server, pair[1]))
    assert _stored(server, pair[0])["acc"] == 0.75
    assert (
        ours.run(pair[0]).config
        == official.run(pair[1]).config
        == {
            "lr": 0.2,
            "arch": {"depth": 3},
        }
    )


def test_json_config_is_the_same_text(ours: Api, official: Any, pair: tuple[str, str]) -> None:
    assert json.loads(ours.run(pair[0]).json_config) == json.loads(
        official.run(pair[1]).json_config
    )


def test_load_reads_again_only_when_forced(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    """0.31's `run.load()` answers the fields it holds; `load(force=True)` asks the server."""
    for client, path in ((ours, pair[0]), (official, pair[1])):
        held = client.run(path)
        stored = server.store.require_run(*path.split("/"))
        changes = {"display_name": "renamed", "summary": {**stored.summary, "acc": 0.875}}
        server.store.update_run(stored, changes)  # behind the client's back
        attrs = held.load()
        assert attrs["displayName"] == path.split("/")[-1]
        assert held.summary["acc"] == 0.5
        attrs = held.load(force=True)
        assert attrs["displayName"] == "renamed" == held.name
        assert held.summary_metrics["acc"] == 0.875
        if client is ours:  # 0.31's summary object keeps the dict it was made with
            assert held.summary["acc"] == 0.875
    mine, theirs = ours.run(pair[0]).load(), official.run(pair[1]).load()
    assert {"id", "name", "displayName", "state", "config", "summaryMetrics"} <= (
        set(mine) & set(theirs)
    )


# ---------------------------------------------------------------------- Run members
def test_metadata_is_the_parsed_metadata_file(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer, project: str
) -> None:
    assert ours.run(pair[0]).metadata == official.run(pair[1]).metadata == METADATA
    server.create_run(ENTITY, project, "bare")
    assert ours.run(f"{ENTITY}/{project}/bare").metadata is None
    assert official.run(f"{ENTITY}/{project}/bare").metadata is None


def _lines(logs: Any) -> list[tuple[Any, ...]]:
    return [(x.number, x.timestamp, x.level, x.label, x.content) for x in logs]


@pytest.mark.parametrize("options", [{}, {"per_page": 2}, {"last": 2}, {"last": 50}])
def test_console_logs_agree(
    ours: Api, official: Any, pair: tuple[str, str], options: dict[str, Any]
) -> None:
    mine = _lines(ours.run(pair[0]).console_logs(**options))
    theirs = _lines(official.run(pair[1]).console_logs(**options))
    assert mine == theirs
    if not options:
        assert [x[4] for x in mine] == [
            "epoch 1",
            "warning: slow disk",
            "epoch 2",
            "no timestamp here",
            "done",
        ]
        assert [x[2] for x in mine] == ["", "error", "", "", ""]
        assert mine[3][1] is None and mine[0][1] is not None and mine[0][1].tzinfo is not None


def test_update_state_follows_the_services_rules(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    mine, theirs = ours.run(pair[0]), official.run(pair[1])
    assert mine.update_state("failed") is True and theirs.update_state("failed") is True
    assert mine.state == theirs.state == "failed"
    assert mine.update_state("pending") is True and theirs.update_state("pending") is True
    for run in (mine, theirs):
        with pytest.raises(Exception, match="cannot move run"):
            run.update_state("finished")
    stored = [server.store.require_run(*p.split("/")).state for p in pair]
    assert stored == ["pending", "pending"]


def test_stop_flags_the_run(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    assert ours.run(pair[0]).stop() is None
    assert official.run(pair[1]).stop() is None
    assert [server.store.require_run(*p.split("/")).should_stop for p in pair] == [True] * 2


def test_wait_until_finished_returns_on_a_finished_run(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    for path in pair:
        run = server.store.require_run(*path.split("/"))
        server.store.update_run(run, {"state": "finished"})
    mine, theirs = ours.run(pair[0]), official.run(pair[1])
    assert mine.wait_until_finished() is None and theirs.wait_until_finished() is None
    assert mine.state == theirs.state == "finished"


def test_wait_until_finished_polls_until_the_run_ends(
    ours: Api, pair: tuple[str, str], server: LocalWandbServer
) -> None:
    run = ours.run(pair[0])
    stored = server.store.require_run(*pair[0].split("/"))
    timer = threading.Timer(0.3, server.store.update_run, (stored, {"state": "crashed"}))
    timer.start()
    try:
        run.wait_until_finished(timeout=20, poll_interval=0.05)
    finally:
        timer.cancel()
    assert run.state == "crashed"


def test_dir_is_under_wandb_dir(ours: Api, official: Any, pair: tuple[str, str]) -> None:
    mine, theirs = ours.run(pair[0]).dir, official.run(pair[1]).dir
    assert Path(mine).parent == Path(theirs).parent and Path(mine).is_dir()


def test_user_of_a_run(ours: Api, official: Any, pair: tuple[str, str]) -> None:
    mine, theirs = ours.run(pair[0]).user, official.run(pair[1]).user
    assert (mine.name, mine.username) == (theirs.name, theirs.username)


# ---------------------------------------------------------------------- File
def test_file_download_returns_an_open_text_file(
    ours: Api, official: Any, pair: tuple[str, str], tmp_path: Path
) -> None:
    roots = tmp_path / "ours", tmp_path / "sdk"
    files = (
        ours.run(pair[0]).file("wandb-metadata.json"),
        official.run(pair[1]).file("wandb-metadata.json"),
    )
    loaded = []
    for file, root in zip(files, roots, strict=True):
        with file.download(root=str(root)) as handle:
            assert handle.mode == "r"
            loaded.append(json.load(handle))
    assert loaded == [METADATA, METADATA]
    with pytest.raises(DestinationExistsError, match="File already exists, pass replace=True"):
        files[0].download(root=str(roots[0]))
    with pytest.raises(Exception, match="File already exists, pass replace=True"):
        files[1].download(root=str(roots[1]))
    (roots[0] / "wandb-metadata.json").write_text("{}")
    (roots[1] / "wandb-metadata.json").write_text("{}")
    for file, root in zip(files, roots, strict=True):
        with file.download(root=str(root), exist_ok=True) as handle:
            assert handle.read() == "{}"
        with file.download(root=str(root), replace=True) as handle:
            assert json.load(handle) == METADATA


def test_path_uri_of_a_file_not_in_s3(ours: Api, official: Any, pair: tuple[str, str]) -> None:
    mine = ours.run(pair[0]).file("wandb-metadata.json").path_uri
    theirs = official.run(pair[1]).file("wandb-metadata.json").path_uri
    assert mine == theirs == ""


def test_file_attributes_by_node_name(ours: Api, official: Any, pair: tuple[str, str]) -> None:
    mine = ours.run(pair[0]).file("wandb-metadata.json")
    theirs = official.run(pair[1]).file("wandb-metadata.json")
    assert mine.size_bytes == theirs.size_bytes == len(json.dumps(METADATA))


# ---------------------------------------------------------------------- Api
def test_from_path(
    ours: Api, official: Any, pair: tuple[str, str], server: LocalWandbServer, project: str
) -> None:
    server.create_sweep(ENTITY, project, "sw1", {"method": "grid"})
    for path, kind in [
        (project, None),
        (f"{ENTITY}/{project}", Project),
        (pair[0], Run),
        (f"{ENTITY}/{project}/runs/mine", Run),
        (f"{ENTITY}/{project}/sweeps/sw1", Sweep),
        (f"{ENTITY}/{project}/reports/My-Report--Vmlldzo1", BetaReport),
    ]:
        if kind is None:
            continue  # a bare project name needs the default entity, the SDK's is unset here
        mine, theirs = ours.from_path(path), official.from_path(path)
        assert isinstance(mine, kind)
        assert type(theirs).__name__ == kind.__name__
        if kind is BetaReport:
            assert (mine.display_name, mine.id) == (theirs.display_name, theirs.id)
        else:
            assert mine.path == list(theirs.path) or mine.name == theirs.name
    for bad in ("a/b/reports/no-dashes", "a/b/c/d/e"):
        with pytest.raises(ValueError, match=r"(?i)invalid"):
            ours.from_path(bad)
        with pytest.raises(Exception, match="Invalid"):
            official.from_path(bad)


def test_create_project(ours: Api, official: Any, server: LocalWandbServer, project: str) -> None:
    assert ours.create_project(f"{project}-a", ENTITY) is None
    assert official.create_project(f"{project}-b", ENTITY) is None
    assert server.store.get_project(ENTITY, f"{project}-a") is not None
    assert server.store.get_project(ENTITY, f"{project}-b") is not None
    assert ours.create_project(f"{project}-a", ENTITY) is None  # again: nothing changes


def test_viewer_is_a_user(ours: Api, official: Any) -> None:
    mine, theirs = ours.viewer, official.viewer
    assert (mine.id, mine.username, mine.entity, mine.email) == (
        theirs.id,
        theirs.username,
        theirs.entity,
        theirs.email,
    )
    assert mine.teams == theirs.teams and mine.api_keys == theirs.api_keys


# ---------------------------------------------------------------------- Paginator protocol
def test_runs_are_iterators_as_0_31_paginators_are(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    for i in range(5):
        server.create_run(ENTITY, project, f"p{i}")
    path = f"{ENTITY}/{project}"
    mine = ours.runs(path, order="+created_at", per_page=2)
    theirs = official.runs(path, order="+created_at", per_page=2)
    for runs in (mine, theirs):
        assert runs.index == -1
        assert runs.next().id == "p0" and next(runs).id == "p1" and runs.index == 1
        assert runs.more is True and runs.cursor is not None
        assert [r.id for r in runs.convert_objects()] == ["p0", "p1"]
        assert [r.id for r in runs] == [f"p{i}" for i in range(5)]  # iter() restarts
        assert runs.index == 5 and len(runs.objects) == 5
        with pytest.raises(StopIteration):
            runs.next()
    assert [r.id for r in mine.objects] == [r.id for r in theirs.objects]


# ---------------------------------------------------------------------- run filters
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"created_at": {"$gt": "2025-01-10T00"}}, ["b", "c"]),
        ({"$and": [{"created_at": {"$lt": "2025-01-11T00", "$gt": "2025-01-10T00"}}]}, ["b"]),
        ({"createdAt": {"$gte": "2025-01-10T05:00"}}, ["b", "c"]),
        ({"$or": [{"$and": []}]}, ["a", "b", "c"]),
    ],
)
def test_documented_date_filters(
    ours: Api,
    official: Any,
    server: LocalWandbServer,
    project: str,
    filters: dict[str, Any],
    expected: list[str],
) -> None:
    for run_id, created in (
        ("a", "2025-01-09T12:00:00"),
        ("b", "2025-01-10T05:00:00"),
        ("c", "2025-01-11T05:00:00"),
    ):
        server.create_run(ENTITY, project, run_id, created_at=created)
    path = f"{ENTITY}/{project}"
    mine = [r.id for r in ours.runs(path, filters, order="+created_at")]
    theirs = [r.id for r in official.runs(path, filters, order="+created_at")]
    assert mine == theirs == expected
