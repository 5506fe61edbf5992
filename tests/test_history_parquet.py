"""Our client reads parquet exports first: scans, DataFrames, keys and step windows from export
files, live tails through GraphQL, the download cache, failed or expired URLs, bad files,
`download_history_exports`, `beta_scan_history` and `Runs.histories`.

Ground truth is what each test seeded; the same rows seeded without an export (every step live)
are read through GraphQL pages, and both must give the same rows.
"""

from __future__ import annotations

import logging
import math
import os
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import (
    Downloader,
    DownloadHistoryResult,
    IncompleteRunHistoryError,
    Run,
    export_history,
)
from prefect_wandb_public.api.history_exports import cache_name
from prefect_wandb_public.errors import CommError
from prefect_wandb_public.testing import LocalWandbServer

EXPORTS = "/storage/history/"
HISTORY_READS = ("HistoryPage", "SampledHistoryPage", "RunHistoryFirstRow")


def logged_rows(count: int = 120, start: int = 3) -> list[dict[str, Any]]:
    """Sparse keys, nested dicts, NaN and infinities, a logged None, media, lists, gaps."""
    rows = []
    step = start
    for i in range(count):
        row: dict[str, Any] = {"_step": step, "loss": round(1 / (i + 1), 6), "epoch": i // 10}
        if i % 3 == 0:
            row["acc"] = i / 100
        if i % 4 == 0:
            row["val"] = {"acc": i / 50, "deep": {"f1": -i}}
        if i == 5:
            row["weird"] = float("nan")
            row["missing"] = None
            row["media"] = {"_type": "image-file", "path": "media/a.png", "width": 4}
        if i == 6:
            row["weird"] = float("inf")
            row["shape"] = [1, 2, 3]
        rows.append(row)
        step += 1 if i % 7 else 5
    return rows


def same(a: Any, b: Any) -> bool:
    """Deep equality with types, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def history_reads(server: LocalWandbServer) -> int:
    return sum(server.request_log.count(operation=name) for name in HISTORY_READS)


@pytest.fixture
def pair(api: Api, server: LocalWandbServer, entity: str, project: str) -> tuple[Run, Run]:
    """(exported run, the same rows all live), the request log cleared."""
    server.create_run(entity, project, "exported", history=logged_rows())
    server.create_run(entity, project, "live", history=logged_rows(), history_exports=False)
    runs = api.run(f"{entity}/{project}/exported"), api.run(f"{entity}/{project}/live")
    server.request_log.clear()
    return runs


# ---------------------------------------------------------------------------- scans
def test_an_exported_run_is_read_from_its_file_alone(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair

    rows = list(exported.scan_history())

    assert same(rows, logged_rows())
    assert history_reads(server) == 0
    assert server.request_log.count(operation="RunHistoryPlan") == 1
    assert server.request_log.count(path=EXPORTS, method="GET") == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"page_size": 7},
        {"min_step": 20, "max_step": 90},
        {"min_step": 1000},
        {"keys": ["acc"]},
        {"keys": ["acc", "val.deep.f1"]},
        {"keys": ["val"], "max_step": 60},
        {"keys": ["weird", "missing"]},
        {"keys": ["_step", "loss"], "min_step": 30},
    ],
    ids=str,
)
def test_exported_and_live_runs_give_the_same_rows(
    pair: tuple[Run, Run], kwargs: dict[str, Any]
) -> None:
    exported, live = pair

    mine, truth = list(exported.scan_history(**kwargs)), list(live.scan_history(**kwargs))

    assert same(mine, truth), (mine[:2], truth[:2])


def test_keys_mean_rows_holding_all_of_them(pair: tuple[Run, Run]) -> None:
    exported, _ = pair
    truth = [
        {"acc": r["acc"], "val": r["val"], "_step": r["_step"]}
        for r in logged_rows()
        if "acc" in r and "val" in r
    ]

    assert same(list(exported.scan_history(keys=["acc", "val"])), truth)


def test_a_partly_exported_run_pages_only_its_live_tail_without_duplicates(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = logged_rows()
    server.create_run(entity, project, "r", history=rows[:70], state="running")
    server.export_history(entity, project, "r")
    server.log_history(entity, project, "r", rows[70:])
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()

    scan = run.scan_history(page_size=10)
    got = list(scan)

    assert same(got, rows)
    first_live = rows[70]["_step"]
    assert next(scan.ranges())[0] == first_live
    assert server.request_log.count(operation="HistoryPage") == 5  # 50 live rows, 10 a page
    frame = run.history_frame(page_size=10)
    assert frame["_step"].tolist() == [r["_step"] for r in rows]
    keyed = list(run.scan_history(keys=["acc"], page_size=10))
    assert [r["_step"] for r in keyed] == [r["_step"] for r in rows if "acc" in r]


@pytest.mark.parametrize("exported", [True, False])
def test_a_long_run_is_asked_for_its_urls_first(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    exported: bool,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("prefect_wandb_public.api.history.LIVE_STEPS_INLINE", 50)
    rows = logged_rows()  # 120 rows: "long" here
    server.create_run(entity, project, "r", history=rows, state="running")
    if exported:
        server.export_history(entity, project, "r")
        server.log_history(entity, project, "r", [{"loss": 2.0}])
    run = api.run(f"{entity}/{project}/r")
    server.request_log.clear()

    got = list(run.scan_history())

    assert same(got, rows + ([{"_step": rows[-1]["_step"] + 1, "loss": 2.0}] if exported else []))
    operations = [r.operation for r in server.request_log.records if r.path == "/graphql"]
    if exported:  # the URLs, then the live steps (one tail page)
        assert operations == ["RunHistoryPlan", "RunParquetHistory", "HistoryPage"]
    else:  # no export: no list of live steps at all, pages from the first step found
        assert operations[:2] == ["RunHistoryPlan", "RunHistoryFirstRow"]
        assert set(operations) == {"RunHistoryPlan", "RunHistoryFirstRow", "HistoryPage"}
    with pytest.raises(IncompleteRunHistoryError):
        run.download_history_exports(tmp_path)


def test_every_for_loop_reads_again_and_the_cache_serves_the_file(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair
    scan = exported.scan_history(min_step=50)

    first, second = list(scan), list(scan)

    assert same(first, second) and first and first[0]["_step"] >= 50
    assert server.request_log.count(path=EXPORTS) == 1  # cached after the first pass


def test_the_cache_key_ignores_the_signature_and_the_url_order(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = logged_rows()
    server.create_run(entity, project, "r", history=rows[:60], state="running")
    server.export_history(entity, project, "r")
    server.log_history(entity, project, "r", rows[60:])
    server.export_history(entity, project, "r")
    run = api.run(f"{entity}/{project}/r")
    assert same(list(run.scan_history()), rows)
    fetched = server.request_log.count(path=EXPORTS)
    stored = server.store.require_run(entity, project, "r").exports
    stored.files.reverse()  # the service does not keep the order of its URLs
    server.urls.url_ttl = 7200.0  # and every answer is signed anew
    try:
        again = list(run.scan_history())
    finally:
        server.urls.url_ttl = 3600.0

    assert fetched == 2
    assert same(again, rows)
    assert server.request_log.count(path=EXPORTS) == fetched  # both files from the cache


def test_a_cached_export_edited_in_place_is_fetched_again(
    pair: tuple[Run, Run], api: Api, server: LocalWandbServer
) -> None:
    """The cached copy is sealed as the download cache's blobs are: with no digest to hash it
    again, a copy whose identity changed since it was sealed (here only its times, so it is
    still a readable parquet file) is dropped and fetched again rather than read."""
    exported, _ = pair
    list(exported.scan_history())
    [url] = exported.scan_history().plan.parquet_urls
    cached = Downloader(api.transport).named_cache_path(cache_name(url))
    os.utime(cached, (1_000_000, 1_000_000))

    assert same(list(exported.scan_history()), logged_rows())
    assert server.request_log.count(path=EXPORTS) == 2
    assert server.request_log.count(operation="RunParquetHistory") == 0, "no URL was refused"
    assert same(list(exported.scan_history()), logged_rows())
    assert server.request_log.count(path=EXPORTS) == 2, "the fresh copy is sealed and used"


def test_use_cache_false_fetches_the_files_again(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair
    list(exported.scan_history())

    assert same(list(exported.scan_history(use_cache=False)), logged_rows())
    assert server.request_log.count(path=EXPORTS) == 2


def test_an_empty_finished_run_scans_to_nothing(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r")
    run = api.run(f"{entity}/{project}/r")

    assert list(run.scan_history()) == []
    assert run.history_frame().empty
    with pytest.warns(UserWarning, match="no history key"):
        assert list(run.scan_history(keys=["loss"])) == []


# ---------------------------------------------------------------------------- failures
def test_a_refused_url_is_asked_for_again_once(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair
    server.inject_fault(EXPORTS, status=403, times=1)

    rows = list(exported.scan_history())

    assert same(rows, logged_rows())
    assert server.request_log.count(operation="RunParquetHistory") == 1
    assert server.request_log.count(path=EXPORTS, status=403) == 1


def test_expired_urls_fail_after_one_fresh_request_and_leave_nothing_cached(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair
    server.urls.url_ttl = -10.0  # every URL handed out has already expired
    try:
        with pytest.raises(CommError, match="HTTP 403") as failure:
            list(exported.scan_history())
    finally:
        server.urls.url_ttl = 3600.0

    assert "signature=" not in str(failure.value)  # no signed query string in messages
    assert server.request_log.count(operation="RunParquetHistory") == 1
    assert server.request_log.count(path=EXPORTS, status=403) == 2
    assert same(list(exported.scan_history()), logged_rows())  # nothing bad was cached


@pytest.mark.parametrize("kind", ["corrupt", "truncate", "reset"])
def test_a_bad_or_cut_file_never_stays_in_the_cache(
    pair: tuple[Run, Run], server: LocalWandbServer, kind: str
) -> None:
    exported, _ = pair
    server.inject_fault(EXPORTS, kind=kind, times=1)

    rows = list(exported.scan_history())

    assert same(rows, logged_rows())
    assert server.request_log.count(path=EXPORTS, method="GET") == 2


def test_a_server_ignoring_range_on_resume_is_handled(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    rng = random.Random(5)
    keys = "abcdefgh"
    rows = [{key: rng.random() for key in keys} for _ in range(34_000)]  # a 2.2 MB file
    server.create_run(entity, project, "big", history=rows)
    run = api.run(f"{entity}/{project}/big")
    server.request_log.clear()
    server.inject_fault(EXPORTS, kind="truncate", times=1)  # cut past 1 MiB: resumed with Range
    server.inject_fault(EXPORTS, kind="ignore_range", times=1)  # answered 200 from byte 0

    frame = run.history_frame()

    assert frame["a"].tolist() == [row["a"] for row in rows]
    ranged = [r for r in server.request_log.records if r.path.startswith(EXPORTS) and r.range]
    # The 200 is read again from its first byte; no third request is needed.
    assert [r.status for r in ranged] == [200]
    assert server.request_log.count(path=EXPORTS) == 2


def test_a_file_that_is_not_parquet_is_an_error_after_one_fresh_request(
    pair: tuple[Run, Run], server: LocalWandbServer
) -> None:
    exported, _ = pair
    server.inject_fault(EXPORTS, kind="corrupt", times=2)

    with pytest.raises(CommError, match="not a readable parquet file"):
        list(exported.scan_history())

    assert server.request_log.count(operation="RunParquetHistory") == 1
    [url] = exported.scan_history().plan.parquet_urls
    cached = Downloader(exported.client.transport).named_cache_path(cache_name(url))
    assert not os.path.exists(cached), "the bad file was evicted"
    assert same(list(exported.scan_history()), logged_rows())
    assert pq.ParquetFile(cached).metadata.num_rows == len(logged_rows())


def test_the_cache_name_is_the_url_without_its_query() -> None:
    signed = "https://storage.example/b/e/p/r/0.parquet?X-Goog-Signature=abc&X-Goog-Expires=1"
    other = "https://storage.example/b/e/p/r/0.parquet?X-Goog-Signature=def"

    assert (
        cache_name(signed)
        == cache_name(other)
        == ("history-export/https://storage.example/b/e/p/r/0.parquet")
    )


# ---------------------------------------------------------------------------- DataFrames
def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows without absent cells (NaN or None), numbers compared by value."""
    out = []
    for row in frame.to_dict("records"):
        out.append({k: _plain(v) for k, v in row.items() if not _absent(v)})
    return out


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not _absent(v)}
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@pytest.mark.parametrize("kwargs", [{}, {"keys": ["acc", "val.acc"]}, {"min_step": 40}], ids=str)
def test_frames_hold_the_same_rows_either_way(
    pair: tuple[Run, Run], server: LocalWandbServer, kwargs: dict[str, Any]
) -> None:
    exported, live = pair

    mine, truth = exported.history_frame(**kwargs), live.history_frame(**kwargs)
    table = exported.scan_history(**kwargs).to_arrow()

    assert set(mine.columns) == set(truth.columns)
    assert records(mine[list(truth.columns)]) == records(truth)
    assert table.num_rows == len(truth)
    assert mine["_step"].dtype == "int64"


