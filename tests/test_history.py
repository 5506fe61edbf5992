"""Run history read through GraphQL pages: full scans, the DataFrame fast path, sampled history
and `Runs.histories`.

Runs here are seeded without parquet exports (`history_exports=False`), so every step is live and
read page by page; `tests/test_history_parquet.py` covers exported runs. Ground truth is what each
test seeded; faults are injected into the page requests mid-scan and the result must still equal
it. The official SDK reads the same runs in the oracle test.
"""

from __future__ import annotations

import math
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import HistoryScan, Run
from prefect_wandb_public.errors import CommError, InvalidInputError
from prefect_wandb_public.testing import LocalWandbServer


def seed(
    server: LocalWandbServer, entity: str, project: str, rows: list[dict[str, Any]], **kwargs: Any
) -> list[dict[str, Any]]:
    """Create run `r` with `rows`, all live (no parquet export); returns the rows as the server
    stores them (ints for steps)."""
    kwargs.setdefault("history_exports", False)
    server.create_run(entity, project, kwargs.pop("run_id", "r"), history=rows, **kwargs)
    return [dict(row) for row in rows]


def sparse_rows(count: int = 120, start: int = 500) -> list[dict[str, Any]]:
    """Steps from `start` with irregular gaps; `acc` on every third row; a nested dict."""
    rng = random.Random(3)
    rows, step = [], start
    for i in range(count):
        row: dict[str, Any] = {"_step": step, "loss": round(rng.random(), 6), "epoch": i // 10}
        if i % 3 == 0:
            row["acc"] = i / 100
        if i % 5 == 0:
            row["nested"] = {"x": i, "y": {"z": -i}}
        rows.append(row)
        step += rng.choice((1, 1, 2, 7, 40))
    return rows


def dense_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"_step": start + i, "loss": i / 7, "acc": i % 13, "lr": 0.001} for i in range(count)]


def pages_requested(server: LocalWandbServer, operation: str = "HistoryPage") -> int:
    return server.request_log.count(operation=operation)


def prefetch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("wandb-history")]


def rest(scan: HistoryScan) -> list[dict[str, Any]]:
    """The rows a scan has left in its current pass (`list(scan)` would start a new pass)."""
    return list(iter(lambda: next(scan, None), None))


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `condition` holds within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def run(api: Api, entity: str, project: str, server: LocalWandbServer) -> Iterator[Run]:
    """Run `r` of a sparse history (loaded; the request log starts empty)."""
    seed(server, entity, project, sparse_rows())
    loaded = api.run(f"{entity}/{project}/r")
    server.request_log.clear()
    yield loaded


# ---------------------------------------------------------------------------- scans
def test_scan_returns_every_row_when_steps_start_late_and_have_gaps(
    run: Run, server: LocalWandbServer
) -> None:
    truth = sparse_rows()
    scan = run.scan_history(page_size=7)

    rows = list(scan)

    assert rows == truth
    assert scan.start == truth[0]["_step"] and scan.stop == truth[-1]["_step"] + 1
    assert pages_requested(server) == len(list(scan.ranges()))


def test_scan_honours_min_step_inclusive_and_max_step_exclusive(run: Run) -> None:
    truth = sparse_rows()
    low, high = truth[10]["_step"], truth[50]["_step"]

    rows = list(run.scan_history(page_size=5, min_step=low, max_step=high))

    assert rows == truth[10:50]
    assert list(run.scan_history(min_step=truth[-1]["_step"] + 1)) == []
    assert list(run.scan_history(min_step=low, max_step=low)) == []


