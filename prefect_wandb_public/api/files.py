"""`Files` (a run's files, lazily paged), `ArtifactFiles` (an artifact version's files) and
`File` (one stored file: metadata, download, delete).

Artifact files are `File` objects too (`Artifact.files()`); their `download` streams the same way.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from prefect_wandb_public.api import destinations
from prefect_wandb_public.api.download import Downloader, DownloadItem
from prefect_wandb_public.api.fields import NodeAttributes
from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.queries.files import (
    CREATE_RUN_FILES_MUTATION,
    DELETE_FILES_MUTATION,
    MARK_UPLOADED_MUTATION,
    MEMBERSHIP_FILES_QUERY,
    RUN_FILES_QUERY,
)
from prefect_wandb_public.errors import (
    CommError,
    DestinationExistsError,
    InvalidInputError,
    NotFoundError,
    UploadTooLargeError,
)

if TYPE_CHECKING:
    from prefect_wandb_public.api.artifacts import Artifact
    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.runs import Run

logger = logging.getLogger(__name__)
# S3 hosts: `<bucket>.s3[.<region>].amazonaws.com` or path style `s3[.<region>].amazonaws.com`.
_S3_HOST_RE = re.compile(r"(?:(?P<bucket>[^/]+)\.)?s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com")
# The GraphQL validation error of a server that predates markRunFilesUploaded.
_NO_MARK_MUTATION_RE = re.compile(r"Cannot query field [\"']?markRunFilesUploaded\b")


class Files(Paginator["File"]):
    """A run's files (all, the `names` given, or those matching the SQL LIKE `pattern`)."""

    QUERY = RUN_FILES_QUERY
    CURSOR_VARIABLE = "fileCursor"
    SIZE_VARIABLE = "fileLimit"

    def __init__(
        self,
        client: Api,
        run: Run,
        names: Sequence[str] | None = None,
        per_page: int = 50,
        upload: bool = False,
        pattern: str | None = None,
    ) -> None:
        if isinstance(names, str):
            raise InvalidInputError(f"names must be a list of file names, not the string {names!r}")
        if names and pattern:
            raise InvalidInputError("pass either names or pattern, not both")
        if pattern is not None and (not isinstance(pattern, str) or not pattern):
            raise InvalidInputError(f"pattern must be a non-empty string, got {pattern!r}")
        self.run = run
        self.names = list(names or [])
        self.pattern = pattern
        variables = {
            "project": run.project,
            "entity": run.entity,
            "name": run.id,
            "fileNames": self.names,
            "upload": upload,
            "pattern": pattern,
        }
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node = (data.get("project") or {}).get("run")
        if node is None:
            raise NotFoundError(f"run {'/'.join(self.run.path)} not found")
        conn: Mapping[str, Any] | None = node.get("files")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> File:
        return File(self.client, node, run=self.run)

    @property
    def length(self) -> int | None:
        """The run's `fileCount` when listing all files; a filtered listing counts by loading."""
        if self.names or self.pattern:
            return None
        if self.last_response is None:
            self.next_page()
        assert self.last_response is not None
        run = (self.last_response.get("project") or {}).get("run") or {}
        return int(run.get("fileCount") or 0)

    def __repr__(self) -> str:
        return f"<Files {'/'.join(self.run.path)} ({len(self.objects)} loaded)>"


