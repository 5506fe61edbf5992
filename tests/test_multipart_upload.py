"""Multipart uploads: the local server's protocol and single-PUT limit, and the publish pipeline
sending large files in parallel parts (Content-MD5, ETags, completion), with faults."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests
from conftest import FAST_RETRY, Recorder

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, TransferSettings
from prefect_wandb_public.errors import NotFoundError, ServerError, UploadTooLargeError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.common import StoreError

MIB = 1 << 20
LIMIT = 12 * MIB  # the server's single-PUT limit here
PARTS = "/storage/uploads/"
SMALL_PARTS = TransferSettings(
    multipart_upload_threshold=8 * MIB,
    upload_part_size=5 * MIB,
    ranged_download_threshold=8 * MIB,
    download_part_size=4 * MIB,
    part_workers=4,
)


pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture(scope="module")
def limited() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(max_single_put_bytes=LIMIT) as server:
        yield server


@pytest.fixture
def server(limited: LocalWandbServer) -> Iterator[LocalWandbServer]:
    limited.faults.clear()
    limited.request_log.clear()
    yield limited
    limited.faults.clear()


def client(server: LocalWandbServer, transfers: TransferSettings | None = SMALL_PARTS) -> Api:
    return Api(
        api_key=server.api_key,
        overrides={"base_url": server.url, "project": "mp"},
        retry=FAST_RETRY,
        transfers=transfers,
    )


def big_file(tmp_path: Path, size: int = 20 * MIB) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(size))
    return path


def publish(api: Api, path: Path, name: str = "ckpt") -> Artifact:
    draft = Artifact(name, "model")
    draft.add_file(str(path))
    return api.log_artifact(draft)


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    with closing(client(server)) as api:
        logged = publish(api, path, "roundtrip")
        parts = server.request_log.count(path=PARTS, method="PUT", status=200)
        completions = server.request_log.count(operation="CompleteMultipartUploadArtifact")
        fetched = api.artifact(f"{logged.entity}/{logged.project}/roundtrip:latest")
        root = fetched.download(str(tmp_path / "out"))

    assert parts == 4  # 20 MiB in 5 MiB parts, none over the 12 MiB single-PUT limit
    assert completions == 1
    assert server.request_log.count(path="/storage/blobs/", method="PUT") == 0
    assert (Path(root) / "model.bin").read_bytes() == path.read_bytes()
    assert (
        fetched.manifest.entries["model.bin"].digest
        == base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()
    )
    assert server.store.multipart.open_count() == 0


def test_a_multipart_publish_reports_each_part_and_the_file_once(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    recorder = Recorder()
    seen = recorder.seen

    with closing(client(server)) as api:
        draft = Artifact("progress", "model")
        draft.add_file(str(path))
        api.log_artifact(draft, progress=recorder)

    size = path.stat().st_size
    assert (seen[0].done, seen[0].total, seen[0].files_total) == (0, size, 1)
    counts = [p.done for p in seen]
    assert counts == sorted(counts)
    assert sorted({p.done for p in seen}) == [0, 5 * MIB, 10 * MIB, 15 * MIB, size]
    assert [p.files_done for p in seen].count(1) == 2  # the last part's report, then finished
    assert seen[-1].finished and (seen[-1].done, seen[-1].files_done) == (size, 1)


def test_a_failed_part_is_retried_alone(server: LocalWandbServer, tmp_path: Path) -> None:
    path = big_file(tmp_path)
    server.inject_fault(PARTS, method="PUT", status=503, times=1)
    with closing(client(server)) as api:
        publish(api, path, "retried")

    assert server.request_log.count(path=PARTS, method="PUT", status=503) == 1
    assert server.request_log.count(path=PARTS, method="PUT", status=200) == 4


def test_a_failed_completion_leaves_no_version_and_a_rerun_completes(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    server.inject_fault(operation="CompleteMultipartUploadArtifact", status=500, times=100)
    with closing(client(server)) as api:
        with pytest.raises(ServerError):
            publish(api, path, "atomic")
        with pytest.raises(NotFoundError):
            api.artifact(f"{server.store.viewer.entity}/mp/atomic:latest")
        server.faults.clear()
        logged = publish(api, path, "atomic")

    assert logged.version == "v0" and logged.state == "COMMITTED"


def test_a_threshold_above_the_single_put_limit_is_a_clear_error(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path, 14 * MIB)
    with closing(client(server, None)) as api, pytest.raises(UploadTooLargeError) as caught:
        publish(api, path, "too-big")

    assert "multipart_upload_threshold" in str(caught.value)
    assert "model.bin" in str(caught.value)


def test_the_server_checks_parts_and_completion(server: LocalWandbServer) -> None:
    store = server.store
    first, second = os.urandom(5 * MIB), os.urandom(1000)
    whole = base64.b64encode(hashlib.md5(first + second).digest()).decode()
    upload = store.multipart.create(
        whole,
        [
            {"partNumber": 2, "hexMD5": hashlib.md5(second).hexdigest()},
            {"partNumber": 1, "hexMD5": hashlib.md5(first).hexdigest()},
        ],
    )
    url = server.urls.upload_part(upload.upload_id, 1)
    wrong = requests.put(url, data=second, timeout=30)
    bad_md5 = requests.put(
        url, data=first, headers={"Content-MD5": base64.b64encode(b"0" * 16).decode()}, timeout=30
    )
    good = requests.put(url, data=first, timeout=30)
    unsigned = requests.put(url.split("?")[0], data=first, timeout=30)

    assert [wrong.status_code, bad_md5.status_code, good.status_code] == [400, 400, 200]
    assert unsigned.status_code == 403
    assert good.headers["ETag"] == f'"{hashlib.md5(first).hexdigest()}"'
    with pytest.raises(Exception, match="never uploaded"):
        store.multipart.complete(
            upload.upload_id,
            [{"partNumber": 1, "hexMD5": good.headers["ETag"]}, {"partNumber": 2, "hexMD5": "x"}],
        )
    store.multipart.put_part(upload.upload_id, 2, second)
    joined, digest = store.multipart.complete(
        upload.upload_id,
        [
            {"partNumber": 1, "hexMD5": good.headers["ETag"]},
            {"partNumber": 2, "hexMD5": f'"{hashlib.md5(second).hexdigest()}"'},
        ],
    )
    assert joined == first + second and digest == whole


def test_the_whole_files_md5_is_checked_whatever_order_the_parts_came_in(
    server: LocalWandbServer,
) -> None:
    """The server feeds a file's md5 on a helper thread as its parts become contiguous; parts
    PUT out of order (and one PUT twice) still give the joined file, and a declared md5 the
    joined parts do not have is refused at completion."""
    store = server.store
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(777)]
    listed = [
        {"partNumber": n, "hexMD5": hashlib.md5(p).hexdigest()} for n, p in enumerate(parts, 1)
    ]
    completed = [{"partNumber": n, "hexMD5": f'"{d["hexMD5"]}"'} for n, d in enumerate(listed, 1)]
    right = base64.b64encode(hashlib.md5(b"".join(parts)).digest()).decode()
    wrong = base64.b64encode(hashlib.md5(b"".join(reversed(parts))).digest()).decode()
    for declared in (right, wrong):
        upload = store.multipart.create(declared, listed)
        for number in (3, 1, 1, 2):
            store.multipart.put_part(upload.upload_id, number, parts[number - 1])
        if declared == wrong:
            with pytest.raises(StoreError, match="hash to md5"):
                store.multipart.complete(upload.upload_id, completed)
        else:
            assert store.multipart.complete(upload.upload_id, completed) == (b"".join(parts), right)


def test_a_single_put_over_the_limit_is_refused_before_its_body(
    server: LocalWandbServer,
) -> None:
    data = os.urandom(LIMIT + 1)
    digest = base64.b64encode(hashlib.md5(data).digest()).decode()
    answer = requests.put(server.urls.blob(digest, method="PUT"), data=data, timeout=60)

    assert answer.status_code == 400 and "EntityTooLarge" in answer.text
    assert not server.store.has_blob(digest)


_SDK_DOWNLOAD = """
import sys
import wandb
api = wandb.Api(api_key=sys.argv[1], overrides={"base_url": sys.argv[2]}, timeout=60)
artifact = api.artifact(sys.argv[3])
root = artifact.download(root=sys.argv[4])
artifact.verify(root)  # the SDK hashes the file against the manifest's md5
artifact.download(root=sys.argv[5], multipart=True)
print(artifact.digest)
"""


@pytest.mark.oracle
def test_official_sdk_downloads_what_we_published_in_parts(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    with closing(client(server)) as api:
        logged = publish(api, path, "oracle-parts")
    assert server.request_log.count(path=PARTS, method="PUT", status=200) == 4

    # The SDK in a process of its own, with a service (wandb-core) not shared with other tests.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_SILENT="true", WANDB_ERROR_REPORTING="false")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = str(tmp_path / name.lower())
    name = f"{logged.entity}/{logged.project}/oracle-parts:latest"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SDK_DOWNLOAD,
            server.api_key,
            server.url,
            name,
            str(tmp_path / "sdk"),
            str(tmp_path / "sdk-mp"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == logged.digest
    assert (tmp_path / "sdk" / "model.bin").read_bytes() == path.read_bytes()
    assert (tmp_path / "sdk-mp" / "model.bin").read_bytes() == path.read_bytes()


def test_a_run_file_over_the_single_put_limit_is_a_clear_error(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    entity = server.store.viewer.entity
    server.create_run(entity, "mp", "big-run")
    path = big_file(tmp_path, 14 * MIB)
    with closing(client(server)) as api, pytest.raises(UploadTooLargeError, match="artifact"):
        api.run(f"{entity}/mp/big-run").upload_file(str(path), root=str(tmp_path))


def _two_files(name: str, tmp_path: Path, big: str, other: str, other_size: int) -> Artifact:
    """A draft of `big` (20 MiB: in parts) and `other` (`other_size` bytes) under `tmp_path`."""
    (tmp_path / big).write_bytes(os.urandom(20 * MIB))
    (tmp_path / other).write_bytes(os.urandom(other_size))
    draft = Artifact(name, "model")
    draft.add_file(str(tmp_path / big))
    draft.add_file(str(tmp_path / other))
    return draft


def test_a_transient_completion_failure_is_retried_without_uploading_parts_again(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    server.inject_fault(operation="CompleteMultipartUploadArtifact", status=503, times=1)
    with closing(client(server)) as api:
        logged = publish(api, path, "completion-retried")

    assert logged.state == "COMMITTED"
    assert server.request_log.count(operation="CompleteMultipartUploadArtifact", status=503) == 1
    assert server.request_log.count(operation="CompleteMultipartUploadArtifact", status=200) == 1
    assert server.request_log.count(path=PARTS, method="PUT") == 4  # each part once


def test_a_rerun_after_a_failed_completion_uploads_only_what_was_not_stored(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    draft = _two_files("resumed", tmp_path, "big.bin", "small.bin", 2 * MIB)
    server.inject_fault(operation="CompleteMultipartUploadArtifact", status=500, times=100)
    with closing(client(server)) as api:
        with pytest.raises(ServerError):
            api.log_artifact(draft)
        assert server.request_log.count(path="/storage/blobs/", method="PUT", status=200) == 1
        server.faults.clear()
        server.request_log.clear()
        logged = api.log_artifact(draft)
        root = api.artifact(f"{logged.entity}/mp/resumed:latest").download(str(tmp_path / "out"))

    assert logged.version == "v0" and logged.state == "COMMITTED"
    # small.bin's blob was stored by the first run: not PUT again; big.bin's upload never
    # completed, so it goes up again in new parts (the protocol gives a re-run new upload IDs).
    assert server.request_log.count(path="/storage/blobs/", method="PUT") == 0
    assert server.request_log.count(path=PARTS, method="PUT", status=200) == 4
    assert server.request_log.count(operation="CompleteMultipartUploadArtifact") == 1
    for name in ("big.bin", "small.bin"):
        assert (Path(root) / name).read_bytes() == (tmp_path / name).read_bytes()


def test_a_rerun_after_a_failed_commit_uploads_no_stored_file_again(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    draft = _two_files("recommitted", tmp_path, "big.bin", "big2.bin", 15 * MIB)
    server.inject_fault(operation="CommitArtifact", status=500, times=100)
    with closing(client(server)) as api:
        with pytest.raises(ServerError):
            api.log_artifact(draft)
        assert server.request_log.count(operation="CompleteMultipartUploadArtifact") == 2
        server.faults.clear()
        server.request_log.clear()
        logged = api.log_artifact(draft)
        root = api.artifact(f"{logged.entity}/mp/recommitted:latest").download(
            str(tmp_path / "out")
        )

    assert logged.version == "v0" and logged.state == "COMMITTED"
    # Both multipart files were completed (stored) by the first run: nothing goes up again.
    assert server.request_log.count(path=PARTS, method="PUT") == 0
    assert server.request_log.count(path="/storage/blobs/", method="PUT") == 0
    assert server.request_log.count(operation="CompleteMultipartUploadArtifact") == 0
    for name in ("big.bin", "big2.bin"):
        assert (Path(root) / name).read_bytes() == (tmp_path / name).read_bytes()


def test_a_completion_whose_answer_was_lost_is_found_stored(
    server: LocalWandbServer, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    # The service completes the upload, then the connection drops before its answer: the retry
    # is refused (the upload is closed, S3's NoSuchUpload), yet the file is stored.
    server.inject_fault(operation="CompleteMultipartUploadArtifact", kind="reset", times=1)
    with closing(client(server)) as api:
        logged = publish(api, path, "lost-answer")
        root = api.artifact(f"{logged.entity}/mp/lost-answer:latest").download(str(tmp_path / "o"))

    assert logged.state == "COMMITTED"
    assert server.request_log.count(operation="CompleteMultipartUploadArtifact") == 2
    assert server.request_log.count(operation="CreateArtifactFiles") == 2  # the second asks
    assert server.request_log.count(path=PARTS, method="PUT") == 4  # no part went up again
    assert (Path(root) / "model.bin").read_bytes() == path.read_bytes()
