"""The official SDK (wandb 0.31.0) reads the local server's parquet history exports, and agrees
with our client.

0.31's parquet path shapes rows its own way (wandb-protocol-transfers.md section 1.5): every
column of the file in every row (None where a key is absent), dotted column names as they are
(`val.a`), whole floats as ints. `sdk_rows` undoes exactly that (drops the Nones, nests the
dotted names) before comparing; with `keys`, 0.31 also returns rows that miss some of the keys
(as None), where ours keeps only rows holding all of them (README, differences from wandb.Api).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

from .conftest import same

ENTITY = "oracle-exports"
PROJECT = "oracle-exports"
PATH = f"{ENTITY}/{PROJECT}"
EXPORTS = "/storage/history/"
HISTORY_READS = ("HistoryPage", "SampledHistoryPage")


def logged(count: int = 80, start: int = 3) -> list[dict[str, Any]]:
    """Sparse and nested keys, NaN and infinities, gaps, a late first step."""
    rows = []
    for i in range(count):
        row: dict[str, Any] = {"_step": start + 2 * i + (i // 10) * 7, "loss": i / 7}
        row["epoch"] = i // 10
        if i % 3 == 0:
            row["acc"] = i / 100
        if i % 4 == 0:
            row["val"] = {"a": i, "b": {"c": -i / 2}}
        if i in (5, 6, 7):
            row["odd"] = [math.nan, math.inf, -math.inf][i - 5]
        if i % 9 == 0:
            row["phase"] = "eval" if i % 2 else "train"
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def seeded(session_server: LocalWandbServer) -> str:
    server = session_server
    rows = logged()
    server.create_run(ENTITY, PROJECT, "finished", history=rows)
    server.create_run(ENTITY, PROJECT, "streamed", history=rows)  # read with keys first
    server.create_run(ENTITY, PROJECT, "twice", history=rows[:35], state="running")
    server.export_history(ENTITY, PROJECT, "twice")
    server.log_history(ENTITY, PROJECT, "twice", rows[35:])
    server.export_history(ENTITY, PROJECT, "twice")
    server.create_run(ENTITY, PROJECT, "tail", history=rows[:50], state="running")
    server.export_history(ENTITY, PROJECT, "tail")
    server.log_history(ENTITY, PROJECT, "tail", rows[50:])
    server.create_run(ENTITY, PROJECT, "empty")
    return PATH


def sdk_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """0.31's parquet rows as logged: absent keys (None) dropped, dotted names nested again."""
    out = []
    for row in rows:
        nested: dict[str, Any] = {}
        for name, value in row.items():
            if value is None:
                continue
            target = nested
            *parents, leaf = name.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
        out.append(nested)
    return out


SCANS: list[tuple[str, dict[str, Any]]] = [
    ("finished", {}),
    ("finished", {"page_size": 7}),
    ("finished", {"min_step": 40, "max_step": 120}),
    ("twice", {}),
    ("twice", {"min_step": 60}),
    ("tail", {"page_size": 9}),
    ("tail", {"min_step": 130}),
    ("empty", {}),
]


@pytest.mark.parametrize(("run_id", "kwargs"), SCANS, ids=str)
def test_scan_history_of_exports_agrees(
    ours: Api, official: Any, seeded: str, run_id: str, kwargs: dict[str, Any]
) -> None:
    mine = list(ours.run(f"{seeded}/{run_id}").scan_history(**kwargs))
    theirs = sdk_rows(list(official.run(f"{seeded}/{run_id}").scan_history(**kwargs)))

    assert same(mine, theirs, exact_numbers=False), (mine[:2], theirs[:2])
    truth = [r for r in logged() if r["_step"] >= kwargs.get("min_step", 0)]
    truth = [r for r in truth if r["_step"] < kwargs.get("max_step", 10**9)]
    if run_id != "empty":
        assert same(mine, truth)


def test_a_fully_exported_run_is_read_from_storage_alone(
    ours: Api, official: Any, seeded: str, session_server: LocalWandbServer
) -> None:
    log = session_server.request_log
    run = official.run(f"{seeded}/finished")
    log.clear()

    rows = list(run.scan_history(use_cache=False))

    assert len(rows) == len(logged())
    assert log.count(path=EXPORTS, method="GET", status=200) == 1
    assert log.count(operation="RunParquetHistory") == 1
    assert sum(log.count(operation=name) for name in HISTORY_READS) == 0
    log.clear()
    mine = ours.run(f"{seeded}/finished")
    log.clear()
    list(mine.scan_history(use_cache=False))
    assert log.count(path=EXPORTS, method="GET", status=200) == 1
    assert sum(log.count(operation=name) for name in HISTORY_READS) == 0


