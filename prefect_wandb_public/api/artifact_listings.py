"""Artifact types, collections and versions, and the listings that page through them.

`ArtifactType` and `ArtifactCollection` load on creation; `ArtifactTypes`, `ArtifactCollections`,
`ArtifactVersions` (alias `Artifacts`) and `RunArtifacts` are lazy paginators whose `len()` is the
server's count where it gives one.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.names import check_artifact_name, check_artifact_type, check_tags
from prefect_wandb_public.api.paging import Paginator, check_per_page, project_connection
from prefect_wandb_public.api.queries.artifacts import (
    ADD_COLLECTION_TAGS_MUTATION,
    ARTIFACT_FIELDS,
    ARTIFACT_TYPE_QUERY,
    ARTIFACT_TYPES_QUERY,
    COLLECTION_ALIASES_QUERY,
    COLLECTION_QUERY,
    DELETE_COLLECTION_TAGS_MUTATION,
    DELETE_PORTFOLIO_MUTATION,
    DELETE_SEQUENCE_MUTATION,
    MOVE_SEQUENCE_MUTATION,
    PROJECT_COLLECTIONS_QUERY,
    RUN_ARTIFACTS_QUERY,
    TYPE_COLLECTIONS_QUERY,
    UPDATE_PORTFOLIO_MUTATION,
    UPDATE_SEQUENCE_MUTATION,
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
        tags: Sequence[str] | None = None,
        *,
        start: str | None = None,
    ) -> None:
        self.entity, self.project = entity, project
        self.collection_name, self.type = collection_name, type_name
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidInputError(f"filters must be a dict, got {type(filters).__name__}")
        self.filters = dict(DEFAULT_VERSION_FILTERS if filters is None else filters)
        self.order = order
        self.tags = check_tags(tags)
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
        super().__init__(client, variables, per_page, start=start)

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

    def _convert_edges(self, edges: list[Mapping[str, Any]]) -> list[Artifact]:
        """With `tags`, only the versions holding every one (filtered here, as 0.31 does)."""
        page = [self.convert(e["node"], e) for e in edges if e.get("node") is not None]
        page = [a for a in page if set(self.tags) <= set(a.tags)]
        self.objects.extend(page)
        return page

    def __repr__(self) -> str:
        return f"<ArtifactVersions {self.entity}/{self.project}/{self.collection_name}>"


Artifacts = ArtifactVersions


class ArtifactCollection:
    """A sequence of versions of one artifact and its type; loaded on creation.

    `name`, `description`, `type` and `tags` may be changed and saved with `save()` (a type
    change moves the sequence to that type); `delete()` deletes it with every version.
    """

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        name: str,
        type: str,
        attrs: Mapping[str, Any] | None = None,
        organization: str | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self.organization = organization
        self._apply(attrs if attrs is not None else self.load(entity, project, type, name), type)
        self._aliases: list[str] | None = None

    def load(self, entity: str, project: str, type_: str, name: str) -> dict[str, Any]:
        """The fields of collection `entity/project/name` of type `type_` (NotFoundError when
        there is none); this object is not changed."""
        data = self.client.transport.graphql(
            COLLECTION_QUERY, {"entity": entity, "project": project, "type": type_, "name": name}
        )
        art_type = (data.get("project") or {}).get("artifactType")
        attrs = (art_type or {}).get("artifactCollection")
        if not attrs:
            raise NotFoundError(
                f"artifact collection {entity}/{project}/{name} of type {type_!r} not found"
            )
        return dict(attrs)

    def _apply(self, attrs: Mapping[str, Any], type_name: str | None = None) -> None:
        """Take in the server's fields as the saved (and current) state."""
        self._attrs = dict(attrs)
        self.id: str = attrs["id"]
        self._name: str = attrs["name"]
        self._type: str = (attrs.get("type") or {}).get("name") or type_name or ""
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")
        self.updated_at: str | None = attrs.get("updatedAt")
        self._tags = [e["node"]["name"] for e in (attrs.get("tags") or {}).get("edges") or []]
        self._saved = (self._name, self._type, self.description, list(self._tags))

    def is_sequence(self) -> bool:
        return self._attrs.get("__typename", "ArtifactSequence") == "ArtifactSequence"

    @property
    def name(self) -> str:
        """The collection's name (settable; saved by `save()`)."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = check_artifact_name(name)

    @property
    def type(self) -> str:
        """The artifact type of its versions (settable for sequences; saved by `save()`)."""
        return self._type

    @type.setter
    def type(self, type_name: str) -> None:
        if not self.is_sequence():
            raise InvalidInputError(f"only a sequence's type can change, not {self!r}'s")
        self._type = type_name

    @property
    def tags(self) -> list[str]:
        """The collection's tags (settable; saved by `save()`)."""
        return self._tags

    @tags.setter
    def tags(self, tags: Sequence[str]) -> None:
        self._tags = check_tags(tags)

    @property
    def project_id(self) -> str:
        """The id of the collection's project."""
        return str((self._attrs.get("project") or {}).get("id") or "")

    @property
    def project_internal_id(self) -> str | None:
        """The internal id of the collection's project."""
        return (self._attrs.get("project") or {}).get("internalId")

    @property
    def aliases(self) -> list[str]:
        """The collection's aliases (fetched on first use)."""
        if self._aliases is None:
            self._aliases = list(_CollectionAliases(self))
        return self._aliases

    # ------------------------------------------------------------------ changes
    def save(self) -> None:
        """Save name and description (always), a type change (the sequence moves to that
        type) and tag changes, then reload."""
        _, saved_type, _, saved_tags = self._saved
        if self._type != saved_type:
            for type_name, what in ((self._type, "new"), (saved_type, "current")):
                try:
                    check_artifact_type(type_name, self._name)
                except InvalidInputError as exc:
                    raise InvalidInputError(
                        f"Failed to save artifact collection {self._name!r}: the {what} type "
                        f"cannot be used ({exc})"
                    ) from None
        transport = self.client.transport
        if self.is_sequence():
            key, mutation = "artifactSequenceID", UPDATE_SEQUENCE_MUTATION
        else:
            key, mutation = "artifactPortfolioID", UPDATE_PORTFOLIO_MUTATION
        transport.graphql(
            mutation,
            {"input": {key: self.id, "name": self._name, "description": self.description}},
        )
        if self.is_sequence() and self._type != saved_type:
            self._move(self._type)
        where = {
            "entityName": self.entity,
            "projectName": self.project,
            "artifactCollectionName": self._name,
        }
        added = [t for t in self._tags if t not in saved_tags]
        removed = [t for t in saved_tags if t not in self._tags]
        for names, tag_mutation in (
            (added, ADD_COLLECTION_TAGS_MUTATION),
            (removed, DELETE_COLLECTION_TAGS_MUTATION),
        ):
            if names:
                tags = [{"tagName": t} for t in names]
                transport.graphql(tag_mutation, {"input": {**where, "tags": tags}})
        self._apply(self.load(self.entity, self.project, self._type, self._name))

    def change_type(self, new_type: str) -> None:
        """Deprecated in 0.31 for `type = ...; save()`: move the sequence to `new_type` now."""
        warnings.warn(
            "ArtifactCollection.change_type(type) is deprecated, use ArtifactCollection.save() "
            "instead.",
            DeprecationWarning,
            2,
        )
        check_artifact_type(self._saved[1], self._name)
        check_artifact_type(new_type, self._name)
        if not self.is_sequence():
            raise InvalidInputError("Artifact collection needs to be a sequence")
        self._move(new_type)
        self._type = new_type
        self._saved = (self._saved[0], new_type, *self._saved[2:])

    def _move(self, type_name: str) -> None:
        self.client.transport.graphql(
            MOVE_SEQUENCE_MUTATION,
            {"input": {"artifactSequenceID": self.id, "destinationArtifactTypeName": type_name}},
        )

    def delete(self) -> None:
        """Delete the collection and every version in it."""
        mutation = DELETE_SEQUENCE_MUTATION if self.is_sequence() else DELETE_PORTFOLIO_MUTATION
        self.client.transport.graphql(mutation, {"id": self.id})

    # ------------------------------------------------------------------ versions
    def versions(self, per_page: int = 50) -> ArtifactVersions:
        return self.artifacts(per_page=per_page)

    def artifacts(
        self,
        per_page: int = 50,
        start: str | None = None,
        *,
        order: str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> ArtifactVersions:
        """The collection's versions, by its saved name and type; `start` resumes after a
        saved `cursor`."""
        return ArtifactVersions(
            self.client,
            self.entity,
            self.project,
            self._saved[0],
            self._saved[1],
            filters=filters,
            order=order,
            per_page=per_page,
            start=start,
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


def collection_variables(filters: Mapping[str, Any] | None, order: str | None) -> dict[str, Any]:
    """The `filters` (a JSONString) and `order` (`[+-]field`) of a collections listing."""
    if filters is not None and not isinstance(filters, Mapping):
        raise InvalidInputError(f"filters must be a dict, got {type(filters).__name__}")
    if order is not None and not re.fullmatch(r"[+-]?[A-Za-z_]\w*", str(order)):
        raise InvalidInputError(f"invalid order {order!r}: expected '+field' or '-field'")
    return {
        "filters": None if filters is None else json.dumps(dict(filters)),
        "order": order,
    }


class ArtifactCollections(_CountedPaginator[ArtifactCollection]):
    """The collections of one artifact type in a project; `len()` is the server's count."""

    QUERY = TYPE_COLLECTIONS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        type_name: str,
        per_page: int = 50,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        *,
        start: str | None = None,
    ) -> None:
        self.entity, self.project, self.type_name = entity, project, type_name
        self.filters, self.order = filters, order
        variables = {
            "entity": entity,
            "project": project,
            "type": type_name,
            **collection_variables(filters, order),
        }
        super().__init__(client, variables, per_page, start=start)

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


class ProjectArtifactCollections(_CountedPaginator[ArtifactCollection]):
    """Every collection of a project, of any type (`Project.collections()`)."""

    QUERY = PROJECT_COLLECTIONS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
    ) -> None:
        self.entity, self.project = entity, project
        self.filters, self.order = filters, order
        variables = {"entity": entity, "project": project, **collection_variables(filters, order)}
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return project_connection(data, self.entity, self.project, "artifactCollections")

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> ArtifactCollection:
        return ArtifactCollection(self.client, self.entity, self.project, node["name"], "", node)

    def __repr__(self) -> str:
        return f"<ProjectArtifactCollections {self.entity}/{self.project}>"


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
        self.type = type_name
        attrs = dict(attrs) if attrs is not None else self.load()
        self._attrs = attrs
        self.id: str = attrs["id"]
        self.name: str = attrs["name"]
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")

    def load(self) -> dict[str, Any]:
        """The type's fields from the server (NotFoundError when the project or type does not
        exist); this object is not changed."""
        data = self.client.transport.graphql(
            ARTIFACT_TYPE_QUERY,
            {"entity": self.entity, "project": self.project, "type": self.type},
        )
        attrs = project_connection(data, self.entity, self.project, "artifactType")
        if not attrs:
            raise NotFoundError(
                f"artifact type {self.type!r} not found in {self.entity}/{self.project}"
            )
        return dict(attrs)

    def collections(
        self,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
        start: str | None = None,
    ) -> ArtifactCollections:
        """The type's collections, optionally filtered and ordered; `start` resumes after a
        saved `cursor`."""
        return ArtifactCollections(
            self.client, self.entity, self.project, self.name, per_page, filters, order, start=start
        )

    def collection(self, name: str) -> ArtifactCollection:
        return ArtifactCollection(self.client, self.entity, self.project, name, self.name)

    def __repr__(self) -> str:
        return f"<ArtifactType {self.entity}/{self.project} {self.name}>"


class ArtifactTypes(Paginator[ArtifactType]):
    """A project's artifact types."""

    QUERY = ARTIFACT_TYPES_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        per_page: int = 50,
        *,
        start: str | None = None,
    ) -> None:
        self.entity, self.project = entity, project
        super().__init__(client, {"entity": entity, "project": project}, per_page, start=start)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return project_connection(data, self.entity, self.project, "artifactTypes")

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
    "ProjectArtifactCollections",
    "RunArtifacts",
    "collection_variables",
]
