"""What a download asks before its first byte: the listing of the files' URLs runs beside the
manifest's two round trips (`api/artifact_fetch.py`), proven by the server's request log (when
each request arrived) rather than by wall-clock figures; a failure of either side raises what
the sequential order raised and leaves no thread or request behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, artifact_fetch
from prefect_wandb_public.api.artifact_fetch import LISTING_THREAD
from prefect_wandb_public.errors import InvalidInputError, PermissionDeniedError, ServerError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.faults import Fault, RequestRecord

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

MANIFESTS = "/storage/manifests/"
BLOBS = "/storage/blobs/"
LISTING = "ArtifactMembershipFiles"
# Long enough that no scheduling hiccup on a loaded machine makes up for it.
HOLD = 1.0

Fetch = Callable[[Artifact, Path], None]


def fetch_all(artifact: Artifact, root: Path) -> None:
    artifact.download(str(root))


def fetch_the_file(artifact: Artifact, root: Path) -> None:
    artifact.file(str(root))


ONE_FILE = {"weights.bin": b"w" * 4096}
TWO_FILES = {"weights.bin": b"w" * 4096, "conf/params.json": b'{"lr": 0.1}'}


def published(server: LocalWandbServer, entity: str, project: str, files: dict[str, bytes]) -> str:
    server.create_artifact(entity, project, "model", "model", files)
    return f"{entity}/{project}/model:v0"


def only(server: LocalWandbServer, match: Callable[[RequestRecord], bool]) -> RequestRecord:
    found = [record for record in server.request_log.records if match(record)]
    assert len(found) == 1, found
    return found[0]


def listing_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(LISTING_THREAD)]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("fetch", "files"),
    [(fetch_all, TWO_FILES), (fetch_the_file, ONE_FILE)],
    ids=["download", "file"],
)
def test_the_url_listing_is_asked_while_the_manifest_is_still_coming(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    fetch: Fetch,
    files: dict[str, bytes],
) -> None:
    artifact = api.artifact(published(server, entity, project, files))
    server.request_log.clear()
    server.faults.add(Fault("delay", path=MANIFESTS, method="GET", delay=HOLD))
    fetch(artifact, tmp_path / "out")
    manifest_get = only(server, lambda r: r.path.startswith(MANIFESTS))
    listing = only(server, lambda r: r.operation == LISTING)
    # The manifest's URL came with api.artifact(): no query for it.
    assert server.request_log.count(operation="FetchArtifactManifest") == 0
    # The storage held the manifest for HOLD seconds: a listing sent after the manifest came
    # would have arrived after that.
    assert listing.received < manifest_get.received + HOLD
    first_blob = min(r.received for r in server.request_log.records if r.path.startswith(BLOBS))
    assert first_blob >= manifest_get.received + HOLD  # the files still wait for the manifest
    assert tree(tmp_path / "out") == files
    assert listing_threads() == []


def test_a_known_manifest_lists_only_the_files_wanted(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    assert set(artifact.manifest.entries) == set(TWO_FILES)
    server.request_log.clear()
    artifact.download(str(tmp_path / "out"))
    assert server.request_log.count(path=MANIFESTS) == 0
    assert server.request_log.count(operation="FetchArtifactManifest") == 0
    assert server.request_log.count(operation=LISTING) == 1
    assert tree(tmp_path / "out") == TWO_FILES


def test_a_failing_manifest_raises_its_own_error_once_the_listing_is_joined(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    path = published(server, entity, project, TWO_FILES)
    # Twice: the URL from api.artifact() is refused, then the one asked of GraphQL.
    server.faults.add(Fault("status", path=MANIFESTS, method="GET", status=403, times=2))
    with pytest.raises(PermissionDeniedError) as alone:
        api.artifact(path).manifest  # noqa: B018  (the error of the manifest on its own)
    server.request_log.clear()
    server.faults.add(Fault("status", path=MANIFESTS, method="GET", status=403, times=2))
    server.faults.add(Fault("delay", path="/graphql", operation=LISTING, delay=HOLD))
    # The manifest's side held a little, so the listing is surely sent before it fails.
    server.faults.add(Fault("delay", path="/graphql", operation="FetchArtifactManifest", delay=0.3))
    with pytest.raises(PermissionDeniedError) as concurrent:
        api.artifact(path).download(str(tmp_path / "out"))
    # The listing, held for HOLD seconds, was answered before the error reached the caller.
    only(server, lambda r: r.operation == LISTING)
    assert listing_threads() == []
    assert str(concurrent.value) == str(alone.value)
    assert not (tmp_path / "out").exists()


def test_a_failing_manifest_stops_the_listings_retries(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    server.request_log.clear()
    server.faults.add(Fault("status", path=MANIFESTS, method="GET", status=403, times=2))
    # Every listing attempt fails and asks for a wait: the manifest fails during the first.
    server.faults.add(
        Fault("status", path="/graphql", operation=LISTING, status=503, retry_after=4, times=9)
    )
    # The manifest's side held a little, so the listing's first attempt is surely sent.
    server.faults.add(Fault("delay", path="/graphql", operation="FetchArtifactManifest", delay=0.3))
    started = time.monotonic()
    with pytest.raises(PermissionDeniedError):
        artifact.download(str(tmp_path / "out"))
    # Not retried (4 attempts were allowed): the manifest failed while the listing waited out
    # the first failure's Retry-After, and that wait ended there.
    assert server.request_log.count(operation=LISTING) == 1
    assert time.monotonic() - started < 3.0  # not the 4 s wait
    assert listing_threads() == []


def test_a_failing_listing_raises_its_error_after_the_manifest(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    server.request_log.clear()
    server.faults.add(Fault("status", path="/graphql", operation=LISTING, status=500, times=9))
    with pytest.raises(ServerError) as failure:
        artifact.download(str(tmp_path / "out"))
    assert LISTING in str(failure.value) and failure.value.status == 500
    assert server.request_log.count(operation=LISTING) == 4  # FAST_RETRY's attempts, all spent
    assert server.request_log.count(path=MANIFESTS) == 1
    assert server.request_log.count(path=BLOBS) == 0
    assert listing_threads() == []
    assert not (tmp_path / "out").exists()
    server.faults.clear()
    artifact.download(str(tmp_path / "out"))  # the manifest was kept; the URLs are asked again
    assert server.request_log.count(path=MANIFESTS) == 1
    assert server.request_log.count(operation=LISTING) == 5
    assert tree(tmp_path / "out") == TWO_FILES


def test_file_of_a_many_file_artifact_fails_on_the_manifest_alone(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    server.faults.add(Fault("status", path="/graphql", operation=LISTING, status=500, times=9))
    with pytest.raises(InvalidInputError, match="has 2 files; file\\(\\) needs exactly one"):
        artifact.file()
    assert listing_threads() == []
    with pytest.raises(InvalidInputError, match="has 2 files"):
        artifact.file()  # the manifest was kept: nothing is asked again
    assert server.request_log.count(path=MANIFESTS) == 1


def test_an_artifact_of_references_only_needs_no_listing_even_a_failing_one(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sequential order never asked for URLs when no file is stored: the concurrent
    listing's failure is dropped, not raised."""
    server.create_artifact(entity, project, "refs", "dataset", {"far.txt": b"f"})
    stored = server.store.resolve_artifact(entity, project, "refs:v0")
    assert stored is not None
    stored.entries["far.txt"].ref = "s3://elsewhere/far.txt"
    server.faults.add(Fault("status", path="/graphql", operation=LISTING, status=500, times=9))
    root = api.artifact(f"{entity}/{project}/refs:v0").download(str(tmp_path / "refs"))
    assert root == str(tmp_path / "refs")
    assert "skipped 1 reference entries" in caplog.text
    assert server.request_log.count(path=BLOBS) == 0
    assert listing_threads() == []


