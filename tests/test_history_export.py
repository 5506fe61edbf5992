"""`export_history`: parquet and CSV to local paths, `memory://` and S3 (moto), written atomically.

S3 runs against moto's threaded server on 127.0.0.1 with dummy credentials. Failures (an
unwritable destination, a scan that dies mid-export) must leave nothing at the destination.
"""

from __future__ import annotations

import errno
import io
import json
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from prefect_wandb_public import Api
from prefect_wandb_public.api import ExportError, Run, export_history
from prefect_wandb_public.errors import CommError, InvalidInputError
from prefect_wandb_public.testing import LocalWandbServer


def mixed_rows(count: int = 90) -> list[dict[str, Any]]:
    """Numbers, sparse keys, booleans, strings, nested dicts, a media dict and a list."""
    rows = []
    for i in range(count):
        row: dict[str, Any] = {"_step": 10 + 2 * i, "loss": i / 3, "epoch": i // 10}
        if i % 4 == 0:
            row["val"] = {"acc": i / 100, "deep": {"f1": -i}}
        if i % 7 == 0:
            row["best"] = i % 2 == 0
            row["phase"] = f"p{i % 3}"
        if i == 30:
            row["sample"] = {"_type": "image-file", "path": "media/x.png", "width": 4}
            row["shape"] = [1, 2, 3]
        rows.append(row)
    return rows


def flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict) and "_type" not in value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def seeded_run(api: Api, server: LocalWandbServer, path: str, *, exported: bool) -> Run:
    entity, project, run_id = path.split("/")
    server.create_run(entity, project, run_id, history=mixed_rows(), history_exports=exported)
    loaded = api.run(path)
    server.request_log.clear()
    return loaded


@pytest.fixture(params=["exported", "live"])
def run(
    request: pytest.FixtureRequest, api: Api, entity: str, project: str, server: LocalWandbServer
) -> Run:
    """Run `r` of `mixed_rows()`, read from its parquet export or (all live) GraphQL pages."""
    return seeded_run(api, server, f"{entity}/{project}/r", exported=request.param == "exported")


@pytest.fixture
def live_run(api: Api, entity: str, project: str, server: LocalWandbServer) -> Run:
    """Run `r` of `mixed_rows()` with no export: every step is read through GraphQL pages."""
    return seeded_run(api, server, f"{entity}/{project}/r", exported=False)


def leftovers(directory: Any) -> list[str]:
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------------------- local files
def test_parquet_export_holds_every_row_flattened_and_typed(run: Run, tmp_path: Any) -> None:
    target = tmp_path / "history.parquet"

    written = export_history(run, str(target), page_size=8, row_group_size=25)

    table = pq.read_table(target)
    truth = [flat(row) for row in mixed_rows()]
    assert written == table.num_rows == 90
    assert pq.ParquetFile(target).metadata.num_row_groups == 4
    assert table.schema.field("_step").type == pa.int64()
    assert table.schema.field("loss").type == pa.float64()
    assert table.schema.field("best").type == pa.bool_()
    assert table.schema.field("phase").type == pa.string()
    assert set(table.column_names) == {name for row in truth for name in row}
    rows = table.to_pylist()
    for got, want in zip(rows, truth, strict=True):
        for name, value in got.items():
            if name in ("sample", "shape"):
                value = None if value is None else json.loads(value)
            assert value == want.get(name), (got["_step"], name)
    assert leftovers(tmp_path) == ["history.parquet"]


def test_csv_export_round_trips_through_pandas(
    api: Api, entity: str, project: str, server: LocalWandbServer, tmp_path: Any
) -> None:
    rows = [{"_step": i, "loss": i / 4, "acc": i % 5} for i in range(50)]
    server.create_run(entity, project, "r", history=rows)
    target = tmp_path / "out" / "history.csv"  # missing parent folders are created

    written = export_history(api.run(f"{entity}/{project}/r"), target, page_size=7)

    frame = pd.read_csv(target)
    assert written == 50
    assert list(frame.columns) == ["_step", "loss", "acc"]
    assert frame.to_dict("records") == [{**r, "acc": float(r["acc"])} for r in rows]


