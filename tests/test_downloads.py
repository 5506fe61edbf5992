"""The byte mover under faults: resume with Range, corrupt bytes, retries, the cache, hostile
names, fsspec roots (memory://, s3:// on moto) and `verify`."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path

import fsspec
import pytest
from s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

from prefect_wandb_public import Api
from prefect_wandb_public.api import Downloader, DownloadItem, RetryPolicy, Transport
from prefect_wandb_public.api.files import download_file
from prefect_wandb_public.errors import ChecksumError, CommError, InvalidInputError
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

BLOBS = "/storage/blobs/"
BIG = bytes(range(256)) * 12_288  # 3 MiB: several chunks, so a fault lands mid-file
BIG_BLOB = BLOBS + hashlib.md5(BIG).hexdigest()
# A reset discards what is still in flight, so to see progress before it the file must be larger
# than the loopback socket buffers.
HUGE = bytes(range(251)) * (96 * 1024)  # 23.5 MiB
HUGE_BLOB = BLOBS + hashlib.md5(HUGE).hexdigest()
FILES = {"big.bin": BIG, "a/small.txt": b"small", "a/b/c.json": b'{"c": 1}'}


@pytest.fixture
def art(server: LocalWandbServer, entity: str, project: str) -> str:
    """Path of a three-file artifact (one of 3 MiB)."""
    server.create_artifact(entity, project, "data", "dataset", FILES)
    return f"{entity}/{project}/data:v0"


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


def blob_gets(server: LocalWandbServer) -> list[str | None]:
    """Range headers of the blob GETs (None for a whole-file GET)."""
    return [r.range for r in server.request_log.records if r.path.startswith(BLOBS)]


# ---------------------------------------------------------------------- happy path and cache


def test_download_writes_exact_bytes_and_verifies(api: Api, art: str, tmp_path: Path) -> None:
    artifact = api.artifact(art)
    root = artifact.download(str(tmp_path / "out"))
    assert root == str(tmp_path / "out")
    assert tree(tmp_path / "out") == FILES
    artifact.verify(root)


def test_default_root_is_artifacts_name_version(api: Api, art: str) -> None:
    root = api.artifact(art).download()
    assert root == os.path.join(".", "artifacts", "data:v0")
    assert tree(Path(root)) == FILES


def test_cache_is_content_addressed_and_linked_into_the_root(
    api: Api, art: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    artifact = api.artifact(art)
    artifact.download(str(tmp_path / "one"))
    first = len(blob_gets(server))
    artifact.download(str(tmp_path / "two"))
    assert len(blob_gets(server)) == first == 3  # the repeat moved no bytes
    assert tree(tmp_path / "two") == FILES
    digest = hashlib.md5(BIG).hexdigest()
    cached = tmp_path / "cache" / "md5" / digest[:2] / digest[2:]
    assert cached.read_bytes() == BIG
    linked = tmp_path / "two" / "big.bin"
    assert os.path.samefile(cached, linked)
    assert not os.stat(linked).st_mode & stat.S_IWUSR  # read-only: edits cannot poison the cache


def test_download_again_after_root_and_cache_were_removed(
    api: Api, art: str, tmp_path: Path
) -> None:
    artifact = api.artifact(art)
    artifact.download(str(tmp_path / "again"))
    shutil.rmtree(tmp_path / "again")
    artifact.download(str(tmp_path / "again"))
    shutil.rmtree(tmp_path / "cache")
    shutil.rmtree(tmp_path / "again")
    artifact.download(str(tmp_path / "again"))
    assert tree(tmp_path / "again") == FILES


def test_link_false_gives_private_writable_copies(api: Api, art: str, tmp_path: Path) -> None:
    api.artifact(art).download(str(tmp_path / "copy"), link=False)
    copy = tmp_path / "copy" / "big.bin"
    assert copy.read_bytes() == BIG and os.stat(copy).st_nlink == 1
    assert os.stat(copy).st_mode & stat.S_IWUSR


def test_skip_cache_writes_straight_to_the_root(api: Api, art: str, tmp_path: Path) -> None:
    api.artifact(art).download(str(tmp_path / "direct"), skip_cache=True)
    assert tree(tmp_path / "direct") == FILES
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("root", ["local", "memory"])
@pytest.mark.parametrize("skip_cache", [False, True])
def test_identical_entries_are_fetched_once(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    skip_cache: bool,
    root: str,
) -> None:
    server.create_artifact(entity, project, "twins", "dataset", {"x/1.bin": BIG, "y/2.bin": BIG})
    where = str(tmp_path / "t") if root == "local" else f"memory://{project}-{skip_cache}/t"
    artifact = api.artifact(f"{entity}/{project}/twins:v0")
    artifact.download(where, skip_cache=skip_cache)
    assert len(blob_gets(server)) == 1
    artifact.verify(where)


def test_many_files_in_parallel(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    files = {f"part-{i:03d}.bin": os.urandom(2000 + i) for i in range(60)}
    server.create_artifact(entity, project, "many", "dataset", files)
    artifact = api.artifact(f"{entity}/{project}/many:latest")
    artifact.download(str(tmp_path / "m"), workers=6)
    assert tree(tmp_path / "m") == files
    artifact.verify(str(tmp_path / "m"))


def test_concurrent_downloads_of_one_artifact_share_the_cache_safely(
    api: Api, art: str, tmp_path: Path
) -> None:
    artifact = api.artifact(art)
    artifact.manifest  # noqa: B018  (fetch once, before the threads)
    errors: list[BaseException] = []

    def fetch(i: int) -> None:
        try:
            artifact.download(str(tmp_path / f"c{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(4):
        assert tree(tmp_path / f"c{i}") == FILES


@pytest.mark.parametrize("workers", [0, 65, 2.5, True])
def test_bad_worker_count_is_refused(api: Api, art: str, workers: object) -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        api.artifact(art).download(workers=workers)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_dropped_connection_resumes_with_range(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path, kind: str
) -> None:
    server.create_artifact(entity, project, "huge", "model", {"small.txt": b"s", "w.bin": HUGE})
    artifact = api.artifact(f"{entity}/{project}/huge:v0", type="model")
    server.inject_fault(HUGE_BLOB, kind=kind, method="GET", times=1)
    artifact.download(str(tmp_path / "r"))
    assert tree(tmp_path / "r") == {"small.txt": b"s", "w.bin": HUGE}
    ranges = [r for r in blob_gets(server) if r is not None]
    assert len(ranges) == 1
    offset = int(ranges[0].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset < len(HUGE)
    assert [r.status for r in server.request_log.records if r.range] == [206]


def test_run_file_download_resumes_too(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_run(entity, project, "r", files={"ckpt.bin": HUGE})
    file = api.run(f"{entity}/{project}/r").file("ckpt.bin")
    server.inject_fault(BLOBS, kind="reset", method="GET", times=2)
    path = download_file(file, root=str(tmp_path))
    assert Path(path).read_bytes() == HUGE
    resumed = [r for r in blob_gets(server) if r]
    assert len(resumed) == 2 and resumed[0] != resumed[1]


def test_resume_waits_follow_the_transports_policy_and_sleep(
    server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "huge", "model", {"w.bin": HUGE})
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, initial_backoff=0.25, max_backoff=0.25, jitter=0.0)
    transport = Transport(server.url, server.api_key, retry=policy, sleep=sleeps.append)
    try:
        item = DownloadItem("w.bin", server.urls.blob(b64md5(HUGE)), b64md5(HUGE), len(HUGE))
        server.inject_fault(HUGE_BLOB, kind="reset", method="GET", times=2)
        Downloader(transport, skip_cache=True).download([item], str(tmp_path / "w"))
        assert sleeps == [0.25, 0.25]  # two drops, two waits, none of them real
        assert (tmp_path / "w" / "w.bin").read_bytes() == HUGE
        server.inject_fault(HUGE_BLOB, kind="reset", method="GET", times=50)
        with pytest.raises(CommError, match="dropped 4 times"):
            Downloader(transport, skip_cache=True).download([item], str(tmp_path / "x"))
        assert len(sleeps) == 2 + 3
    finally:
        transport.close()


def test_connection_that_keeps_dropping_gives_up(
    api: Api, art: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    artifact = api.artifact(art)
    artifact.manifest  # noqa: B018
    server.inject_fault(BIG_BLOB, kind="reset", method="GET", times=50)
    with pytest.raises(CommError, match="dropped 4 times"):
        artifact.download(str(tmp_path / "x"), workers=1, skip_cache=True)
    assert not (tmp_path / "x" / "big.bin").exists()
    assert not [p for p in (tmp_path / "x").rglob("*.part")]


def test_corrupt_bytes_are_fetched_again(
    api: Api, art: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    artifact = api.artifact(art)
    server.inject_fault(BLOBS, kind="corrupt", method="GET", times=1)
    artifact.download(str(tmp_path / "c"), workers=1)
    assert tree(tmp_path / "c") == FILES
    assert server.request_log.count(path=BLOBS) == 4  # three files, one fetched twice


@pytest.mark.parametrize("skip_cache", [False, True])
def test_persistently_corrupt_bytes_raise_and_leave_nothing(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path, skip_cache: bool
) -> None:
    server.create_artifact(entity, project, "bad", "dataset", {"only.bin": BIG})
    artifact = api.artifact(f"{entity}/{project}/bad:v0")
    artifact.manifest  # noqa: B018
    server.inject_fault(BLOBS, kind="corrupt", method="GET", times=10)
    with pytest.raises(ChecksumError, match=r"only\.bin: downloaded bytes have md5"):
        artifact.download(str(tmp_path / "dest"), skip_cache=skip_cache)
    assert server.request_log.count(path=BLOBS) == 3
    assert tree(tmp_path / "dest") == {} if (tmp_path / "dest").exists() else True
    cache = tmp_path / "cache"
    assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]


def test_server_errors_on_file_bytes_are_retried(
    api: Api, art: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    artifact = api.artifact(art)
    server.inject_fault(BLOBS, status=503, method="GET", times=2)
    artifact.download(str(tmp_path / "s"), workers=1)
    assert tree(tmp_path / "s") == FILES
    assert server.request_log.count(path=BLOBS, status=503) == 2


def test_hostile_manifest_names_are_refused_before_any_write(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(
        entity, project, "evil", "dataset", {"ok.txt": b"fine", "../../x": b"escape"}
    )
    artifact = api.artifact(f"{entity}/{project}/evil:latest")
    root = tmp_path / "deep" / "root"
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match=r"refusing file name '\.\./\.\./x'"):
        artifact.download(str(root))
    assert not (tmp_path / "x").exists()
    assert not root.exists()
    assert blob_gets(server) == []


@pytest.mark.parametrize("name", ["/etc/passwd", "a/../../b", "C:evil", "a\\..\\b", "a//b", "."])
def test_downloader_refuses_every_escaping_name(api: Api, tmp_path: Path, name: str) -> None:
    downloader = Downloader(api.transport, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(InvalidInputError, match="refusing file name"):
        downloader.download([DownloadItem(name, "http://127.0.0.1:9/x")], str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------- fsspec roots


def test_file_url_root_is_treated_as_local(api: Api, art: str, tmp_path: Path) -> None:
    artifact = api.artifact(art)
    artifact.download(f"file://{tmp_path}/via-url")
    assert tree(tmp_path / "via-url") == FILES
    assert os.stat(tmp_path / "via-url" / "big.bin").st_nlink == 2  # linked to the cache
    artifact.verify(f"file://{tmp_path}/via-url")


def test_download_and_verify_on_a_memory_root(api: Api, art: str, project: str) -> None:
    artifact = api.artifact(art)
    root = f"memory://{project}/artifact"
    assert artifact.download(root) == root
    fs = fsspec.filesystem("memory")
    assert fs.cat(f"/{project}/artifact/a/b/c.json") == FILES["a/b/c.json"]
    assert fs.cat(f"/{project}/artifact/big.bin") == BIG
    assert not [p for p in fs.find(f"/{project}") if p.endswith(".part")]
    artifact.verify(root)


def test_download_to_s3_streams_through_moto(
    api: Api,
    art: str,
    s3_bucket: str,  # noqa: F811  (the fixture imported above)
    server: LocalWandbServer,
) -> None:
    artifact = api.artifact(art)
    root = f"{s3_bucket}/models/data-v0"
    artifact.download(root, skip_cache=True)
    fs = fsspec.filesystem("s3")
    assert fs.cat(f"{root}/big.bin") == BIG
    assert sorted(fs.find(root)) == sorted(f"{root.removeprefix('s3://')}/{p}" for p in FILES)
    artifact.verify(root)
    cached_root = f"{s3_bucket}/cached"
    artifact.download(cached_root)
    assert fs.cat(f"{cached_root}/a/small.txt") == b"small"


def test_download_to_s3_uploads_each_file_once_and_copies_nothing(
    api: Api,
    art: str,
    s3_bucket: str,  # noqa: F811  (the fixture imported above)
) -> None:
    artifact = api.artifact(art)
    artifact.manifest  # noqa: B018
    fs = fsspec.filesystem("s3")
    calls: list[str] = []
    fs.s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    for skip_cache in (True, False):
        calls.clear()
        root = f"{s3_bucket}/once-{skip_cache}"
        artifact.download(root, skip_cache=skip_cache, workers=1)
        assert calls.count("CompleteMultipartUpload") == len(FILES)  # committed on success
        assert not {"CopyObject", "DeleteObject", "DeleteObjects", "PutObject"} & set(calls)
        artifact.verify(root)


def test_corrupt_download_to_s3_leaves_nothing(
    api: Api,
    art: str,
    s3_bucket: str,  # noqa: F811  (the fixture imported above)
    server: LocalWandbServer,
) -> None:
    artifact = api.artifact(art)
    artifact.manifest  # noqa: B018
    server.inject_fault(BLOBS, kind="corrupt", method="GET", times=20)
    with pytest.raises(ChecksumError):
        artifact.download(f"{s3_bucket}/bad", skip_cache=True, workers=1)
    fs = fsspec.filesystem("s3")
    assert fs.find(f"{s3_bucket}/bad") == []
    bucket = s3_bucket.removeprefix("s3://")
    assert fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


def test_reference_entries_are_skipped_with_a_warning(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.create_artifact(entity, project, "refs", "dataset", {"here.txt": b"h", "far.txt": b"f"})
    stored = server.store.resolve_artifact(entity, project, "refs:v0")
    assert stored is not None
    stored.entries["far.txt"].ref = "s3://elsewhere/far.txt"
    artifact = api.artifact(f"{entity}/{project}/refs:v0")
    artifact.download(str(tmp_path / "refs"))
    assert tree(tmp_path / "refs") == {"here.txt": b"h"}
    assert "skipped 1 reference entries" in caplog.text
    artifact.verify(str(tmp_path / "refs"))


# ---------------------------------------------------------------------- verify


def test_verify_catches_changed_missing_and_extra_files(api: Api, art: str, tmp_path: Path) -> None:
    artifact = api.artifact(art)
    root = tmp_path / "v"
    artifact.download(str(root), link=False)
    artifact.verify(str(root))
    (root / "a" / "small.txt").write_bytes(b"SMALL")
    with pytest.raises(ChecksumError, match=r"\['a/small.txt'\] do not match"):
        artifact.verify(str(root))
    (root / "a" / "small.txt").write_bytes(b"small")
    (root / "extra.txt").write_bytes(b"?")
    with pytest.raises(ChecksumError, match=r"extra\.txt"):
        artifact.verify(str(root))
    (root / "extra.txt").unlink()
    (root / "a" / "b" / "c.json").unlink()
    with pytest.raises(ChecksumError, match=r"\['a/b/c.json'\] of .* missing"):
        artifact.verify(str(root))


def test_verify_of_a_missing_root_fails(api: Api, art: str, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="missing"):
        api.artifact(art).verify(str(tmp_path / "never"))
