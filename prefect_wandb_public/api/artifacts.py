"""`Artifact`: a draft of a new version, or one committed version.

A draft (`Artifact(name, type)`) is filled with `add_file`, `add_dir`, `add_reference` and
`new_file` (`api/drafts.py`) and published by `Api.log_artifact` or `Run.log_artifact`
(`api/publish.py`). A committed version (from `Api.artifact()` and the listings of
`api/artifact_listings.py`) fetches its manifest on first use; `download` moves the files through
`api/artifact_fetch.py` (the manifest and the file URLs side by side) and `api/download.py`
(streamed, verified, cached, parallel), `verify` re-hashes a local copy.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any, Literal

from prefect_wandb_public.api import artifact_fetch, destinations
from prefect_wandb_public.api.artifact_edits import ArtifactFields
from prefect_wandb_public.api.download import DEFAULT_WORKERS, md5_of_stream
from prefect_wandb_public.api.drafts import DraftContents, DraftSpec, check_metadata
from prefect_wandb_public.api.files import ArtifactFiles
from prefect_wandb_public.api.links import (
    LinkInfo,
    link,
    link_of,
    link_url,
    linked_artifacts,
    unlink,
)
from prefect_wandb_public.api.manifest import (
    STORAGE_POLICY,
    ArtifactManifest,
    ArtifactManifestEntry,
)
from prefect_wandb_public.api.names import (
    check_artifact_name,
    check_artifact_type,
    is_version,
    parse_artifact_name,
)
from prefect_wandb_public.api.partials import is_temp_name
from prefect_wandb_public.api.queries.artifacts import (
    ARTIFACT_BY_NAME_QUERY,
    CREATED_BY_QUERY,
    DELETE_ARTIFACT_MUTATION,
    USED_BY_QUERY,
)
from prefect_wandb_public.errors import (
    ArtifactFinalizedError,
    ArtifactNotLoggedError,
    ChecksumError,
    InvalidInputError,
    NotFoundError,
)

if TYPE_CHECKING:
    import pandas as pd

    from prefect_wandb_public.api.artifact_listings import ArtifactCollection
    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.progress import ProgressCallback
    from prefect_wandb_public.api.runs import Run

logger = logging.getLogger(__name__)


def default_artifact_root(name: str) -> str:
    """`$WANDB_ARTIFACT_DIR` (default `./artifacts`) joined with `collection:vN`."""
    base = os.environ.get("WANDB_ARTIFACT_DIR") or os.path.join(".", "artifacts")
    return os.path.join(base, name.replace(":", "-") if os.name == "nt" else name)


class Artifact(ArtifactFields):
    """A draft or one logged artifact version.

    `Artifact(name, type, description=None, metadata=None)` starts a draft: add files,
    directories, references and new files, then publish it with `Api.log_artifact` or
    `Run.log_artifact`, which return the committed version (the draft stays a draft and may be
    published again). A draft has no id, entity, project or version: what needs the server
    raises `ArtifactNotLoggedError`.

    A committed version (from `Api.artifact()` and the listings) has `name`
    `collection:<alias>` as fetched (`collection:vN` otherwise) and `source_name` always
    `collection:vN`; `aliases`, `tags`, `ttl`, `description` and `metadata` are saved by
    `save()` (`api/artifact_edits.py`). `manifest` is fetched on first use.
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
        self._manifest_url: artifact_fetch.ManifestUrl | None = None
        self._draft: DraftContents | None = DraftContents()
        self._requested_name: str | None = None
        self._link: LinkInfo | None = None
        self.name: str = name
        self.source_name: str = name
        self.collection_name: str = name
        self.type: str = type
        self.description: str | None = description
        self.metadata: dict[str, Any] = check_metadata(metadata)
        self.aliases: list[str] = []
        self._init_fields()

    @classmethod
    def _from_attrs(
        cls,
        client: Api,
        attrs: Mapping[str, Any],
        requested_name: str | None = None,
        link: LinkInfo | None = None,
    ) -> Artifact:
        """A committed version from the server's artifact fields; `requested_name` is the
        `collection:alias` it was fetched by, if any; `link` the portfolio it is read through."""
        artifact = cls.__new__(cls)
        artifact._client = client
        artifact._draft = None
        artifact._manifest = None
        artifact._requested_name = requested_name
        artifact._link = link
        artifact._load(attrs)
        return artifact

    def _load(self, attrs: Mapping[str, Any]) -> None:
        self._attrs = dict(attrs)
        self._manifest_url = artifact_fetch.ManifestUrl.of(attrs)
        sequence = attrs["artifactSequence"]
        self._entity: str = sequence["project"]["entity"]["name"]
        self._project: str = sequence["project"]["name"]
        self.collection_name = sequence["name"]
        self._id: str = attrs["id"]
        self._version = f"v{attrs['versionIndex']}"
        self.source_name = f"{self.collection_name}:{self._version}"
        if self._link is not None:  # a link is read through its portfolio (api/links.py)
            self._entity, self._project = self._link.entity, self._link.project
            self.collection_name, self._version = self._link.collection, self._link.version
        # As the SDK: the name keeps the alias it was fetched by (`coll:latest`), else `coll:vN`.
        self.name = self._requested_name or f"{self.collection_name}:{self._version}"
        self.type = attrs["artifactType"]["name"]
        self.description = attrs.get("description")
        metadata = attrs.get("metadata")
        self.metadata = json.loads(metadata) if metadata else {}
        self.aliases = [
            a["alias"]
            for a in attrs.get("aliases") or []
            if not is_version(a["alias"]) and self._same_collection(a)
        ]
        self._init_fields(attrs)

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
        return cls._from_attrs(
            client, membership["artifact"], requested, link_of(membership, project)
        )

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
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: Literal["mutable", "immutable"] | None = "mutable",
        overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        """Add a local file as `name` (default: its file name), hashed now, uploaded when the
        draft is published. As in 0.31: `policy="mutable"` stages a private copy (later edits
        do not reach the version), `"immutable"` uploads the file itself (a changed file is
        refused at publish); `is_tmp` names it by its md5; replacing needs `overwrite`.
        `skip_cache` needs no action: uploads never fill the download cache here."""
        return self._contents("add a file to").add_file(
            local_path, name, is_tmp=is_tmp, policy=policy, overwrite=overwrite
        )

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: Literal["mutable", "immutable"] | None = "mutable",
        merge: bool = False,
    ) -> list[ArtifactManifestEntry]:
        """Add every file under `local_path` at its relative path (under `name` if given),
        with `policy` as in `add_file`; a different file already at one of those paths is an
        error unless `merge` (then it is replaced). `skip_cache` as in `add_file`."""
        return self._contents("add a directory to").add_dir(
            local_path, name, policy=policy, merge=merge
        )

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Track an object (or every object under a prefix) at an `s3://`, `gs://`, `file://`
        or `http(s)://` URI without uploading it; its digest is the store's ETag or md5 (the
        URI itself with `checksum=False`). More than `max_objects` objects under the prefix is
        an InvalidInputError and adds nothing."""
        return self._contents("add a reference to").add_reference(uri, name, checksum, max_objects)

    def new_file(
        self,
        name: str,
        mode: str = "x",
        encoding: str | None = None,
        policy: Literal["mutable", "immutable"] = "mutable",
    ) -> AbstractContextManager[IO[Any]]:
        """Open a new file (in a scratch directory the draft owns: either `policy` protects
        it) that becomes entry `name` when the `with` block ends without an error."""
        return self._contents("add a file to").new_file(name, mode, encoding, policy)

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add a table (a pandas DataFrame) as `<name>.table.json` in W&B's table format, which
        `get(name)` here and `wandb`'s `artifact.get(name)` read back."""
        return self._contents("add an object to").add_table(obj, name, overwrite)

    def __setitem__(self, name: str, obj: Any) -> None:
        """`artifact[name] = frame` is `add(frame, name)`."""
        self.add(obj, name)

    def finalize(self) -> None:
        """Freeze a draft: adding or removing files afterwards is an ArtifactFinalizedError
        (a committed version is final already)."""
        if self._draft is not None:
            self._draft.final = True

    def get_added_local_path_name(self, local_path: str | os.PathLike[str]) -> str | None:
        """The entry name a local file was added under (`add_file`, `add_dir`), else None."""
        if self._draft is None:
            return None
        return self._draft.added_local_paths.get(os.path.abspath(os.fspath(local_path)))

    def new_draft(self) -> Artifact:
        """A draft of the next version of this collection: same type, description, metadata
        and files (the files are not downloaded; publishing re-declares them)."""
        self._logged("new_draft()")
        draft = Artifact(self.collection_name, self.type, self.description, self.metadata)
        assert draft._draft is not None
        draft._draft.entries.update(self.manifest.entries)
        return draft

    def remove(self, item: str | os.PathLike[str] | ArtifactManifestEntry) -> None:
        """Remove an entry, or every entry under a directory; FileNotFoundError when nothing
        is at that path."""
        self._contents("remove a file from").remove(item)

    def _spec(self) -> DraftSpec:
        return DraftSpec(
            self.collection_name,
            self.type,
            self.description,
            self.metadata,
            self._contents("publish"),
            self._ttl_to_send(),
        )

    # ------------------------------------------------------------------ attributes
    @property
    def history_step(self) -> int | None:
        """The nearest history step of the logging run at which this version was logged."""
        self._logged("'history_step'")
        step = self._attrs.get("historyStep")
        return None if step is None else max(0, int(step) - 1)

    @property
    def incremental(self) -> bool:
        """Whether the draft is an incremental update (never here: every draft is whole)."""
        return False

    @property
    def distributed_id(self) -> None:
        """Distributed artifacts (written by several runs) are not supported here."""
        return None

    @distributed_id.setter
    def distributed_id(self, value: str | None) -> None:
        if value is not None:
            raise InvalidInputError(
                "distributed artifacts (several runs writing one version) are not supported"
            )

    def json_encode(self) -> dict[str, Any]:
        """The reference to this version that W&B stores in configs and tables."""
        self._logged("json_encode()")
        return {
            "_type": "artifactVersion",
            "_version": "v0",
            "id": self.id,
            "version": self.version,
            "sequenceName": self.collection_name,
            "usedAs": None,
        }

    @property
    def digest_algorithm(self) -> str:
        """How `digest` is computed over the manifest: `MANIFEST_MD5`."""
        if self._draft is not None:
            return "MANIFEST_MD5"
        return str(self._attrs.get("digestAlgorithm") or "MANIFEST_MD5")

    @property
    def use_as(self) -> None:
        """Deprecated in 0.31 (always None)."""
        warnings.warn("The use_as property of Artifact is deprecated.", DeprecationWarning, 2)
        return None

    def wait(self, timeout: int | None = None) -> Artifact:
        """The version itself: publishing here returns only once it is committed. A draft is
        an ArtifactNotLoggedError (publish it with `Api.log_artifact`)."""
        self._logged("wait()")
        return self

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def collection(self) -> ArtifactCollection:
        """The collection (sequence) this version belongs to, loaded now."""
        return self.client.artifact_collection(
            self.type, f"{self.entity}/{self.project}/{self.collection_name}"
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
        if self.is_link:
            return link_url(self, self.client.app_url)
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
                1, STORAGE_POLICY, {"storageLayout": "V2"}, dict(self._draft.entries)
            )
        if self._manifest is None:
            early, self._manifest_url = self._manifest_url, None  # a URL serves one fetch
            self._manifest = artifact_fetch.fetch_manifest(self, early)
        return self._manifest

    def _manifest_and_urls(
        self, check: Callable[[ArtifactManifest], None] = lambda manifest: None
    ) -> tuple[ArtifactManifest, Mapping[str, str] | None]:
        """The manifest (`check`ed) and, when it is fetched now, its stored files' URLs, listed
        beside it (`artifact_fetch`); None when it was fetched before (`fetch_entries` asks)."""
        if self._manifest is not None or self._draft is not None:
            check(self.manifest)
            return self.manifest, None
        return artifact_fetch.manifest_and_urls(self, check)

    def __repr__(self) -> str:
        if self._draft is not None:
            return f"<Artifact draft {self.name} ({self.type}, {self.file_count} files)>"
        return f"<Artifact {self.qualified_name} ({self.type})>"

    # ------------------------------------------------------------------ files
    def files(
        self, names: Sequence[str] | None = None, per_page: int = 50, start: str | None = None
    ) -> ArtifactFiles:
        """The artifact's files (all, or those `names`), with their URLs; `start` resumes
        after a saved `cursor`."""
        return ArtifactFiles(self, names, per_page, start=start)

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
        *,
        workers: int = DEFAULT_WORKERS,
        cache_dir: str | os.PathLike[str] | None = None,
        link: bool = True,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Download every file (or those under `path_prefix`) to `root`; returns `root`.

        `root` may be any fsspec URL; default `./artifacts/<collection:vN>`. Files are verified
        against the manifest while streaming and land atomically; repeats come from the cache
        (`skip_cache=True` bypasses it). `progress` is called with a `Progress` (bytes and
        files) as the transfer advances. 0.31's positional order; reference entries are not
        fetched here (a warning says how many were skipped), so `allow_missing_references`
        has nothing to allow, and whole files stream on `workers` threads whatever
        `multipart` says (the bytes are the same either way).
        """
        del allow_missing_references, multipart  # see the docstring: nothing to change
        self._logged("download()")
        skip_cache = bool(skip_cache)
        target = os.fspath(root) if root is not None else default_artifact_root(self.source_name)
        # Every file: their URL listing can run beside the manifest's fetch.
        manifest, urls = self._manifest_and_urls() if path_prefix is None else (self.manifest, None)
        entries = [
            e
            for e in manifest.entries.values()
            if path_prefix is None or e.path.startswith(path_prefix)
        ]
        artifact_fetch.fetch_entries(
            self, entries, target, skip_cache, workers, cache_dir, link, progress, urls=urls
        )
        return target

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download the only file of a single-file artifact; returns its path."""
        self._logged("file()")

        def single_file(manifest: ArtifactManifest) -> None:
            if len(manifest.entries) != 1:
                raise InvalidInputError(
                    f"artifact {self.qualified_name} has {len(manifest.entries)} files; file() "
                    "needs exactly one (use download())"
                )
            [entry] = manifest.entries.values()
            if entry.ref is not None:
                raise InvalidInputError(
                    f"the only file of artifact {self.qualified_name}, {entry.path!r}, is a "
                    f"reference to {entry.ref}: file() downloads stored files (read the "
                    "reference from its own storage)"
                )

        manifest, urls = self._manifest_and_urls(single_file)
        target = os.fspath(root) if root is not None else default_artifact_root(self.source_name)
        return artifact_fetch.fetch_entries(
            self, list(manifest.entries.values()), target, urls=urls
        )[0]

    def __getitem__(self, name: str) -> pd.DataFrame | dict[str, Any] | list[Any] | str:
        """`artifact[name]` is `get(name)`."""
        return self.get(name)

    def get_path(self, name: str) -> ArtifactManifestEntry:
        """Deprecated name of `get_entry`."""
        warnings.warn(
            "Artifact.get_path(name) is deprecated, use Artifact.get_entry(name) instead.",
            DeprecationWarning,
            2,
        )
        return self.get_entry(name)

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
        root = default_artifact_root(self.source_name)
        path = artifact_fetch.fetch_entries(self, [entry], root)[0]
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

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Make `root` (default `./artifacts/<collection>`) hold exactly this version: files
        that are not entries are deleted, then every entry is downloaded; returns `root`."""
        self._logged("checkout()")
        target = os.fspath(root) if root is not None else self._root_for(self.collection_name)
        fs, base = destinations.resolve(target, what="artifact root")
        base = base.rstrip("/")
        entries = self.manifest.entries
        try:
            found = fs.find(base)
        except FileNotFoundError:
            found = []
        for path in found:
            if path[len(base) + 1 :] not in entries:
                fs.rm_file(path)
        return self.download(target)

    @staticmethod
    def _root_for(name: str) -> str:
        return default_artifact_root(name)

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
        # A crashed download's temporary files are not the artifact's (and are swept later).
        present = {
            path[len(base) + 1 :]: path
            for path in found
            if not is_temp_name(path.rpartition("/")[2])
        }
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
    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version; refused by the server while it has aliases, unless
        `delete_aliases` removes them too. Deleting a link unlinks it (the source stays)."""
        self._logged("delete()")
        if self.is_link:
            logger.warning("deleting a linked artifact unlinks it: %s", self.qualified_name)
            self.unlink()
            return
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
        return self.client._run_from_node(node)

    def used_by(self) -> list[Run]:
        """The runs that declared this version as an input."""
        data = self.client.transport.graphql(USED_BY_QUERY, {"id": self.id})
        edges = (((data.get("artifact") or {}).get("usedBy")) or {}).get("edges") or []
        return [self.client._run_from_node(e["node"]) for e in edges if e.get("node")]

    # ------------------------------------------------------------------ links (api/links.py)
    @property
    def is_link(self) -> bool:
        """Whether this version was read through a portfolio (a registry collection or a
        legacy registered model) rather than through its own sequence."""
        return self._link is not None

    @property
    def linked_at(self) -> str | None:
        """When the link was made (None for a version read through its own sequence)."""
        self._logged("'linked_at'")
        return self._link.linked_at if self._link is not None else None

    @property
    def source_entity(self) -> str:
        self._logged("'source_entity'")
        return str(self._attrs["artifactSequence"]["project"]["entity"]["name"])

    @property
    def source_project(self) -> str:
        self._logged("'source_project'")
        return str(self._attrs["artifactSequence"]["project"]["name"])

    @property
    def source_version(self) -> str:
        self._logged("'source_version'")
        return f"v{self._attrs['versionIndex']}"

    @property
    def source_qualified_name(self) -> str:
        return f"{self.source_entity}/{self.source_project}/{self.source_name}"

    @property
    def source_collection(self) -> ArtifactCollection:
        """The sequence the source version lives in, loaded now."""
        name = self.source_name.split(":")[0]
        return self.client.artifact_collection(
            self.type, f"{self.source_entity}/{self.source_project}/{name}"
        )

    @functools.cached_property
    def source_artifact(self) -> Artifact:
        """The source version itself (this object when it is not a link), fetched once."""
        if not self.is_link:
            return self
        return type(self).load(
            self.client, self.source_entity, self.source_project, self.source_name
        )

    @property
    def linked_artifacts(self) -> list[Artifact]:
        """The links of this source version, one per portfolio (none for a link)."""
        self._logged("'linked_artifacts'")
        return linked_artifacts(self)

    def link(self, target_path: str, aliases: Iterable[str] | None = None) -> Artifact:
        """Link this version into `target_path` (`wandb-registry-<registry>/<collection>`,
        `<org>/wandb-registry-<registry>/<collection>` or `<team>/model-registry/<name>`)
        with `aliases`; the collection is created when missing. Returns the link."""
        return link(self, target_path, aliases)

    def unlink(self) -> None:
        """Remove this link from its collection (the source version stays)."""
        self._logged("unlink()")
        unlink(self)


__all__ = ["Artifact", "default_artifact_root"]
