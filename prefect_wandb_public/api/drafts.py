"""Drafts of new artifact versions: local files (hashed when added, uploaded when published),
files written through `new_file`, and references (`s3://`, `gs://`, `file://`, `http(s)://`;
digest from the store's ETag or md5, never uploaded).
"""

from __future__ import annotations

import base64
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
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from prefect_wandb_public.api import destinations
from prefect_wandb_public.api.destinations import CHUNK_SIZE
from prefect_wandb_public.api.download import b64_md5, b64_of, display_url, md5_of_stream
from prefect_wandb_public.api.manifest import STORAGE_POLICY, ArtifactManifestEntry, manifest_digest
from prefect_wandb_public.api.names import (
    check_aliases,
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
)
from prefect_wandb_public.api.transport import Transport
from prefect_wandb_public.errors import (
    ArtifactFinalizedError,
    CommError,
    InvalidInputError,
    NotFoundError,
)

MAX_METADATA_KEYS = 100
REFERENCE_SCHEMES = ("s3", "gs", "gcs", "file", "http", "https")
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


def md5_file(path: str) -> tuple[str, int]:
    """(base64 md5, size) of a local file, read in chunks."""
    with open(path, "rb") as handle:
        return md5_of_stream(handle)


POLICIES = ("mutable", "immutable")


def check_policy(policy: str | None) -> str:
    """0.31's add policies: `mutable` (the default) stages a private copy of each file when it
    is added, so later edits of the source do not reach the version; `immutable` uploads the
    source itself, which must not change until the draft is published (checked then)."""
    policy = policy or "mutable"
    if policy not in POLICIES:
        raise InvalidInputError(
            f"Invalid policy {policy!r}. Policy may only be `mutable` or `immutable`."
        )
    return policy


def tmp_entry_name(name: str, digest: str) -> str:
    """0.31's `is_tmp` naming: the file name's first dotted part becomes the first 20 hex
    digits of its md5, so files of the same name but different content do not collide."""
    folder, file_name = posixpath.split(name)
    parts = file_name.split(".")
    parts[0] = base64.b64decode(digest).hex()[:20]
    return posixpath.join(folder, ".".join(parts))