def test_export_with_keys_writes_only_rows_holding_all_of_them(run: Run, tmp_path: Any) -> None:
    target = tmp_path / "keys.parquet"

    written = export_history(run, target, keys=["val.acc", "best"], page_size=5)

    truth = [flat(r) for r in mixed_rows() if "val" in r and "best" in r]
    table = pq.read_table(target)
    assert written == len(truth) == 4
    assert table.column_names == ["_step", "val.acc", "best"]
    assert table.to_pylist() == [
        {"_step": r["_step"], "val.acc": r["val.acc"], "best": r["best"]} for r in truth
    ]


def test_export_with_unknown_keys_warns_and_writes_an_empty_table(run: Run, tmp_path: Any) -> None:
    target = tmp_path / "none.csv"

    with pytest.warns(UserWarning, match="nope") as record:
        written = export_history(run, target, keys=["nope"])

    assert record[0].filename == __file__, "the warning points at the caller's line"
    assert written == 0
    assert target.read_text().splitlines() == ['"_step","nope"']


def test_export_of_an_empty_run_writes_the_schema(
    api: Api, entity: str, project: str, server: LocalWandbServer, tmp_path: Any
) -> None:
    server.create_run(entity, project, "empty")

    written = export_history(api.run(f"{entity}/{project}/empty"), tmp_path / "e.parquet")

    assert written == 0
    assert pq.read_table(tmp_path / "e.parquet").column_names == ["_step"]


def test_export_respects_the_step_range(run: Run, tmp_path: Any) -> None:
    written = export_history(run, tmp_path / "part.csv", min_step=20, max_step=40)

    frame = pd.read_csv(tmp_path / "part.csv")
    assert written == 10
    assert frame["_step"].tolist() == list(range(20, 40, 2))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"format": "xlsx"}, "format"),
        ({"row_group_size": 0}, "row_group_size"),
        ({"page_size": 0}, "page_size"),
        ({"min_step": 5, "max_step": 1}, "min_step"),
        ({"destination": ""}, "destination"),
        ({"destination": "nosuchproto://x/y.parquet"}, "destination"),
    ],
    ids=["format", "row_group_size", "page_size", "min>max", "empty-destination", "protocol"],
)
def test_bad_export_input_raises_before_any_page(
    run: Run, server: LocalWandbServer, tmp_path: Any, kwargs: dict[str, Any], names: str
) -> None:
    arguments = {"destination": str(tmp_path / "x.parquet"), **kwargs}

    with pytest.raises(InvalidInputError, match=names):
        export_history(run, **arguments)

    assert server.request_log.records == []
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- failures
def test_unwritable_local_destination_is_a_clear_error_before_any_page(
    run: Run, server: LocalWandbServer, tmp_path: Any
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    target = blocker / "history.parquet"

    with pytest.raises(ExportError, match=r"cannot write history export to .*not-a-dir"):
        export_history(run, str(target))

    assert leftovers(tmp_path) == ["not-a-dir"]
    assert server.request_log.count(operation="HistoryPage") == 0


def fail_after(server: LocalWandbServer, pages: int, operation: str = "HistoryPage") -> None:
    """Let `pages` page requests through, then answer 503 to every later one."""
    server.inject_fault(operation=operation, kind="delay", delay=0.0, times=pages)
    server.inject_fault(operation=operation, status=503, times=1000)


def test_a_scan_failing_mid_export_leaves_the_old_file_untouched(
    live_run: Run, server: LocalWandbServer, tmp_path: Any
) -> None:
    run = live_run
    target = tmp_path / "history.parquet"
    target.write_bytes(b"yesterday's export")
    fail_after(server, pages=6)

    with pytest.raises(CommError):
        export_history(run, target, page_size=4, row_group_size=8, max_workers=1)

    assert target.read_bytes() == b"yesterday's export"
    assert leftovers(tmp_path) == ["history.parquet"]
    assert server.request_log.count(operation="HistoryPage", status=200) >= 6


class FullDiskFile(MemoryFile):
    """A memory file that refuses to grow past its file system's `quota` bytes."""

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.fs.quota:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


class FullDiskFileSystem(MemoryFileSystem):
    """`fulldisk://`: a private memory file system whose disk fills up after `quota` bytes."""

    protocol = "fulldisk"

    def __init__(self, *args: Any, quota: int, **kwargs: Any) -> None:
        super().__init__(*args, global_store=False, **kwargs)
        self.quota = quota

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "wb":
            return super()._open(path, mode, **kwargs)
        handle = FullDiskFile(self, self._strip_protocol(path))
        handle.commit()
        return handle


fsspec.register_implementation("fulldisk", FullDiskFileSystem, clobber=True)


def test_a_destination_failing_mid_export_stops_the_scan_at_once(
    api: Api, entity: str, project: str, server: LocalWandbServer
) -> None:
    server.create_run(
        entity,
        project,
        "long",
        history=[{"_step": i, "x": i} for i in range(4000)],
        history_exports=False,
    )
    run = api.run(f"{entity}/{project}/long")
    server.request_log.clear()

    with pytest.raises(ExportError, match=r"fulldisk://.*No space") as failure:
        export_history(
            run, "fulldisk://exports/h.csv", storage_options={"quota": 2000}, page_size=10
        )

    # The error is kept (as a Prefect task state keeps it), and with it the frames it went through.
    assert [t.name for t in threading.enumerate() if t.name.startswith("wandb-history")] == []
    # No scan thread is left and the server is handling nothing: the count is final.
    assert server.request_log.wait_idle()
    assert server.request_log.count(operation="HistoryPage") < 400
    assert isinstance(failure.value.__cause__, OSError)


def test_memory_filesystem_export_and_failure(live_run: Run, server: LocalWandbServer) -> None:
    run = live_run
    url = f"memory://exports/{uuid.uuid4().hex}/history.parquet"
    fs = fsspec.filesystem("memory")

    assert export_history(run, url, page_size=16) == 90
    assert pq.read_table(io.BytesIO(fs.cat(url))).num_rows == 90

    failed = f"memory://exports/{uuid.uuid4().hex}/failed.csv"
    fail_after(server, pages=3)
    with pytest.raises(CommError):
        export_history(run, failed, page_size=4, max_workers=1)
    assert not fs.exists(failed)


# ---------------------------------------------------------------------------- S3 (moto)
@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Any, str]:
    """(storage_options, an s3fs file system, a fresh bucket) on the moto server."""
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    options = {"client_kwargs": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}}
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    bucket = f"history-{uuid.uuid4().hex[:12]}"
    fs.call_s3("create_bucket", Bucket=bucket)
    return options, fs, bucket


