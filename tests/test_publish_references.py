"""Reference entries of drafts (`add_reference`): file://, s3:// on moto, http(s)://; digests
from the store's ETag or md5, bytes never uploaded, and the published manifest carrying `ref`."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import pytest
from s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.testing import LocalWandbServer


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_file_references_hash_the_local_bytes(tmp_path: Path) -> None:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.csv").write_bytes(b"a,b\n1,2\n")
    (tmp_path / "data" / "sub" / "b.csv").write_bytes(b"c\n3\n")
    draft = Artifact("refs", "dataset")
    [single] = draft.add_reference(f"file://{tmp_path}/data/a.csv")
    assert (single.path, single.digest, single.size, single.ref) == (
        "a.csv",
        b64md5(b"a,b\n1,2\n"),
        8,
        f"file://{tmp_path}/data/a.csv",
    )
    folder = draft.add_reference(f"file://{tmp_path}/data", name="all")
    assert {e.path: (e.ref, e.digest) for e in folder} == {
        "all/a.csv": (f"file://{tmp_path}/data/a.csv", b64md5(b"a,b\n1,2\n")),
        "all/sub/b.csv": (f"file://{tmp_path}/data/sub/b.csv", b64md5(b"c\n3\n")),
    }
    [unchecked] = draft.add_reference(f"file://{tmp_path}/data/a.csv", "fast.csv", checksum=False)
    path_uri = (tmp_path / "data" / "a.csv").resolve().as_uri()
    assert unchecked.digest == b64md5(path_uri.encode())
    assert all(e.local_path is None for e in draft.manifest.entries.values())


def test_s3_references_take_the_etag_the_store_reports(
    s3_bucket: str,  # noqa: F811
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
) -> None:
    fs = fsspec.filesystem("s3")
    objects = {"train/x.parquet": b"x" * 1000, "train/y.parquet": b"y" * 2000, "val.csv": b"v"}
    for key, data in objects.items():
        fs.pipe(f"{s3_bucket}/{key}", data)
    etags = {key: fs.info(f"{s3_bucket}/{key}")["ETag"].strip('"') for key in objects}
    assert etags["val.csv"] == hashlib.md5(b"v").hexdigest()

    draft = Artifact("lake", "dataset")
    [one] = draft.add_reference(f"{s3_bucket}/val.csv")
    assert (one.path, one.digest, one.size, one.ref) == (
        "val.csv",
        etags["val.csv"],
        1,
        f"{s3_bucket}/val.csv",
    )
    assert one.extra["etag"] == etags["val.csv"]
    prefix = draft.add_reference(f"{s3_bucket}/train", name="train")
    assert {e.path: (e.digest, e.size, e.ref) for e in prefix} == {
        "train/x.parquet": (etags["train/x.parquet"], 1000, f"{s3_bucket}/train/x.parquet"),
        "train/y.parquet": (etags["train/y.parquet"], 2000, f"{s3_bucket}/train/y.parquet"),
    }
    [lazy] = draft.add_reference(f"{s3_bucket}/val.csv", name="lazy.csv", checksum=False)
    assert (lazy.digest, lazy.size) == (f"{s3_bucket}/val.csv", None)

    published = api.log_artifact(draft, project=project)
    assert server.request_log.count(path="/storage/blobs/", method="PUT") == 0
    assert server.request_log.count(operation="CreateArtifactFiles") == 0
    entries = api.artifact(f"{entity}/{project}/lake:v0").manifest.entries
    assert {p: e.ref for p, e in entries.items()} == {
        "val.csv": f"{s3_bucket}/val.csv",
        "lazy.csv": f"{s3_bucket}/val.csv",
        "train/x.parquet": f"{s3_bucket}/train/x.parquet",
        "train/y.parquet": f"{s3_bucket}/train/y.parquet",
    }
    assert entries["val.csv"].extra == {"etag": etags["val.csv"]}
    assert published.digest == draft.digest
    with pytest.raises(InvalidInputError, match="no object or prefix"):
        Artifact("lake", "dataset").add_reference(f"{s3_bucket}/missing/key")


@pytest.fixture
def http_origin() -> Iterator[str]:
    """A loopback HTTP server: `/etag.bin` has an ETag, `/plain.txt` none, `/gone` is 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            if self.path == "/etag.bin":
                self.send_response(200)
                self.send_header("ETag", '"abc123"')
                self.send_header("Content-Length", "10")
            elif self.path == "/plain.txt":
                self.send_response(200)
                self.send_header("Content-Length", "5")
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_references_use_the_etag_else_the_url(http_origin: str) -> None:
    draft = Artifact("web", "dataset")
    [tagged] = draft.add_reference(f"{http_origin}/etag.bin")
    assert (tagged.path, tagged.digest, tagged.size, tagged.extra) == (
        "etag.bin",
        "abc123",
        10,
        {"etag": '"abc123"'},
    )
    [plain] = draft.add_reference(f"{http_origin}/plain.txt", name="p.txt")
    assert (plain.path, plain.digest, plain.size) == ("p.txt", f"{http_origin}/plain.txt", 5)
    with pytest.raises(InvalidInputError, match="not found"):
        draft.add_reference(f"{http_origin}/gone")


@pytest.mark.parametrize("uri", ["ftp://host/x", "memory://x", "/just/a/path", "s3:/x", 42])
def test_unsupported_reference_uris_are_refused(uri: object) -> None:
    with pytest.raises(InvalidInputError, match="reference"):
        Artifact("d", "dataset").add_reference(uri)  # type: ignore[arg-type]