def test_pages_start_at_live_steps_and_skip_wide_gaps(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    rows = [*dense_rows(10), *dense_rows(10, 20_000), *dense_rows(10, 40_000)]
    truth = seed(server, entity, project, rows)
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()

    scan = run.scan_history(page_size=10)
    rows = list(scan)

    assert rows == truth
    # The live steps are known: pages start at them and span at most 10,000 steps, so the rest
    # of a wider gap (which the live steps say holds no row) is never asked for.
    assert list(scan.ranges()) == [(0, 10_000), (20_000, 30_000), (40_000, 40_010)]
    assert pages_requested(server) == 3


def test_without_exports_info_pages_cover_every_step_and_empty_pages_go_on(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    rows = [*dense_rows(10), *dense_rows(10, 20_000), *dense_rows(10, 40_000)]
    truth = seed(server, entity, project, rows)
    run = api.run(f"{entity}/{project}/r")
    server.parquet_history = False  # a server without exports: no live steps either
    try:
        server.request_log.clear()
        scan = run.scan_history(page_size=10)
        rows = list(scan)
    finally:
        server.parquet_history = True

    assert rows == truth
    assert list(scan.ranges()) == [(k * 10_000, min(k * 10_000 + 10_000, 40_010)) for k in range(5)]
    assert pages_requested(server) == 5  # two of them empty
    assert server.request_log.count(operation="RunHistoryFirstRow") == 1


def test_scan_with_keys_returns_only_rows_holding_all_of_them(
    run: Run, server: LocalWandbServer
) -> None:
    truth = [
        {"_step": r["_step"], "acc": r["acc"], "nested.y.z": r["nested"]["y"]["z"]}
        for r in sparse_rows()
        if "acc" in r and "nested" in r
    ]

    rows = list(run.scan_history(keys=["acc", "nested.y.z"], page_size=3))

    assert [{k: row[k] for k in ("_step", "acc", "nested.y.z")} for row in rows] == truth
    assert all(set(row) == {"_step", "acc", "nested.y.z"} for row in rows)
    assert pages_requested(server, "SampledHistoryPage") >= 2
    assert pages_requested(server) == 0


def test_keys_pages_use_an_inclusive_max_step_without_duplicates(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(30))
    run = api.run(f"{entity}/{project}/r")

    rows = list(run.scan_history(keys=["acc"], page_size=4))

    assert [row["_step"] for row in rows] == list(range(30))


def test_running_run_is_read_up_to_the_last_step_seen_at_start(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    truth = seed(server, entity, project, dense_rows(50), state="running")
    run = api.run(f"{entity}/{project}/r")
    scan = run.scan_history(page_size=8)
    with server.store.lock:
        server.store.require_run(entity, project, "r").history.extend(dense_rows(25, 50))

    assert list(scan) == truth
    assert len(list(run.scan_history(page_size=8))) == 75


def test_unknown_keys_give_an_empty_scan_with_a_warning(run: Run, server: LocalWandbServer) -> None:
    with pytest.warns(UserWarning, match=r"no history key\(s\) \['nope'\]") as record:
        scan = run.scan_history(keys=["loss", "nope"])

    assert list(scan) == []
    assert scan.to_pandas().empty
    assert pages_requested(server, "SampledHistoryPage") == 0
    assert record[0].filename == __file__, "the warning points at the caller's line"


def test_unknown_keys_warning_points_at_the_caller_of_every_entry_point(run: Run) -> None:
    with pytest.warns(UserWarning, match="nope") as record:
        run.history_frame(keys=["nope"])
        HistoryScan(run, keys=["nope"])

    assert [warning.filename for warning in record] == [__file__, __file__]


def test_a_parent_of_nested_keys_counts_as_known(run: Run) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = list(run.scan_history(keys=["nested"]))

    assert [row["nested"] for row in rows] == [r["nested"] for r in sparse_rows() if "nested" in r]


def test_empty_run_scans_to_nothing(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, [])
    run = api.run(f"{entity}/{project}/r")

    assert list(run.scan_history()) == []
    assert run.history_frame().empty
    assert pages_requested(server) == 0


def test_closing_a_scan_midway_stops_fetching(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(400))
    run = api.run(f"{entity}/{project}/r")
    scan = run.scan_history(page_size=10, max_workers=2)

    first = [next(scan) for _ in range(15)]
    scan.close()
    requested = pages_requested(server)

    assert [row["_step"] for row in first] == list(range(15))
    assert requested <= 2 + 2 * 2 + 1  # consumed pages plus the bounded prefetch window
    assert next(scan, None) is None  # this pass is over
    assert pages_requested(server) == requested


def test_breaking_out_of_a_scan_leaves_no_prefetch_thread(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(2000))
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()
    scan = run.scan_history(page_size=10, max_workers=4)

    for row in scan:
        first = row
        break

    assert first == dense_rows(1)[0]
    assert eventually(lambda: not prefetch_threads()), prefetch_threads()
    # No thread is left to ask for more and the server is handling nothing: the count is final.
    assert server.request_log.wait_idle()
    requested = pages_requested(server)
    assert requested <= 1 + 2 * 4  # the prefetch window, no more
    assert scan.stop == 2000, "the scan is still referenced: nothing was garbage-collected"


def test_leaving_a_with_block_early_stops_the_prefetch_at_once(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(2000))
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()

    with run.scan_history(page_size=10, max_workers=4) as scan:
        rows = [row for _, row in zip(range(25), scan, strict=False)]

    assert prefetch_threads() == []
    assert server.request_log.wait_idle()  # the count below is final (see above)
    requested = pages_requested(server)
    assert requested <= 3 + 2 * 4
    assert [row["_step"] for row in rows] == list(range(25))
    assert next(scan, None) is None


# ---------------------------------------------------------------------------- faults
@pytest.mark.parametrize("kind", ["status", "reset", "truncate"])
def test_a_failed_page_mid_scan_is_retried_without_losing_or_duplicating_rows(
    api: Api, entity: str, project: str, server: LocalWandbServer, kind: str
) -> None:
    truth = seed(server, entity, project, dense_rows(200))
    run = api.run(f"{entity}/{project}/r")
    scan = run.scan_history(page_size=10, max_workers=1)
    rows = [next(scan) for _ in range(55)]  # pages 0-5 consumed or in flight
    server.inject_fault(operation="HistoryPage", kind=kind, status=503)

    rows += rest(scan)

    assert rows == truth
    faulted = [r for r in server.request_log.records if r.fault == kind]
    assert [r.operation for r in faulted] == ["HistoryPage"]
    assert pages_requested(server) == 20 + 1
    if kind == "status":
        assert server.request_log.count(operation="HistoryPage", status=503) == 1


def test_a_failed_keys_page_is_retried(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(60))
    run = api.run(f"{entity}/{project}/r")
    scan = run.scan_history(keys=["acc"], page_size=10, max_workers=1)
    rows = [next(scan) for _ in range(25)]
    server.inject_fault(operation="SampledHistoryPage", kind="reset")

    rows += rest(scan)

    assert rows == [{"_step": i, "acc": i % 13} for i in range(60)]
    assert pages_requested(server, "SampledHistoryPage") == 6 + 1


@pytest.mark.parametrize("kind", ["status", "truncate"])
def test_a_failed_page_of_the_dataframe_path_is_retried(
    api: Api, entity: str, project: str, server: LocalWandbServer, kind: str
) -> None:
    truth = seed(server, entity, project, dense_rows(120))
    run = api.run(f"{entity}/{project}/r")
    server.inject_fault(operation="HistoryPage", kind=kind, status=503)

    frame = run.history_frame(page_size=10)

    pd.testing.assert_frame_equal(frame, pd.DataFrame.from_records(truth))
    assert pages_requested(server) == 12 + 1


def test_a_page_that_keeps_failing_raises_after_the_retry_budget(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(100))
    run = api.run(f"{entity}/{project}/r")
    scan = run.scan_history(page_size=10, max_workers=1)
    server.inject_fault(operation="HistoryPage", status=503, times=50)

    with pytest.raises(CommError) as failure:
        list(scan)

    assert failure.value.status == 503
    assert server.request_log.count(operation="HistoryPage", status=503) < 50


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda run: run.scan_history(min_step=10, max_step=5), "min_step"),
        (lambda run: run.scan_history(page_size=0), "page_size"),
        (lambda run: run.scan_history(page_size=-3), "page_size"),
        (lambda run: run.scan_history(keys="loss"), "keys"),
        (lambda run: run.scan_history(keys=["loss", 3]), "keys"),
        (lambda run: run.scan_history(max_workers=0), "max_workers"),
        (lambda run: run.history_frame(min_step=3, max_step=1), "min_step"),
        (lambda run: run.history(samples=0), "samples"),
        (lambda run: run.history(samples=-1), "samples"),
        (lambda run: run.history(stream=3), "stream"),
        (lambda run: run.history(stream=""), "stream"),
        (lambda run: run.history(x_axis=""), "x_axis"),
    ],
    ids=[
        "min_step>max_step",
        "page_size=0",
        "page_size<0",
        "keys-not-a-list",
        "keys-not-strings",
        "max_workers=0",
        "frame-min_step>max_step",
        "samples=0",
        "samples<0",
        "stream-not-a-string",
        "empty-stream",
        "empty-x_axis",
    ],
)
def test_bad_input_raises_before_any_request(
    run: Run, server: LocalWandbServer, call: Any, names: str
) -> None:
    with pytest.raises(InvalidInputError, match=names):
        call(run)

    assert server.request_log.records == []


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [({"samples": 0}, "samples"), ({"format": "polars"}, "format"), ({"stream": None}, "stream")],
)
def test_bad_histories_input_raises_before_any_request(
    api: Api, server: LocalWandbServer, entity: str, project: str, kwargs: Any, names: str
) -> None:
    runs = api.runs(f"{entity}/{project}")

    with pytest.raises(InvalidInputError, match=names):
        runs.histories(**kwargs)

    assert server.request_log.records == []


