"""Drafts of new artifact versions and the pipeline that publishes them, with no run process.

A draft collects manifest entries: local files (hashed when added, uploaded when published) and
references (`s3://`, `gs://`, `file://`, `http(s)://`; digest from the store's ETag or md5, never
uploaded). `publish_draft` runs the save pipeline of the protocol notes (§1.4, §2.12):

    createArtifact (digest dedup) -> createArtifactManifest -> createArtifactFiles
    -> PUT each file the server lacks (parallel, retried, Content-MD5, streamed from disk)
    -> PUT the manifest JSON -> commitArtifact

Until the commit the version is PENDING and invisible. A publish that fails part-way leaves it
PENDING; running the same publish again resumes that version and uploads only what the server
does not hold yet, and once committed, identical content returns the committed version.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import posixpath
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from prefect_wandb_public.api import destinations
from prefect_wandb_public.api.download import b64_md5, display_url, md5_of_stream, retry_delay
from prefect_wandb_public.api.names import (
    check_aliases,
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
)
from prefect_wandb_public.api.transport import RetryPolicy, Transport
from prefect_wandb_public.errors import ChecksumError, CommError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

MAX_METADATA_KEYS = 100
DEFAULT_UPLOAD_WORKERS = 8
MANIFEST_NAME = "wandb_manifest.json"
# Files up to this size are read whole and sent as one buffer; larger ones stream from disk.
BUFFERED_UPLOAD_LIMIT = 8 << 20
FILES_PER_REQUEST = 1000
REFERENCE_SCHEMES = ("s3", "gs", "gcs", "file", "http", "https")
_ONE_ATTEMPT = RetryPolicy(max_attempts=1)
_GAVE_UP = " (gave up after "
# A query string in a message (presigned and signed URLs carry credentials there).
_QUERY_RE = re.compile(r"\?[^\s'\"()]*")


# ---------------------------------------------------------------------- input checks
def publish_aliases(aliases: Sequence[str] | None) -> list[str]:
    """`latest` first, then the custom aliases in order, each once (checked)."""
    return list(dict.fromkeys(["latest", *check_aliases(aliases)]))


def check_metadata(metadata: Any) -> dict[str, Any]:
    """A dict of at most 100 keys that survives strict JSON (no NaN or infinities)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"artifact metadata must be a dict, got {type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"artifact metadata is not JSON-serializable: {exc}") from exc
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidInputError(f"artifact metadata has over {MAX_METADATA_KEYS} keys")
    return dict(metadata)


# ---------------------------------------------------------------------- manifest entries
@dataclass(frozen=True)
class ArtifactManifestEntry:
    """One file of an artifact: path, digest (base64 md5 for stored files), size, the reference
    URI if the bytes live elsewhere, and (in drafts) the local file that will be uploaded."""

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    local_path: str | None = None

    def to_json(self, birth_artifact_id: str | None = None) -> dict[str, Any]:
        """The entry as manifest JSON holds it (its path is the key, not a field)."""
        item: dict[str, Any] = {"digest": self.digest}
        if self.ref is not None:
            item["ref"] = self.ref
        birth = self.birth_artifact_id or (birth_artifact_id if self.ref is None else None)
        if birth is not None:
            item["birthArtifactID"] = birth
        if self.size is not None:
            item["size"] = self.size
        if self.extra:
            item["extra"] = dict(self.extra)
        return item


def manifest_digest(digests: Mapping[str, str]) -> str:
    """The artifact digest: hex md5 over a header and `path:digest` lines sorted by path."""
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(digests):
        hasher.update(f"{path}:{digests[path]}\n".encode())
    return hasher.hexdigest()


def md5_file(path: str) -> tuple[str, int]:
    """(base64 md5, size) of a local file, read in chunks."""
    with open(path, "rb") as handle:
        return md5_of_stream(handle)


