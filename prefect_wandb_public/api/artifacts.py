"""Artifacts: `ArtifactType(s)`, `ArtifactCollection(s)`, `ArtifactVersions`, `Artifact`.

An `Artifact` is either a draft (`Artifact(name, type)`, filled with `add_file`, `add_dir`,
`add_reference`, `new_file` and published by `Api.log_artifact` or `Run.log_artifact` through
`api/publish.py`) or one committed version (from `Api.artifact()` and the listings). A committed
version's manifest (the files, their base64 md5 digests and sizes) is fetched on first use;
`download` moves the files through `api/download.py` (streamed, verified, cached, parallel),
`verify` re-hashes a local copy.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

from prefect_wandb_public.api import destinations
from prefect_wandb_public.api.download import (
    DEFAULT_WORKERS,
    Downloader,
    DownloadItem,
    md5_of_stream,
)
from prefect_wandb_public.api.files import File
from prefect_wandb_public.api.names import (
    check_alias,
    check_aliases,
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
    check_tags,
    is_version,
    parse_artifact_name,
)
from prefect_wandb_public.api.paging import Paginator, check_per_page
from prefect_wandb_public.api.publish import (
    DEFAULT_UPLOAD_WORKERS,
    ArtifactManifestEntry,
    DraftContents,
    DraftSpec,
    check_metadata,
    publish_aliases,
    publish_draft,
)
from prefect_wandb_public.api.runs import LIGHT_RUN_FIELDS, Run
from prefect_wandb_public.errors import (
    ChecksumError,
    CommError,
    InvalidInputError,
    NotFoundError,
)

if TYPE_CHECKING:
    import pandas as pd

    from prefect_wandb_public.api.client import Api

ARTIFACT_FIELDS = """
  id versionIndex state size digest fileCount commitHash createdAt updatedAt description metadata
  ttlDurationSeconds
  artifactType { name }
  artifactSequence { name project { name entity { name } } }
  aliases { alias artifactCollection { name project { name entity { name } } } }
  tags { name }
"""

COLLECTION_FIELDS = """
  __typename id name description createdAt updatedAt type: defaultArtifactType { name }
  project { name entity { name } }
"""

ARTIFACT_BY_NAME_QUERY = (
    """
