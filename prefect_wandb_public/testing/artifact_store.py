"""The artifact half of the local server's state: versions, collections, aliases, lineage, and
the save pipeline's rules (PENDING versions, manifest checks, commits that number versions).

`ArtifactStore` is a part of `WandbStore` (which inherits it): its methods work on the store's
projects, blobs and lock, and follow the service's rules (aliases unique per collection, `latest`
moves on commit, version numbers never reused).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.common import (
    Blob,
    StoreConflict,
    StoreError,
    StoreNotFound,
    check_alias,
    check_file_name,
    check_name,
    check_tag,
    encode_id,
)

if TYPE_CHECKING:
    from prefect_wandb_public.testing.store import Project, Run


@dataclass
class ManifestEntry:
    """One path of an artifact: digest (base64 md5), size, and where the bytes came from."""

    path: str
    digest: str
    size: int
    birth_artifact_id: str
    ref: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Artifact:
    """One artifact version inside a collection (sequence).

    A version being saved is PENDING: it has no number, no entries and no aliases yet, only
    the manifest uploaded so far and the aliases its commit will apply; nothing lists it.
    """

    id: str
    entity: str
    project: str
    collection: str
    type: str
    version_index: int | None
    digest: str
    entries: dict[str, ManifestEntry]
    created_at: datetime
    state: str = "COMMITTED"
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    used_by: list[tuple[str, str, str]] = field(default_factory=list)
    updated_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    ttl_duration_seconds: int | None = None  # None: inherited; TTL_DISABLED: never expires
    history_step: int | None = None
    manifest_digest: str = ""
    manifest_body: bytes | None = None
    pending_aliases: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return f"v{self.version_index}"

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries.values())


@dataclass
class ArtifactCollection:
    """An artifact sequence: versions in order plus its aliases (alias -> version index)."""

    id: str
    entity: str
    project: str
    name: str
    type: str
    created_at: datetime
    description: str | None = None
    versions: list[Artifact] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Artifact] = field(default_factory=dict)  # by digest
    tags: list[str] = field(default_factory=list)
    state: str = "READY"


TTL_INHERIT = -1  # `ttlDurationSeconds` values of `updateArtifact` / `createArtifact`
TTL_DISABLED = -2


def ttl_setting(seconds: int) -> int | None:
    """A `ttlDurationSeconds` input as stored: -1 inherits (None), -2 disables, else seconds."""
    if seconds == TTL_INHERIT:
        return None
    if seconds == TTL_DISABLED or seconds > 0:
        return seconds
    raise StoreError(f"invalid ttlDurationSeconds {seconds}: -1 (inherit), -2 (never) or > 0")


def artifact_digest(entries: Mapping[str, str]) -> str:
    """The artifact digest over {path: b64 md5}, as the service and SDK compute it."""
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(entries):
        h.update(f"{path}:{entries[path]}\n".encode())
    return h.hexdigest()


class ArtifactStore:
    """The artifact rules of `WandbStore`; see the module docstring."""

    if TYPE_CHECKING:  # provided by WandbStore
        lock: threading.RLock
        projects: dict[tuple[str, str], Project]
        blobs: dict[str, Blob]
        artifacts: dict[str, Artifact]
        run_outputs: dict[tuple[str, str, str], list[str]]
        run_inputs: dict[tuple[str, str, str], list[str]]

        def touch(self) -> None: ...
        def next_int(self) -> int: ...
        def put_blob(self, data: bytes) -> str: ...
        def _next_time(self, explicit: datetime | str | None = None) -> datetime: ...
        def _now(self) -> datetime: ...
        def create_project(self, entity: str, project: str) -> Project: ...
        def require_project(self, entity: str, project: str) -> Project: ...
        def require_run(self, entity: str, project: str, run_id: str) -> Run: ...

    # ------------------------------------------------------------------ artifacts
    def create_artifact(
        self,
        entity: str,
        project: str,
        name: str,
        type: str,
        files: Mapping[str, bytes],
        *,
        aliases: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        created_by: str | None = None,
        used_by: Sequence[str] = (),
    ) -> str:
        """Commit a new version of `name` holding `files`; returns its version (`vN`).

        `latest` moves to it and `aliases` move from whichever version held them. An identical
        digest in the same collection returns that existing version instead (digest dedup).
        """
        check_name("artifact", name)
        check_name("artifact type", type)
        for alias in aliases:
            check_alias(alias)
        with self.lock:
            proj = self.create_project(entity, project)
            for run_name in [created_by, *used_by]:
                if run_name is not None:
                    self.require_run(entity, project, run_name)
            coll = self._collection(proj, name, type)
            digests = {path: self.put_blob(data) for path, data in files.items()}
            digest = artifact_digest(digests)
            existing = next((a for a in coll.versions if a.digest == digest), None)
            if existing is not None:
                artifact = existing
            else:
                artifact_id = encode_id("Artifact", self.next_int())
                artifact = Artifact(
                    id=artifact_id,
                    entity=entity,
                    project=project,
                    collection=name,
                    type=type,
                    version_index=len(coll.versions),
                    digest=digest,
                    entries={
                        path: ManifestEntry(path, d, len(files[path]), artifact_id)
                        for path, d in sorted(digests.items())
                    },
                    created_at=self._next_time(),
                    description=description,
                    metadata=dict(metadata or {}),
                    created_by=created_by,
                )
                coll.versions.append(artifact)
                self.artifacts[artifact_id] = artifact
                coll.aliases["latest"] = artifact.version_index or 0
                if created_by is not None:
                    self._record_output(artifact, (entity, project, created_by))
            for alias in aliases:
                coll.aliases[alias] = artifact.version_index or 0
            for run_name in used_by:
                self._record_use(artifact, (entity, project, run_name))
            self.touch()
            return artifact.version

    def _collection(self, proj: Project, name: str, type: str) -> ArtifactCollection:
        coll = proj.collections.get(name)
        if coll is None:
            proj.artifact_types.setdefault(type, self._next_time())
            coll = ArtifactCollection(
                id=encode_id("ArtifactCollection", self.next_int()),
                entity=proj.entity,
                project=proj.name,
                name=name,
                type=type,
                created_at=self._next_time(),
            )
            proj.collections[name] = coll
        elif coll.type != type:
            raise StoreError(
                f"artifact {name!r} has type {coll.type!r}, cannot add a version of type {type!r}"
            )
        return coll

    # ------------------------------------------------------------------ collections
    def collection_by_id(self, collection_id: str) -> ArtifactCollection:
        with self.lock:
            for proj in self.projects.values():
                for coll in proj.collections.values():
                    if coll.id == collection_id:
                        return coll
        raise StoreNotFound(f"artifact collection {collection_id!r} not found")

    def require_collection(self, entity: str, project: str, name: str) -> ArtifactCollection:
        found = self.get_collection(entity, project, name)
        if found is None:
            raise StoreNotFound(f"artifact collection {entity}/{project}/{name} not found")
        return found

    def update_collection(
        self, coll: ArtifactCollection, *, name: str | None = None, description: str | None = None
    ) -> ArtifactCollection:
        """Rename a collection (its versions follow; a name in use is a conflict) and change
        its description (None leaves either as it is)."""
        with self.lock:
            if name is not None and name != coll.name:
                check_name("artifact", name)
                proj = self.require_project(coll.entity, coll.project)
                if name in proj.collections:
                    raise StoreConflict(
                        f"artifact collection {coll.entity}/{coll.project}/{name} already exists"
                    )
                del proj.collections[coll.name]
                coll.name = name
                proj.collections[name] = coll
                for artifact in [*coll.versions, *coll.pending.values()]:
                    artifact.collection = name
            if description is not None:
                coll.description = description
            self.touch()
            return coll

    def move_collection(self, coll: ArtifactCollection, type_name: str) -> ArtifactCollection:
        """Give a sequence (and every version in it) another artifact type."""
        check_name("artifact type", type_name)
        with self.lock:
            proj = self.require_project(coll.entity, coll.project)
            proj.artifact_types.setdefault(type_name, self._next_time())
            coll.type = type_name
            for artifact in [*coll.versions, *coll.pending.values()]:
                artifact.type = type_name
            self.touch()
            return coll

    def tag_collection(
        self, coll: ArtifactCollection, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add and remove collection tags (words of letters, digits, `-` and `_`); returns
        the tags added."""
        added = [check_tag(t) for t in dict.fromkeys(add)]
        with self.lock:
            removed = set(remove)
            coll.tags = [t for t in coll.tags if t not in removed]
            coll.tags += [t for t in added if t not in coll.tags]
            self.touch()
            return added

    def delete_collection(self, coll: ArtifactCollection) -> None:
        """Delete a collection: every version becomes DELETED and its name is free again."""
        with self.lock:
            proj = self.require_project(coll.entity, coll.project)
            for artifact in [*coll.versions, *coll.pending.values()]:
                artifact.state = "DELETED"
            coll.aliases.clear()
            coll.pending.clear()
            coll.state = "DELETED"
            proj.collections.pop(coll.name, None)
            self.touch()

    # ------------------------------------------------------------------ artifact rules
    def get_collection(self, entity: str, project: str, name: str) -> ArtifactCollection | None:
        with self.lock:
            proj = self.projects.get((entity, project))
            return proj.collections.get(name) if proj else None

    def resolve_artifact(self, entity: str, project: str, name: str) -> Artifact | None:
        """`coll:alias`, `coll:vN` or a bare `coll` (= `coll:latest`); None when nothing matches."""
        collection, _, alias = name.partition(":")
        with self.lock:
            coll = self.get_collection(entity, project, collection)
            return None if coll is None else self.version_of(coll, alias or "latest")

    def version_of(self, coll: ArtifactCollection, alias: str) -> Artifact | None:
        """The live version a `vN` or alias names in `coll`, else None."""
        with self.lock:
            if re.fullmatch(r"v\d+", alias):
                index: int | None = int(alias[1:])
            else:
                index = coll.aliases.get(alias)
            if index is None or index >= len(coll.versions):
                return None
            artifact = coll.versions[index]
            return None if artifact.state == "DELETED" else artifact

    def artifact_by_id(self, artifact_id: str) -> Artifact:
        with self.lock:
            found = self.artifacts.get(artifact_id)
        if found is None or found.state == "DELETED":
            raise StoreNotFound(f"artifact {artifact_id!r} not found")
        return found

    def collection_of(self, artifact: Artifact) -> ArtifactCollection:
        with self.lock:
            proj = self.require_project(artifact.entity, artifact.project)
            return proj.collections[artifact.collection]

    def aliases_of(self, artifact: Artifact) -> list[str]:
        """The aliases (`latest` included, `vN` not) that point at `artifact`."""
        with self.lock:
            coll = self.collection_of(artifact)
            return [a for a, index in coll.aliases.items() if index == artifact.version_index]

    def add_aliases(self, artifact: Artifact, aliases: Iterable[str]) -> None:
        """Point `aliases` at `artifact`, moving each from whichever version held it."""
        names = [check_alias(alias) for alias in aliases]
        with self.lock:
            coll = self.collection_of(artifact)
            for alias in names:
                coll.aliases[alias] = artifact.version_index or 0
            artifact.updated_at = self._now()
            self.touch()

    def delete_aliases(self, artifact: Artifact, aliases: Iterable[str]) -> None:
        """Remove those of `aliases` that point at `artifact` (others are left alone)."""
        with self.lock:
            coll = self.collection_of(artifact)
            for alias in aliases:
                if coll.aliases.get(alias) == artifact.version_index:
                    del coll.aliases[alias]
            artifact.updated_at = self._now()
            self.touch()

    def update_artifact(
        self,
        artifact: Artifact,
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags_to_add: Iterable[str] = (),
        tags_to_delete: Iterable[str] = (),
        ttl_duration_seconds: int | None = None,
    ) -> Artifact:
        """Change description, metadata, tags and TTL (None leaves a field as it is)."""
        with self.lock:
            if description is not None:
                artifact.description = description
            if metadata is not None:
                artifact.metadata = dict(metadata)
            removed = set(tags_to_delete)
            artifact.tags = [t for t in artifact.tags if t not in removed]
            artifact.tags += [t for t in dict.fromkeys(tags_to_add) if t not in artifact.tags]
            if ttl_duration_seconds is not None:
                artifact.ttl_duration_seconds = ttl_setting(ttl_duration_seconds)
            artifact.updated_at = self._now()
            self.touch()
            return artifact

    def delete_artifact(self, artifact: Artifact, *, delete_aliases: bool = False) -> None:
        """Mark a version DELETED; refused while aliases point at it unless `delete_aliases`.

        Its number is never reused; `latest` falls back to the newest live version.
        """
        with self.lock:
            aliases = self.aliases_of(artifact)
            if aliases and not delete_aliases:
                raise StoreError(
                    f"cannot delete artifact {artifact.collection}:{artifact.version} while it has "
                    f"aliases {aliases}; delete the aliases first or pass deleteAliases: true"
                )
            coll = self.collection_of(artifact)
            for alias in aliases:
                del coll.aliases[alias]
            artifact.state = "DELETED"
            live = [a for a in coll.versions if a.state != "DELETED"]
            if "latest" in aliases and live:
                coll.aliases["latest"] = live[-1].version_index or 0
            self.touch()

    def use_artifact(self, artifact: Artifact, entity: str, project: str, run_id: str) -> None:
        """Record that run `entity/project/run_id` consumed `artifact` (its input)."""
        with self.lock:
            self.require_run(entity, project, run_id)
            self._record_use(artifact, (entity, project, run_id))
            self.touch()

    def create_artifact_version(
        self,
        entity: str,
        project: str,
        collection: str,
        type: str,
        digest: str,
        *,
        run_id: str | None = None,
        aliases: Sequence[str] = (),
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        deduplicate: bool = True,
        ttl_duration_seconds: int | None = None,
        history_step: int | None = None,
    ) -> Artifact:
        """`createArtifact`: with `deduplicate`, the COMMITTED version of `collection` with this
        digest (its aliases and tags applied at once, the run recording it as an output); else
        the PENDING version with this digest (a save being resumed) or a new PENDING one, whose
        aliases wait for `commit_artifact`."""
        check_name("artifact", collection)
        check_name("artifact type", type)
        names = list(dict.fromkeys(check_alias(alias) for alias in aliases))
        ttl = None if ttl_duration_seconds is None else ttl_setting(ttl_duration_seconds)
        if not re.fullmatch(r"[0-9a-f]{32}", digest or ""):
            raise StoreError(f"invalid artifact digest {digest!r}: expected 32 hex characters")
        with self.lock:
            proj = self.require_project(entity, project)
            if run_id is not None:
                self.require_run(entity, project, run_id)
            coll = self._collection(proj, collection, type)
            found = next(
                (a for a in coll.versions if a.digest == digest and a.state == "COMMITTED"),
                None,
            )
            if found is not None and deduplicate:
                for alias in names:
                    coll.aliases[alias] = found.version_index or 0
                found.tags += [t for t in dict.fromkeys(tags) if t not in found.tags]
                if ttl_duration_seconds is not None:
                    found.ttl_duration_seconds = ttl
                if run_id is not None:
                    self._record_output(found, (entity, project, run_id))
                self.touch()
                return found
            pending = coll.pending.get(digest)
            if pending is None:
                pending = Artifact(
                    id=encode_id("Artifact", self.next_int()),
                    entity=entity,
                    project=project,
                    collection=collection,
                    type=type,
                    version_index=None,
                    digest=digest,
                    entries={},
                    created_at=self._next_time(),
                    state="PENDING",
                    created_by=run_id,
                )
                coll.pending[digest] = pending
                self.artifacts[pending.id] = pending
            pending.description = description
            pending.metadata = dict(metadata or {})
            pending.pending_aliases = names
            pending.tags = list(dict.fromkeys(tags))
            pending.ttl_duration_seconds = ttl
            pending.history_step = history_step
            pending.created_by = pending.created_by or run_id
            self.touch()
            return pending

    def pending_artifact(self, artifact_id: str) -> Artifact:
        """A version still being saved; StoreError when it is already committed."""
        artifact = self.artifact_by_id(artifact_id)
        if artifact.state != "PENDING":
            raise StoreConflict(f"artifact {artifact_id!r} is {artifact.state}, not PENDING")
        return artifact

    def set_manifest_digest(self, artifact: Artifact, digest: str) -> None:
        """Record the digest (base64 md5) the manifest upload will carry."""
        with self.lock:
            artifact.manifest_digest = digest

    def put_manifest(self, artifact: Artifact, body: bytes) -> None:
        """Keep the uploaded manifest JSON of a PENDING version (replacing an earlier one); an
        identical upload to a committed version is accepted and changes nothing."""
        with self.lock:
            if artifact.state == "COMMITTED" and artifact.manifest_body == body:
                return
            if artifact.state != "PENDING":
                raise StoreConflict(f"artifact {artifact.id!r} is {artifact.state}, not PENDING")
            artifact.manifest_body = bytes(body)

    def commit_artifact(self, artifact: Artifact) -> Artifact:
        """`commitArtifact`: check the uploaded manifest (its digest is the artifact's, every
        stored file is present with its size), then number the version (`vN`, never reused),
        move `latest` and the pending aliases to it and record it as its run's output.
        Committing a COMMITTED version again returns it unchanged."""
        with self.lock:
            if artifact.state == "COMMITTED":
                return artifact
            if artifact.state != "PENDING":
                raise StoreConflict(f"artifact {artifact.id!r} is {artifact.state}, not PENDING")
            if artifact.manifest_body is None:
                raise StoreError(f"artifact {artifact.id!r}: its manifest was not uploaded")
            entries = self._manifest_entries(artifact)
            digest = artifact_digest({path: e.digest for path, e in entries.items()})
            if digest != artifact.digest:
                raise StoreError(
                    f"artifact {artifact.id!r}: the manifest's digest {digest} is not the "
                    f"artifact's digest {artifact.digest}"
                )
            missing = [
                path
                for path, e in entries.items()
                if e.ref is None
                and (e.digest not in self.blobs or len(self.blobs[e.digest]) != e.size)
            ]
            if missing:
                raise StoreError(
                    f"artifact {artifact.id!r}: files {sorted(missing)[:5]} were not uploaded"
                )
            proj = self.require_project(artifact.entity, artifact.project)
            coll = self.collection_of(artifact)
            coll.pending.pop(artifact.digest, None)
            index = len(coll.versions)
            artifact.entries = entries
            artifact.version_index = index
            artifact.state = "COMMITTED"
            coll.versions.append(artifact)
            proj.artifact_types.setdefault(artifact.type, self._next_time())
            for alias in ["latest", *artifact.pending_aliases]:
                coll.aliases[alias] = index
            artifact.pending_aliases = []
            if artifact.created_by is not None:
                self._record_output(
                    artifact, (artifact.entity, artifact.project, artifact.created_by)
                )
            self.touch()
            return artifact

    @staticmethod
    def _manifest_entries(artifact: Artifact) -> dict[str, ManifestEntry]:
        """The entries of an uploaded manifest (JSON v1), file names checked."""
        try:
            data = json.loads(artifact.manifest_body or b"")
        except ValueError as exc:
            raise StoreError(f"artifact {artifact.id!r}: the manifest is not JSON") from exc
        contents = data.get("contents") if isinstance(data, dict) else None
        if not isinstance(contents, dict) or data.get("version") != 1:
            raise StoreError(f"artifact {artifact.id!r}: not a version 1 manifest")
        entries = {}
        for path, item in sorted(contents.items()):
            check_file_name(path)
            if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
                raise StoreError(f"artifact {artifact.id!r}: manifest entry {path!r} has no digest")
            entries[path] = ManifestEntry(
                path,
                item["digest"],
                int(item.get("size") or 0),
                str(item.get("birthArtifactID") or artifact.id),
                item.get("ref"),
                dict(item.get("extra") or {}),
            )
        return entries

    def _record_use(self, artifact: Artifact, run_key: tuple[str, str, str]) -> None:
        if run_key not in artifact.used_by:
            artifact.used_by.append(run_key)
        inputs = self.run_inputs.setdefault(run_key, [])
        if artifact.id not in inputs:
            inputs.append(artifact.id)

    def _record_output(self, artifact: Artifact, run_key: tuple[str, str, str]) -> None:
        outputs = self.run_outputs.setdefault(run_key, [])
        if artifact.id not in outputs:
            outputs.append(artifact.id)

    def run_artifacts(self, run: Run, direction: str) -> list[Artifact]:
        """A run's live `output` or `input` artifacts, in the order they were recorded."""
        index = self.run_outputs if direction == "output" else self.run_inputs
        with self.lock:
            ids = index.get((run.entity, run.project, run.name), [])
            found = (self.artifacts.get(i) for i in ids)
            return [a for a in found if a is not None and a.state != "DELETED"]


__all__ = [
    "TTL_DISABLED",
    "TTL_INHERIT",
    "Artifact",
    "ArtifactCollection",
    "ArtifactStore",
    "ManifestEntry",
    "artifact_digest",
    "ttl_setting",
]