def test_scan_history_with_keys_streams_the_file_with_range_requests(
    ours: Api, official: Any, seeded: str, session_server: LocalWandbServer
) -> None:
    log = session_server.request_log
    run = official.run(f"{seeded}/streamed")
    log.clear()

    theirs = list(run.scan_history(keys=["loss", "epoch"]))  # nothing cached: streamed

    # 0.31.0 learns the size from a `Range: bytes=0-0` answer's Content-Range (the notes, read
    # at a later source revision, describe a HEAD), then reads footer and columns by range.
    ranged = [r for r in log.records if r.path.startswith(EXPORTS)]
    assert len(ranged) > 2 and all(r.method == "GET" and r.status == 206 for r in ranged)
    assert ranged[0].range == "bytes=0-0"
    mine = list(ours.run(f"{seeded}/streamed").scan_history(keys=["loss", "epoch"]))
    assert same(mine, theirs, exact_numbers=False)


def test_a_page_straddling_the_export_boundary_duplicates_rows_in_0_31_only(
    ours: Api, official: Any, seeded: str
) -> None:
    # The first live step of `tail` is 138; a page from step 100 reads steps 100-137 from the
    # export and, in 0.31, the whole page again from GraphQL (transfer notes, section 1.3).
    theirs = sdk_rows(list(official.run(f"{seeded}/tail").scan_history(min_step=100)))
    mine = list(ours.run(f"{seeded}/tail").scan_history(min_step=100))

    steps = [row["_step"] for row in theirs]
    assert len(steps) > len(set(steps)), "0.31 yields the exported part of the page twice"
    assert [row["_step"] for row in mine] == sorted(set(steps))
    first = {row["_step"]: row for row in reversed(theirs)}
    assert same(mine, [first[step] for step in sorted(first)], exact_numbers=False)


def test_keys_that_some_rows_miss_differ_as_documented(
    ours: Api, official: Any, seeded: str
) -> None:
    theirs = list(official.run(f"{seeded}/finished").scan_history(keys=["acc", "val.a"]))
    mine = list(ours.run(f"{seeded}/finished").scan_history(keys=["acc", "val.a"]))

    assert len(theirs) == len(logged())  # 0.31: every row, None where a key is absent
    holding_all = [r for r in theirs if r["acc"] is not None and r["val.a"] is not None]
    assert same(mine, holding_all, exact_numbers=False)  # ours: only rows holding all keys


def test_download_history_exports_agrees(
    ours: Api, official: Any, seeded: str, tmp_path: Path
) -> None:
    for run_id in ("finished", "twice"):
        theirs = official.run(f"{seeded}/{run_id}").download_history_exports(tmp_path / "sdk")
        mine = ours.run(f"{seeded}/{run_id}").download_history_exports(tmp_path / "ours")

        assert sorted(p.name for p in mine.paths) == sorted(p.name for p in theirs.paths)
        assert mine.contains_live_data is theirs.contains_live_data is False
        assert mine.errors == {} and not theirs.errors
        for path in mine.paths:  # 0.31 lists them as they complete, ours in the server's order
            assert path.read_bytes() == (tmp_path / "sdk" / path.name).read_bytes()
            assert pq.read_table(path).num_rows > 0


def test_incomplete_history_is_refused_by_both(
    ours: Api, official: Any, seeded: str, tmp_path: Path, wandb_sdk: Any
) -> None:
    from prefect_wandb_public.api import IncompleteRunHistoryError

    with pytest.raises(wandb_sdk.apis.public.IncompleteRunHistoryError):
        official.run(f"{seeded}/tail").download_history_exports(tmp_path / "sdk")
    with pytest.raises(IncompleteRunHistoryError):
        ours.run(f"{seeded}/tail").download_history_exports(tmp_path / "ours")

    theirs = official.run(f"{seeded}/tail").download_history_exports(
        tmp_path / "sdk", require_complete_history=False
    )
    mine = ours.run(f"{seeded}/tail").download_history_exports(
        tmp_path / "ours", require_complete_history=False
    )
    assert mine.contains_live_data is theirs.contains_live_data is True
    assert sorted(p.name for p in mine.paths) == sorted(p.name for p in theirs.paths)
