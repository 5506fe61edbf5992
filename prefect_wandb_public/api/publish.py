"""Publishing a draft as a new artifact version, with no run process.

`publish_draft` runs the save pipeline of the protocol notes (§1.4, §2.12):

    createArtifact (digest dedup) -> createArtifactManifest -> createArtifactFiles
    -> PUT each file the server lacks (parallel, retried, Content-MD5, streamed from disk;
       large files in parts, `api/multipart.py`, then completeMultipartUploadArtifact)
    -> PUT the manifest JSON -> commitArtifact

Until the commit the version is PENDING and invisible. A publish that fails part-way leaves it
PENDING; running the same publish again resumes that version and uploads only what the server
does not hold yet, and once committed, identical content returns the committed version.

`publish`, `log_artifact` and `use_artifact` are what `Api.log_artifact`, `Run.log_artifact` and
`Run.use_artifact` call: they check the inputs and return `Artifact` objects.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.download import b64_md5
from prefect_wandb_public.api.drafts import DraftContents, DraftSpec, md5_file, publish_aliases
from prefect_wandb_public.api.manifest import ArtifactManifestEntry
from prefect_wandb_public.api.multipart import (
    MultipartFile,
    Part,
    PartHashes,
    complete,
    multipart_file,
    parts_input,
    put_part,
)
from prefect_wandb_public.api.names import check_aliases, check_tags
from prefect_wandb_public.api.progress import ProgressCallback, ProgressTracker
from prefect_wandb_public.api.queries.artifacts import (
    ARTIFACT_BY_ID_QUERY,
    COMMIT_ARTIFACT_MUTATION,
    CREATE_ARTIFACT_FILES_MUTATION,
    CREATE_ARTIFACT_MUTATION,
    CREATE_AUTO_RUN_MUTATION,
    CREATE_MANIFEST_MUTATION,
    SAVE_ARTIFACT_MUTATION,
    UPSERT_PROJECT_MUTATION,
    USE_ARTIFACT_MUTATION,
)
from prefect_wandb_public.api.transfers import TransferSettings, part_ranges
from prefect_wandb_public.api.transport import Transport
from prefect_wandb_public.errors import (
    ChecksumError,
    CommError,
    InvalidInputError,
    UploadTooLargeError,
)

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.runs import Run

DEFAULT_UPLOAD_WORKERS = 8
MANIFEST_NAME = "wandb_manifest.json"
# Files up to this size are read whole and sent as one buffer; larger ones stream from disk.
BUFFERED_UPLOAD_LIMIT = 8 << 20
FILES_PER_REQUEST = 1000


@dataclass(frozen=True)
class _Upload:
    """One file to PUT: where, with which headers, from which local path; `multipart` when it
    goes up in parts."""

    entry: ArtifactManifestEntry
    url: str
    headers: dict[str, str]
    multipart: MultipartFile | None = None


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
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Publish `draft` as a version of `entity/project/<name>`; returns the committed
    artifact's fields. The draft and aliases must have been checked already. `progress` hears
    of each file the server lacks once it is uploaded (bytes and files)."""
    transport = client.transport
    contents = draft.contents
    # The part md5s of large files hash while the GraphQL calls before createArtifactFiles are
    # in flight (dropped if the version turns out to exist already).
    hashes = PartHashes(_multipart_files(contents, client.transfers), workers)
    try:
        if create_project:
            transport.graphql(
                UPSERT_PROJECT_MUTATION, {"input": {"name": project, "entityName": entity}}
            )
        created = transport.graphql(
            SAVE_ARTIFACT_MUTATION,
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
                    "aliases": [
                        {"artifactCollectionName": draft.name, "alias": a} for a in aliases
                    ],
                    "tags": [{"tagName": t} for t in tags],
                    "clientID": str(uuid.uuid4()),
                    "sequenceClientID": str(uuid.uuid4()),
                    "enableDigestDeduplication": True,
                    **(
                        {"ttlDurationSeconds": draft.ttl_duration_seconds}
                        if draft.ttl_duration_seconds is not None
                        else {}
                    ),
                }
            },
        )["createArtifact"]["artifact"]
        state = created.get("state")
        if state == "COMMITTED":  # identical content: nothing to upload
            ProgressTracker(
                progress, "upload", f"{entity}/{project}/{draft.name}", total=0
            ).finish()
            return dict(created)
        if state != "PENDING":
            raise CommError(f"createArtifact returned {draft.name!r} in state {state!r}")
        artifact_id = created["id"]
        try:
            return _upload_and_commit(
                transport,
                draft,
                artifact_id,
                entity=entity,
                project=project,
                run_id=run_id,
                workers=workers,
                progress=progress,
                transfers=client.transfers,
                hashes=hashes,
            )
        except CommError:
            # An identical publish running at the same time may have committed this very version
            # first (the server hands both the same PENDING version): that is success, not failure.
            data = transport.graphql(ARTIFACT_BY_ID_QUERY, {"id": artifact_id})
            twin = data.get("artifact") or {}
            if twin.get("state") == "COMMITTED":
                return dict(twin)
            raise
    finally:
        hashes.cancel()