query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) { versionIndex artifact { %s } }
  }
}
"""
    % ARTIFACT_FIELDS
)

MANIFEST_QUERY = """
query FetchArtifactManifest($id: ID!) {
  artifact(id: $id) { currentManifest { file { directUrl } } }
}
"""

MEMBERSHIP_FILES_QUERY = """
query ArtifactMembershipFiles($entity: String!, $project: String!, $collection: String!,
    $alias: String!, $fileNames: [String!], $cursor: String, $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      artifactMembership(aliasName: $alias) {
        files(names: $fileNames, after: $cursor, first: $perPage) {
          edges { node { id name url sizeBytes mimetype updatedAt md5 directUrl } cursor }
          pageInfo { endCursor hasNextPage }
        }
      }
    }
  }
}
"""

ARTIFACT_TYPES_QUERY = """
query ProjectArtifactTypes($entity: String!, $project: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactTypes(after: $cursor, first: $perPage) {
      edges { node { id name description createdAt } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

ARTIFACT_TYPE_QUERY = """
query ProjectArtifactType($entity: String!, $project: String!, $type: String!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) { id name description createdAt }
  }
}
"""

TYPE_COLLECTIONS_QUERY = (
    """
query ArtifactTypeArtifactCollections($entity: String!, $project: String!, $type: String!,
    $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollections(after: $cursor, first: $perPage) {
        totalCount
        edges { node { %s } cursor }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""
    % COLLECTION_FIELDS
)

COLLECTION_QUERY = (
    """
query ProjectArtifactCollection($entity: String!, $project: String!, $type: String!,
    $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) { artifactCollection(name: $name) { %s } }
  }
}
"""
    % COLLECTION_FIELDS
)

COLLECTION_ALIASES_QUERY = """
query ArtifactCollectionAliases($id: ID!, $cursor: String, $perPage: Int = 1000) {
  artifactCollection(id: $id) {
    aliases(after: $cursor, first: $perPage) {
      edges { node { alias } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

VERSIONS_QUERY = (
    """
query ProjectArtifacts($entity: String!, $project: String!, $type: String!,
    $collection: String!, $cursor: String, $perPage: Int = 50, $order: String,
    $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $collection) {
        artifacts(after: $cursor, first: $perPage, order: $order, filters: $filters) {
          totalCount
          edges { version node { %s } cursor }
          pageInfo { endCursor hasNextPage }
        }
      }
    }
  }
}
"""
    % ARTIFACT_FIELDS
)

RUN_ARTIFACTS_QUERY = """
query %s($entity: String!, $project: String!, $run: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    run(name: $run) {
      artifacts: %s(after: $cursor, first: $perPage) {
        totalCount
        edges { node { %s } cursor }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""

LINEAGE_RUN_FIELDS = LIGHT_RUN_FIELDS + " project { name entity { name } }"

USED_BY_QUERY = """
query ArtifactUsedBy($id: ID!) {
  artifact(id: $id) { usedBy { edges { node { %s } } } }
}
""" % (LINEAGE_RUN_FIELDS)

CREATED_BY_QUERY = """
query ArtifactCreatedBy($id: ID!) {
  artifact(id: $id) { createdBy { __typename ... on Run { %s } } }
}
""" % (LINEAGE_RUN_FIELDS)

ADD_ALIASES_MUTATION = """
mutation AddAliases($input: AddAliasesInput!) { addAliases(input: $input) { success } }
"""

DELETE_ALIASES_MUTATION = """
mutation DeleteAliases($input: DeleteAliasesInput!) { deleteAliases(input: $input) { success } }
"""

UPDATE_ARTIFACT_MUTATION = (
    """
mutation UpdateArtifact($input: UpdateArtifactInput!) {
  updateArtifact(input: $input) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

DELETE_ARTIFACT_MUTATION = """
mutation DeleteArtifact($input: DeleteArtifactInput!) {
  deleteArtifact(input: $input) { artifact { id } }
}
"""

USE_ARTIFACT_MUTATION = (
    """
mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!,
    $artifactID: ID!, $usedAs: String) {
  useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName,
                      artifactID: $artifactID, usedAs: $usedAs}) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

CREATE_ARTIFACT_MUTATION = (
    """
mutation CreateArtifact($artifactTypeName: String!, $artifactCollectionNames: [String!],
    $entityName: String!, $projectName: String!, $runName: String, $digest: String!,
    $digestAlgorithm: ArtifactDigestAlgorithm!, $aliases: [ArtifactAliasInput!],
    $tags: [TagInput!]) {
  createArtifact(input: {artifactTypeName: $artifactTypeName,
      artifactCollectionNames: $artifactCollectionNames, entityName: $entityName,
      projectName: $projectName, runName: $runName, digest: $digest,
      digestAlgorithm: $digestAlgorithm, aliases: $aliases, tags: $tags,
      enableDigestDeduplication: true}) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

logger = logging.getLogger(__name__)
DEFAULT_VERSION_FILTERS: dict[str, Any] = {"state": "COMMITTED"}
_URL_BATCH = 5000
T = TypeVar("T")


class ArtifactNotLoggedError(InvalidInputError):
    """The attribute or method needs a published version, and this artifact is still a draft."""


class ArtifactFinalizedError(InvalidInputError):
    """A committed version's files cannot change; build a new draft instead."""


def default_artifact_root(name: str) -> str:
    """`$WANDB_ARTIFACT_DIR` (default `./artifacts`) joined with `collection:vN`."""
    base = os.environ.get("WANDB_ARTIFACT_DIR") or os.path.join(".", "artifacts")
    return os.path.join(base, name.replace(":", "-") if os.name == "nt" else name)


@dataclass(frozen=True)
class ArtifactManifest:
    """The manifest JSON (version 1): storage policy and the entries by path."""

    version: int
    storage_policy: str
    storage_policy_config: dict[str, Any]
    entries: dict[str, ArtifactManifestEntry]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactManifest:
        if data.get("version") != 1 or not isinstance(data.get("contents"), Mapping):
            raise CommError(f"unsupported artifact manifest (version {data.get('version')!r})")
        entries = {
            path: ArtifactManifestEntry(
                path=path,
                digest=str(item.get("digest") or ""),
                size=item.get("size"),
                ref=item.get("ref"),
                birth_artifact_id=item.get("birthArtifactID"),
                extra=dict(item.get("extra") or {}),
            )
            for path, item in data["contents"].items()
        }
        return cls(
            version=1,
            storage_policy=str(data.get("storagePolicy") or ""),
            storage_policy_config=dict(data.get("storagePolicyConfig") or {}),
            entries=entries,
        )


class Artifact:
    """A draft or one logged artifact version.

    `Artifact(name, type, description=None, metadata=None)` starts a draft: add files,
    directories, references and new files, then publish it with `Api.log_artifact` or
    `Run.log_artifact`, which return the committed version (the draft stays a draft and may be
    published again). A draft has no id, entity, project or version: what needs the server
    raises `ArtifactNotLoggedError`.

    A committed version (from `Api.artifact()` and the listings) has `name`
    `collection:<alias>` as fetched (`collection:vN` otherwise) and `source_name` always
    `collection:vN`; `aliases` (mutable), `description` and `metadata` are saved by `save()`.
    `manifest` is fetched on first use.
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        check_artifact_name(name)
        check_artifact_type(type, name)
        if description is not None and not isinstance(description, str):
            raise InvalidInputError(f"artifact description must be a string: {description!r}")
        self._client: Api | None = None
        self._attrs: dict[str, Any] = {}
        self._manifest: ArtifactManifest | None = None
        self._draft: DraftContents | None = DraftContents()
        self._requested_name: str | None = None
        self.name: str = name
        self.source_name: str = name
        self.collection_name: str = name
        self.type: str = type
        self.description: str | None = description
        self.metadata: dict[str, Any] = check_metadata(metadata)
        self.aliases: list[str] = []
        self._saved_aliases: list[str] = []
        self.tags: list[str] = []

    @classmethod
    def _from_attrs(
        cls, client: Api, attrs: Mapping[str, Any], requested_name: str | None = None
    ) -> Artifact:
        """A committed version from the server's artifact fields; `requested_name` is the
        `collection:alias` it was fetched by, if any."""
        artifact = cls.__new__(cls)
        artifact._client = client
        artifact._draft = None
        artifact._manifest = None
        artifact._requested_name = requested_name
        artifact._load(attrs)
        return artifact

    def _load(self, attrs: Mapping[str, Any]) -> None:
        self._attrs = dict(attrs)
        sequence = attrs["artifactSequence"]
        self._entity: str = sequence["project"]["entity"]["name"]
        self._project: str = sequence["project"]["name"]
        self.collection_name = sequence["name"]
        self._id: str = attrs["id"]
        self._version = f"v{attrs['versionIndex']}"
        self.source_name = f"{self.collection_name}:{self._version}"
        # As the SDK: the name keeps the alias it was fetched by (`coll:latest`), else `coll:vN`.
        self.name = self._requested_name or self.source_name
        self.type = attrs["artifactType"]["name"]
        self.description = attrs.get("description")
        metadata = attrs.get("metadata")
        self.metadata = json.loads(metadata) if metadata else {}
        self.aliases = [
            a["alias"]
            for a in attrs.get("aliases") or []
            if not is_version(a["alias"]) and self._same_collection(a)
        ]
        self._saved_aliases = list(self.aliases)
        self.tags = [t["name"] for t in attrs.get("tags") or []]

    def _same_collection(self, alias: Mapping[str, Any]) -> bool:
        coll = alias.get("artifactCollection")
        if not coll:
            return True
        proj = coll.get("project") or {}
        return bool(
            coll.get("name") == self.collection_name
            and proj.get("name") == self.project
            and (proj.get("entity") or {}).get("name") == self.entity
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, client: Api, entity: str, project: str, name: str) -> Artifact:
        """The version `name` (`coll:alias`, `coll:vN`, `coll`) names; NotFoundError if none."""
        collection, alias = parse_artifact_name(name)
        data = client.transport.graphql(
            ARTIFACT_BY_NAME_QUERY,
            {"entity": entity, "project": project, "name": f"{collection}:{alias}"},
        )
        if data.get("project") is None:
            raise NotFoundError(
                f"artifact {entity}/{project}/{name} not found: "
                f"project {entity}/{project} does not exist"
            )
        membership = data["project"].get("artifactCollectionMembership")
        if not membership or not membership.get("artifact"):
            raise NotFoundError(f"artifact {entity}/{project}/{collection}:{alias} not found")
        requested = f"{collection}:{alias}" if ":" in name else None
        return cls._from_attrs(client, membership["artifact"], requested)

    # ------------------------------------------------------------------ draft or committed
    def is_draft(self) -> bool:
        """Whether this is a draft not yet published (no id, no version)."""
        return self._draft is not None

    def _logged(self, what: str) -> None:
        if self._draft is not None:
            raise ArtifactNotLoggedError(
                f"artifact {self.name!r} is a draft: {what} needs a published version "
                "(publish it with Api.log_artifact or Run.log_artifact)"
            )

    @property
    def client(self) -> Api:
        """The `Api` this version was loaded through (drafts have none)."""
        self._logged("a client")
        assert self._client is not None
        return self._client

    @property
    def id(self) -> str:
        self._logged("'id'")
        return self._id

    @property
    def entity(self) -> str:
        self._logged("'entity'")
        return self._entity

    @property
    def project(self) -> str:
        self._logged("'project'")
        return self._project

    @property
    def version(self) -> str:
        self._logged("'version'")
        return self._version

    # ------------------------------------------------------------------ building a draft
    def _contents(self, action: str) -> DraftContents:
        if self._draft is None:
            raise ArtifactFinalizedError(
                f"cannot {action} {self.qualified_name}: a committed version is immutable; "
                f"start a new draft with Artifact({self.collection_name!r}, {self.type!r})"
            )
        return self._draft

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False
    ) -> ArtifactManifestEntry:
        """Add a local file as `name` (default: its file name); it is hashed now and uploaded
        when the draft is published. A different file already at `name` needs `overwrite`."""
        return self._contents("add a file to").add_file(local_path, name, overwrite)

    def add_dir(
        self, local_dir: str | os.PathLike[str], name: str | None = None
    ) -> list[ArtifactManifestEntry]:
        """Add every file under `local_dir` at its relative path (under `name` if given)."""
        return self._contents("add a directory to").add_dir(local_dir, name)

    def add_reference(
        self, uri: str, name: str | None = None, checksum: bool = True
    ) -> list[ArtifactManifestEntry]:
        """Track an object (or every object under a prefix) at an `s3://`, `gs://`, `file://`
        or `http(s)://` URI without uploading it; its digest is the store's ETag or md5 (the
        URI itself with `checksum=False`)."""
        return self._contents("add a reference to").add_reference(uri, name, checksum)

    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> AbstractContextManager[IO[Any]]:
        """Open a new file (in a scratch directory the draft owns) that becomes entry `name`
        when the `with` block ends without an error."""
        return self._contents("add a file to").new_file(name, mode, encoding)

    def _spec(self) -> DraftSpec:
        return DraftSpec(
            self.collection_name,
            self.type,
            self.description,
            self.metadata,
            self._contents("publish"),
        )

    # ------------------------------------------------------------------ attributes
    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def collection(self) -> ArtifactCollection:
        return ArtifactCollection(
            self.client, self.entity, self.project, self.collection_name, self.type
        )

    @property
    def size(self) -> int:
        if self._draft is not None:
            return self._draft.size
        return int(self._attrs.get("size") or 0)

    @property
    def digest(self) -> str:
        """The artifact digest (computed locally for a draft)."""
        if self._draft is not None:
            return self._draft.digest()
        return str(self._attrs.get("digest") or "")

    @property
    def state(self) -> str:
        if self._draft is not None:
            return "PENDING"
        return str(self._attrs.get("state") or "")

    @property
    def created_at(self) -> str | None:
        return self._attrs.get("createdAt")

    @property
    def updated_at(self) -> str | None:
        return self._attrs.get("updatedAt")

    @property
    def file_count(self) -> int:
        if self._draft is not None:
            return len(self._draft.entries)
        return int(self._attrs.get("fileCount") or 0)

    @property
    def commit_hash(self) -> str | None:
        return self._attrs.get("commitHash")

    @property
    def url(self) -> str:
        return (
            f"{self.client.app_url}/{self.entity}/{self.project}/artifacts/{self.type}/"
            f"{self.collection_name}/{self.version}"
        )

    @property
    def manifest(self) -> ArtifactManifest:
        """The manifest, fetched once: its URL from GraphQL, then the JSON itself. A draft's
        manifest is its entries so far."""
        if self._draft is not None:
            return ArtifactManifest(
                1, "wandb-storage-policy-v1", {"storageLayout": "V2"}, dict(self._draft.entries)
            )
        if self._manifest is None:
            data = self.client.transport.graphql(MANIFEST_QUERY, {"id": self.id})
            node = ((data.get("artifact") or {}).get("currentManifest") or {}).get("file") or {}
            url = node.get("directUrl")
            if not url:
                raise NotFoundError(f"artifact {self.qualified_name} has no manifest")
            response = self.client.transport.request("GET", url)
            try:
                self._manifest = ArtifactManifest.from_json(response.json())
            except ValueError as exc:
                raise CommError(f"the manifest of {self.qualified_name} is not JSON") from exc
            finally:
                response.close()
        return self._manifest

    def __repr__(self) -> str:
        if self._draft is not None:
            return f"<Artifact draft {self.name} ({self.type}, {self.file_count} files)>"
        return f"<Artifact {self.qualified_name} ({self.type})>"

    # ------------------------------------------------------------------ files
    def files(self, names: Sequence[str] | None = None, per_page: int = 50) -> ArtifactFiles:
        """The artifact's files (all, or those `names`), with their URLs."""
        return ArtifactFiles(self, names, per_page)

    def _file_urls(self, names: Sequence[str] | None) -> dict[str, str]:
        """Direct URLs by file name (a names filter for small subsets, else every file)."""
        urls: dict[str, str] = {}
        listing = ArtifactFiles(self, names, per_page=_URL_BATCH)
        for file in listing:
            if file.direct_url:
                urls[file.name] = file.direct_url
        return urls

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        skip_cache: bool = False,
        workers: int = DEFAULT_WORKERS,
        cache_dir: str | os.PathLike[str] | None = None,
        path_prefix: str | None = None,
        link: bool = True,
    ) -> str:
        """Download every file (or those under `path_prefix`) to `root`; returns `root`.

        `root` may be any fsspec URL; default `./artifacts/<collection:vN>`. Files are verified
        against the manifest while streaming and land atomically; repeats come from the cache.
        """
        self._logged("download()")
        target = os.fspath(root) if root is not None else default_artifact_root(self.source_name)
        entries = [
            e
            for e in self.manifest.entries.values()
            if path_prefix is None or e.path.startswith(path_prefix)
        ]
        self._fetch(entries, target, skip_cache, workers, cache_dir, link)
        return target

    def _fetch(
        self,
        entries: Sequence[ArtifactManifestEntry],
        root: str,
        skip_cache: bool = False,
        workers: int = DEFAULT_WORKERS,
        cache_dir: str | os.PathLike[str] | None = None,
        link: bool = True,
    ) -> list[str]:
        for entry in entries:
            check_entry_path(entry.path)
        downloader = Downloader(
            self.client.transport,
            workers=workers,
            skip_cache=skip_cache,
            cache_dir=cache_dir,
            link=link,
        )
        stored = [e for e in entries if e.ref is None]
        if len(stored) < len(entries):
            logger.warning(
                "artifact %s: skipped %d reference entries (only stored files are downloaded)",
                self.qualified_name,
                len(entries) - len(stored),
            )
        if not stored:
            return []
        subset = [e.path for e in stored] if len(stored) <= 100 else None
        urls = self._file_urls(subset)
        missing = [e.path for e in stored if e.path not in urls]
        if missing:
            raise NotFoundError(
                f"artifact {self.qualified_name}: the server lists no URL for {missing[:5]}"
            )
        items = [DownloadItem(e.path, urls[e.path], e.digest, e.size) for e in stored]
        return downloader.download(items, root)

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download the only file of a single-file artifact; returns its path."""
        self._logged("file()")
        entries = list(self.manifest.entries.values())
        if len(entries) != 1:
            raise InvalidInputError(
                f"artifact {self.qualified_name} has {len(entries)} files; file() needs exactly "
                "one (use download())"
            )
        target = os.fspath(root) if root is not None else default_artifact_root(self.source_name)
        return self._fetch(entries, target)[0]

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        """The manifest entry `name` (or `name.table.json`); NotFoundError when absent."""
        entries = self.manifest.entries
        for candidate in (name, f"{name}.table.json"):
            if candidate in entries:
                return entries[candidate]
        raise NotFoundError(f"artifact {self.qualified_name} has no file {name!r}")

    def get(self, name: str) -> pd.DataFrame | dict[str, Any] | list[Any] | str:
        """A file's content: `*.table.json` as a pandas DataFrame, other JSON decoded, any
        other file as its downloaded local path."""
        self._logged("get()")
        entry = self.get_entry(name)
        path = self._fetch([entry], default_artifact_root(self.source_name))[0]
        if not entry.path.endswith(".json"):
            return path
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if entry.path.endswith(".table.json"):
            import pandas as pd

            if not isinstance(data, dict) or "columns" not in data or "data" not in data:
                raise InvalidInputError(f"{entry.path} is not a table (no columns/data)")
            return pd.DataFrame(data["data"], columns=data["columns"])
        if not isinstance(data, (dict, list)):
            return path
        return data

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Check that `root` holds exactly the manifest's files with matching md5 digests;
        ChecksumError naming the first missing, extra or changed files."""
        self._logged("verify()")
        target = os.fspath(root) if root is not None else default_artifact_root(self.source_name)
        fs, base = destinations.resolve(target, what="artifact root")
        base = base.rstrip("/")
        try:
            found = fs.find(base)
        except FileNotFoundError:
            found = []
        present = {path[len(base) + 1 :]: path for path in found}
        entries = {p: e for p, e in self.manifest.entries.items() if e.ref is None}
        refs = {p for p, e in self.manifest.entries.items() if e.ref is not None}
        extra = sorted(set(present) - set(entries) - refs)
        if extra:
            raise ChecksumError(
                f"{target}: {extra[:5]} are not files of artifact {self.qualified_name}"
            )
        missing = sorted(set(entries) - set(present))
        if missing:
            raise ChecksumError(f"{target}: files {missing[:5]} of {self.qualified_name} missing")

        def digest_of(path: str) -> str:
            with fs.open(present[path], "rb") as handle:
                return md5_of_stream(handle)[0]

        with ThreadPoolExecutor(DEFAULT_WORKERS) as pool:
            digests = dict(zip(entries, pool.map(digest_of, entries), strict=True))
        changed = sorted(path for path, entry in entries.items() if digests[path] != entry.digest)
        if changed:
            raise ChecksumError(
                f"{target}: files {changed[:5]} do not match the md5 digests of "
                f"{self.qualified_name}"
            )

    # ------------------------------------------------------------------ changes
    def save(self) -> None:
        """Save alias changes (added/removed since loading), description and metadata."""
        self._logged("save()")
        aliases = [check_alias(a) for a in self.aliases]
        try:
            metadata = json.dumps(self.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"metadata of {self.qualified_name} is not JSON-serializable: {exc}"
            ) from exc
        if not isinstance(self.metadata, dict):
            raise InvalidInputError(f"metadata of {self.qualified_name} must be a dict")
        transport = self.client.transport
        saved = set(self._saved_aliases)
        for mutation, names in (
            (ADD_ALIASES_MUTATION, [a for a in dict.fromkeys(aliases) if a not in saved]),
            (DELETE_ALIASES_MUTATION, sorted(saved - set(aliases))),
        ):
            if names:
                transport.graphql(mutation, {"input": self._alias_input(names)})
        data = transport.graphql(
            UPDATE_ARTIFACT_MUTATION,
            {
                "input": {
                    "artifactID": self.id,
                    "description": self.description,
                    "metadata": metadata,
                }
            },
        )
        self._load(data["updateArtifact"]["artifact"])

    def _alias_input(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "artifactID": self.id,
            "aliases": [
                {
                    "alias": name,
                    "artifactCollectionName": self.collection_name,
                    "entityName": self.entity,
                    "projectName": self.project,
                }
                for name in names
            ],
        }

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version; refused by the server while it has aliases, unless
        `delete_aliases` removes them too."""
        self._logged("delete()")
        self.client.transport.graphql(
            DELETE_ARTIFACT_MUTATION,
            {"input": {"artifactID": self.id, "deleteAliases": bool(delete_aliases)}},
        )

    # ------------------------------------------------------------------ lineage
    def logged_by(self) -> Run | None:
        """The run that created this version, or None."""
        data = self.client.transport.graphql(CREATED_BY_QUERY, {"id": self.id})
        node = (data.get("artifact") or {}).get("createdBy")
        if not node or node.get("__typename") != "Run":
            return None
        return _run_from(self.client, node)

    def used_by(self) -> list[Run]:
        """The runs that declared this version as an input."""
        data = self.client.transport.graphql(USED_BY_QUERY, {"id": self.id})
        edges = (((data.get("artifact") or {}).get("usedBy")) or {}).get("edges") or []
        return [_run_from(self.client, e["node"]) for e in edges if e.get("node")]


def _run_from(client: Api, node: Mapping[str, Any]) -> Run:
    project = node["project"]
    return Run(client, project["entity"]["name"], project["name"], node["name"], node)


class _CountedPaginator(Paginator[T]):
    """A paginator whose connection carries `totalCount`: `len()` is the server's count, read
    from the first page (fetched for it if not yet loaded)."""

    @property
    def length(self) -> int | None:
        if self.last_response is None:
            self.next_page()
        conn = self.connection(self.last_response or {}) or {}
        return int(conn.get("totalCount") or 0)


class ArtifactFiles(Paginator[File]):
    """An artifact's files with their URLs (all, or the `names` given)."""

    QUERY = MEMBERSHIP_FILES_QUERY

    def __init__(
        self, artifact: Artifact, names: Sequence[str] | None = None, per_page: int = 50
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
        super().__init__(artifact.client, variables, per_page)

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


class ArtifactVersions(_CountedPaginator[Artifact]):
    """The versions of one collection, newest first unless `order` says otherwise; only
    committed ones unless `filters` says otherwise. `len()` is the server's count."""

    QUERY = VERSIONS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        collection_name: str,
        type_name: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
    ) -> None:
        self.entity, self.project = entity, project
        self.collection_name, self.type = collection_name, type_name
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidInputError(f"filters must be a dict, got {type(filters).__name__}")
        if order is not None and not re.fullmatch(r"[+-]?\w+(\.\w+)*", str(order)):
            raise InvalidInputError(f"invalid order {order!r}: expected '+field' or '-field'")
        variables = {
            "entity": entity,
            "project": project,
            "type": type_name,
            "collection": collection_name,
            "order": order,
            "filters": json.dumps(DEFAULT_VERSION_FILTERS if filters is None else dict(filters)),
        }
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        art_type = (data.get("project") or {}).get("artifactType")
        coll = (art_type or {}).get("artifactCollection")
        if coll is None:
            raise NotFoundError(
                f"artifact collection {self.entity}/{self.project}/{self.collection_name} of "
                f"type {self.type!r} not found"
            )
        conn: Mapping[str, Any] | None = coll.get("artifacts")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Artifact:
        return Artifact._from_attrs(self.client, node)

    def __repr__(self) -> str:
        return f"<ArtifactVersions {self.entity}/{self.project}/{self.collection_name}>"


Artifacts = ArtifactVersions


class ArtifactCollection:
    """A sequence of versions of one artifact (`name`) and its type; loaded on creation."""

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        name: str,
        type: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        if attrs is None:
            data = client.transport.graphql(
                COLLECTION_QUERY, {"entity": entity, "project": project, "type": type, "name": name}
            )
            art_type = (data.get("project") or {}).get("artifactType")
            attrs = (art_type or {}).get("artifactCollection")
            if not attrs:
                raise NotFoundError(
                    f"artifact collection {entity}/{project}/{name} of type {type!r} not found"
                )
        self._attrs = dict(attrs)
        self.id: str = attrs["id"]
        self.name: str = attrs["name"]
        self.type: str = (attrs.get("type") or {}).get("name") or type
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")
        self.updated_at: str | None = attrs.get("updatedAt")
        self._aliases: list[str] | None = None

    def is_sequence(self) -> bool:
        return self._attrs.get("__typename", "ArtifactSequence") == "ArtifactSequence"

    @property
    def aliases(self) -> list[str]:
        """The collection's aliases (fetched on first use)."""
        if self._aliases is None:
            self._aliases = list(_CollectionAliases(self))
        return self._aliases

    def versions(self, per_page: int = 50) -> ArtifactVersions:
        return self.artifacts(per_page=per_page)

    def artifacts(
        self,
        per_page: int = 50,
        order: str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> ArtifactVersions:
        return ArtifactVersions(
            self.client,
            self.entity,
            self.project,
            self.name,
            self.type,
            filters=filters,
            order=order,
            per_page=per_page,
        )

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"


class _CollectionAliases(Paginator[str]):
    """The alias names of one collection, paged."""

    QUERY = COLLECTION_ALIASES_QUERY

    def __init__(self, collection: ArtifactCollection, per_page: int = 1000) -> None:
        self.collection = collection
        super().__init__(collection.client, {"id": collection.id}, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        conn: Mapping[str, Any] | None = (data.get("artifactCollection") or {}).get("aliases")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> str:
        return str(node["alias"])


class ArtifactCollections(_CountedPaginator[ArtifactCollection]):
    """The collections of one artifact type in a project; `len()` is the server's count."""

    QUERY = TYPE_COLLECTIONS_QUERY

    def __init__(
        self, client: Api, entity: str, project: str, type_name: str, per_page: int = 50
    ) -> None:
        self.entity, self.project, self.type_name = entity, project, type_name
        variables = {"entity": entity, "project": project, "type": type_name}
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        art_type = (data.get("project") or {}).get("artifactType")
        if art_type is None:
            raise NotFoundError(
                f"artifact type {self.type_name!r} not found in {self.entity}/{self.project}"
            )
        conn: Mapping[str, Any] | None = art_type.get("artifactCollections")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> ArtifactCollection:
        return ArtifactCollection(
            self.client, self.entity, self.project, node["name"], self.type_name, node
        )

    def __repr__(self) -> str:
        return f"<ArtifactCollections {self.entity}/{self.project} {self.type_name}>"


class ArtifactType:
    """An artifact type of a project (`dataset`, `model`, ...); loaded on creation."""

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        type_name: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        if attrs is None:
            data = client.transport.graphql(
                ARTIFACT_TYPE_QUERY, {"entity": entity, "project": project, "type": type_name}
            )
            if data.get("project") is None:
                raise NotFoundError(f"project {entity}/{project} not found")
            attrs = data["project"].get("artifactType")
            if not attrs:
                raise NotFoundError(f"artifact type {type_name!r} not found in {entity}/{project}")
        self._attrs = dict(attrs)
        self.id: str = attrs["id"]
        self.name: str = attrs["name"]
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")

    type = property(lambda self: self.name)

    def collections(self, per_page: int = 50) -> ArtifactCollections:
        return ArtifactCollections(self.client, self.entity, self.project, self.name, per_page)

    def collection(self, name: str) -> ArtifactCollection:
        return ArtifactCollection(self.client, self.entity, self.project, name, self.name)

    def __repr__(self) -> str:
        return f"<ArtifactType {self.entity}/{self.project} {self.name}>"


class ArtifactTypes(Paginator[ArtifactType]):
    """A project's artifact types."""

    QUERY = ARTIFACT_TYPES_QUERY

    def __init__(self, client: Api, entity: str, project: str, per_page: int = 50) -> None:
        self.entity, self.project = entity, project
        super().__init__(client, {"entity": entity, "project": project}, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if data.get("project") is None:
            raise NotFoundError(f"project {self.entity}/{self.project} not found")
        conn: Mapping[str, Any] | None = data["project"].get("artifactTypes")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> ArtifactType:
        return ArtifactType(self.client, self.entity, self.project, node["name"], node)

    def __repr__(self) -> str:
        return f"<ArtifactTypes {self.entity}/{self.project}>"


class RunArtifacts(_CountedPaginator[Artifact]):
    """The artifacts a run logged (`output`) or used (`input`); `len()` is the server's count."""

    def __init__(self, client: Api, run: Run, direction: str, per_page: int = 100) -> None:
        if direction not in ("output", "input"):
            raise InvalidInputError(f"direction must be 'output' or 'input', not {direction!r}")
        self.run = run
        self.direction = direction
        field_name = f"{direction}Artifacts"
        op = "RunOutputArtifacts" if direction == "output" else "RunInputArtifacts"
        self.QUERY = RUN_ARTIFACTS_QUERY % (op, field_name, ARTIFACT_FIELDS)
        variables = {"entity": run.entity, "project": run.project, "run": run.id}
        super().__init__(client, variables, check_per_page(per_page))

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node = (data.get("project") or {}).get("run")
        if node is None:
            raise NotFoundError(f"run {'/'.join(self.run.path)} not found")
        conn: Mapping[str, Any] | None = node.get("artifacts")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Artifact:
        return Artifact._from_attrs(self.client, node)

    def __repr__(self) -> str:
        return f"<RunArtifacts {'/'.join(self.run.path)} {self.direction}>"


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
) -> Artifact:
    """Publish a draft as a new version logged by `run`, or declare an existing version an
    output of `run` (same entity and project); adds `aliases` and `tags`. Returns the committed
    version as the server now has it."""
    if not isinstance(artifact, Artifact):
        raise InvalidInputError(
            f"log_artifact needs a draft Artifact(name, type) or one from Api.artifact(), "
            f"got {artifact!r}"
        )
    if artifact.is_draft():
        return publish(run.client, artifact, (run.entity, run.project), run.id, aliases, tags)
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
) -> Artifact:
    """Publish `draft` to `where` (entity, project), as an output of run `run_id` if given,
    with `latest`, the draft's aliases and `aliases`; returns the committed version.

    The draft is checked before the first request; `where` may be a callable, asked only then
    (the default entity costs a query). Without a run the project is created when missing."""
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
    )
    return Artifact._from_attrs(client, attrs)
