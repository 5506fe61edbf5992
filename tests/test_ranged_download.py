"""Ranged parallel downloads in the one byte mover: parts at their offsets, the md5 checked in
order, each part retried alone, storage that ignores `Range`, expired URLs, and resuming the
parts a crashed, failed or interrupted run completed (in the cache and the staging area, never
beside the user's target)."""

from __future__ import annotations

import base64
import dataclasses
import errno
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import urllib3
from conftest import Recorder
from ranged_support import (
    BLOBS,
    MIB,
    SIZE,
    fresh,
    publish_one_file,
    ranged_client,
    ranged_server,  # noqa: F401  (fixture)
)

from prefect_wandb_public import Api
from prefect_wandb_public.api import Progress, TransferSettings, ranged
from prefect_wandb_public.api.files import download_file
from prefect_wandb_public.api.partials import RESUMABLE_FOR
from prefect_wandb_public.errors import ChecksumError, ServerError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.profiles import NetworkProfile, StorageProfile

# Uniform 4 MiB parts (no ramp: the first part as big as the others), so tests can name them;
# the ramped default has tests of its own below. In parallel even on loopback, as from far
# storage (near storage's plan, parts in order, has its tests in test_ranged_in_order.py).
UNIFORM: dict[str, Any] = {
    "download_part_size": 4 * MIB,
    "first_download_part": 4 * MIB,
    "near_storage_first_byte": 0,
}
PARTS = TransferSettings(ranged_download_threshold=8 * MIB, **UNIFORM)


pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture
def server(ranged_server: LocalWandbServer) -> Iterator[LocalWandbServer]:  # noqa: F811
    yield from fresh(ranged_server)


def client(server: LocalWandbServer, transfers: TransferSettings = PARTS) -> Api:
    return ranged_client(server, "ranged", transfers)


ONE_WORKER = TransferSettings(ranged_download_threshold=8 * MIB, part_workers=1, **UNIFORM)


@pytest.fixture
def published(server: LocalWandbServer, tmp_path: Path) -> tuple[str, bytes]:
    """A 20 MiB single-file artifact; returns its name and bytes."""
    return publish_one_file(client(server), server, tmp_path)


def ranges_sent(server: LocalWandbServer) -> list[str]:
    return [r.range or "" for r in server.request_log.records if r.path.startswith(BLOBS)]


