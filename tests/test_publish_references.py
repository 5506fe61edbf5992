"""Reference entries of drafts (`add_reference`): file://, s3:// on moto, http(s)://; digests
from the store's ETag or md5, bytes never uploaded, and the published manifest carrying `ref`."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import fsspec
import pytest
from conftest import plain_http_origin
from s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.errors import InvalidInputError, ServerError
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
def http_seen() -> list[tuple[str, str, str]]:
    """(method, path with query, User-Agent) of every request `http_origin` received."""
    return []


@pytest.fixture
def http_origin(http_seen: list[tuple[str, str, str]]) -> Iterator[str]:
    """A loopback HTTP server: `/etag.bin` has an ETag, `/plain.txt` none, `/gone` is 404,
    `/flaky.bin` answers 503 (Retry-After: 0) every other time, `/broken` always 500 and
    `/nohead.bin` refuses HEAD (405) but answers GET."""
    flaky = itertools.count()

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.answer(head=True)

        def do_GET(self) -> None:
            self.answer(head=False)

        def answer(self, head: bool) -> None:
            http_seen.append((self.command, self.path, self.headers.get("User-Agent", "")))
            path = self.path.split("?", 1)[0]
            headers: dict[str, str] = {}
            if path == "/etag.bin":
                status, headers = 200, {"ETag": '"abc123"', "Content-Length": "10"}
            elif path == "/plain.txt":
                status, headers = 200, {"Content-Length": "5"}
            elif path == "/flaky.bin" and next(flaky) % 2 == 0:
                status, headers = 503, {"Retry-After": "0"}
            elif path == "/flaky.bin":
                status, headers = 200, {"ETag": '"f1"', "Content-Length": "3"}
            elif path == "/broken":
                status, headers = 500, {"Retry-After": "0"}
            elif path == "/nohead.bin" and head:
                status = 405
            elif path == "/nohead.bin":
                status, headers = 200, {"ETag": '"g1"', "Content-Length": "4"}
            else:
                status = 404
            self.send_response(status)
            for key, value in {"Content-Length": "0", **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            if not head and status == 200:
                self.wfile.write(b"x" * int(headers["Content-Length"]))

        def log_message(self, format: str, *args: object) -> None:
            pass

    with plain_http_origin(Handler) as url:
        yield url


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


def test_http_references_are_read_like_every_other_request(
    http_origin: str, http_seen: list[tuple[str, str, str]]
) -> None:
    """Through a transport: our user agent, transient failures retried, HEAD refused -> GET,
    and no query string (signed URLs carry credentials there) in any error."""
    draft = Artifact("web", "dataset")
    [flaky] = draft.add_reference(f"{http_origin}/flaky.bin")
    assert (flaky.digest, flaky.size) == ("f1", 3)
    [nohead] = draft.add_reference(f"{http_origin}/nohead.bin")
    assert (nohead.digest, nohead.size) == ("g1", 4)
    assert [(method, path) for method, path, _ in http_seen] == [
        ("HEAD", "/flaky.bin"),
        ("HEAD", "/flaky.bin"),
        ("HEAD", "/nohead.bin"),
        ("GET", "/nohead.bin"),
    ]
    with pytest.raises(ServerError, match=r"reference '.*/broken': .*HTTP 500") as broken:
        draft.add_reference(f"{http_origin}/broken?X-Amz-Signature=s3cr3t")
    with pytest.raises(InvalidInputError, match="not found") as gone:
        draft.add_reference(f"{http_origin}/gone?token=s3cr3t")
    for error in (broken.value, gone.value):
        assert "s3cr3t" not in str(error) and "s3cr3t" not in repr(error)
        assert error.__cause__ is None and error.__suppress_context__
    assert all(agent.startswith("prefect-wandb-public/") for _, _, agent in http_seen)


@pytest.mark.parametrize("uri", ["ftp://host/x", "memory://x", "/just/a/path", "s3:/x", 42])
def test_unsupported_reference_uris_are_refused(uri: object) -> None:
    with pytest.raises(InvalidInputError, match="reference"):
        Artifact("d", "dataset").add_reference(uri)  # type: ignore[arg-type]
