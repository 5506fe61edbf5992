"""History: sampled rows, the system stream and full scans read by our client and the SDK alike.

`tests/test_history.py::test_official_sdk_reads_the_same_rows` already covers a plain scan with a
page size, a scan and a sampled read with one key, and `samples=9` on a dense run; the cases here
add key sets, nested keys, other x axes, the system stream, DataFrames, step windows, sparse
steps, steps that do not start at 0, and runs without history.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

from .conftest import same

ENTITY = "oracle-history"
PROJECT = "oracle-history"
PATH = f"{ENTITY}/{PROJECT}"
SPARSE_STEPS = [5, 7, 8, 20, 21, 50, 51, 52, 99, 100, 101, 180]


def _dense_row(step: int) -> dict[str, Any]:
    row: dict[str, Any] = {"loss": round(1 / (step + 1), 6), "_runtime": step * 0.5}
    if step % 3 == 0:
        row["acc"] = step / 100
    if step % 2 == 0:
        row["nested"] = {"x": {"y": step}, "tag": f"s{step}"}
    if step == 7:
        row["flag"] = True
        row["missing"] = None
        row["weird"] = float("nan")
    return row


@pytest.fixture(scope="module")
def seeded(session_server: LocalWandbServer) -> str:
    server = session_server
    server.create_run(
        ENTITY,
        PROJECT,
        "dense",
        history=[_dense_row(step) for step in range(60)],
        system_history=[
            {"system.cpu": 10.0 + i, "system.memory": 40 + i, "_runtime": i * 2.0}
            for i in range(15)
        ],
    )
    server.create_run(
        ENTITY,
        PROJECT,
        "sparse",
        history=[
            {"_step": step, "loss": step / 10, **({"lr": 0.1} if step % 2 else {})}
            for step in SPARSE_STEPS
        ],
    )
    server.create_run(
        ENTITY,
        PROJECT,
        "late",
        history=[{"_step": 1000 + i, "metric": i * i} for i in range(40)],
    )
    server.create_run(ENTITY, PROJECT, "empty")
    return PATH


SAMPLED_CASES: list[tuple[str, dict[str, Any]]] = [
    ("dense", {}),
    ("dense", {"samples": 4}),
    ("dense", {"keys": ["loss", "acc"]}),
    ("dense", {"keys": ["nested.x.y"], "samples": 6}),
    ("dense", {"keys": ["acc"], "x_axis": "_runtime"}),
    ("dense", {"keys": ["weird", "flag"]}),
    ("dense", {"stream": "system"}),
    ("dense", {"stream": "system", "samples": 5}),
    ("sparse", {}),
    ("sparse", {"keys": ["lr"], "samples": 3}),
    ("late", {"samples": 7}),
    ("late", {"keys": ["metric"]}),
    ("empty", {}),
    ("empty", {"stream": "system"}),
]


@pytest.mark.parametrize(("run_id", "kwargs"), SAMPLED_CASES)
def test_sampled_history_agrees(
    ours: Api, official: Any, seeded: str, run_id: str, kwargs: dict[str, Any]
) -> None:
    mine = ours.run(f"{seeded}/{run_id}").history(pandas=False, **kwargs)
    theirs = official.run(f"{seeded}/{run_id}").history(pandas=False, **kwargs)
    assert same(mine, theirs), (mine[:3], theirs[:3])


@pytest.mark.parametrize(
    ("run_id", "kwargs"),
    [("dense", {}), ("dense", {"keys": ["acc", "nested.tag"]}), ("dense", {"stream": "system"})],
)
def test_sampled_history_frames_agree(
    ours: Api, official: Any, seeded: str, run_id: str, kwargs: dict[str, Any]
) -> None:
    mine = ours.run(f"{seeded}/{run_id}").history(**kwargs)
    theirs = official.run(f"{seeded}/{run_id}").history(**kwargs)
    assert list(mine.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(mine, theirs)


SCAN_CASES: list[Any] = [
    ("dense", {"min_step": 10, "max_step": 25}),
    ("dense", {"min_step": 55, "page_size": 2}),
    ("dense", {"max_step": 1000}),
    ("dense", {"keys": ["loss", "nested.x.y"], "page_size": 5}),
    ("dense", {"keys": ["acc"], "min_step": 4, "max_step": 31}),
    pytest.param(
        "dense",
        {"keys": ["no-such-key"]},
        marks=pytest.mark.filterwarnings("ignore:run .* has no history key"),
    ),
    ("sparse", {}),
    ("sparse", {"page_size": 3}),
    ("sparse", {"min_step": 8, "max_step": 100, "page_size": 4}),
    ("sparse", {"keys": ["lr"], "page_size": 10}),
    ("late", {}),
    ("late", {"min_step": 1010, "max_step": 1013}),
    ("late", {"keys": ["metric"], "page_size": 16}),
    ("empty", {}),
]


@pytest.mark.parametrize(("run_id", "kwargs"), SCAN_CASES)
def test_scan_history_agrees(
    ours: Api, official: Any, seeded: str, run_id: str, kwargs: dict[str, Any]
) -> None:
    mine = list(ours.run(f"{seeded}/{run_id}").scan_history(**kwargs))
    theirs = list(official.run(f"{seeded}/{run_id}").scan_history(**kwargs))
    assert same(mine, theirs, exact_numbers=False), (mine[:3], theirs[:3])


def test_history_keys_and_line_counts_agree(ours: Api, official: Any, seeded: str) -> None:
    for run_id in ("dense", "sparse", "late", "empty"):
        mine = ours.run(f"{seeded}/{run_id}")
        theirs = official.run(f"{seeded}/{run_id}")
        assert mine.lastHistoryStep == theirs.lastHistoryStep, run_id
        assert mine.history_keys == theirs.history_keys, run_id
        assert mine.history_line_count == theirs._attrs["historyLineCount"], run_id