class DraftContents:
    """The entries of a draft by path, plus a scratch directory (removed with the draft) for
    files written through `new_file`."""

    def __init__(self) -> None:
        self.entries: dict[str, ArtifactManifestEntry] = {}
        self._scratch: str | None = None
        self._counter = itertools.count()

    def add(self, entry: ArtifactManifestEntry, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add one entry; a different entry already at its path needs `overwrite`."""
        check_entry_path(entry.path)
        existing = self.entries.get(entry.path)
        same = existing is None or (existing.digest, existing.ref) == (entry.digest, entry.ref)
        if not same and not overwrite:
            raise InvalidInputError(
                f"the artifact already has a different file at {entry.path!r} "
                "(pass overwrite=True to replace it)"
            )
        self.entries[entry.path] = entry
        return entry

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False
    ) -> ArtifactManifestEntry:
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise InvalidInputError(f"cannot add {path!r} to the artifact: not an existing file")
        entry_name = check_entry_path(name if name is not None else os.path.basename(path))
        digest, size = md5_file(path)
        entry = ArtifactManifestEntry(entry_name, digest, size, local_path=os.path.abspath(path))
        return self.add(entry, overwrite)

    def add_dir(
        self, local_dir: str | os.PathLike[str], name: str | None = None
    ) -> list[ArtifactManifestEntry]:
        root = os.fspath(local_dir)
        if not os.path.isdir(root):
            raise InvalidInputError(f"cannot add {root!r} to the artifact: not a directory")
        prefix = check_entry_path(name.strip("/")) if name else ""
        files = [
            os.path.join(folder, file)
            for folder, _, names in os.walk(root)
            for file in sorted(names)
        ]
        names = [
            posixpath.join(prefix, os.path.relpath(p, root).replace(os.sep, "/")) for p in files
        ]
        for entry_name in names:
            check_entry_path(entry_name)
        with ThreadPoolExecutor(min(8, max(1, len(files)))) as pool:
            hashed = list(pool.map(md5_file, files))
        entries = [
            ArtifactManifestEntry(n, digest, size, local_path=os.path.abspath(p))
            for n, p, (digest, size) in zip(names, files, hashed, strict=True)
        ]
        return [self.add(entry) for entry in entries]

    def add_reference(
        self, uri: str, name: str | None = None, checksum: bool = True
    ) -> list[ArtifactManifestEntry]:
        entries = reference_entries(uri, name, checksum)
        return [self.add(entry) for entry in entries]

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Open a scratch file for writing; on a clean exit it becomes entry `name`."""
        check_entry_path(name)
        if not isinstance(mode, str) or mode[:1] not in ("w", "x") or set(mode[1:]) - set("bt+"):
            raise InvalidInputError(f"new_file mode must be a write mode ('w', 'wb'), not {mode!r}")
        if name in self.entries:
            raise InvalidInputError(f"the artifact already has a file at {name!r}")
        folder = os.path.join(self.scratch_dir(), str(next(self._counter)))
        os.makedirs(folder)
        path = os.path.join(folder, posixpath.basename(name))
        with open(path, mode, encoding=encoding) as handle:
            yield handle
        self.add_file(path, name)

    def scratch_dir(self) -> str:
        """A private temporary directory, deleted when this draft is garbage-collected."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="wandb-artifact-draft-")
            weakref.finalize(self, shutil.rmtree, self._scratch, ignore_errors=True)
        return self._scratch

    def digest(self) -> str:
        return manifest_digest({path: e.digest for path, e in self.entries.items()})

    @property
    def size(self) -> int:
        return sum(e.size or 0 for e in self.entries.values())

    def manifest_json(self, birth_artifact_id: str) -> dict[str, Any]:
        """Manifest JSON v1, stored files born in `birth_artifact_id`."""
        return {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {
                path: self.entries[path].to_json(birth_artifact_id) for path in sorted(self.entries)
            },
        }

    def check_local_files(self) -> None:
        """Every local file still exists with the size it had when added."""
        for entry in self.entries.values():
            if entry.local_path is None:
                continue
            try:
                size = os.stat(entry.local_path).st_size
            except OSError as exc:
                raise InvalidInputError(
                    f"file {entry.local_path!r} (artifact path {entry.path!r}) is gone: {exc}"
                ) from exc
            if size != entry.size:
                raise InvalidInputError(
                    f"file {entry.local_path!r} changed since it was added (size {entry.size} "
                    f"then, {size} now); add it again"
                )


# ---------------------------------------------------------------------- references
def reference_entries(uri: Any, name: str | None, checksum: bool) -> list[ArtifactManifestEntry]:
    """Entries for an object or prefix at `uri`: digests from the store (ETag, md5), never bytes.

    With `checksum=False` the URI itself is the digest (nothing is read).
    """
    if not isinstance(uri, str) or "://" not in uri:
        raise InvalidInputError(f"reference {uri!r} must be a URI such as s3://bucket/key")
    scheme = uri.split("://", 1)[0].lower()
    if scheme not in REFERENCE_SCHEMES:
        raise InvalidInputError(
            f"reference {uri!r}: unsupported scheme {scheme!r} (use one of {REFERENCE_SCHEMES})"
        )
    if name is not None:
        check_entry_path(name)
    if scheme == "file":
        return _file_reference(uri, name, checksum)
    if not checksum:
        return [ArtifactManifestEntry(name or _last_part(uri), uri, ref=uri)]
    if scheme in ("http", "https"):
        return [_http_reference(uri, name)]
    return _object_store_reference(uri, name)


def _last_part(uri: str) -> str:
    return urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1] or urlsplit(uri).netloc


def _file_reference(uri: str, name: str | None, checksum: bool) -> list[ArtifactManifestEntry]:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise InvalidInputError(f"reference {uri!r}: file:// URIs name no host")
    local = unquote(parts.path)

    def digest_of(path: str) -> str:
        if checksum:
            return md5_file(path)[0]
        return b64_md5(Path(path).resolve().as_uri().encode())

    if os.path.isfile(local):
        return [
            ArtifactManifestEntry(
                name or os.path.basename(local),
                digest_of(local),
                os.path.getsize(local),
                ref=uri,
            )
        ]
    if not os.path.isdir(local):
        raise InvalidInputError(f"reference {uri!r}: no such file or directory {local!r}")
    entries = []
    base = uri.rstrip("/")
    for folder, _, files in os.walk(local):
        for file in sorted(files):
            path = os.path.join(folder, file)
            relative = os.path.relpath(path, local).replace(os.sep, "/")
            entries.append(
                ArtifactManifestEntry(
                    posixpath.join(name or "", relative),
                    digest_of(path),
                    os.path.getsize(path),
                    ref=f"{base}/{relative}",
                )
            )
    return entries


@cache
def _reference_transport() -> Transport:
    """The transport that reads http(s) references: retries, the user agent and typed errors,
    and no credentials to send (its base URL is a reserved `.invalid` host, so no reference URL
    is ever under it). Drafts have no client, so they share this one."""
    return Transport("https://references.invalid", secrets.token_hex(20))


def _http_reference(uri: str, name: str | None) -> ArtifactManifestEntry:
    """An http(s) object: its ETag (quotes removed) is the digest, else the URL itself; the
    size is its Content-Length. Asked with HEAD (GET, unread, when HEAD is refused)."""
    transport = _reference_transport()
    shown = display_url(uri)
    try:
        try:
            response = transport.request("HEAD", uri)
        except CommError as exc:
            if exc.status not in (405, 501):
                raise
            response = transport.request("GET", uri, stream=True)
        response.close()
    except NotFoundError:
        raise InvalidInputError(f"reference {shown!r}: not found (HTTP 404)") from None
    except CommError as exc:
        detail = "HTTP 401" if exc.status == 401 else _QUERY_RE.sub("", exc.message)
        raise type(exc)(
            f"reference {shown!r}: {detail}", status=exc.status, url=shown, retryable=exc.retryable
        ) from None
    etag = response.headers.get("ETag")
    size = response.headers.get("Content-Length")
    return ArtifactManifestEntry(
        name or _last_part(uri),
        etag.strip('"') if etag else uri,
        int(size) if size and size.isdigit() else None,
        ref=uri,
        extra={"etag": etag} if etag else {},
    )


def _object_store_reference(uri: str, name: str | None) -> list[ArtifactManifestEntry]:
    """An s3:// or gs:// object (or every object under a prefix), digest from its ETag."""
    fs, path = destinations.resolve(uri, what="reference")
    path = path.rstrip("/")
    scheme = uri.split("://", 1)[0].lower()
    try:
        info = fs.info(path)
    except FileNotFoundError:
        info = {"type": "directory"}
    except OSError as exc:
        raise CommError(f"reference {uri!r}: {exc}") from exc
    if info.get("type") != "directory":
        return [_object_entry(scheme, info, name or posixpath.basename(path), uri)]
    found = fs.find(path, detail=True)
    if not found:
        raise InvalidInputError(f"reference {uri!r}: no object or prefix at that URI")
    entries = []
    for key in sorted(found):
        detail = found[key]
        if not detail.get("size"):
            continue
        relative = key[len(path) :].lstrip("/")
        entries.append(
            _object_entry(scheme, detail, posixpath.join(name or "", relative), f"{scheme}://{key}")
        )
    return entries


def _object_entry(
    scheme: str, info: Mapping[str, Any], path: str, ref: str
) -> ArtifactManifestEntry:
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    version = info.get("VersionId") or info.get("generation")
    extra: dict[str, Any] = {"etag": etag} if etag and scheme == "s3" else {}
    if version and version != "null":
        extra["versionID"] = version
    return ArtifactManifestEntry(
        path, etag or ref, int(info.get("size") or 0), ref=ref, extra=extra
    )


# ---------------------------------------------------------------------- the pipeline
@cache
def _mutations() -> dict[str, str]:
    """The save pipeline's operations (their artifact fields are the ones `Artifact` reads)."""
    from prefect_wandb_public.api.artifacts import ARTIFACT_FIELDS

    return {
        "project": """
mutation UpsertModel($input: UpsertModelInput!) { upsertModel(input: $input) { project { id } } }
""",
        "auto_run": """
mutation CreateAutoRun($entity: String, $project: String, $name: String!) {
  upsertBucket(input: {entityName: $entity, modelName: $project, name: $name,
                       jobType: "auto", state: "finished"}) { bucket { id } }
}
""",
        "create": """
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { %s } }
}
"""
        % ARTIFACT_FIELDS,
        "manifest": """
mutation CreateArtifactManifest($input: CreateArtifactManifestInput!) {
  createArtifactManifest(input: $input) {
    artifactManifest { id file { id uploadUrl uploadHeaders } }
  }
}
""",
        "files": """
mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files { edges { node { name storagePath uploadUrl uploadHeaders } } }
  }
}
""",
        "by_id": """
query ArtifactByID($id: ID!) { artifact(id: $id) { %s } }
"""
        % ARTIFACT_FIELDS,
        "commit": """
mutation CommitArtifact($input: CommitArtifactInput!) {
  commitArtifact(input: $input) { artifact { %s } }
}
"""
        % ARTIFACT_FIELDS,
    }


@dataclass(frozen=True)
class DraftSpec:
    """What a publish needs from a draft: its names, description, metadata and contents."""

    name: str
    type: str
    description: str | None
    metadata: dict[str, Any]
    contents: DraftContents

    def check(self) -> None:
        """Everything that can be checked before the first request."""
        check_artifact_name(self.name)
        check_artifact_type(self.type, self.name)
        check_metadata(self.metadata)
        if self.description is not None and not isinstance(self.description, str):
            raise InvalidInputError(f"artifact description must be a string: {self.description!r}")
        if not self.contents.entries:
            raise InvalidInputError(
                f"artifact {self.name!r} is empty: add files, directories or references first"
            )
        self.contents.check_local_files()


@dataclass(frozen=True)
class _Upload:
    """One file to PUT: where, with which headers, from which local path."""

    entry: ArtifactManifestEntry
    url: str
    headers: dict[str, str]


def publish_draft(
    client: Api,
    draft: DraftSpec,
    *,
    entity: str,
    project: str,
    run_id: str | None,
    aliases: Sequence[str],
    tags: Sequence[str] = (),
    create_project: bool = False,
    workers: int = DEFAULT_UPLOAD_WORKERS,
) -> dict[str, Any]:
    """Publish `draft` as a version of `entity/project/<name>`; returns the committed
    artifact's fields. The draft and aliases must have been checked already."""
    transport = client.transport
    ops = _mutations()
    if create_project:
        transport.graphql(ops["project"], {"input": {"name": project, "entityName": entity}})
    contents = draft.contents
    created = transport.graphql(
        ops["create"],
        {
            "input": {
                "artifactTypeName": draft.type,
                "artifactCollectionName": draft.name,
                "entityName": entity,
                "projectName": project,
                "runName": run_id,
                "description": draft.description,
                "metadata": json.dumps(draft.metadata),
                "digest": contents.digest(),
                "digestAlgorithm": "MANIFEST_MD5",
                "aliases": [{"artifactCollectionName": draft.name, "alias": a} for a in aliases],
                "tags": [{"tagName": t} for t in tags],
                "clientID": str(uuid.uuid4()),
                "sequenceClientID": str(uuid.uuid4()),
                "enableDigestDeduplication": True,
            }
        },
    )["createArtifact"]["artifact"]
    state = created.get("state")
    if state == "COMMITTED":
        return dict(created)
    if state != "PENDING":
        raise CommError(f"createArtifact returned {draft.name!r} in state {state!r}")
    artifact_id = created["id"]
    try:
        return _upload_and_commit(
            transport,
            ops,
            draft,
            artifact_id,
            entity=entity,
            project=project,
            run_id=run_id,
            workers=workers,
        )
    except CommError:
        # An identical publish running at the same time may have committed this very version
        # first (the server hands both the same PENDING version): that is success, not failure.
        data = transport.graphql(ops["by_id"], {"id": artifact_id})
        twin = data.get("artifact") or {}
        if twin.get("state") == "COMMITTED":
            return dict(twin)
        raise


def _upload_and_commit(
    transport: Transport,
    ops: Mapping[str, str],
    draft: DraftSpec,
    artifact_id: str,
    *,
    entity: str,
    project: str,
    run_id: str | None,
    workers: int,
) -> dict[str, Any]:
    """Manifest, files, manifest bytes, commit: the steps after `createArtifact`."""
    contents = draft.contents
    if run_id is None:
        # The service declares the manifest's run as required (`runName: String!`), so a
        # publish without a run gets a small run of its own, as the SDK's `wandb.init(job_type=
        # "auto")` does; a deduplicated publish (above) creates none.
        run_id = "auto-" + uuid.uuid4().hex[:8]
        transport.graphql(ops["auto_run"], {"entity": entity, "project": project, "name": run_id})
    manifest_body = json.dumps(
        contents.manifest_json(artifact_id), separators=(",", ":"), sort_keys=True
    ).encode()
    manifest_md5 = b64_md5(manifest_body)
    manifest = transport.graphql(
        ops["manifest"],
        {
            "input": {
                "artifactID": artifact_id,
                "name": MANIFEST_NAME,
                "digest": manifest_md5,
                "entityName": entity,
                "projectName": project,
                "runName": run_id,
                "type": "FULL",
            }
        },
    )["createArtifactManifest"]["artifactManifest"]
    uploads = _upload_urls(transport, ops["files"], artifact_id, manifest["id"], contents)
    _upload_all(transport, uploads, workers)
    manifest_file = manifest.get("file") or {}
    if not manifest_file.get("uploadUrl"):
        raise CommError(f"the server gave no upload URL for the manifest of {draft.name!r}")
    _put(
        transport,
        manifest_file["uploadUrl"],
        manifest_body,
        {**_header_map(manifest_file.get("uploadHeaders")), "Content-MD5": manifest_md5},
        f"the manifest of {draft.name!r}",
    )
    committed = transport.graphql(ops["commit"], {"input": {"artifactID": artifact_id}})
    return dict(committed["commitArtifact"]["artifact"])


def _upload_urls(
    transport: Transport, query: str, artifact_id: str, manifest_id: str, contents: DraftContents
) -> list[_Upload]:
    """Ask for upload URLs of every stored entry; the files the server already holds come back
    without one. Returns one upload per distinct content still missing."""
    stored = [e for e in contents.entries.values() if e.ref is None]
    uploads: dict[str, _Upload] = {}
    for start in range(0, len(stored), FILES_PER_REQUEST):
        batch = stored[start : start + FILES_PER_REQUEST]
        specs = [
            {
                "artifactID": artifact_id,
                "name": e.path,
                "md5": e.digest,
                "artifactManifestID": manifest_id,
            }
            for e in batch
        ]
        data = transport.graphql(query, {"input": {"storageLayout": "V2", "artifactFiles": specs}})
        edges = ((data.get("createArtifactFiles") or {}).get("files") or {}).get("edges") or []
        if len(edges) != len(batch):
            raise CommError(
                f"createArtifactFiles answered {len(edges)} files for {len(batch)} requested"
            )
        for entry, edge in zip(batch, edges, strict=True):
            node = edge.get("node") or {}
            url = node.get("uploadUrl")
            if url and entry.digest not in uploads:
                headers = _header_map(node.get("uploadHeaders"))
                uploads[entry.digest] = _Upload(entry, url, headers)
    return list(uploads.values())


def _header_map(lines: Sequence[str] | None) -> dict[str, str]:
    """`["Key:Value", ...]` (the service's uploadHeaders) as a dict."""
    pairs = (line.split(":", 1) for line in lines or [] if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _upload_all(transport: Transport, uploads: Sequence[_Upload], workers: int) -> None:
    """PUT every upload on a bounded pool; the first failure stops the ones not yet started."""
    if not uploads:
        return
    stop = threading.Event()

    def upload(item: _Upload) -> None:
        if stop.is_set():
            return
        try:
            _upload_file(transport, item, stop)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(min(workers, len(uploads)), thread_name_prefix="wandb-upload") as pool:
        futures = [pool.submit(upload, item) for item in uploads]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error


def _upload_file(transport: Transport, item: _Upload, stop: threading.Event) -> None:
    """PUT one local file: small files as one buffer (the transport retries it), large ones
    streamed from disk (reopened for every attempt)."""
    entry = item.entry
    local_path = entry.local_path
    assert local_path is not None and entry.size is not None
    headers = {**item.headers, "Content-MD5": entry.digest}
    label = repr(local_path)
    try:
        if entry.size > BUFFERED_UPLOAD_LIMIT:
            _put_streamed(transport, item.url, local_path, headers, label, stop)
        else:
            with open(local_path, "rb") as handle:
                body = handle.read()
            _put(transport, item.url, body, headers, label)
    except CommError as exc:
        if exc.status == 400 and md5_file(local_path)[0] != entry.digest:
            raise ChecksumError(
                f"file {local_path!r} changed since it was added to the artifact "
                f"(as {entry.path!r}); add it again"
            ) from exc
        raise


def _label(exc: CommError, label: str) -> None:
    """Make `exc`'s message say what was being uploaded."""
    exc.message = f"uploading {label}: {exc.message}"
    exc.args = (exc.message,)


def _put(
    transport: Transport, url: str, body: bytes, headers: Mapping[str, str], label: str
) -> None:
    """PUT a buffered body; the transport retries it as its policy says."""
    try:
        transport.request("PUT", url, data=body, headers=headers).close()
    except CommError as exc:
        _label(exc, label)
        raise


def _put_streamed(
    transport: Transport,
    url: str,
    path: str,
    headers: Mapping[str, str],
    label: str,
    stop: threading.Event,
) -> None:
    """PUT a local file streamed from disk, reopened for every attempt (a file object cannot be
    re-sent), with the transport's retry policy and sleep; stops retrying once `stop` is set."""
    started = time.monotonic()
    for attempt in itertools.count(1):
        try:
            with open(path, "rb") as handle:
                transport.request(
                    "PUT", url, data=handle, headers=headers, retry=_ONE_ATTEMPT
                ).close()
            return
        except CommError as exc:
            delay = retry_delay(transport.retry, attempt, started)
            if not exc.retryable or delay is None or stop.is_set():
                message = exc.message.split(_GAVE_UP, 1)[0]
                exc.message = (
                    f"{message} (gave up after {attempt} attempt{'s' if attempt > 1 else ''} "
                    f"in {time.monotonic() - started:.1f} s)"
                )
                _label(exc, label)
                raise
            transport._sleep(delay)