def test_a_dense_export_becomes_a_frame_without_row_dicts(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"loss": i / 3, "epoch": i // 10, "deep": {"x": i}} for i in range(500)]
    server.create_run(entity, project, "r", history=rows)
    run = api.run(f"{entity}/{project}/r")

    frame = run.history_frame()

    assert list(frame.columns) == ["loss", "epoch", "deep", "_step"]
    assert frame["epoch"].dtype == "int64" and frame["loss"].dtype == "float64"
    assert frame["deep"].tolist() == [{"x": i} for i in range(500)]


# ---------------------------------------------------------------------------- exports to files
@pytest.mark.parametrize(
    "kwargs", [{}, {"keys": ["acc", "val.deep.f1"]}, {"min_step": 40}], ids=str
)
def test_export_history_writes_the_same_file_either_way(
    pair: tuple[Run, Run], server: LocalWandbServer, tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    exported, live = pair

    rows = export_history(exported, tmp_path / "mine.parquet", **kwargs)
    assert history_reads(server) == 0
    expected = export_history(live, tmp_path / "truth.parquet", **kwargs)

    mine, truth = (
        pq.read_table(tmp_path / "mine.parquet"),
        pq.read_table(tmp_path / "truth.parquet"),
    )
    assert rows == expected and mine.schema == truth.schema
    assert same(mine.to_pylist(), truth.to_pylist())


def test_a_failing_export_file_leaves_nothing_at_the_destination(
    pair: tuple[Run, Run], server: LocalWandbServer, tmp_path: Path
) -> None:
    exported, _ = pair
    target = tmp_path / "history.parquet"
    target.write_bytes(b"yesterday")
    server.inject_fault(EXPORTS, status=404, times=2)

    with pytest.raises(CommError, match="HTTP 404"):
        export_history(exported, target)

    assert target.read_bytes() == b"yesterday" and os.listdir(tmp_path) == ["history.parquet"]


# ---------------------------------------------------------------------------- downloads
def test_download_history_exports_writes_0_31_names(
    pair: tuple[Run, Run], server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    exported, _ = pair

    result = exported.download_history_exports(tmp_path / "out")

    assert isinstance(result, DownloadHistoryResult)
    name = f"{entity}_{project}_exported_0.runhistory.parquet"
    assert result.paths == [tmp_path / "out" / name]
    assert result.contains_live_data is False and result.errors == {}
    table = pq.read_table(result.paths[0])
    assert table.column("_step").to_pylist() == [float(r["_step"]) for r in logged_rows()]


def test_download_of_a_run_with_live_steps(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_run(entity, project, "r", history=logged_rows(30), state="running")
    server.export_history(entity, project, "r")
    server.log_history(entity, project, "r", [{"loss": 1.0}])
    run = api.run(f"{entity}/{project}/r")

    with pytest.raises(IncompleteRunHistoryError, match="1 history steps not exported"):
        run.download_history_exports(tmp_path / "strict")
    result = run.download_history_exports(tmp_path / "any", require_complete_history=False)

    assert not (tmp_path / "strict").exists()
    assert result.contains_live_data is True and len(result.paths) == 1
    assert pq.read_table(result.paths[0]).num_rows == 30


def test_download_reports_a_file_that_keeps_failing(
    pair: tuple[Run, Run], server: LocalWandbServer, tmp_path: Path, caplog: Any
) -> None:
    exported, _ = pair
    server.inject_fault(EXPORTS, status=503, times=100)

    with caplog.at_level(logging.WARNING, logger="prefect_wandb_public.api.history_exports"):
        result = exported.download_history_exports(tmp_path)

    [(path, message)] = (result.errors or {}).items()
    assert result.paths == [] and "HTTP 503" in message and path.parent == tmp_path
    assert not path.exists() and os.listdir(tmp_path) == []
    assert "failed" in caplog.text
    assert server.request_log.count(operation="RunParquetHistory") == 1


def test_beta_scan_history_is_the_deprecated_alias(pair: tuple[Run, Run]) -> None:
    exported, _ = pair

    with pytest.warns(DeprecationWarning, match="beta_scan_history"):
        rows = list(exported.beta_scan_history(keys=["acc"], min_step=10))

    assert same(rows, list(exported.scan_history(keys=["acc"], min_step=10)))


# ---------------------------------------------------------------------------- many runs
@pytest.mark.parametrize(
    "kwargs",
    [{"samples": 500}, {"samples": 7}, {"samples": 5, "keys": ["acc", "weird"]}, {"keys": ["val"]}],
    ids=str,
)
def test_runs_histories_read_exports_with_one_plan_request(
    api: Api, server: LocalWandbServer, entity: str, project: str, kwargs: dict[str, Any]
) -> None:
    for index in range(3):
        rows = logged_rows(40 + index)
        server.create_run(entity, project, f"e{index}", history=rows, group="exported")
        server.create_run(
            entity, project, f"l{index}", history=rows, group="live", history_exports=False
        )
    exported = api.runs(f"{entity}/{project}", filters={"group": "exported"}, order="+created_at")
    live = api.runs(f"{entity}/{project}", filters={"group": "live"}, order="+created_at")
    server.request_log.clear()

    mine = exported.histories(**kwargs)
    assert server.request_log.count(operation="RunHistoryPlans") == 1
    assert server.request_log.count(operation="RunFullHistory") == 0
    assert server.request_log.count(operation="RunSampledHistory") == 0
    truth = live.histories(**kwargs)

    assert isinstance(mine, list) and isinstance(truth, list)
    for row in truth:
        row["run_id"] = "e" + row["run_id"][1:]
    assert same(mine, truth), (mine[:2], truth[:2])