class File(NodeAttributes):
    """A stored file: `name`, `url` (needs the key), `direct_url` (storage), `md5` (base64),
    `size`, `mimetype`, `updated_at`; other node fields by name (`size_bytes`)."""

    def __init__(self, client: Api, attrs: Mapping[str, Any], run: Run | None = None) -> None:
        self.client = client
        self.run = run
        self._attrs = dict(attrs)
        self.id: str = self._attrs.get("id") or ""
        self.name: str = self._attrs.get("name") or ""
        self.url: str | None = self._attrs.get("url")
        self.direct_url: str | None = self._attrs.get("directUrl")
        self.md5: str | None = self._attrs.get("md5")
        self.mimetype: str | None = self._attrs.get("mimetype")
        self.updated_at: str | None = self._attrs.get("updatedAt")

    @property
    def size(self) -> int:
        """The size in bytes (0 when the server did not say)."""
        return self._known_size or 0

    @property
    def _known_size(self) -> int | None:
        """The size the server reported, or None when it did not (nothing to check against)."""
        size = self._attrs.get("sizeBytes")
        return None if size is None else int(size)

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.mimetype}) {self.size} bytes>"

    @property
    def path_uri(self) -> str:
        """The file's `s3://bucket/key` URI when its storage is S3; `""` (with a warning)
        otherwise, as for the local server's files."""
        url = self.direct_url
        if not url:
            logger.warning("file %r has no direct URL, so no path URI", self.name)
            return ""
        if url == self.url:
            return url
        uri = s3_uri(url)
        if uri is None:
            logger.warning("path_uri is only available for files stored in S3 (%s)", self.name)
            return ""
        return uri

    def download(
        self,
        root: str | os.PathLike[str] = ".",
        replace: bool = False,
        exist_ok: bool = False,
        api: Api | None = None,
    ) -> IO[str]:
        """Stream the file to `root/<name>` (any fsspec URL), md5-verified, and return it
        opened for reading as text (the caller closes it), as 0.31 does:
        `json.load(run.file("wandb-metadata.json").download())`.

        An existing file is a DestinationExistsError unless `replace` (download again) or
        `exist_ok` (open the existing one). `api` downloads with that client's credentials.
        """
        return open_text(download_file(self, root, replace=replace, exist_ok=exist_ok, api=api))

    def _fresh_direct_url(self) -> str:
        """A new storage URL of this file (the last one expired), asked of its run."""
        assert self.run is not None
        fresh = self.run.file(self.name).direct_url
        if not fresh:
            raise NotFoundError(f"file {self.name!r} has no storage URL any more")
        return fresh

    def delete(self) -> None:
        """Delete the file from its run."""
        project_id = self.run.project_id if self.run is not None else None
        self.client.transport.graphql(
            DELETE_FILES_MUTATION, {"files": [self.id], "projectId": project_id}
        )


class ArtifactFiles(Paginator[File]):
    """An artifact's files with their URLs (all, or the `names` given)."""

    QUERY = MEMBERSHIP_FILES_QUERY

    def __init__(
        self,
        artifact: Artifact,
        names: Sequence[str] | None = None,
        per_page: int = 50,
        *,
        start: str | None = None,
    ) -> None:
        if isinstance(names, str):
            raise InvalidInputError(f"names must be a list of file names, not {names!r}")
        self.artifact = artifact
        variables = {
            "entity": artifact.entity,
            "project": artifact.project,
            "collection": artifact.collection_name,
            "alias": artifact.version,
            "fileNames": list(names) if names else None,
        }
        super().__init__(artifact.client, variables, per_page, start=start)

    @property
    def path(self) -> list[str]:
        return [self.artifact.entity, self.artifact.project, self.artifact.name]

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        coll = (data.get("project") or {}).get("artifactCollection") or {}
        membership = coll.get("artifactMembership")
        if membership is None:
            raise NotFoundError(f"artifact {self.artifact.qualified_name} not found")
        conn: Mapping[str, Any] | None = membership.get("files")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> File:
        return File(self.client, node)

    def __repr__(self) -> str:
        return f"<ArtifactFiles {self.artifact.qualified_name}>"


def direct_urls(
    artifact: Artifact, names: Sequence[str], *, by_name: bool, per_page: int
) -> dict[str, str]:
    """Direct URLs by file name of the artifact's files `names` (asked for by name when
    `by_name`, for small subsets, else read from the whole listing); NotFoundError names the
    files the server lists no URL for."""
    listed = listed_urls(artifact, names if by_name else None, per_page=per_page)
    return require_urls(artifact, listed, names)


def listed_urls(
    artifact: Artifact,
    names: Sequence[str] | None,
    *,
    per_page: int,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, str]:
    """The direct URLs the server lists for the artifact's files `names` (None: every file), by
    file name. Once `should_stop()` is true the listing ends early (no retry, no further page)
    with what it has: its caller no longer wants it."""
    listing = ArtifactFiles(artifact, names, per_page=per_page)
    listing.should_stop = should_stop
    urls: dict[str, str] = {}
    while listing.more and not (should_stop is not None and should_stop()):
        urls.update((file.name, file.direct_url) for file in listing.next_page() if file.direct_url)
    return urls


def require_urls(
    artifact: Artifact, urls: Mapping[str, str], names: Sequence[str]
) -> dict[str, str]:
    """The URLs of `names`; NotFoundError names the files the server listed no URL for."""
    missing = [name for name in names if name not in urls]
    if missing:
        raise NotFoundError(
            f"artifact {artifact.qualified_name}: the server lists no URL for {missing[:5]}"
        )
    return {name: urls[name] for name in names}


