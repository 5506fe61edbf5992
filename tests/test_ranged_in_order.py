"""Ranged downloads from near storage: the parts come in order on one connection, fan out when
the storage's first answer comes late or when one connection cannot keep the md5 busy, and
keep every promise of the parallel plan (parts retried alone, refreshed URLs, resuming, nothing
unverified left behind). The parallel plan's own tests are in test_ranged_download.py.

Which requests overlapped is read off the server's own clock (`received`, `answered`), never off
wall-clock thresholds in the test. The md5's waits fan the parts out after 0.25 s (`STARVE_AFTER`)
and a loaded machine makes the md5 wait too, so every test but the one of that rule moves it
out of reach (`steady`)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
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
from prefect_wandb_public.errors import ChecksumError, ServerError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.faults import RequestRecord
from prefect_wandb_public.testing.profiles import NetworkProfile, StorageProfile

# Uniform 4 MiB parts, so tests can name them. Storage counts as near when its first answer
# comes within 0.5 s (the default's 5 ms would make the plan depend on this machine's load).
IN_ORDER = TransferSettings(
    ranged_download_threshold=8 * MIB,
    download_part_size=4 * MIB,
    first_download_part=4 * MIB,
    near_storage_first_byte=0.5,
)
PART_RANGES = [f"bytes={s}-{min(SIZE, s + 4 * MIB) - 1}" for s in range(0, SIZE, 4 * MIB)]

pytestmark = pytest.mark.usefixtures("in_tmp_dir", "steady")
STARVE_AFTER = ranged.STARVE_AFTER


@pytest.fixture
def steady(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fan-out for the md5's waits within a test's time (a busy CI host starves the part
    thread, and the plan would then be the machine's, not the test's)."""
    monkeypatch.setattr(ranged, "STARVE_AFTER", 3600.0)


@pytest.fixture
def server(ranged_server: LocalWandbServer) -> Iterator[LocalWandbServer]:  # noqa: F811
    yield from fresh(ranged_server)


def client(server: LocalWandbServer, transfers: TransferSettings = IN_ORDER) -> Api:
    return ranged_client(server, "in-order", transfers)


@pytest.fixture
def published(server: LocalWandbServer, tmp_path: Path) -> tuple[str, bytes]:
    """A 20 MiB single-file artifact (five 4 MiB parts); returns its name and bytes."""
    return publish_one_file(client(server), server, tmp_path)


def part_requests(server: LocalWandbServer) -> list[RequestRecord]:
    """The ranged storage requests, in the order the server received them."""
    records = [r for r in server.request_log.records if r.path.startswith(BLOBS) and r.range]
    return sorted(records, key=lambda r: r.received)


def overlapped(earlier: RequestRecord, later: RequestRecord) -> bool:
    """Whether `later` reached the server before `earlier` was answered."""
    assert earlier.answered is not None
    return later.received < earlier.answered


def download(
    server: LocalWandbServer, name: str, out: Path, transfers: TransferSettings = IN_ORDER
) -> Path:
    with closing(client(server, transfers)) as api:
        return Path(api.artifact(name).download(str(out), skip_cache=True))


