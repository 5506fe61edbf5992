"""Artifact types, collections and versions, and the listings that page through them.

`ArtifactType` and `ArtifactCollection` load on creation; `ArtifactTypes`, `ArtifactCollections`,
`ArtifactVersions` (alias `Artifacts`) and `RunArtifacts` are lazy paginators whose `len()` is the
server's count where it gives one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.paging import Paginator, check_per_page
from prefect_wandb_public.api.queries.artifacts import (
    ARTIFACT_FIELDS,
    ARTIFACT_TYPE_QUERY,
    ARTIFACT_TYPES_QUERY,
    COLLECTION_ALIASES_QUERY,
    COLLECTION_QUERY,
    RUN_ARTIFACTS_QUERY,
    TYPE_COLLECTIONS_QUERY,
    VERSIONS_QUERY,
)
from prefect_wandb_public.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.runs import Run

DEFAULT_VERSION_FILTERS: dict[str, Any] = {"state": "COMMITTED"}
T = TypeVar("T")


class _CountedPaginator(Paginator[T]):
    """A paginator whose connection carries `totalCount`: `len()` is the server's count, read
    from the first page (fetched for it if not yet loaded)."""

    @property
    def length(self) -> int | None:
        if self.last_response is None:
            self.next_page()
        conn = self.connection(self.last_response or {}) or {}
        return int(conn.get("totalCount") or 0)


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


__all__ = [
    "ArtifactCollection",
    "ArtifactCollections",
    "ArtifactType",
    "ArtifactTypes",
    "ArtifactVersions",
    "Artifacts",
    "RunArtifacts",
]