def test_s3_export_writes_a_readable_parquet_object(
    run: Run, s3: tuple[dict[str, Any], Any, str]
) -> None:
    options, fs, bucket = s3

    written = export_history(
        run, f"s3://{bucket}/nightly/history.parquet", storage_options=options, page_size=10
    )

    assert written == 90
    assert fs.ls(f"{bucket}/nightly") == [f"{bucket}/nightly/history.parquet"]
    with fs.open(f"{bucket}/nightly/history.parquet", "rb") as handle:
        assert pq.read_table(handle).column("_step").to_pylist() == [10 + 2 * i for i in range(90)]


def test_s3_export_to_a_missing_bucket_is_a_clear_error(
    run: Run, s3: tuple[dict[str, Any], Any, str]
) -> None:
    options, fs, bucket = s3
    missing = f"{bucket}-missing"

    with pytest.raises(ExportError, match=f"cannot write history export to s3://{missing}"):
        export_history(run, f"s3://{missing}/h.csv", storage_options=options)

    assert not fs.exists(missing)


def test_s3_export_failing_mid_scan_leaves_no_object(
    live_run: Run, server: LocalWandbServer, s3: tuple[dict[str, Any], Any, str]
) -> None:
    run = live_run
    options, fs, bucket = s3
    fail_after(server, pages=5)

    with pytest.raises(CommError):
        export_history(
            run, f"s3://{bucket}/h.parquet", storage_options=options, page_size=4, max_workers=1
        )

    assert fs.ls(bucket) == []
    uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket)
    assert uploads.get("Uploads", []) == []
