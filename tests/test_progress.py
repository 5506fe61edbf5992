"""The progress hook: downloads, uploads and history scans report `Progress` snapshots to a
callback (what the command line draws and the tasks' progress artifacts show)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import Recorder

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, Progress, export_history
from prefect_wandb_public.testing import LocalWandbServer

BLOBS = "/storage/blobs/"
FILES = {
    "big.bin": bytes(range(256)) * 12_288,  # 3 MiB: several 1 MiB chunks
    "a/small.txt": b"small",
    "a/copy.txt": b"small",  # the same bytes under a second name: placed by copy or link
    "b.json": b'{"b": 1}',
}
TOTAL = sum(len(data) for data in FILES.values())


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))


def test_download_reports_bytes_and_files_cold_and_warm(
    server: LocalWandbServer, api: Api, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "data", "dataset", FILES)
    artifact = api.artifact(f"{entity}/{project}/data:v0")
    reports = {}
    for label in ("cold", "warm"):
        seen = Recorder()
        artifact.download(str(tmp_path / label), progress=seen)
        first, last = seen.seen[0], seen.last
        assert (first.done, first.total, first.files_total) == (0, TOTAL, len(FILES)), label
        assert last.finished and last.fraction == 1.0
        assert (last.done, last.files_done) == (TOTAL, len(FILES)), label
        assert {p.operation for p in seen.seen} == {"download"}
        assert {p.label for p in seen.seen} == {f"{entity}/{project}/data:v0"}
        counts = [p.done for p in seen.seen]
        assert counts == sorted(counts), "no fault: bytes only grow"
        reports[label] = len(seen.seen)
    assert server.request_log.count(method="GET", path=BLOBS) == len(FILES) - 1
    # Cold: start, 3 chunks of big.bin, 1 chunk each for two small blobs, 4 files, finish.
    assert reports == {"cold": 1 + 3 + 2 + 3 + 1, "warm": 1 + 3 + 1}


def test_a_corrupt_pass_is_taken_back(
    server: LocalWandbServer, api: Api, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "data", "dataset", {"big.bin": FILES["big.bin"]})
    server.inject_fault(BLOBS, kind="corrupt", method="GET", times=1)
    seen = Recorder()
    api.artifact(f"{entity}/{project}/data:v0").download(str(tmp_path / "x"), progress=seen)
    counts = [p.done for p in seen.seen]
    assert max(counts) <= 2 * TOTAL and counts[-1] == len(FILES["big.bin"])
    assert any(later < earlier for earlier, later in itertools.pairwise(counts))


def test_publish_reports_each_uploaded_file_and_a_deduplicated_publish_finishes(
    api: Api, entity: str, project: str, tmp_path: Path
) -> None:
    # Bytes of this test alone: the session server already holds FILES' blobs.
    unique = {name: project.encode() + data for name, data in FILES.items()}
    for name, data in unique.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(data)
    distinct = set(unique.values())
    for attempt in ("new", "identical"):
        draft = Artifact("model", "model")
        draft.add_dir(str(tmp_path / "src"))
        seen = Recorder()
        api.log_artifact(draft, project=f"{entity}/{project}", progress=seen)
        assert seen.last.finished and seen.last.operation == "upload"
        if attempt == "new":
            assert seen.seen[0].total == sum(len(d) for d in distinct)
            assert (seen.last.done, seen.last.files_done) == (
                sum(len(d) for d in distinct),
                len(distinct),
            )
        else:
            assert [(p.done, p.total) for p in seen.seen] == [(0, 0)]


def test_a_scan_reports_rows_per_page(
    server: LocalWandbServer, api: Api, entity: str, project: str, tmp_path: Path
) -> None:
    history = [{"loss": 1.0 / (step + 1)} for step in range(250)]
    server.create_run(entity, project, "r1", history=history, history_exports=False)
    run = api.run(f"{entity}/{project}/r1")
    seen = Recorder()
    assert len(list(run.scan_history(page_size=50, progress=seen))) == 250
    assert [p.done for p in seen.seen] == [0, 50, 100, 150, 200, 250, 250]
    assert {p.total for p in seen.seen} == {250} and seen.last.finished
    assert {(p.unit, p.operation) for p in seen.seen} == {("rows", "scan")}
    again = Recorder()
    assert len(list(run.scan_history(page_size=50, progress=again))) == 250
    assert [p.done for p in again.seen] == [0, 50, 100, 150, 200, 250, 250], "per pass"

    server.create_run(entity, project, "r2", history=history)  # finished: one export file
    from_export = Recorder()
    assert len(list(api.run(f"{entity}/{project}/r2").scan_history(progress=from_export))) == 250
    assert [(p.done, p.total) for p in from_export.seen] == [(0, 250), (250, 250), (250, 250)]
    assert from_export.last.finished

    partial = Recorder()
    run.history_frame(min_step=100, page_size=100, progress=partial)
    assert partial.last.done == 150 and partial.last.total is None

    exported = Recorder()
    rows = export_history(run, str(tmp_path / "r1.parquet"), page_size=100, progress=exported)
    assert rows == 250 and exported.last.done == 250 and exported.last.finished


def test_a_failing_callback_stops_the_work(
    server: LocalWandbServer, api: Api, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "data", "dataset", FILES)

    def broken(progress: Progress) -> None:
        if progress.done:
            raise RuntimeError("display failed")

    with pytest.raises(RuntimeError, match="display failed"):
        api.artifact(f"{entity}/{project}/data:v0").download(str(tmp_path), progress=broken)
    assert not (tmp_path / "big.bin").exists(), "nothing half-written is left"