def test_a_download_after_a_lookup_by_name_asks_no_manifest_query(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    server.request_log.clear()
    artifact.download(str(tmp_path / "out"))

    assert server.request_log.count(operation="FetchArtifactManifest") == 0
    assert server.request_log.count(path=MANIFESTS) == 1
    assert tree(tmp_path / "out") == TWO_FILES


def test_an_old_manifest_url_is_not_used(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artifact = api.artifact(published(server, entity, project, TWO_FILES))
    monkeypatch.setattr(artifact_fetch, "MANIFEST_URL_FRESH_FOR", 0.0)  # every URL is old
    server.request_log.clear()
    artifact.download(str(tmp_path / "out"))
    assert server.request_log.count(operation="FetchArtifactManifest") == 1
    assert tree(tmp_path / "out") == TWO_FILES


def test_an_expired_manifest_url_from_the_lookup_is_renewed(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.urls.url_ttl = 2.0  # whole seconds: the lookup's URL lives 1 to 2 s
    try:
        artifact = api.artifact(published(server, entity, project, TWO_FILES))
        time.sleep(2.1)
    finally:
        server.urls.url_ttl = 3600.0
    server.request_log.clear()
    artifact.download(str(tmp_path / "out"))

    assert server.request_log.count(path=MANIFESTS, status=403) == 1  # expired
    assert server.request_log.count(operation="FetchArtifactManifest") == 1  # a fresh URL
    assert tree(tmp_path / "out") == TWO_FILES


def test_file_of_an_artifact_whose_only_entry_is_a_reference_says_so(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_artifact(entity, project, "one-ref", "dataset", {"far.txt": b"f"})
    stored = server.store.resolve_artifact(entity, project, "one-ref:v0")
    assert stored is not None
    stored.entries["far.txt"].ref = "s3://elsewhere/far.txt"
    with pytest.raises(InvalidInputError, match=r"'far.txt', is a reference to s3://elsewhere"):
        api.artifact(f"{entity}/{project}/one-ref:v0").file(str(tmp_path / "one"))
    assert not (tmp_path / "one").exists()
    assert listing_threads() == []