def test_near_storage_gets_the_parts_one_after_another(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    root = download(server, name, tmp_path / "out")

    assert (root / "weights.bin").read_bytes() == data
    parts = part_requests(server)
    assert [r.range for r in parts] == PART_RANGES  # in file order
    assert not any(overlapped(a, b) for a, b in itertools.pairwise(parts))


def test_without_near_storage_the_parts_fan_out_on_loopback_too(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    fanned = dataclasses.replace(IN_ORDER, near_storage_first_byte=0, part_workers=5)
    server.inject_fault(BLOBS, kind="delay", delay=0.3, times=1)  # hold the first part
    root = download(server, name, tmp_path / "out", transfers=fanned)

    assert (root / "weights.bin").read_bytes() == data
    parts = part_requests(server)
    assert sorted(r.range for r in parts) == sorted(PART_RANGES)
    assert any(overlapped(a, b) for i, a in enumerate(parts) for b in parts[i + 1 :])


def test_storage_whose_first_answer_comes_late_gets_the_parts_in_parallel(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    near = dataclasses.replace(IN_ORDER, near_storage_first_byte=0.05)
    server.network = NetworkProfile(name="far", storage=StorageProfile(first_byte=0.3))
    root = download(server, name, tmp_path / "out", transfers=near)

    assert (root / "weights.bin").read_bytes() == data
    parts = part_requests(server)
    assert sorted(r.range for r in parts) == sorted(PART_RANGES)
    [first] = [r for r in parts if r.range == PART_RANGES[0]]
    others = [r for r in parts if r is not first]
    assert all(overlapped(first, r) and overlapped(r, first) for r in others), "not in order"


def test_parts_fan_out_once_one_connection_leaves_the_md5_waiting(
    server: LocalWandbServer,
    published: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, data = published
    monkeypatch.setattr(ranged, "STARVE_AFTER", STARVE_AFTER)  # the rule as shipped
    # Near (no first-byte wait) but 40 MB/s a connection: a 4 MiB part takes 0.1 s, the md5
    # waits most of the time, and from 0.25 s on the parts not started yet fan out.
    server.network = NetworkProfile(name="near, slow", storage=StorageProfile(bandwidth=40e6))
    root = download(server, name, tmp_path / "out")

    assert (root / "weights.bin").read_bytes() == data
    parts = part_requests(server)
    assert sorted(r.range for r in parts) == sorted(PART_RANGES)
    assert [r.range for r in parts[:2]] == PART_RANGES[:2]
    assert not overlapped(parts[0], parts[1]), "in order at first"
    assert any(overlapped(a, b) for i, a in enumerate(parts) for b in parts[i + 1 :])


def test_storage_that_ignores_range_in_order_still_gives_the_right_file(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="ignore_range", times=1)
    recorder = Recorder()
    with closing(client(server)) as api:
        root = api.artifact(name).download(
            str(tmp_path / "out"), skip_cache=True, progress=recorder
        )

    assert (Path(root) / "weights.bin").read_bytes() == data
    sent = [r.range for r in server.request_log.records if r.path.startswith(BLOBS)]
    assert sent == [PART_RANGES[0], None]  # answered whole at once: one plain GET instead
    assert (recorder.seen[-1].done, recorder.seen[-1].files_done) == (SIZE, 1)


def test_a_corrupt_part_in_order_is_fetched_again(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="corrupt", times=1)
    root = download(server, name, tmp_path / "out")

    assert (root / "weights.bin").read_bytes() == data
    assert [r.range for r in part_requests(server)] == PART_RANGES * 2  # the md5 caught it


def test_parts_in_order_corrupt_every_time_raise_and_leave_nothing(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, _ = published
    server.inject_fault(BLOBS, kind="corrupt", times=1000)
    with pytest.raises(ChecksumError):
        download(server, name, tmp_path / "out")

    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_a_dropped_part_in_order_is_resumed_alone(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, kind="reset", times=1)  # the first part, half sent
    root = download(server, name, tmp_path / "out")

    assert (root / "weights.bin").read_bytes() == data
    sent = [r.range or "" for r in part_requests(server)]
    assert len(sent) == 6  # five parts, and the dropped one again (from what it had received)
    assert sent[0] == PART_RANGES[0] and sent[1].endswith(f"-{4 * MIB - 1}")
    assert sent[2:] == PART_RANGES[1:]


def test_an_expired_url_in_order_is_refreshed(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    server.inject_fault(BLOBS, status=403, times=1)
    root = download(server, name, tmp_path / "out")

    assert (root / "weights.bin").read_bytes() == data
    assert server.request_log.count(path=BLOBS, status=403) == 1
    assert [r.range for r in part_requests(server) if r.status == 206] == PART_RANGES


def test_a_part_failing_for_good_stops_the_parts_after_it_and_they_resume_next_time(
    server: LocalWandbServer, published: tuple[str, bytes], tmp_path: Path
) -> None:
    name, data = published
    armed = threading.Event()

    def fail_once_two_parts_are_on_disk(progress: Progress) -> None:
        if progress.done >= 2 * 4 * MIB and not armed.is_set():
            armed.set()  # in order, the third part is asked for only after this
            server.inject_fault(BLOBS, status=503, times=1000)

    with closing(client(server)) as api:
        artifact = api.artifact(name)
        server.request_log.clear()
        with pytest.raises(ServerError):
            artifact.download(str(tmp_path / "out"), progress=fail_once_two_parts_are_on_disk)
        asked = [r.range for r in part_requests(server)]
        server.faults.clear()
        server.request_log.clear()
        root = Path(artifact.download(str(tmp_path / "again")))

    assert asked[:2] == PART_RANGES[:2]
    assert len(asked) > 3 and set(asked[2:]) == {PART_RANGES[2]}, "retried, and nothing after it"
    assert (root / "weights.bin").read_bytes() == data
    assert [r.range for r in part_requests(server)] == PART_RANGES[2:]  # the first two kept
