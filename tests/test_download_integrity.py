"""Nothing wrong, nothing left behind: the download cache never serves bytes that differ from
their digest, a crash (kill -9) leaves nothing that breaks the next run, and file-system failures
are `StorageError`s naming the destination and the entry, with nothing partial left.

All over real HTTP against the local server; crashes are real SIGKILLs of a child process, disk
full and read-only destinations real tmpfs mounts (skipped where mounting is impossible).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import partials
from prefect_wandb_public.errors import ChecksumError, DestinationExistsError, StorageError
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

BLOBS = "/storage/blobs/"
BIG = bytes(range(256)) * 12_288  # 3 MiB: several chunks, so a cut lands mid-file
BIG_BLOB = BLOBS + hashlib.md5(BIG).hexdigest()
FILES = {"cfg.json": b'{"lr": 1}', "w.bin": BIG}
TEMP_GLOBS = ("*.part", ".prefect-wandb-*")


@pytest.fixture
def model(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_artifact(entity, project, "m", "model", FILES)
    return f"{entity}/{project}/m:v0"


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


def temp_files(*roots: Path) -> list[Path]:
    return sorted({p for root in roots for pattern in TEMP_GLOBS for p in root.rglob(pattern)})


def blob_path(cache: Path, data: bytes) -> Path:
    digest = hashlib.md5(data).hexdigest()
    return cache / "md5" / digest[:2] / digest[2:]


def blob_gets(server: LocalWandbServer) -> list[str | None]:
    return [r.range for r in server.request_log.records if r.path.startswith(BLOBS)]


# ---------------------------------------------------------------------- 1. cache integrity


def test_an_edit_through_a_hard_link_is_not_served_again(
    api: Api, server: LocalWandbServer, model: str, tmp_path: Path
) -> None:
    artifact = api.artifact(model)
    first = tmp_path / "d1"
    artifact.download(str(first))
    # Same size, edited in place through the hard link (0444 does not stop root).
    with open(first / "cfg.json", "r+b") as handle:
        handle.write(b'{"lr": 9}')
    server.request_log.clear()
    artifact.download(str(tmp_path / "d2"))
    assert tree(tmp_path / "d2") == FILES
    assert len(blob_gets(server)) == 1  # only the edited blob was fetched again
    artifact.download(str(tmp_path / "d3"), link=False)
    assert tree(tmp_path / "d3") == FILES
    # The edited copy is the user's: left as it is, and verify() reports it.
    assert (first / "cfg.json").read_bytes() == b'{"lr": 9}'
    with pytest.raises(ChecksumError, match=r"\['cfg.json'\] do not match"):
        artifact.verify(str(first))
    artifact.verify(str(tmp_path / "d2"))


@pytest.mark.parametrize("damage", ["same-size", "truncated", "mtime-restored", "replaced"])
def test_a_blob_damaged_in_the_cache_is_fetched_again(
    api: Api, server: LocalWandbServer, model: str, tmp_path: Path, damage: str
) -> None:
    artifact = api.artifact(model)
    artifact.download(str(tmp_path / "d1"), link=False)
    blob = blob_path(tmp_path / "cache", BIG)
    before = os.stat(blob)
    if damage == "truncated":
        os.truncate(blob, len(BIG) - 1)
    elif damage == "replaced":
        blob.unlink()
        blob.write_bytes(b"x" * len(BIG))
    else:
        with open(blob, "r+b") as handle:
            handle.seek(1000)
            handle.write(b"\0")
    if damage == "mtime-restored":  # only the ctime still tells
        os.utime(blob, ns=(before.st_atime_ns, before.st_mtime_ns))
    server.request_log.clear()
    for link in (True, False):
        out = tmp_path / f"d2-{link}"
        artifact.download(str(out), link=link)
        assert tree(out) == FILES
    assert blob_gets(server) == [None]  # fetched once, whole
    assert blob.read_bytes() == BIG


def test_a_warm_repeat_moves_no_bytes_even_after_the_first_copy_is_deleted(
    api: Api, server: LocalWandbServer, model: str, tmp_path: Path
) -> None:
    artifact = api.artifact(model)
    artifact.download(str(tmp_path / "d1"))
    shutil.rmtree(tmp_path / "d1")  # unlinking changes the blob's ctime: hashed, not refetched
    server.request_log.clear()
    artifact.download(str(tmp_path / "d2"))
    artifact.download(str(tmp_path / "d3"))
    assert blob_gets(server) == []
    assert tree(tmp_path / "d3") == FILES
    assert os.path.samefile(tmp_path / "d3" / "w.bin", blob_path(tmp_path / "cache", BIG))


def test_an_edited_run_file_stays_the_users(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_run(entity, project, "r", files={"notes.txt": b"hello"})
    file = api.run(f"{entity}/{project}/r").file("notes.txt")
    with file.download(root=str(tmp_path / "files")) as handle:  # an open file, as in 0.31
        path = Path(handle.name)
    path.write_bytes(b"mine")
    with pytest.raises(DestinationExistsError):
        file.download(root=str(tmp_path / "files"))
    assert path.read_bytes() == b"mine"


# ---------------------------------------------------------------------- 2. crashes

CHILD = """
import sys
from prefect_wandb_public import Api
from prefect_wandb_public.api import partials
from prefect_wandb_public.api import RetryPolicy
url, key, path, root, skip = sys.argv[1:]
# After the cut the child waits 10 minutes before resuming: the test kills it meanwhile.
slow = RetryPolicy(max_attempts=3, max_elapsed=3600, initial_backoff=600, max_backoff=600)
artifact = Api(api_key=key, overrides={"base_url": url}, retry=slow).artifact(path)
artifact.download(root, skip_cache=skip == "1", workers=1)
print("finished")
"""


def _partial_of(where: Path) -> Path | None:
    found = [p for p in where.rglob(".prefect-wandb-*.part") if p.stat().st_size > 0]
    return found[0] if found else None


@pytest.mark.parametrize("skip_cache", [False, True])
def test_a_download_killed_mid_file_resumes_and_verifies(
    server: LocalWandbServer, api: Api, model: str, tmp_path: Path, skip_cache: bool
) -> None:
    root = tmp_path / "out"
    cache = tmp_path / "cache"
    server.inject_fault(BIG_BLOB, kind="truncate", method="GET", times=1)
    flag = "1" if skip_cache else "0"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, server.url, server.api_key, model, str(root), flag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        where = root if skip_cache else cache
        deadline = time.monotonic() + 60
        partial, size = None, -1
        while time.monotonic() < deadline:  # until the cut bytes sit still in the partial
            assert child.poll() is None, child.communicate()
            found = _partial_of(where) if where.exists() else None
            if found is not None and found.stat().st_size == size:
                partial = found
                break
            size = found.stat().st_size if found is not None else -1
            time.sleep(0.2)
        assert partial is not None, "the child never left a partial file"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert 0 < size < len(BIG)
    server.request_log.clear()
    artifact = api.artifact(model)
    artifact.download(str(root), skip_cache=skip_cache)
    assert tree(root) == FILES
    artifact.verify(str(root))
    resumed = [r for r in server.request_log.records if r.path == BIG_BLOB]
    assert [(r.range, r.status) for r in resumed] == [(f"bytes={size}-", 206)]
    assert temp_files(root, cache) == []


def test_stale_temporary_files_are_swept_and_live_ones_kept(
    api: Api, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "out"
    root.mkdir()
    stale_partial = root / ".prefect-wandb-0123456789abcdef.part"  # its writer died
    live_partial = root / ".prefect-wandb-fedcba9876543210.part"
    placement = root / ".prefect-wandb-0123456789abcdef-01234567.part"
    legacy = root / ".w.bin.0123456789ab.part"  # what earlier versions left
    for path in (stale_partial, live_partial, placement, legacy):
        path.write_bytes(b"left over")
    artifact = api.artifact(model)
    with open(live_partial, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live writer owns it
        artifact.download(str(root))
        artifact.verify(str(root))  # temporary names are not the artifact's files
        # Unlocked placements are someone's rename in flight until they are a minute old.
        assert [p.name for p in temp_files(root)] == sorted(
            [live_partial.name, placement.name, legacy.name]
        )
        monkeypatch.setattr(partials, "STALE_AFTER", 0.0)
        artifact.download(str(root))
        assert [p.name for p in temp_files(root)] == [live_partial.name]
    assert tree(root) == {**FILES, live_partial.name: b"left over"}


@pytest.mark.parametrize("skip_cache", [False, True])
def test_a_name_at_the_file_system_limit_downloads(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path, skip_cache: bool
) -> None:
    name = "n" * 236 + ".bin"  # 240 bytes; temporary names must not push it over 255
    files = {name: b"long", f"sub/{name}": b"longer"}
    server.create_artifact(entity, project, "long", "dataset", files)
    artifact = api.artifact(f"{entity}/{project}/long:v0")
    artifact.download(str(tmp_path / "out"), skip_cache=skip_cache)
    assert tree(tmp_path / "out") == files
    artifact.verify(str(tmp_path / "out"))


# ---------------------------------------------------------------------- 3. file-system failures


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 5 MiB tmpfs (root only: CI runs as root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


FULL = {"a.txt": b"a", "big.bin": os.urandom(8 << 20), "z.txt": b"z"}


@pytest.mark.parametrize("mode", ["skip-cache", "cached", "cache-on-the-small-disk"])
def test_disk_full_is_a_storage_error_naming_destination_and_entry(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    small_disk: Path,
    tmp_path: Path,
    mode: str,
) -> None:
    server.create_artifact(entity, project, "full", "dataset", FULL)
    artifact = api.artifact(f"{entity}/{project}/full:v0")
    root = small_disk / "out"
    cache = small_disk / "cache" if mode == "cache-on-the-small-disk" else tmp_path / "cache"
    with pytest.raises(StorageError) as info:
        artifact.download(
            str(root), skip_cache=mode == "skip-cache", cache_dir=str(cache), workers=1
        )
    error = info.value
    assert error.errno == errno.ENOSPC and isinstance(error, OSError)
    assert error.entry == "big.bin" and "'big.bin'" in str(error)
    where = str(cache) if mode == "cache-on-the-small-disk" else str(root / "big.bin")
    assert where in str(error) and error.destination is not None and where in error.destination
    assert "entries completed" in str(error) and "not completed: 'big.bin'" in str(error)
    assert "big.bin" in error.incomplete and set(error.completed) <= {"a.txt", "z.txt"}
    assert temp_files(small_disk) == []
    assert not (root / "big.bin").exists()
    if mode == "cache-on-the-small-disk":
        assert not [p for p in cache.rglob("*") if p.is_file() and p.stat().st_size > 1000]


def test_a_read_only_destination_is_a_storage_error(api: Api, model: str, small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(StorageError, match="read-only") as info:
        api.artifact(model).download(str(small_disk / "out"), skip_cache=True)
    assert info.value.errno == errno.EROFS and str(small_disk / "out") in str(info.value)


def test_a_name_too_long_is_refused_before_any_transfer(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    name = "x" * 300
    server.create_artifact(entity, project, "toolong", "dataset", {"ok.txt": b"k", name: b"x"})
    artifact = api.artifact(f"{entity}/{project}/toolong:v0")
    artifact.manifest  # noqa: B018
    server.request_log.clear()
    with pytest.raises(StorageError, match="too long") as info:
        artifact.download(str(tmp_path / "out"))
    assert info.value.errno == errno.ENAMETOOLONG and info.value.entry == name
    assert str(tmp_path / "out") in str(info.value)
    assert blob_gets(server) == [] and not (tmp_path / "out").exists()


def test_an_entry_that_is_also_a_directory_is_refused_before_any_write(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "clash", "dataset", {"a": b"file", "a/b": b"nested"})
    artifact = api.artifact(f"{entity}/{project}/clash:v0")
    with pytest.raises(StorageError, match=r"'a/b'.*'a' is a file") as info:
        artifact.download(str(tmp_path / "out"))
    assert info.value.errno == errno.ENOTDIR
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("skip_cache", [False, True])
def test_an_entry_where_a_directory_already_is_is_a_storage_error(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    skip_cache: bool,
) -> None:
    root = tmp_path / "out"
    (root / "cfg.json").mkdir(parents=True)  # a directory where the file must go
    server.create_artifact(entity, project, "m", "model", FILES)
    artifact = api.artifact(f"{entity}/{project}/m:v0")
    with pytest.raises(StorageError) as info:
        artifact.download(str(root), skip_cache=skip_cache, workers=1)
    assert info.value.entry == "cfg.json" and str(root / "cfg.json") in str(info.value)
    assert "not completed: 'cfg.json'" in str(info.value)
    assert temp_files(root) == []
