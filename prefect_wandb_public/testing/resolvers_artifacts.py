"""Resolvers for run files and artifacts: store objects to the wire shapes of
`schema_artifacts.graphql`, mutations to store calls.

Saving a version follows the service's pipeline (protocol notes §1.4): `createArtifact` makes a
PENDING version (or returns the COMMITTED one with the same digest), `createArtifactManifest` /
`updateArtifactManifest` hand out the manifest's upload URL, `createArtifactFiles` the files'
(none for content the store already holds), and `commitArtifact` numbers the version.

The hub (`resolvers.py`) merges `root()` into its root value, and the project resolvers merge
`project_fields` / `run_fields` into their project and run nodes; run and project nodes come back
from the hub's `projects`. `__typename` keys let graphql-core pick the concrete type of the abstract
`ArtifactCollection` and `ArtifactCreator`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.artifact_store import (
    TTL_INHERIT,
    Artifact,
    ArtifactCollection,
    ManifestEntry,
)
from prefect_wandb_public.testing.common import (
    StoreError,
    StoreNotFound,
    check_file_name,
    decode_id,
    encode_id,
    iso,
    json_dumps,
    mimetype_of,
)
from prefect_wandb_public.testing.filters import FilterError, compile_filter, sort_documents
from prefect_wandb_public.testing.urls import hex_of
from prefect_wandb_public.testing.wire import check_b64_md5, connection, json_arg

if TYPE_CHECKING:
    from prefect_wandb_public.testing.resolvers import Resolvers
    from prefect_wandb_public.testing.store import Project, Run, RunFile

DEFAULT_VERSIONS_ORDER = "-versionIndex"
DEFAULT_VERSIONS_FILTERS = '{"state": "COMMITTED"}'
DEFAULT_COLLECTIONS_ORDER = "-createdAt"


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """A MySQL LIKE pattern (`%` any run, `_` one character) as a full-match regex."""
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.S)


class ArtifactResolvers:
    """Files and artifacts for the `Resolvers` of one store."""

    def __init__(self, hub: Resolvers) -> None:
        self.hub = hub
        self.store = hub.store
        self.urls = hub.urls

    # ------------------------------------------------------------------ hooks
    def root(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact_by_id,
            "artifactCollection": self.collection_by_id,
            "createRunFiles": self.create_run_files,
            "markRunFilesUploaded": self.mark_run_files_uploaded,
            "deleteFiles": self.delete_files,
            "createArtifact": self.create_artifact,
            "createArtifactManifest": self.create_artifact_manifest,
            "updateArtifactManifest": self.update_artifact_manifest,
            "createArtifactFiles": self.create_artifact_files,
            "completeMultipartUploadArtifact": self.complete_multipart_upload,
            "commitArtifact": self.commit_artifact,
            "useArtifact": self.use_artifact,
            "updateArtifact": self.update_artifact,
            "deleteArtifact": self.delete_artifact,
            "addAliases": self.add_aliases,
            "deleteAliases": self.delete_aliases,
            "updateArtifactSequence": self.update_sequence,
            "moveArtifactSequence": self.move_sequence,
            "createArtifactCollectionTagAssignments": self.add_collection_tags,
            "deleteArtifactCollectionTagAssignments": self.delete_collection_tags,
            "deleteArtifactSequence": self.delete_sequence,
        }

    def project_fields(self, proj: Project) -> dict[str, Any]:
        return {
            "artifactCollectionMembership": lambda name: self.membership_by_name(proj, name),
            "artifact": lambda name, enableTracking=None: self._maybe(
                self.store.resolve_artifact(proj.entity, proj.name, name), self.artifact_node
            ),
            "artifactType": lambda name: (
                self.type_node(proj, name) if name in proj.artifact_types else None
            ),
            "artifactTypes": lambda after=None, first=None, includeAll=None: self.base_connection(
                list(proj.artifact_types), first, after, lambda name: self.type_node(proj, name)
            ),
            "artifactCollection": lambda name: self._maybe(
                self._visible_collection(proj, name), self.collection_node
            ),
            "artifactCollections": lambda after=None, first=None, filters=None, order=None: (
                self.collections(proj, None, after, first, filters, order)
            ),
        }

    def run_fields(self, run: Run) -> dict[str, Any]:
        return {
            "__typename": "Run",
            "fileCount": len(run.files),
            "files": lambda names=None, after=None, first=None, pattern=None: self.run_files(
                run, names, after, first, pattern
            ),
            "outputArtifacts": lambda after=None, first=None: self.base_connection(
                self.store.run_artifacts(run, "output"), first, after, self.artifact_node
            ),
            "inputArtifacts": lambda after=None, first=None: self.base_connection(
                self.store.run_artifacts(run, "input"), first, after, self.artifact_node
            ),
        }

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def base_connection(
        items: Sequence[Any], first: int | None, after: str | None, node: Callable[..., Any]
    ) -> dict[str, Any]:
        return connection(items, first, after, node)

    @staticmethod
    def _maybe(value: Any, node: Callable[[Any], Any]) -> Any:
        return None if value is None else node(value)

    def _project(self, entity: str, project: str) -> Project:
        return self.store.require_project(entity, project)

    # ------------------------------------------------------------------ run files
    def run_files(
        self,
        run: Run,
        names: Sequence[str] | None,
        after: str | None,
        first: int | None,
        pattern: str | None,
    ) -> dict[str, Any]:
        wanted = [n for n in names or [] if n is not None]
        if wanted and pattern:
            raise StoreError("files: pattern cannot be combined with names")
        files = sorted(run.files.values(), key=lambda f: f.name)
        if wanted:
            keep = set(wanted)
            files = [f for f in files if f.name in keep]
        elif pattern:
            regex = like_to_regex(pattern)
            files = [f for f in files if regex.fullmatch(f.name)]
        return self.base_connection(files, first, after, lambda f: self.run_file_node(run, f))

    def run_file_node(self, run: Run, record: RunFile) -> dict[str, Any]:
        url = self.urls.run_file(run.entity, run.project, run.name, record.name)
        return {
            "__typename": "File",
            "id": record.id,
            "name": record.name,
            "displayName": record.name,
            "url": lambda upload=False: url,
            "directUrl": self.urls.blob(record.md5),
            "sizeBytes": record.size,
            "mimetype": record.mimetype,
            "updatedAt": iso(record.updated_at),
            "md5": record.md5,
            "digest": record.md5,
            "storagePath": f"{run.entity}/{run.project}/{run.name}/{record.name}",
            "uploadUrl": url,
            "uploadHeaders": [],
        }

    def create_run_files(self, input: Mapping[str, Any]) -> dict[str, Any]:
        run = self.store.require_run(input["entityName"], input["projectName"], input["runName"])
        files = []
        for name in input["files"]:
            check_file_name(name)
            url = self.urls.run_file(run.entity, run.project, run.name, name)
            files.append(
                {
                    "id": encode_id("File", "upload", run.name, name),
                    "name": name,
                    "displayName": name,
                    "url": url,
                    "uploadUrl": self.urls.run_upload(run.entity, run.project, run.name, name),
                    "directUrl": url,
                    "sizeBytes": 0,
                    "uploadHeaders": [],
                }
            )
        return {"runID": run.id, "uploadHeaders": [], "files": files}

    def mark_run_files_uploaded(self, input: Mapping[str, Any]) -> dict[str, Any]:
        run = self.store.require_run(input["entityName"], input["projectName"], input["runName"])
        missing = [name for name in input["files"] if name not in run.files]
        if missing:
            raise StoreNotFound(f"files {missing} of run {run.name} were not uploaded (not found)")
        return {"success": True}

    def delete_files(self, input: Mapping[str, Any]) -> dict[str, Any]:
        return {"success": self.store.delete_run_files(input["files"]) > 0}

    # ------------------------------------------------------------------ artifacts
    def artifact_by_id(self, id: str) -> Any:
        try:
            return self.artifact_node(self.store.artifact_by_id(id))
        except StoreNotFound:
            return None

    def artifact_node(self, artifact: Artifact) -> dict[str, Any]:
        store = self.store
        coll = store.collection_of(artifact)
        proj = self._project(artifact.entity, artifact.project)
        return {
            "__typename": "Artifact",
            "id": artifact.id,
            "artifactSequence": lambda: self.collection_node(coll),
            "versionIndex": artifact.version_index,
            "artifactType": lambda: self.type_node(proj, artifact.type),
            "description": artifact.description,
            "metadata": json_dumps(artifact.metadata),
            "ttlDurationSeconds": artifact.ttl_duration_seconds or TTL_INHERIT,
            "ttlIsInherited": artifact.ttl_duration_seconds is None,
            "tags": [{"id": encode_id("Tag", t), "name": t} for t in artifact.tags],
            "historyStep": artifact.history_step,
            "state": artifact.state,
            "size": artifact.size,
            "digest": artifact.digest,
            "digestAlgorithm": "MANIFEST_MD5",
            "commitHash": artifact.digest[:12],
            "fileCount": len(artifact.entries),
            "createdAt": iso(artifact.created_at),
            "updatedAt": iso(artifact.updated_at or artifact.created_at),
            "aliases": lambda: [
                *self.alias_nodes(coll, artifact),
                *self.hub.registry.link_alias_nodes(artifact),
            ],
            "currentManifest": lambda: self.manifest_node(artifact),
            "files": lambda names=None, after=None, first=None: self.artifact_files(
                artifact, names, after, first
            ),
            "usedBy": lambda after=None, first=None: self.base_connection(
                self.users_of(artifact), first, after, self.hub.projects.run_node
            ),
            "createdBy": lambda: self.creator_of(artifact),
            "artifactMemberships": lambda after=None, first=None: self.base_connection(
                [
                    self.membership_node(coll, artifact),
                    *self.hub.registry.link_membership_nodes(artifact),
                ],
                first,
                after,
                lambda node: node,
            ),
        }

    def users_of(self, artifact: Artifact) -> list[Run]:
        runs = (self.store.get_run(*key) for key in artifact.used_by)
        return [run for run in runs if run is not None]

    def creator_of(self, artifact: Artifact) -> Any:
        if artifact.created_by is None:
            return None
        run = self.store.get_run(artifact.entity, artifact.project, artifact.created_by)
        return None if run is None else self.hub.projects.run_node(run)

    def alias_nodes(self, coll: ArtifactCollection, artifact: Artifact) -> list[dict[str, Any]]:
        """`vN` first, then every alias of the collection pointing at this version (none while
        the version is PENDING)."""
        if artifact.version_index is None:
            return []
        names = [artifact.version, *self.store.aliases_of(artifact)]
        return [self.alias_node(coll, name, artifact) for name in names]

    def alias_node(
        self, coll: ArtifactCollection, alias: str, artifact: Artifact | None
    ) -> dict[str, Any]:
        return {
            "__typename": "ArtifactAlias",
            "id": encode_id("ArtifactAlias", coll.id, alias),
            "alias": alias,
            "artifactCollection": lambda: self.collection_node(coll),
            "artifact": lambda: self._maybe(artifact, self.artifact_node),
        }

    def manifest_node(self, artifact: Artifact) -> dict[str, Any]:
        url = self.urls.manifest(artifact.id)
        return {
            "id": encode_id("ArtifactManifest", artifact.id),
            "type": "FULL",
            "file": {
                "__typename": "File",
                "id": encode_id("File", "manifest", artifact.id),
                "name": "wandb_manifest.json",
                "displayName": "wandb_manifest.json",
                "url": lambda upload=False: url,
                "directUrl": url,
                "sizeBytes": 0,
                "mimetype": "application/json",
            },
        }

    def artifact_files(
        self,
        artifact: Artifact,
        names: Sequence[str] | None,
        after: str | None,
        first: int | None,
    ) -> dict[str, Any]:
        entries = list(artifact.entries.values())
        if names:
            keep = set(names)
            entries = [e for e in entries if e.path in keep]
        return self.base_connection(
            entries, first, after, lambda e: self.artifact_file_node(artifact, e)
        )

    def artifact_file_node(self, artifact: Artifact, entry: ManifestEntry) -> dict[str, Any]:
        url = self.urls.artifact_file(
            entity=artifact.entity,
            project=artifact.project,
            collection=artifact.collection,
            artifact_id=artifact.id,
            birth_id=entry.birth_artifact_id,
            b64_md5=entry.digest,
            path=entry.path,
        )
        return {
            "__typename": "File",
            "id": encode_id("File", artifact.id, entry.path),
            "name": entry.path,
            "displayName": entry.path,
            "url": lambda upload=False: url,
            "directUrl": self.urls.blob(entry.digest),
            "sizeBytes": entry.size,
            "mimetype": mimetype_of(entry.path),
            "updatedAt": iso(artifact.created_at),
            "md5": entry.digest,
            "digest": entry.digest,
            "storagePath": f"wandb_artifacts/{hex_of(entry.digest)}",
        }

    def membership_by_name(self, proj: Project, name: str) -> Any:
        collection, _, alias = name.partition(":")
        coll = proj.collections.get(collection)
        if coll is None:
            return None
        artifact = self.store.version_of(coll, alias or "latest")
        return None if artifact is None else self.membership_node(coll, artifact)

    def membership_node(self, coll: ArtifactCollection, artifact: Artifact) -> dict[str, Any]:
        return {
            "__typename": "ArtifactCollectionMembership",
            "id": encode_id("ArtifactCollectionMembership", coll.id, artifact.version_index),
            "versionIndex": artifact.version_index,
            "createdAt": iso(artifact.created_at),
            "aliases": lambda: self.alias_nodes(coll, artifact),
            "artifactCollection": lambda: self.collection_node(coll),
            "artifact": lambda: self.artifact_node(artifact),
            "files": lambda names=None, after=None, first=None: self.artifact_files(
                artifact, names, after, first
            ),
        }

    # ------------------------------------------------------------------ collections and types
    def collection_by_id(self, id: str) -> Any:
        try:
            return self.collection_node(self.store.collection_by_id(id))
        except StoreNotFound:
            return None

    def collection_node(self, coll: ArtifactCollection) -> dict[str, Any]:
        proj = self._project(coll.entity, coll.project)
        live = [a for a in coll.versions if a.state != "DELETED"]
        updated = max((a.updated_at or a.created_at for a in live), default=coll.created_at)
        return {
            "__typename": "ArtifactSequence",
            "id": coll.id,
            "name": coll.name,
            "description": coll.description,
            "createdAt": iso(coll.created_at),
            "updatedAt": iso(updated),
            "project": lambda: self.hub.projects.project_node(proj),
            "defaultArtifactType": lambda: self.type_node(proj, coll.type),
            "state": coll.state,
            "tags": {
                "edges": [{"node": {"id": encode_id("Tag", t), "name": t}} for t in coll.tags]
            },
            "aliases": lambda after=None, first=None: self.base_connection(
                list(coll.aliases.items()),
                first,
                after,
                lambda item: self.alias_node(coll, item[0], self.store.version_of(coll, item[0])),
            ),
            "artifacts": lambda after=None, first=None, order=None, filters=None: self.versions(
                coll, after, first, order, filters
            ),
            "artifactMembership": lambda aliasName: self._maybe(
                self.store.version_of(coll, aliasName), lambda a: self.membership_node(coll, a)
            ),
            "latestArtifact": lambda: self._maybe(
                self.store.version_of(coll, "latest"), self.artifact_node
            ),
        }

    def versions(
        self,
        coll: ArtifactCollection,
        after: str | None,
        first: int | None,
        order: str | None,
        filters: str | None,
    ) -> dict[str, Any]:
        """A collection's live versions matching `filters` (default: committed ones), newest
        first unless `order` says otherwise."""
        docs = [
            {
                "state": a.state,
                "versionIndex": a.version_index,
                "digest": a.digest,
                "createdAt": iso(a.created_at),
                "updatedAt": iso(a.updated_at or a.created_at),
                "description": a.description,
                "metadata": a.metadata,
                "aliases": self.store.aliases_of(a),
                "tags": a.tags,
                "_seq": a.version_index,
                "_artifact": a,
            }
            for a in coll.versions
            if a.state != "DELETED"
        ]
        chosen = self._select(
            docs, filters or DEFAULT_VERSIONS_FILTERS, order or DEFAULT_VERSIONS_ORDER
        )
        conn = self.base_connection(chosen, first, after, lambda a: a)
        conn["edges"] = [
            {
                "node": self.artifact_node(e["node"]),
                "version": e["node"].version,
                "cursor": e["cursor"],
            }
            for e in conn["edges"]
        ]
        return conn

    def collections(
        self,
        proj: Project,
        type_name: str | None,
        after: str | None,
        first: int | None,
        filters: str | None,
        order: str | None,
    ) -> dict[str, Any]:
        docs = [
            {
                "name": c.name,
                "type": c.type,
                "description": c.description,
                "createdAt": iso(c.created_at),
                "_seq": index,
                "_artifact": c,
            }
            for index, c in enumerate(proj.collections.values())
            if (type_name is None or c.type == type_name) and c.versions
        ]
        chosen = self._select(docs, filters, order or DEFAULT_COLLECTIONS_ORDER)
        return self.base_connection(chosen, first, after, self.collection_node)

    @staticmethod
    def _select(docs: list[dict[str, Any]], filters: str | None, order: str) -> list[Any]:
        decoded = json_arg(filters, "filters") or {}
        try:
            predicate = compile_filter(decoded)
            return [
                doc["_artifact"] for doc in sort_documents(list(filter(predicate, docs)), order)
            ]
        except FilterError as exc:
            raise StoreError(str(exc)) from exc

    def type_node(self, proj: Project, type_name: str) -> dict[str, Any]:
        return {
            "__typename": "ArtifactType",
            "id": encode_id("ArtifactType", proj.internal_id, type_name),
            "name": type_name,
            "description": None,
            "createdAt": iso(proj.artifact_types[type_name]),
            "project": lambda: self.hub.projects.project_node(proj),
            "artifactCollection": lambda name: self._typed_collection(proj, type_name, name),
            "artifactCollections": lambda after=None, first=None, filters=None, order=None: (
                self.collections(proj, type_name, after, first, filters, order)
            ),
            "artifact": lambda name: self._typed_artifact(proj, type_name, name),
        }

    @staticmethod
    def _visible_collection(proj: Project, name: str) -> ArtifactCollection | None:
        """A collection with at least one committed (or deleted) version; one holding only
        PENDING versions is not visible yet."""
        coll = proj.collections.get(name)
        return coll if coll is not None and coll.versions else None

    def _typed_collection(self, proj: Project, type_name: str, name: str) -> Any:
        coll = self._visible_collection(proj, name)
        return None if coll is None or coll.type != type_name else self.collection_node(coll)

    def _typed_artifact(self, proj: Project, type_name: str, name: str) -> Any:
        artifact = self.store.resolve_artifact(proj.entity, proj.name, name)
        return (
            None if artifact is None or artifact.type != type_name else self.artifact_node(artifact)
        )

    # ------------------------------------------------------------------ artifact mutations
    def create_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """The COMMITTED version with this digest (digest dedup, as the public API's
        `log_artifact` relies on), else a PENDING version to upload into."""
        names = list(input.get("artifactCollectionNames") or [])
        if input.get("artifactCollectionName"):
            names.insert(0, input["artifactCollectionName"])
        if len(set(names)) != 1:
            raise StoreError("createArtifact needs exactly one artifact collection name")
        collection = names[0]
        metadata = self._json_object(input.get("metadata"), "metadata")
        artifact = self.store.create_artifact_version(
            input["entityName"],
            input["projectName"],
            collection,
            input["artifactTypeName"],
            input["digest"],
            run_id=input.get("runName"),
            aliases=[
                a["alias"]
                for a in input.get("aliases") or []
                if a["artifactCollectionName"] == collection
            ],
            description=input.get("description"),
            metadata=metadata,
            tags=[t["tagName"] for t in input.get("tags") or []],
            deduplicate=input.get("enableDigestDeduplication") is not False,
            ttl_duration_seconds=input.get("ttlDurationSeconds"),
            history_step=input.get("historyStep"),
        )
        return {"artifact": self.artifact_node(artifact)}

    def create_artifact_manifest(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.pending_artifact(input["artifactID"])
        self.store.set_manifest_digest(artifact, input.get("digest") or "")
        return {"artifactManifest": self.upload_manifest_node(artifact)}

    def update_artifact_manifest(self, input: Mapping[str, Any]) -> dict[str, Any]:
        parts = decode_id(input["artifactManifestID"])
        if len(parts) != 2 or parts[0] != "ArtifactManifest":
            raise StoreNotFound(f"artifact manifest {input['artifactManifestID']!r} not found")
        artifact = self.store.pending_artifact(parts[1])
        if input.get("digest") is not None:
            self.store.set_manifest_digest(artifact, input["digest"])
        return {"artifactManifest": self.upload_manifest_node(artifact)}

    def upload_manifest_node(self, artifact: Artifact) -> dict[str, Any]:
        """The manifest record of a PENDING version with its upload URL; a digest that is a
        base64 md5 becomes a `Content-MD5` upload header, as presigned URLs demand."""
        node = self.manifest_node(artifact)
        digest = artifact.manifest_digest
        node["file"]["uploadUrl"] = self.urls.manifest(artifact.id, method="PUT")
        node["file"]["uploadHeaders"] = [f"Content-MD5:{digest}"] if check_b64_md5(digest) else []
        return node

    def create_artifact_files(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """Upload URLs for the files of PENDING versions; a file whose bytes the store already
        holds gets none (nothing to upload). A file sent with its part list
        (`uploadPartsInput`) also gets a multipart upload: one signed `PUT` URL per part,
        completed by `completeMultipartUploadArtifact` (`multipart.py`)."""
        nodes = []
        for spec in input["artifactFiles"]:
            artifact = self.store.pending_artifact(spec["artifactID"])
            name = check_file_name(spec["name"])
            digest = spec["md5"]
            if not check_b64_md5(digest):
                raise StoreError(f"file {name!r}: md5 {digest!r} is not a base64 md5 digest")
            missing = not self.store.has_blob(digest)
            multipart = None
            if missing and spec.get("uploadPartsInput"):
                upload = self.store.multipart.create(digest, spec["uploadPartsInput"])
                multipart = {
                    "uploadID": upload.upload_id,
                    "uploadUrlParts": [
                        {"partNumber": n, "uploadUrl": self.urls.upload_part(upload.upload_id, n)}
                        for n in range(1, len(upload.part_md5s) + 1)
                    ],
                }
            nodes.append(
                {
                    "__typename": "File",
                    "id": encode_id("File", artifact.id, name),
                    "name": name,
                    "displayName": name,
                    "url": None,
                    "directUrl": self.urls.blob(digest),
                    "sizeBytes": 0,
                    "mimetype": spec.get("mimetype") or mimetype_of(name),
                    "md5": digest,
                    "digest": digest,
                    "storagePath": f"wandb_artifacts/{hex_of(digest)}",
                    "uploadUrl": self.urls.blob(digest, method="PUT") if missing else None,
                    "uploadHeaders": [f"Content-MD5:{digest}"] if missing else [],
                    "uploadMultipartUrls": multipart,
                    "artifact": lambda artifact=artifact: self.artifact_node(artifact),
                }
            )
        return {"files": self.base_connection(nodes, None, None, lambda node: node)}

    def complete_multipart_upload(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """Join an upload's parts into the stored blob (`multipart.py` has the rules); the
        version the file belongs to must still be PENDING."""
        if input["completeMultipartAction"] != "Complete":
            raise StoreError(f"unknown completeMultipartAction {input['completeMultipartAction']}")
        self.store.pending_artifact(input["artifactID"])
        data, digest = self.store.multipart.complete(input["uploadID"], input["completedParts"])
        self.store.put_blob(data, digest)
        if input["storagePath"] != f"wandb_artifacts/{hex_of(digest)}":
            raise StoreError(f"storagePath {input['storagePath']!r} is not this upload's")
        return {"digest": digest}

    def commit_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.commit_artifact(self.store.artifact_by_id(input["artifactID"]))
        return {"artifact": self.artifact_node(artifact)}

    def use_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        self.store.use_artifact(
            artifact, input["entityName"], input["projectName"], input["runName"]
        )
        return {"artifact": self.artifact_node(artifact)}

    def update_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        self.store.update_artifact(
            artifact,
            description=input.get("description"),
            metadata=self._json_object(input.get("metadata"), "metadata"),
            tags_to_add=[t["tagName"] for t in input.get("tagsToAdd") or []],
            tags_to_delete=[t["tagName"] for t in input.get("tagsToDelete") or []],
            ttl_duration_seconds=input.get("ttlDurationSeconds"),
        )
        return {"artifact": self.artifact_node(artifact)}

    def delete_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        node = self.artifact_node(artifact)
        self.store.delete_artifact(artifact, delete_aliases=bool(input.get("deleteAliases")))
        return {"artifact": {**node, "state": "DELETED"}}

    def add_aliases(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        self.store.add_aliases(artifact, self._aliases_for(artifact, input["aliases"]))
        return {"success": True}

    def delete_aliases(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        self.store.delete_aliases(artifact, self._aliases_for(artifact, input["aliases"]))
        return {"success": True}

    # ------------------------------------------------------------------ collection mutations
    def update_sequence(self, input: Mapping[str, Any]) -> dict[str, Any]:
        coll = self.store.collection_by_id(input["artifactSequenceID"])
        self.store.update_collection(
            coll, name=input.get("name"), description=input.get("description")
        )
        return {"artifactCollection": self.collection_node(coll)}

    def move_sequence(self, input: Mapping[str, Any]) -> dict[str, Any]:
        coll = self.store.collection_by_id(input["artifactSequenceID"])
        self.store.move_collection(coll, input["destinationArtifactTypeName"])
        return {"artifactCollection": self.collection_node(coll)}

    def _tagged_collection(self, input: Mapping[str, Any]) -> tuple[ArtifactCollection, list[str]]:
        coll = self.store.require_collection(
            input["entityName"], input["projectName"], input["artifactCollectionName"]
        )
        return coll, [t["tagName"] for t in input["tags"]]

    def add_collection_tags(self, input: Mapping[str, Any]) -> dict[str, Any]:
        coll, names = self._tagged_collection(input)
        added = self.store.tag_collection(coll, add=names)
        return {"tags": [{"id": encode_id("Tag", t), "name": t} for t in added]}

    def delete_collection_tags(self, input: Mapping[str, Any]) -> dict[str, Any]:
        coll, names = self._tagged_collection(input)
        self.store.tag_collection(coll, remove=names)
        return {"success": True}

    def delete_sequence(self, input: Mapping[str, Any]) -> dict[str, Any]:
        coll = self.store.collection_by_id(input["artifactSequenceID"])
        node = self.collection_node(coll)
        self.store.delete_collection(coll)
        return {"artifactCollection": {**node, "state": "DELETED"}}

    @staticmethod
    def _aliases_for(artifact: Artifact, aliases: Sequence[Mapping[str, Any]]) -> list[str]:
        """Alias names of the inputs; each must name the artifact's own collection."""
        names = []
        for item in aliases:
            where = (item["entityName"], item["projectName"], item["artifactCollectionName"])
            if where != (artifact.entity, artifact.project, artifact.collection):
                raise StoreError(
                    f"alias {item['alias']!r} names collection {'/'.join(where)}, not the "
                    f"artifact's {artifact.entity}/{artifact.project}/{artifact.collection}"
                )
            names.append(item["alias"])
        return names

    @staticmethod
    def _json_object(value: Any, name: str) -> dict[str, Any] | None:
        decoded = json_arg(value, name)
        if decoded is not None and not isinstance(decoded, dict):
            raise StoreError(f"{name} must be a JSON object")
        return decoded


__all__ = [
    "DEFAULT_COLLECTIONS_ORDER",
    "DEFAULT_VERSIONS_FILTERS",
    "DEFAULT_VERSIONS_ORDER",
    "ArtifactResolvers",
    "like_to_regex",
]