def test_a_large_file_comes_in_parallel_ranged_parts(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert sorted(ranges_sent(server)) == sorted(
        f"bytes={start}-{min(SIZE, start + 4 * MIB) - 1}" for start in range(0, SIZE, 4 * MIB)
    )
    assert server.request_log.count(path=BLOBS, status=206) == 5
    assert os.listdir(tmp_path / "out") == ["weights.bin"]


RAMPED = TransferSettings(
    ranged_download_threshold=8 * MIB, download_part_size=4 * MIB, near_storage_first_byte=0
)
# The default ramp (first part 2 MiB, each next 1.25 times bigger) up to the 4 MiB parts.
RAMPED_SIZES = [2 * MIB, 5 * MIB // 2, 25 * MIB // 8, 125 * MIB // 32, 4 * MIB, 4 * MIB]
RAMPED_SIZES.append(SIZE - sum(RAMPED_SIZES))


def ramped_ranges(first: int = 0) -> list[str]:
    """The Range headers of the ramped parts from part `first` on."""
    starts = [sum(RAMPED_SIZES[:i]) for i in range(len(RAMPED_SIZES))]
    return [
        f"bytes={start}-{start + size - 1}"
        for start, size in list(zip(starts, RAMPED_SIZES, strict=True))[first:]
    ]


def test_the_first_parts_ramp_up_to_the_part_size(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    with closing(client(server, RAMPED)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert sorted(ranges_sent(server)) == sorted(ramped_ranges())
    assert server.request_log.count(path=BLOBS, status=206) == 7


def test_ramped_parts_resume_after_a_failure(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    one_worker = dataclasses.replace(RAMPED, part_workers=1)
    armed = threading.Event()

    def fail_after_three_parts(progress: Progress) -> None:
        if progress.done >= sum(RAMPED_SIZES[:3]) and not armed.is_set():
            armed.set()
            server.inject_fault(BLOBS, status=503, times=1000)

    with closing(client(server, one_worker)) as api, pytest.raises(ServerError):
        api.artifact(name).download(str(tmp_path / "out"), progress=fail_after_three_parts)
    [kept] = _partials(tmp_path / "cache")
    with open(kept, "rb") as handle:
        handle.seek(SIZE + 32)
        assert list(handle.read()) == [1, 1, 1, 0, 0, 0, 0]
    server.faults.clear()
    server.request_log.clear()

    with closing(client(server, RAMPED)) as api:
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert sorted(ranges_sent(server)) == sorted(ramped_ranges(3))


def test_a_partial_with_other_part_sizes_is_fetched_again_whole(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    with closing(client(server, ONE_WORKER)) as api, pytest.raises(ServerError):
        api.artifact(name).download(
            str(tmp_path / "out"), progress=_fail_for_good_after_two_parts(server)
        )
    server.faults.clear()
    server.request_log.clear()

    with closing(client(server, RAMPED)) as api:  # its trailer names uniform 4 MiB parts
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert sorted(ranges_sent(server)) == sorted(ramped_ranges())


def test_a_partial_of_an_older_format_is_fetched_again_whole(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    download_failing_after_two_parts(server, name, str(tmp_path / "out"))
    [kept] = _partials(tmp_path / "cache")
    with open(kept, "r+b") as handle:  # same length and flags, the first format's magic
        handle.seek(SIZE)
        handle.write(b"PWRANGE1")
    server.faults.clear()
    server.request_log.clear()

    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 5  # no part taken from it


def test_without_pwrite_a_large_file_comes_as_one_stream(
    server: LocalWandbServer,
    published: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, data = published
    monkeypatch.setattr(ranged, "SUPPORTED", False)  # as on Windows
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert ranges_sent(server) == [""]  # one plain GET


def test_the_md5_reads_with_pread_where_the_file_cannot_be_mapped(
    server: LocalWandbServer,
    published: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, data = published
    refused: list[int] = []

    def no_mapping(*args: Any, **kwargs: Any) -> None:
        refused.append(1)  # a file system without mmap (some FUSE mounts) says ENODEV
        raise OSError(errno.ENODEV, "mmap not supported")

    monkeypatch.setattr(ranged.mmap, "mmap", no_mapping)
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data  # the md5 matched, read by pread
    assert refused == [1]  # tried once per file, then pread only


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
@pytest.mark.parametrize("steps", [0, 7])
def test_part_threads_run_part_nice_steps_below_the_caller(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path, steps: int
) -> None:
    name, data = published
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: set[tuple[str, int]] = set()

    def on_progress(progress: Progress) -> None:  # called on the part threads
        me = threading.current_thread().name
        seen.add((me.split("_")[0], os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    settings = TransferSettings(ranged_download_threshold=8 * MIB, part_nice=steps, **UNIFORM)
    with closing(client(server, settings)) as api:
        root = api.artifact(name).download(
            str(tmp_path / "out"), skip_cache=True, progress=on_progress
        )

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert {nice for thread, nice in seen if thread == "wandb-part"} == {min(19, caller + steps)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == caller


def test_ranged_parts_report_progress_as_they_arrive(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    recorder = Recorder()
    seen = recorder.seen

    with closing(client(server)) as api:
        root = api.artifact(name).download(
            str(tmp_path / "out"), skip_cache=True, progress=recorder
        )

    assert (Path(root) / "weights.bin").read_bytes() == data

    counts = [p.done for p in seen]
    assert counts == sorted(counts), "no fault: bytes only grow"
    assert len(seen) > 2 + 5, "the parts report their chunks, not only the file at its end"
    assert max(counts[:-2]) > 0
    assert (seen[-1].done, seen[-1].files_done, seen[-1].finished) == (SIZE, 1, True)


def test_storage_that_ignores_range_takes_back_the_parts_progress(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="ignore_range", times=1)
    recorder = Recorder()
    seen = recorder.seen

    with closing(client(server)) as api:
        root = api.artifact(name).download(
            str(tmp_path / "out"), skip_cache=True, progress=recorder
        )

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert max(p.done for p in seen) <= 2 * SIZE
    assert (seen[-1].done, seen[-1].files_done) == (SIZE, 1)


def test_a_run_file_comes_in_ranged_parts(server: LocalWandbServer, tmp_path: Path) -> None:
    data = os.urandom(12 * MIB)
    entity = server.store.viewer.entity
    server.create_run(entity, "ranged", "r1")
    server.put_run_file(entity, "ranged", "r1", "big.bin", data)
    with closing(client(server)) as api:
        path = download_file(api.run(f"{entity}/ranged/r1").file("big.bin"), str(tmp_path / "run"))

    assert Path(path).read_bytes() == data
    assert len([r for r in server.request_log.records if r.range]) == 3


def test_a_corrupt_part_is_fetched_again(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="corrupt", times=1)
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert server.request_log.count(path=BLOBS, status=206) == 10  # the md5 caught it: again


def test_parts_corrupt_every_time_raise_and_leave_nothing(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, _ = published
    server.inject_fault(BLOBS, kind="corrupt", times=1000)
    with closing(client(server)) as api, pytest.raises(ChecksumError):
        api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_storage_that_ignores_range_still_gives_the_right_file(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="ignore_range", times=1)
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert "" in ranges_sent(server)  # fell back to one plain GET


def test_a_dropped_part_is_resumed_alone(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="reset", times=1)
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    sent = ranges_sent(server)
    assert len(sent) == 6  # five parts, and the dropped one again (from what it had received)
    part_ends = {min(SIZE, start + 4 * MIB) - 1 for start in range(0, SIZE, 4 * MIB)}
    assert {int(r.rsplit("-", 1)[1]) for r in sent} == part_ends


def test_a_part_cut_short_is_resumed_from_what_it_received(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="truncate", times=1)  # half the body, then a clean close
    with closing(client(server, ONE_WORKER)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    first, again = ranges_sent(server)[:2]
    assert first == f"bytes=0-{4 * MIB - 1}"
    resumed_from = int(again.removeprefix("bytes=").split("-")[0])
    assert 0 < resumed_from < 4 * MIB, "the retry asks only for the bytes not received"


def test_parts_read_to_their_end_reuse_one_connection(
    server: LocalWandbServer,
    published: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, data = published
    connects: list[int] = []
    real_connect = urllib3.connection.HTTPConnection.connect

    def counted(self: urllib3.connection.HTTPConnection) -> None:
        connects.append(1)  # counted, then the real TCP connect
        real_connect(self)

    with closing(client(server, ONE_WORKER)) as api:
        artifact = api.artifact(name)
        monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", counted)
        root = artifact.download(str(tmp_path / "out"), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert server.request_log.count(path=BLOBS, status=206) == 5
    assert len(connects) <= 1, "each part gives its connection back for the next"


def test_an_expired_url_is_refreshed(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    with closing(client(server)) as api:
        artifact = api.artifact(name)
        start = server.request_log.count(operation="ArtifactMembershipFiles")
        artifact.download(str(tmp_path / "plain"), skip_cache=True)
        plain = server.request_log.count(operation="ArtifactMembershipFiles") - start
        server.inject_fault(BLOBS, status=403, times=1)
        start = server.request_log.count(operation="ArtifactMembershipFiles")
        root = artifact.download(str(tmp_path / "out"), skip_cache=True)
        refreshed = server.request_log.count(operation="ArtifactMembershipFiles") - start

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert server.request_log.count(path=BLOBS, status=403) == 1
    assert refreshed == plain + 1  # one new URL for the refused part


def test_urls_that_really_expire_mid_download_are_refreshed(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.network = NetworkProfile(storage=StorageProfile(bandwidth=8e6))  # 0.5 s a part
    settings = TransferSettings(ranged_download_threshold=8 * MIB, part_workers=2, **UNIFORM)
    server.urls.url_ttl = 1.0
    try:
        with closing(client(server, settings)) as api:
            root = api.artifact(name).download(str(tmp_path / "out"), skip_cache=True)
    finally:
        server.urls.url_ttl = 3600.0

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert server.request_log.count(path=BLOBS, status=403) >= 1


_CHILD = """
import sys
from prefect_wandb_public import Api
from prefect_wandb_public.api import TransferSettings
api = Api(api_key=sys.argv[1], overrides={"base_url": sys.argv[2]},
          transfers=TransferSettings(ranged_download_threshold=8 << 20,
                                     download_part_size=4 << 20, first_download_part=4 << 20,
                                     part_workers=1, near_storage_first_byte=0))
api.artifact(sys.argv[3]).download(sys.argv[4])
"""


def _completed_parts(cache: Path) -> int:
    for partial in cache.rglob(".prefect-wandb-*.part"):
        with open(partial, "rb") as handle:
            handle.seek(SIZE + 32)  # after the trailer's header: magic and three sizes
            flags = handle.read()
        if len(flags) == 5:
            return sum(flags)
    return 0


def stop_child_download(
    server: LocalWandbServer, name: str, tmp_path: Path, stop: signal.Signals
) -> tuple[subprocess.Popen[str], str]:
    """Download `name` in a child process (storage slowed to 0.4 s a part, cache under
    `tmp_path/cache`), send it `stop` once two parts are complete and wait for it; then put the
    network back and clear the request log. Returns the child and its stderr."""
    server.network = NetworkProfile(storage=StorageProfile(bandwidth=10e6))  # 0.4 s a part
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, server.api_key, server.url, name, str(tmp_path / "a")],
        env={**os.environ, "PREFECT_WANDB_CACHE_DIR": str(cache)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _completed_parts(cache) < 2 and time.monotonic() < deadline:
            assert child.poll() is None, "the download ended before it could be interrupted"
            time.sleep(0.02)
        child.send_signal(stop)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    server.network = "loopback"
    server.request_log.clear()
    return child, stderr


def test_a_crashed_download_resumes_its_completed_parts(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    stop_child_download(server, name, tmp_path, signal.SIGKILL)  # a crash: no cleanup runs
    kept = _completed_parts(tmp_path / "cache")
    assert 2 <= kept < 5

    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "b"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 5 - kept  # the completed parts were not fetched again
    digest = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert api.artifact(name).manifest.entries["weights.bin"].digest == digest


def test_a_non_local_destination_gets_ranged_parts_staged_locally(
    server: LocalWandbServer, published: tuple[str, bytes]
) -> None:
    import fsspec

    name, data = published
    with closing(client(server)) as api:
        api.artifact(name).download("memory://ranged-out", skip_cache=True)

    fs = fsspec.filesystem("memory")
    assert fs.cat("/ranged-out/weights.bin") == data
    assert fs.ls("/ranged-out", detail=False) == ["/ranged-out/weights.bin"]
    assert server.request_log.count(path=BLOBS, status=206) == 5
    fs.rm("/ranged-out", recursive=True)


def _partials(where: Path) -> list[Path]:
    return sorted(where.rglob(".prefect-wandb-*.part"))


def _fail_for_good_after_two_parts(server: LocalWandbServer) -> Callable[[Progress], None]:
    """A progress callback that makes every blob GET answer 503 once two parts are on disk (with
    one part worker the parts come in order: parts 1 and 2 complete, part 3 fails for good)."""
    armed = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.done >= 2 * 4 * MIB and not armed.is_set():
            armed.set()
            server.inject_fault(BLOBS, status=503, times=1000)

    return on_progress


def download_failing_after_two_parts(
    server: LocalWandbServer, name: str, target: str, **options: Any
) -> None:
    """Download `name` to `target` on one part worker; the storage fails for good once two
    parts are complete, so the download raises ServerError."""
    with closing(client(server, ONE_WORKER)) as api, pytest.raises(ServerError):
        api.artifact(name).download(
            target, progress=_fail_for_good_after_two_parts(server), **options
        )


def _unlocked(path: Path) -> bool:
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_a_download_that_fails_for_good_resumes_its_completed_parts_next_time(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    cache = tmp_path / "cache"
    download_failing_after_two_parts(server, name, str(tmp_path / "out"))

    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []
    [kept] = _partials(cache)  # in the cache, no user's destination: kept for the next run
    assert _completed_parts(cache) == 2
    assert _unlocked(kept)  # no live owner: the next run takes it over
    server.faults.clear()
    server.request_log.clear()

    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert sorted(ranges_sent(server)) == sorted(
        f"bytes={start}-{min(SIZE, start + 4 * MIB) - 1}" for start in range(8 * MIB, SIZE, 4 * MIB)
    )  # parts 3 to 5 only: the two completed parts were not fetched again
    assert _partials(cache) == []


def test_a_kept_partial_is_hashed_again_before_use(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    cache = tmp_path / "cache"
    download_failing_after_two_parts(server, name, str(tmp_path / "out"))
    [kept] = _partials(cache)
    with open(kept, "r+b") as handle:  # a completed part's bytes go bad on disk
        handle.seek(MIB)
        byte = handle.read(1)
        handle.seek(MIB)
        handle.write(bytes([byte[0] ^ 0xFF]))
    server.faults.clear()
    server.request_log.clear()

    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 3 + 5  # the md5 caught it: the file fetched whole again


def test_without_a_cache_a_failed_download_leaves_nothing_beside_the_target(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    out = tmp_path / "out"
    download_failing_after_two_parts(server, name, str(out), skip_cache=True)

    assert not out.exists() or list(out.rglob("*")) == []
    assert _partials(tmp_path) == []
    server.faults.clear()
    server.request_log.clear()
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(out), skip_cache=True)

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 5  # nothing was kept to resume


def test_a_checksum_error_leaves_nothing_resumable(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="corrupt", times=1000)
    with closing(client(server)) as api, pytest.raises(ChecksumError):
        api.artifact(name).download(str(tmp_path / "out"))

    assert _partials(tmp_path) == []  # bytes known to be bad are not kept
    server.faults.clear()
    server.request_log.clear()
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "out"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 5


def test_a_failed_download_to_a_non_local_destination_resumes_from_its_staging_file(
    server: LocalWandbServer,
    published: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fsspec

    name, data = published
    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    fs = fsspec.filesystem("memory")
    download_failing_after_two_parts(server, name, "memory://staged-out", skip_cache=True)

    assert not fs.exists("/staged-out") or fs.find("/staged-out") == []
    assert _completed_parts(staging) == 2  # the local staging file, not the destination
    server.faults.clear()
    server.request_log.clear()
    try:
        with closing(client(server)) as api:
            api.artifact(name).download("memory://staged-out", skip_cache=True)
        assert fs.cat("/staged-out/weights.bin") == data
    finally:
        if fs.exists("/staged-out"):
            fs.rm("/staged-out", recursive=True)
    assert len(ranges_sent(server)) == 3
    assert _partials(staging) == []


def test_an_interrupted_download_resumes_its_completed_parts(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    cache = tmp_path / "cache"
    child, stderr = stop_child_download(server, name, tmp_path, signal.SIGINT)  # Ctrl-C
    assert child.returncode != 0 and "KeyboardInterrupt" in stderr
    [kept] = _partials(cache)
    completed = _completed_parts(cache)
    assert 2 <= completed < 5  # the part in flight stopped: the parts not started were not fetched
    assert _unlocked(kept)

    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "b"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 5 - completed


# ---------------------------------------------------------------------- sweeps keep what resumes
WEEK = RESUMABLE_FOR


def _left_over(directory: Path, key: str, age: float) -> Path:
    """A partial no live writer owns in `directory` (a crashed run's), last written `age` seconds
    ago."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".prefect-wandb-{key * 16}.part"
    path.write_bytes(b"left over")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def _shard_mate(server: LocalWandbServer, data: bytes, name: str) -> tuple[str, bytes]:
    """A one-file artifact `name` whose md5 has the first two hex digits of `data`'s: its blob
    is filled into the same cache shard. Returns its path and its file's bytes."""
    shard = hashlib.md5(data).hexdigest()[:2]
    content = next(
        mate
        for index in range(1 << 16)
        if hashlib.md5(mate := b"mate %d" % index).hexdigest()[:2] == shard
    )
    entity = server.store.viewer.entity
    server.create_artifact(entity, "ranged", name, "dataset", {"mate.txt": content})
    return f"{entity}/ranged/{name}:latest", content


def test_a_partial_kept_to_resume_survives_another_blobs_fill_into_its_shard(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    cache = tmp_path / "cache"
    download_failing_after_two_parts(server, name, str(tmp_path / "out"))
    [kept] = _partials(cache)
    stale = _left_over(kept.parent, "0", WEEK + 3600)  # shows that the shard was swept
    mate, content = _shard_mate(server, data, "shard-mate")
    server.faults.clear()

    with closing(client(server)) as api:  # a new cache: it sweeps each shard it fills
        root = api.artifact(mate).download(str(tmp_path / "mate"))

    assert (Path(root) / "mate.txt").read_bytes() == content
    assert (kept.parent / hashlib.md5(content).hexdigest()[2:]).exists()  # filled in its shard
    assert not stale.exists()
    assert _partials(cache) == [kept]  # the one kept to resume is still there
    server.request_log.clear()
    with closing(client(server)) as api:
        root = api.artifact(name).download(str(tmp_path / "again"))

    assert (Path(root) / "weights.bin").read_bytes() == data
    assert len(ranges_sent(server)) == 3  # the two completed parts were not fetched again
    assert _partials(cache) == []


def test_a_shard_sweep_removes_only_partials_unlocked_and_unwritten_for_a_week(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    mate, content = _shard_mate(server, os.urandom(64), "shard-sweep")
    shard = tmp_path / "cache" / "md5" / hashlib.md5(content).hexdigest()[:2]
    stale = _left_over(shard, "0", WEEK + 3600)
    fresh = _left_over(shard, "1", WEEK - 3600)  # six days and 23 hours: still resumable
    locked = _left_over(shard, "2", 10 * WEEK)
    with open(locked, "rb") as held, closing(client(server)) as api:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer owns it, whatever its mtime says
        root = api.artifact(mate).download(str(tmp_path / "out"))

    assert (Path(root) / "mate.txt").read_bytes() == content
    assert not stale.exists()
    assert _partials(shard) == [fresh, locked]
    assert fresh.read_bytes() == locked.read_bytes() == b"left over"


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The staging area of downloads without a cache (under a temporary directory of the
    test's own)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path / "tmp" / "prefect-wandb-public" / "staging"


def _staged_download(server: LocalWandbServer, name: str, files: dict[str, bytes]) -> None:
    """Download the 8 MiB artifact `name` (ranged parts: staged locally) to `memory://`,
    without a cache; `files` are created first, and checked at the destination."""
    import fsspec

    entity = server.store.viewer.entity
    server.create_artifact(entity, "ranged", name, "dataset", files)
    fs = fsspec.filesystem("memory")
    try:
        with closing(client(server)) as api:
            api.artifact(f"{entity}/ranged/{name}:latest").download(
                f"memory://{name}", skip_cache=True
            )
        assert {path: fs.cat(f"/{name}/{path}") for path in files} == files
    finally:
        if fs.exists(f"/{name}"):
            fs.rm(f"/{name}", recursive=True)


def test_a_staging_partial_kept_to_resume_survives_another_staged_download(
    server: LocalWandbServer, published: tuple[str, bytes], staging: Path
) -> None:
    import fsspec

    name, data = published
    download_failing_after_two_parts(server, name, "memory://staged-a", skip_cache=True)
    [kept] = _partials(staging)
    stale = _left_over(staging, "0", WEEK + 3600)  # shows that the staging area was swept
    server.faults.clear()

    _staged_download(server, "staged-other", {"other.bin": os.urandom(8 * MIB)})

    assert not stale.exists()
    assert _partials(staging) == [kept]
    server.request_log.clear()
    fs = fsspec.filesystem("memory")
    try:
        with closing(client(server)) as api:
            api.artifact(name).download("memory://staged-a", skip_cache=True)
        assert fs.cat("/staged-a/weights.bin") == data
    finally:
        if fs.exists("/staged-a"):
            fs.rm("/staged-a", recursive=True)
    assert len(ranges_sent(server)) == 3  # the two completed parts were not fetched again
    assert _partials(staging) == []


def test_a_staged_download_sweeps_only_staging_partials_unlocked_and_unwritten_for_a_week(
    server: LocalWandbServer, staging: Path
) -> None:
    stale = _left_over(staging, "0", WEEK + 3600)
    fresh = _left_over(staging, "1", WEEK - 3600)
    locked = _left_over(staging, "2", 10 * WEEK)
    with open(locked, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer owns it, whatever its mtime says
        _staged_download(server, "staged-sweep", {"other.bin": os.urandom(8 * MIB)})

    assert not stale.exists()
    assert _partials(staging) == [fresh, locked]