def _upload_and_commit(
    transport: Transport,
    draft: DraftSpec,
    artifact_id: str,
    *,
    entity: str,
    project: str,
    run_id: str | None,
    workers: int,
    transfers: TransferSettings,
    hashes: PartHashes,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Manifest, files and manifest bytes (in parallel), commit: the steps after
    `createArtifact`."""
    contents = draft.contents
    if run_id is None:
        # The service declares the manifest's run as required (`runName: String!`), so a
        # publish without a run gets a small run of its own, as the SDK's `wandb.init(job_type=
        # "auto")` does; a deduplicated publish (above) creates none.
        run_id = "auto-" + uuid.uuid4().hex[:8]
        transport.graphql(
            CREATE_AUTO_RUN_MUTATION, {"entity": entity, "project": project, "name": run_id}
        )
    manifest_body = json.dumps(
        contents.manifest_json(artifact_id), separators=(",", ":"), sort_keys=True
    ).encode()
    manifest_md5 = b64_md5(manifest_body)
    manifest = transport.graphql(
        CREATE_MANIFEST_MUTATION,
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
    manifest_file = manifest.get("file") or {}
    if not manifest_file.get("uploadUrl"):
        raise CommError(f"the server gave no upload URL for the manifest of {draft.name!r}")
    uploads = _upload_urls(transport, artifact_id, manifest["id"], contents, transfers, hashes)
    if any(upload.multipart is not None for upload in uploads):
        workers = max(workers, transfers.part_workers)
    tracker = ProgressTracker(
        progress,
        "upload",
        f"{entity}/{project}/{draft.name}",
        total=sum(item.entry.size or 0 for item in uploads),
        files_total=len(uploads),
    )
    tracker.start()
    # The manifest's bytes go up alongside the files (nothing is visible before the commit).
    put_manifest = functools.partial(
        _put,
        transport,
        manifest_file["uploadUrl"],
        manifest_body,
        {**_header_map(manifest_file.get("uploadHeaders")), "Content-MD5": manifest_md5},
        f"the manifest of {draft.name!r}",
    )
    _upload_all(transport, uploads, workers, tracker, also=[put_manifest])
    for upload in uploads:
        if upload.multipart is not None:
            _complete(transport, upload, artifact_id, manifest["id"])
    tracker.finish()
    committed = transport.graphql(COMMIT_ARTIFACT_MUTATION, {"input": {"artifactID": artifact_id}})
    return dict(committed["commitArtifact"]["artifact"])


def _upload_urls(
    transport: Transport,
    artifact_id: str,
    manifest_id: str,
    contents: DraftContents,
    transfers: TransferSettings,
    hashes: PartHashes,
) -> list[_Upload]:
    """Ask for upload URLs of every stored entry; the files the server already holds come back
    without one. Files of at least the multipart threshold are announced with their parts
    (`hashes`). Returns one upload per distinct content still missing."""
    stored = [e for e in contents.entries.values() if e.ref is None]
    uploads: dict[str, _Upload] = {}
    for start in range(0, len(stored), FILES_PER_REQUEST):
        batch = stored[start : start + FILES_PER_REQUEST]
        digests = {e.digest: hashes.get(e.digest) for e in batch if e.digest in hashes}
        nodes = _create_artifact_files(transport, artifact_id, manifest_id, batch, digests)
        for entry, node in zip(batch, nodes, strict=True):
            url = node.get("uploadUrl")
            if url and entry.digest not in uploads:
                headers = _header_map(node.get("uploadHeaders"))
                multipart = None
                if entry.digest in digests:
                    if not node.get("uploadMultipartUrls"):
                        raise CommError(
                            f"the server offered no multipart upload for {entry.path!r} "
                            f"({entry.size} bytes, sent with its {len(digests[entry.digest])} "
                            "parts)"
                        )
                    multipart = multipart_file(
                        node,
                        entry.local_path or "",
                        repr(entry.local_path),
                        _part_ranges(entry, transfers),
                        digests[entry.digest],
                        headers,
                        artifact_id,
                    )
                uploads[entry.digest] = _Upload(entry, url, headers, multipart)
    return list(uploads.values())


def _complete(transport: Transport, upload: _Upload, artifact_id: str, manifest_id: str) -> None:
    """`completeMultipartUploadArtifact` for one file, retried by the transport. A completion
    whose answer was lost after the service applied it closed the upload, so its retry is
    refused (S3's NoSuchUpload); whether the file is stored then is asked the protocol's way:
    `createArtifactFiles` for the file without its parts answers no `uploadUrl` for a stored
    blob (and opens no new multipart upload for a missing one). Stored: done; else the
    completion's own error is raised."""
    assert upload.multipart is not None
    try:
        complete(transport, upload.multipart)
    except CommError as failure:
        try:
            [node] = _create_artifact_files(transport, artifact_id, manifest_id, [upload.entry])
        except CommError:
            raise failure from None
        if not node.get("uploadUrl"):
            return  # stored: the lost answer was a success
        raise


def _create_artifact_files(
    transport: Transport,
    artifact_id: str,
    manifest_id: str,
    entries: Sequence[ArtifactManifestEntry],
    parts: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`createArtifactFiles` for `entries` (those whose digest is in `parts` announced with
    that part list); returns the service's file node for each entry, in order."""
    parts = parts or {}
    specs = [
        {
            "artifactID": artifact_id,
            "name": e.path,
            "md5": e.digest,
            "artifactManifestID": manifest_id,
            **({"uploadPartsInput": parts_input(parts[e.digest])} if e.digest in parts else {}),
        }
        for e in entries
    ]
    data = transport.graphql(
        CREATE_ARTIFACT_FILES_MUTATION,
        {"input": {"storageLayout": "V2", "artifactFiles": specs}},
    )
    edges = ((data.get("createArtifactFiles") or {}).get("files") or {}).get("edges") or []
    if len(edges) != len(entries):
        raise CommError(
            f"createArtifactFiles answered {len(edges)} files for {len(entries)} requested"
        )
    return [dict(edge.get("node") or {}) for edge in edges]


def _multipart_files(
    contents: DraftContents, transfers: TransferSettings
) -> dict[str, tuple[str, list[tuple[int, int]]]]:
    """The stored entries that go up in parts (a local copy of at least the multipart
    threshold), by digest: their local path and part ranges."""
    return {
        e.digest: (e.local_path, _part_ranges(e, transfers))
        for e in contents.entries.values()
        if e.ref is None
        and e.size is not None
        and e.local_path is not None
        and e.size >= transfers.multipart_upload_threshold
    }


def _part_ranges(
    entry: ArtifactManifestEntry, transfers: TransferSettings
) -> list[tuple[int, int]]:
    return part_ranges(entry.size or 0, transfers.upload_part_size)


def _header_map(lines: Sequence[str] | None) -> dict[str, str]:
    """`["Key:Value", ...]` (the service's uploadHeaders) as a dict."""
    pairs = (line.split(":", 1) for line in lines or [] if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _upload_all(
    transport: Transport,
    uploads: Sequence[_Upload],
    workers: int,
    tracker: ProgressTracker | None = None,
    also: Sequence[Callable[[], None]] = (),
) -> None:
    """PUT every upload (every part of a multipart one), and run the calls `also`, on a
    bounded pool; the first failure stops the ones not yet started. `tracker` counts each file
    once its PUT (its last part's PUT) succeeded, and the bytes of each part as it succeeds."""
    if not uploads and not also:
        return
    stop = threading.Event()
    parts_left = {id(item): len(item.multipart.parts) for item in uploads if item.multipart}
    parts_lock = threading.Lock()

    def whole_file(item: _Upload) -> None:
        _upload_file(transport, item, stop)
        if tracker is not None:
            tracker.file_done(item.entry.size)

    def one_part(item: _Upload, part: Part) -> None:
        _upload_part(transport, item, part, stop.is_set)
        if tracker is None:
            return
        tracker.credit(part.stop - part.start)
        with parts_lock:
            parts_left[id(item)] -= 1
            last = parts_left[id(item)] == 0
        if last:
            tracker.file_done()

    jobs: list[Callable[[], None]] = list(also)
    for item in uploads:
        if item.multipart is None:
            jobs.append(functools.partial(whole_file, item))
        else:
            jobs.extend(functools.partial(one_part, item, part) for part in item.multipart.parts)

    def upload(job: Callable[[], None]) -> None:
        if stop.is_set():
            return
        try:
            job()
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(min(workers, len(jobs)), thread_name_prefix="wandb-upload") as pool:
        futures = [pool.submit(upload, job) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error


def _upload_part(
    transport: Transport, item: _Upload, part: Part, should_stop: Callable[[], bool]
) -> None:
    assert item.multipart is not None
    try:
        put_part(transport, item.multipart, part, should_stop)
    except CommError as exc:
        _raise_too_large(exc, item, part.stop - part.start)
        raise


def _raise_too_large(exc: CommError, item: _Upload, size: int) -> None:
    """UploadTooLargeError when the storage refused a PUT as over its single-PUT limit."""
    if exc.status == 400 and "EntityTooLarge" in str(exc):
        raise UploadTooLargeError(
            f"the storage refused one PUT of {size} bytes for {item.entry.path!r} as too large "
            f"({exc}); lower TransferSettings.multipart_upload_threshold (and upload_part_size) "
            "below the storage's single-PUT limit: Api(transfers=TransferSettings(...))",
            url=exc.url,
            status=exc.status,
        ) from exc


def _upload_file(transport: Transport, item: _Upload, stop: threading.Event) -> None:
    """PUT one local file: small files as one buffer (the transport retries it), large ones
    streamed from disk (reopened for every attempt)."""
    entry = item.entry
    local_path = entry.local_path
    if local_path is None or entry.size is None:
        raise InvalidInputError(
            f"artifact file {entry.path!r} has no local copy to upload and the server does not "
            "hold its bytes (add the file again)"
        )
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
        _raise_too_large(exc, item, entry.size)
        if exc.status == 400 and md5_file(local_path)[0] != entry.digest:
            raise ChecksumError(
                f"file {local_path!r} changed since it was added to the artifact "
                f"(as {entry.path!r}); add it again"
            ) from exc
        raise


def _put(
    transport: Transport, url: str, body: bytes, headers: Mapping[str, str], label: str
) -> None:
    """PUT a buffered body; the transport retries it as its policy says."""
    transport.request("PUT", url, data=body, headers=headers, what=f"uploading {label}").close()


def _put_streamed(
    transport: Transport,
    url: str,
    path: str,
    headers: Mapping[str, str],
    label: str,
    stop: threading.Event,
) -> None:
    """PUT a local file streamed from disk, reopened for every attempt (a file object cannot be
    re-sent), retried by the transport's retry primitive; stops retrying once `stop` is set."""

    def attempt() -> None:
        with open(path, "rb") as handle:
            transport.request(
                "PUT", url, data=handle, headers=headers, what=f"uploading {label}", once=True
            ).close()

    transport.with_retries(attempt, should_stop=stop.is_set)


# ---------------------------------------------------------------------- entry points
def use_artifact(run: Run, artifact: Artifact, use_as: str | None = None) -> Artifact:
    """Record `artifact` as an input of `run`; returns the artifact as the server now has it."""
    if not isinstance(artifact, Artifact):
        raise InvalidInputError(
            f"use_artifact needs an Artifact from Api.artifact(), got {artifact!r}"
        )
    artifact._logged("using it as a run input")
    data = run.client.transport.graphql(
        USE_ARTIFACT_MUTATION,
        {
            "entityName": run.entity,
            "projectName": run.project,
            "runName": run.id,
            "artifactID": artifact.id,
            "usedAs": use_as,
        },
    )
    return Artifact._from_attrs(run.client, data["useArtifact"]["artifact"])


def log_artifact(
    run: Run,
    artifact: Artifact,
    aliases: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Artifact:
    """Publish a draft as a new version logged by `run`, or declare an existing version an
    output of `run` (same entity and project); adds `aliases` and `tags`. Returns the committed
    version as the server now has it. `progress` follows the upload of a draft."""
    if not isinstance(artifact, Artifact):
        raise InvalidInputError(
            f"log_artifact needs a draft Artifact(name, type) or one from Api.artifact(), "
            f"got {artifact!r}"
        )
    if artifact.is_draft():
        return publish(
            run.client,
            artifact,
            (run.entity, run.project),
            run.id,
            aliases,
            tags,
            progress=progress,
        )
    if (artifact.entity, artifact.project) != (run.entity, run.project):
        raise InvalidInputError(
            f"run {'/'.join(run.path)} cannot log artifact {artifact.qualified_name}: "
            "a run logs artifacts only to its own project"
        )
    names = check_aliases(aliases)
    tag_names = check_tags(tags)
    data = run.client.transport.graphql(
        CREATE_ARTIFACT_MUTATION,
        {
            "artifactTypeName": artifact.type,
            "artifactCollectionNames": [artifact.collection_name],
            "entityName": run.entity,
            "projectName": run.project,
            "runName": run.id,
            "digest": artifact.digest,
            "digestAlgorithm": "MANIFEST_MD5",
            "aliases": [
                {"artifactCollectionName": artifact.collection_name, "alias": a} for a in names
            ],
            "tags": [{"tagName": t} for t in tag_names],
        },
    )
    return Artifact._from_attrs(run.client, data["createArtifact"]["artifact"])


def publish(
    client: Api,
    draft: Artifact,
    where: tuple[str, str] | Callable[[], tuple[str, str]],
    run_id: str | None = None,
    aliases: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    *,
    workers: int = DEFAULT_UPLOAD_WORKERS,
    progress: ProgressCallback | None = None,
) -> Artifact:
    """Publish `draft` to `where` (entity, project), as an output of run `run_id` if given,
    with `latest`, the draft's aliases and `aliases`; returns the committed version.

    The draft is checked before the first request; `where` may be a callable, asked only then
    (the default entity costs a query). Without a run the project is created when missing.
    `progress` is called with a `Progress` (bytes and files uploaded)."""
    if not isinstance(draft, Artifact) or not draft.is_draft():
        raise InvalidInputError(f"only a draft Artifact(name, type) can be published: {draft!r}")
    extra_aliases = check_aliases(aliases)
    extra_tags = check_tags(tags)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise InvalidInputError(f"workers must be an integer from 1 to 64, got {workers!r}")
    spec = draft._spec()
    spec.check()
    names = publish_aliases([*draft.aliases, *extra_aliases])
    tag_names = check_tags([*draft.tags, *extra_tags])
    entity, project = where() if callable(where) else where
    attrs = publish_draft(
        client,
        spec,
        entity=entity,
        project=project,
        run_id=run_id,
        aliases=names,
        tags=tag_names,
        create_project=run_id is None,
        workers=workers,
        progress=progress,
    )
    return Artifact._from_attrs(client, attrs)


__all__ = [
    "BUFFERED_UPLOAD_LIMIT",
    "DEFAULT_UPLOAD_WORKERS",
    "FILES_PER_REQUEST",
    "MANIFEST_NAME",
    "log_artifact",
    "publish",
    "publish_draft",
    "use_artifact",
]