class DraftContents:
    """The entries of a draft by path, plus a scratch directory (removed with the draft) for
    files written through `new_file` and the copies the `mutable` policy stages."""

    def __init__(self) -> None:
        self.entries: dict[str, ArtifactManifestEntry] = {}
        self.final = False  # `Artifact.finalize()`: no more changes
        self.added_local_paths: dict[str, str] = {}  # absolute source path -> entry path
        self._scratch: str | None = None
        self._counter = itertools.count()

    def add(self, entry: ArtifactManifestEntry, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add one entry; a different entry already at its path needs `overwrite`."""
        self.check_open()
        check_entry_path(entry.path)
        if not overwrite:
            self._check_free(entry)
        self.entries[entry.path] = entry
        return entry

    def _check_free(self, entry: ArtifactManifestEntry) -> None:
        """The entry's path is free or holds the same content."""
        existing = self.entries.get(entry.path)
        if existing is not None and (existing.digest, existing.ref) != (entry.digest, entry.ref):
            raise InvalidInputError(
                f"the artifact already has a different file at {entry.path!r} "
                "(pass overwrite=True, or merge=True to add_dir, to replace it)"
            )

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        policy: str | None = "mutable",
        overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        policy = check_policy(policy)
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise InvalidInputError(f"cannot add {path!r} to the artifact: not an existing file")
        entry_name = check_entry_path(name if name is not None else os.path.basename(path))
        upload_path, digest, size = self._hashed(path, policy)
        if is_tmp:
            entry_name = check_entry_path(tmp_entry_name(entry_name, digest))
        entry = ArtifactManifestEntry(entry_name, digest, size, local_path=upload_path)
        added = self.add(entry, overwrite)
        self.added_local_paths[os.path.abspath(path)] = entry_name
        return added

    def _hashed(self, path: str, policy: str) -> tuple[str, str, int]:
        """(the path to upload from, base64 md5, size): the source itself (`immutable`), or a
        private copy in the scratch directory, hashed while it is written (`mutable`)."""
        if policy == "immutable":
            return (os.path.abspath(path), *md5_file(path))
        folder = os.path.join(self.scratch_dir(), str(next(self._counter)))
        os.makedirs(folder)
        target = os.path.join(folder, os.path.basename(path))
        hasher = hashlib.md5()
        size = 0
        with open(path, "rb") as source, open(target, "xb") as copy:
            while chunk := source.read(CHUNK_SIZE):
                hasher.update(chunk)
                copy.write(chunk)
                size += len(chunk)
        return target, b64_of(hasher), size

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        policy: str | None = "mutable",
        merge: bool = False,
    ) -> list[ArtifactManifestEntry]:
        """Every file under `local_path` at its relative path (under `name`); a different file
        already at one of those paths needs `merge` (it is replaced), as in 0.31."""
        policy = check_policy(policy)
        root = os.fspath(local_path)
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
            hashed = list(pool.map(lambda p: self._hashed(p, policy), files))
        entries = [
            ArtifactManifestEntry(entry_name, digest, size, local_path=upload_path)
            for entry_name, (upload_path, digest, size) in zip(names, hashed, strict=True)
        ]
        if not merge:  # all or nothing: check every path before adding any
            for entry in entries:
                self._check_free(entry)
        added = [self.add(entry, overwrite=merge) for entry in entries]
        for source, entry_name in zip(files, names, strict=True):
            self.added_local_paths[os.path.abspath(source)] = entry_name
        return added

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Entries for the object or prefix at `uri`; more than `max_objects` of them is an
        InvalidInputError (nothing is added)."""
        if max_objects is not None and (
            isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1
        ):
            raise InvalidInputError(f"max_objects must be a positive integer, got {max_objects!r}")
        entries = reference_entries(uri, name, checksum)
        if max_objects is not None and len(entries) > max_objects:
            raise InvalidInputError(
                f"reference {display_url(uri)!r} holds {len(entries)} objects, over "
                f"max_objects={max_objects}; pass a larger max_objects to track them all"
            )
        return [self.add(entry) for entry in entries]

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "x", encoding: str | None = None, policy: str = "mutable"
    ) -> Iterator[IO[Any]]:
        """Open a scratch file for writing; on a clean exit it becomes entry `name`. The file
        is the draft's own, so either `policy` protects it."""
        check_policy(policy)
        self.check_open()
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
        self.add_file(path, name, policy="immutable")

    def add_table(self, table: Any, name: str, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add a pandas DataFrame as `<name>.table.json` (W&B's table JSON: `columns`, `data`
        with NaN as null, `ncols`, `nrows`); TypeError for anything else, as 0.31 refuses
        objects that are not W&B media."""
        import pandas as pd

        if not isinstance(table, pd.DataFrame):
            raise TypeError(
                f"add() takes a pandas DataFrame (stored as a W&B table), not "
                f"{type(table).__name__}; add other files with add_file or new_file"
            )
        path = name if name.endswith(".table.json") else f"{name}.table.json"
        check_entry_path(path)
        data = table.astype(object).where(pd.notna(table), None).values.tolist()
        body = {
            "_type": "table",
            "columns": [str(c) for c in table.columns],
            "data": data,
            "ncols": len(table.columns),
            "nrows": len(table),
            "log_mode": "IMMUTABLE",
        }
        try:
            text = json.dumps(body, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"table {name!r} has values with no JSON form: {exc}") from exc
        folder = os.path.join(self.scratch_dir(), str(next(self._counter)))
        os.makedirs(folder)
        local = os.path.join(folder, posixpath.basename(path))
        with open(local, "w", encoding="utf-8") as handle:
            handle.write(text)
        return self.add_file(local, path, policy="immutable", overwrite=overwrite)

    def check_open(self) -> None:
        if self.final:
            raise ArtifactFinalizedError("the draft was finalized: its files cannot change")

    def remove(self, item: str | os.PathLike[str] | ArtifactManifestEntry) -> None:
        """Remove the entry at a path (or every entry under a directory path)."""
        self.check_open()
        path = item.path if isinstance(item, ArtifactManifestEntry) else os.fspath(item)
        path = posixpath.normpath(path.replace(os.sep, "/")).strip("/")
        inside = [p for p in self.entries if p.startswith(path + "/")]
        if path in self.entries:
            inside = [path]
        elif not inside:
            raise FileNotFoundError(f"No such file or directory: {path}")
        for entry_path in inside:
            del self.entries[entry_path]
        gone = set(inside)
        for source in [s for s, p in self.added_local_paths.items() if p in gone]:
            del self.added_local_paths[source]

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
            "storagePolicy": STORAGE_POLICY,
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


def _json_default(value: Any) -> Any:
    """Table cells numpy and pandas hand back: scalars, arrays and timestamps."""
    for method in ("tolist", "isoformat"):
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


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


@dataclass(frozen=True)
class DraftSpec:
    """What a publish needs from a draft: its names, description, metadata and contents."""

    name: str
    type: str
    description: str | None
    metadata: dict[str, Any]
    contents: DraftContents
    ttl_duration_seconds: int | None = None  # None: not set; else as `updateArtifact` takes it

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


__all__ = [
    "MAX_METADATA_KEYS",
    "POLICIES",
    "REFERENCE_SCHEMES",
    "DraftContents",
    "DraftSpec",
    "check_metadata",
    "check_policy",
    "md5_file",
    "publish_aliases",
    "reference_entries",
]