def download_file(
    file: File,
    root: str | os.PathLike[str] = ".",
    *,
    replace: bool = False,
    exist_ok: bool = False,
    api: Api | None = None,
) -> str:
    """Download `file` to `root/<name>` (any fsspec URL), md5-verified; returns the path (what
    tasks and scripts want; `File.download` opens it). An existing file is an error unless
    `replace` (overwrite) or `exist_ok` (keep it)."""
    source = file.direct_url or file.url
    if not source:
        raise NotFoundError(f"file {file.name!r} has no download URL")
    client = api or file.client
    downloader = Downloader(
        client.transport, workers=1, skip_cache=True, transfers=client.transfers
    )
    refresh = file._fresh_direct_url if file.run is not None and file.direct_url else None
    item = DownloadItem(file.name, source, file.md5 or None, file._known_size, refresh=refresh)
    existing = "replace" if replace else "keep" if exist_ok else "error"
    try:
        return downloader.download([item], root, existing=existing)[0]
    except DestinationExistsError as exc:
        raise DestinationExistsError(
            f"{exc.destination}: File already exists, pass replace=True to overwrite or "
            "exist_ok=True to leave it as is and don't error.",
            exc.destination,
        ) from None


def open_text(location: str) -> IO[str]:
    """A downloaded file opened for reading as text: `open()` for a local path, else the
    file system's own file object."""
    if destinations.is_plain_path(location):
        return open(location)
    fs, path = destinations.resolve(location, what="downloaded file")
    handle: IO[str] = fs.open(path, "r")
    return handle


def s3_uri(url: str) -> str | None:
    """`s3://bucket/key` for an S3 object URL (virtual-hosted or path style), else None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    key = unquote(parts.path.lstrip("/"))
    match = _S3_HOST_RE.fullmatch(host)
    if match is None or not key:
        return None
    bucket = match.group("bucket")
    if bucket:
        return f"s3://{bucket}/{key}"
    bucket, _, rest = key.partition("/")
    return f"s3://{bucket}/{rest}" if bucket and rest else None


def upload_run_file(run: Run, path: str | os.PathLike[str], root: str | os.PathLike[str]) -> File:
    """Save a local file with `run` under its path relative to `root`; returns the stored File."""
    local = os.fspath(path)
    if not os.path.isfile(local):
        raise InvalidInputError(f"cannot upload {local!r}: not an existing file")
    relative = os.path.relpath(os.path.abspath(local), os.path.abspath(os.fspath(root)))
    name = relative.replace(os.sep, "/")
    if name.startswith("../") or name == "..":
        raise InvalidInputError(
            f"cannot upload {local!r}: it is not under root {os.fspath(root)!r}"
        )
    transport = run.client.transport
    target = {"entity": run.entity, "project": run.project, "run": run.id}
    data = transport.graphql(CREATE_RUN_FILES_MUTATION, {**target, "files": [name]})
    created = data.get("createRunFiles") or {}
    if not created.get("runID"):
        raise CommError(f"the server gave no upload URL for run {'/'.join(run.path)}")
    url = created["files"][0]["uploadUrl"]
    headers = dict(h.split(":", 1) for h in created.get("uploadHeaders") or [] if ":" in h)

    def put() -> None:
        # Streamed from disk (bounded memory), reopened for every attempt.
        with open(local, "rb") as handle:
            transport.request(
                "PUT", url, data=handle, headers=headers, once=True, what=f"uploading {name!r}"
            ).close()

    try:
        transport.with_retries(put)
    except CommError as exc:
        if exc.status == 400 and "EntityTooLarge" in str(exc):
            raise UploadTooLargeError(
                f"the storage refused {local!r} ({os.path.getsize(local)} bytes) as too large "
                f"for one PUT ({exc}); run files go up in one PUT (createRunFiles offers no "
                "parts): log a file this large as an artifact, which is uploaded in parts",
                url=exc.url,
                status=exc.status,
            ) from exc
        raise
    try:
        transport.graphql(MARK_UPLOADED_MUTATION, {**target, "files": [name]})
    except CommError as exc:
        if not lacks_mark_uploaded(exc):
            raise
    return run.file(name)


def lacks_mark_uploaded(error: CommError) -> bool:
    """Whether `error` is the server saying it has no `markRunFilesUploaded` mutation (older
    servers, which need no marking): GraphQL's "Cannot query field" validation error for it."""
    return bool(_NO_MARK_MUTATION_RE.search(error.message))


__all__ = [
    "ArtifactFiles",
    "File",
    "Files",
    "direct_urls",
    "download_file",
    "listed_urls",
    "open_text",
    "require_urls",
    "s3_uri",
    "upload_run_file",
]
