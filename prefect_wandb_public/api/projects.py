"""`Projects` (an entity's projects) and `Project`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.artifact_listings import ArtifactTypes, ProjectArtifactCollections
from prefect_wandb_public.api.fields import NodeAttributes, optional_int, text, wire_field
from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.queries.projects import PROJECT_QUERY, PROJECTS_QUERY
from prefect_wandb_public.api.sweeps import Sweeps
from prefect_wandb_public.api.users import User
from prefect_wandb_public.errors import NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api


class Projects(Paginator["Project"]):
    """An entity's projects, loaded page by page."""

    QUERY = PROJECTS_QUERY

    def __init__(self, client: Api, entity: str, per_page: int = 50) -> None:
        self.entity = entity
        super().__init__(client, {"entity": entity}, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return data.get("models")

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Project:
        return Project(self.client, node["entityName"], node["name"], node)

    def __repr__(self) -> str:
        return f"<Projects {self.entity}>"


class Project(NodeAttributes):
    """A project: `name`, `entity`, `id`, `created_at`, `owner`, its sweeps and artifact
    collections; other node fields by name (`is_benchmark`, `entity_name`)."""

    def __init__(self, client: Api, entity: str, project: str, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self.entity = entity
        self.name = project
        self._attrs = dict(attrs)

    @classmethod
    def load(cls, client: Api, entity: str, name: str) -> Project:
        data = client.transport.graphql(PROJECT_QUERY, {"name": name, "entity": entity})
        if data.get("project") is None:
            raise NotFoundError(f"project {entity}/{name} not found")
        return cls(client, entity, name, data["project"])

    id: str = wire_field("id", text)
    internal_id: int | None = wire_field("internalId", optional_int)
    created_at: str | None = wire_field("createdAt")
    read_only: bool = wire_field("readOnly", bool)

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def url(self) -> str:
        return f"{self.client.app_url}/{self.entity}/{self.name}"

    @property
    def owner(self) -> User:
        """The user who owns the project."""
        node = self._attrs.get("user")
        if not node:
            raise NotFoundError(f"no user found for project {self.entity}/{self.name}")
        return User(self.client, node)

    def sweeps(
        self,
        per_page: int = 50,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
    ) -> Sweeps:
        """The project's sweeps, optionally filtered (MongoDB-style, as runs); `order` is
        accepted and ignored, as in 0.31."""
        return Sweeps(self.client, self.entity, self.name, per_page=per_page, filters=filters)

    def artifacts_types(self, per_page: int = 50) -> ArtifactTypes:
        """The project's artifact types (0.31's spelling; `per_page` is used here)."""
        return ArtifactTypes(self.client, self.entity, self.name, per_page=per_page)

    def collections(
        self,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
    ) -> ProjectArtifactCollections:
        """Every artifact collection of the project, optionally filtered and ordered."""
        return ProjectArtifactCollections(
            self.client, self.entity, self.name, filters, order, per_page
        )

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"


__all__ = ["Project", "Projects"]