# ---------------------------------------------------------------------------- DataFrames
def test_history_frame_equals_the_rows_of_the_scan(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    rows = [
        {**row, "flag": row["_step"] % 2 == 0, "tag": f"t{row['_step'] % 3}"}
        for row in dense_rows(95, 3)
    ]
    rows[40]["late"] = 1.5  # a key appearing in one page only
    truth = seed(server, entity, project, rows)
    run = api.run(f"{entity}/{project}/r")

    frame = run.history_frame(page_size=20)

    expected = pd.DataFrame.from_records(truth)
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    assert frame["_step"].dtype == "int64"


def test_history_frame_keeps_nested_values_and_sparse_keys(run: Run) -> None:
    truth = sparse_rows()

    frame = run.history_frame(page_size=9)

    assert frame["_step"].tolist() == [r["_step"] for r in truth]
    assert frame["loss"].tolist() == [r["loss"] for r in truth]
    acc = frame["acc"].tolist()
    assert [a for a, r in zip(acc, truth, strict=True) if "acc" in r] == [
        r["acc"] for r in truth if "acc" in r
    ]
    assert all(math.isnan(a) for a, r in zip(acc, truth, strict=True) if "acc" not in r)
    nested = [n for n, r in zip(frame["nested"], truth, strict=True) if "nested" in r]
    assert nested == [r["nested"] for r in truth if "nested" in r]


def test_history_frame_handles_nan_and_a_key_changing_type(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    rows = dense_rows(30)
    rows[4]["loss"] = float("nan")
    rows[25]["acc"] = "n/a"
    seed(server, entity, project, rows)
    run = api.run(f"{entity}/{project}/r")

    frame = run.history_frame(page_size=10)

    assert len(frame) == 30
    assert math.isnan(frame["loss"][4]) and frame["loss"][5] == rows[5]["loss"]
    assert frame["acc"][25] == "n/a" and frame["acc"][24] == rows[24]["acc"]


def test_to_arrow_falls_back_when_a_page_holds_nan(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    rows = dense_rows(30)
    rows[4]["loss"] = float("nan")  # pyarrow's JSON reader refuses the page: it decodes to dicts
    seed(server, entity, project, rows)
    run = api.run(f"{entity}/{project}/r")

    table = run.scan_history(page_size=10).to_arrow()

    assert table.column("_step").to_pylist() == list(range(30))
    losses = table.column("loss").to_pylist()
    assert math.isnan(losses[4]) and losses[5] == rows[5]["loss"]


def test_history_frame_with_keys_and_to_arrow(run: Run) -> None:
    truth = [r for r in sparse_rows() if "acc" in r]

    frame = run.history_frame(keys=["acc"], page_size=11)
    table = run.scan_history(keys=["acc"], page_size=11).to_arrow()

    assert frame["acc"].tolist() == [r["acc"] for r in truth]
    assert table.column("_step").to_pylist() == [r["_step"] for r in truth]


# ---------------------------------------------------------------------------- sampled
def test_history_samples_evenly_with_both_ends(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    seed(server, entity, project, dense_rows(1000))
    run = api.run(f"{entity}/{project}/r")

    rows = run.history(samples=10, pandas=False)
    frame = run.history(samples=10)

    assert isinstance(rows, list) and isinstance(frame, pd.DataFrame)
    steps = [row["_step"] for row in rows]
    assert len(steps) == 10 and steps[0] == 0 and steps[-1] == 999
    assert steps == sorted(steps) and frame["_step"].tolist() == steps
    assert len(run.history(samples=5000, pandas=False)) == 1000


def test_history_with_keys_uses_sampled_history_and_x_axis(
    run: Run, server: LocalWandbServer
) -> None:
    truth = [r for r in sparse_rows() if "acc" in r]

    rows = run.history(keys=["acc"], x_axis="epoch", samples=500, pandas=False)

    assert rows == [{"epoch": r["epoch"], "acc": r["acc"]} for r in truth]
    assert server.request_log.count(operation="RunSampledHistory") == 1


def test_history_with_unknown_keys_warns(run: Run) -> None:
    with pytest.warns(UserWarning, match="nope"):
        rows = run.history(keys=["nope"], pandas=False)

    assert rows == []


def test_system_stream_reads_system_metrics(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    system = [{"system.cpu": 10.0 + i, "_timestamp": 1.7e9 + i} for i in range(40)]
    seed(server, entity, project, dense_rows(5), system_history=system)
    run = api.run(f"{entity}/{project}/r")

    rows = run.history(stream="system", samples=4, pandas=False)

    assert isinstance(rows, list)
    assert [row["system.cpu"] for row in rows] == [10.0, 23.0, 36.0, 49.0]
    assert all(row["_wandb"] is True for row in rows)


@pytest.mark.parametrize("stream", ["events", "system", "anything-but-default"])
def test_every_stream_but_default_reads_the_system_events(
    api: Api, entity: str, project: str, server: LocalWandbServer, stream: str
) -> None:
    system = [{"system.cpu": 10.0 + i} for i in range(10)]
    seed(server, entity, project, dense_rows(5), system_history=system)
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()

    rows = run.history(stream=stream, samples=100, pandas=False)

    assert [row["system.cpu"] for row in rows] == [10.0 + i for i in range(10)]
    assert server.request_log.count(operation="RunFullHistory") == 1


@pytest.mark.parametrize("pandas", [True, False])
def test_keys_with_another_stream_give_an_empty_list_and_a_warning(
    run: Run, server: LocalWandbServer, pandas: bool
) -> None:
    with pytest.warns(UserWarning, match="stream='default'") as record:
        rows = run.history(keys=["loss"], stream="events", pandas=pandas)
    with pytest.warns(UserWarning, match="stream='default'"):
        histories = run.client.runs(f"{run.entity}/{run.project}").histories(
            keys=["loss"], stream="system", format="pandas" if pandas else "default"
        )

    assert rows == [] and isinstance(rows, list)  # a list even with pandas=True, as 0.31
    assert len(histories) == 0
    assert record[0].filename == __file__
    assert server.request_log.count(operation="RunSampledHistory") == 0


def test_runs_histories_fetch_every_run_with_its_id(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    for index in range(3):
        seed(server, entity, project, dense_rows(20 + index), run_id=f"run{index}")
    runs = api.runs(f"{entity}/{project}", order="+created_at")

    rows = runs.histories(samples=5)
    frame = runs.histories(samples=5, keys=["acc"], format="pandas")

    assert isinstance(rows, list) and isinstance(frame, pd.DataFrame)
    assert [row["run_id"] for row in rows] == ["run0"] * 5 + ["run1"] * 5 + ["run2"] * 5
    assert list(frame.columns) == ["_step", "acc", "run_id"]
    assert frame.groupby("run_id")["_step"].max().to_dict() == {
        "run0": 19,
        "run1": 20,
        "run2": 21,
    }


def test_histories_of_an_empty_project_is_empty(api: Api, entity: str, server: Any) -> None:
    server.create_project(entity, "history-empty")
    runs = api.runs(f"{entity}/history-empty")

    assert runs.histories() == []
    assert runs.histories(format="pandas").empty


def test_every_for_loop_reads_the_scan_again_from_min_step(
    run: Run, server: LocalWandbServer
) -> None:
    truth = sparse_rows()
    scan = run.scan_history(page_size=10, min_step=truth[5]["_step"])
    plans = server.request_log.count(operation="RunHistoryPlan")

    first = list(scan)
    second = [row for row in scan]
    partial = [row for _, row in zip(range(7), scan, strict=False)]
    third = list(scan)

    assert first == second == third == truth[5:]
    assert partial == truth[5:12]
    assert next(scan, None) is None  # after a pass, next() keeps saying it is over
    assert server.request_log.count(operation="RunHistoryPlan") == plans, "the plan is kept"
    assert pages_requested(server) >= 3 * len(list(scan.ranges()))


def test_scan_object_is_a_history_scan(run: Run) -> None:
    scan = run.scan_history()

    assert isinstance(scan, HistoryScan)
    assert iter(scan) is scan
    assert "steps [500," in repr(scan)


# ---------------------------------------------------------------------------- oracle
@pytest.mark.oracle
def test_official_sdk_reads_the_same_rows(
    run: Run, server: LocalWandbServer, entity: str, project: str, monkeypatch: Any, tmp_path: Any
) -> None:
    for name, value in {
        "WANDB_API_KEY": server.api_key,
        "WANDB_BASE_URL": server.url,
        "WANDB_SILENT": "true",
        "WANDB_CACHE_DIR": str(tmp_path / "cache"),
        "WANDB_DIR": str(tmp_path / "dir"),
        "WANDB_CONFIG_DIR": str(tmp_path / "config"),
    }.items():
        monkeypatch.setenv(name, value)
    import wandb

    official = wandb.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    theirs = official.run(f"{entity}/{project}/r")

    assert list(theirs.scan_history(page_size=7)) == list(run.scan_history(page_size=7))
    assert list(theirs.scan_history(keys=["acc"])) == list(run.scan_history(keys=["acc"]))
    assert theirs.history(samples=9, pandas=False) == run.history(samples=9, pandas=False)
    assert theirs.history(keys=["acc"], samples=9, pandas=False) == run.history(
        keys=["acc"], samples=9, pandas=False
    )
    assert server.request_log.count(operation="RunParquetHistory") == 2
