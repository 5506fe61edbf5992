"""The W&B Registry: `Registry`, and the searches over registries, their collections and the
versions linked into them (`Registries`, `RegistryCollections`, `RegistryVersions`), with the
0.31 client's filter fields, aliases and name prefixing (registry notes §1.7-§1.8).

A registry is the project `wandb-registry-<name>` of an organization's entity; its collections
are portfolios and its versions are links (`Artifact.is_link`), read through `api/links.py`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from prefect_wandb_public.api.artifact_listings import ArtifactCollection
from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.links import link_of
from prefect_wandb_public.api.names import NAME_MAXLEN
from prefect_wandb_public.api.orgs import (
    REGISTRY_PREFIX,
    advanced_search_enabled,
    fetch_organization,
)
from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.queries.registry import (
    DELETE_REGISTRY_MUTATION,
    REGISTRIES_QUERY,
    REGISTRY_COLLECTIONS_QUERY,
    REGISTRY_QUERY,
    REGISTRY_VERSIONS_QUERY,
    RENAME_REGISTRY_MUTATION,
    UPSERT_REGISTRY_MUTATION,
)
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

Visibility = Literal["organization", "restricted"]
VISIBILITY_TO_ACCESS: dict[str, str] = {"organization": "PRIVATE", "restricted": "RESTRICTED"}

# Filter fields: accepted name -> the canonical name sent (registry notes §1.8).
_BASIC_REGISTRY = {
    f: f for f in ("id", "name", "entity_id", "description", "created_at", "updated_at")
}
_ADVANCED_REGISTRY = {
    "project_id": "project_id",
    "id": "project_id",
    "name": "name",
    "entity_id": "entity_id",
}
_BASIC_COLLECTION = {
    "artifact_collection_id": "artifact_collection_id",
    "collection_id": "artifact_collection_id",
    "id": "artifact_collection_id",
    **{f: f for f in ("name", "tag", "description", "created_at", "updated_at")},
}
_ADVANCED_COLLECTION = {
    "artifact_collection_id": "artifact_collection_id",
    "collection_id": "artifact_collection_id",
    "id": "artifact_collection_id",
    "name": "name",
    "collection_name": "name",
    "artifact_collection_name": "name",
    "tag": "tag",
    "tags": "tag",
}
_BASIC_VERSION = {
    f: f for f in ("id", "version", "tag", "alias", "metadata", "created_at", "updated_at")
}
_ADVANCED_VERSION = {
    "artifact_id": "artifact_id",
    "id": "artifact_id",
    "version": "version",
    "version_index": "version",
    "tag": "tag",
    "tags": "tag",
    "alias": "alias",
    "aliases": "alias",
    "metadata": "metadata",
    "artifact_metadata": "metadata",
    "artifact_created_at": "artifact_created_at",
    "created_at": "artifact_created_at",
    "artifact_size": "artifact_size",
    "acm_created_at": "acm_created_at",
    "linked_at": "acm_created_at",
}
_NAME_ORDER = {f: f for f in ("name", "created_at", "updated_at")}
_VERSION_ORDER = {
    "artifact_created_at": "artifact_created_at",
    "created_at": "artifact_created_at",
    "artifact_size": "artifact_size",
    "acm_created_at": "acm_created_at",
    "linked_at": "acm_created_at",
}
_LOGICAL = ("$and", "$or", "$nor")
_KNOWN_OPS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$not"}
)
_ORDER_RE = re.compile(r"^([+-]?)([A-Za-z_]\w*)$")
_TYPE_RE = re.compile(r"^[-\w]+([ ]*[-.\w]+)*$")


def prefix_registry_name(operand: Any) -> Any:
    """Registry `name` operands get the `wandb-registry-` prefix; `$regex` operands and
    unknown `$` operators are left as given."""
    if isinstance(operand, str):
        return operand if operand.startswith(REGISTRY_PREFIX) else REGISTRY_PREFIX + operand
    if isinstance(operand, dict):
        return {
            k: v
            if isinstance(k, str) and (k == "$regex" or (k.startswith("$") and k not in _KNOWN_OPS))
            else prefix_registry_name(v)
            for k, v in operand.items()
        }
    if isinstance(operand, (list, tuple)):
        return [prefix_registry_name(v) for v in operand]
    return operand


def _fields(spec: Any) -> Iterator[str]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in _LOGICAL and isinstance(value, list):
                for child in value:
                    yield from _fields(child)
            elif key == "$not":
                yield from _fields(value)
            elif not key.startswith("$"):
                yield key


def normalize_filter(
    spec: Mapping[str, Any] | None, valid: Mapping[str, str], *, prefix_names: bool = False
) -> dict[str, Any] | None:
    """Check the root of every field against `valid` and rewrite aliases to canonical names
    (and registry names to their full names); InvalidInputError with 0.31's messages."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidInputError(f"filter must be a dict, got {type(spec).__name__}")
    invalid = sorted({f.partition(".")[0] for f in _fields(dict(spec))} - set(valid))
    if invalid:
        raise InvalidInputError(
            f"Invalid filter fields: {', '.join(map(repr, invalid))}; must be one of: "
            f"{', '.join(map(repr, sorted(valid)))}"
        )
    return _rewrite(dict(spec), valid, prefix_names)


def _rewrite(spec: dict[str, Any], valid: Mapping[str, str], prefix_names: bool) -> dict[str, Any]:
    items: list[tuple[str, Any]] = []
    for key, value in spec.items():
        if key in _LOGICAL and isinstance(value, list):
            items.append((key, [_rewrite(child, valid, prefix_names) for child in value]))
        elif key == "$not" and isinstance(value, dict):
            items.append((key, _rewrite(value, valid, prefix_names)))
        elif key.startswith("$"):
            items.append((key, value))
        else:
            root, sep, rest = key.partition(".")
            field = f"{valid.get(root, root)}{sep}{rest}"
            items.append(
                (field, prefix_registry_name(value) if prefix_names and field == "name" else value)
            )
    result = dict(items)
    if len(result) != len(items):
        keys = [k for k, _ in items]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidInputError(f"Duplicate fields: {', '.join(map(repr, dups))}")
    return result


def normalize_order(order: str | None, valid: Mapping[str, str]) -> str | None:
    """`[+-]field` with an allowed field, canonical name, and an explicit `+` by default."""
    if order is None:
        return None
    match = _ORDER_RE.match(order) if isinstance(order, str) else None
    if match is None:
        raise InvalidInputError(f"Invalid order string: {order!r}")
    sign, name = match.groups()
    if name not in valid:
        raise InvalidInputError(
            f"Invalid order field {name!r}, must be one of: {', '.join(map(repr, sorted(valid)))}"
        )
    return f"{sign or '+'}{valid[name]}"


def _json(spec: Mapping[str, Any] | None) -> str | None:
    return None if spec is None else json.dumps(spec, separators=(",", ":"))


def _project_number(internal_id: str | None) -> int | None:
    """The integer id in a registry's base64 `internalId` (`Project:12`), if it has one."""
    try:
        kind, _, number = base64.b64decode(internal_id or "", validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(number) if kind in ("Project", "ProjectInternalId") and number.isdigit() else None


def check_artifact_types(types: Any) -> list[str]:
    """Registry artifact types: at most 128 characters, no `/` or `:`, 0.31's pattern."""
    if isinstance(types, str):
        raise InvalidInputError(f"artifact_types must be a list of strings, not {types!r}")
    checked = []
    for name in types or ():
        if (
            not isinstance(name, str)
            or len(name) > NAME_MAXLEN
            or "/" in name
            or ":" in name
            or not _TYPE_RE.match(name)
        ):
            raise InvalidInputError(f"invalid artifact type {name!r} for a registry")
        checked.append(name)
    return list(dict.fromkeys(checked))


def check_registry_name(name: Any) -> str:
    """A registry name (without the prefix): its full name at most 128 characters, none of
    `/ \\ # ? % :` or line breaks."""
    full = f"{REGISTRY_PREFIX}{name}"
    if (
        not isinstance(name, str)
        or not name
        or len(full) > NAME_MAXLEN
        or re.search(r"[/\\#?%:\r\n]", name)
    ):
        raise InvalidInputError(f"invalid registry name {name!r}")
    return name


class ArtifactTypesList(list[str]):
    """A registry's accepted artifact types: types saved on the server cannot be removed;
    `draft` lists the ones added since (what `Registry.save()` sends)."""

    def __init__(self, saved: list[str]) -> None:
        super().__init__(saved)
        self.saved: tuple[str, ...] = tuple(saved)

    @property
    def draft(self) -> list[str]:
        return [t for t in self if t not in self.saved]

    def _check_removal(self, values: list[str]) -> None:
        kept = [t for t in values if t in self.saved]
        if kept:
            raise InvalidInputError(f"cannot remove artifact types {kept}: they are saved")

    def remove(self, value: str) -> None:
        self._check_removal([value])
        super().remove(value)

    def pop(self, index: Any = -1) -> str:
        self._check_removal([self[index]])
        return super().pop(index)

    def clear(self) -> None:
        self._check_removal(list(self))
        super().clear()

    def __delitem__(self, index: Any) -> None:
        self._check_removal(self[index] if isinstance(index, slice) else [self[index]])
        super().__delitem__(index)

    def append(self, value: str) -> None:
        if value not in self:
            super().append(check_artifact_types([value])[0])

    def extend(self, values: Any) -> None:
        for value in values:
            self.append(value)


class Registry:
    """One registry of an organization (`Api.registry`, `Api.create_registry`,
    `Api.registries()`). `name`, `description`, `visibility`, `allow_all_artifact_types` and
    additions to `artifact_types` are saved by `save()`."""

    def __init__(
        self,
        client: Api,
        organization: str,
        entity: str,
        name: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self._organization = organization
        self._entity = entity
        self._saved_name = name
        self.name = name
        self.description: str | None = None
        self.visibility: Visibility = "organization"
        self.allow_all_artifact_types = True
        self.artifact_types = ArtifactTypesList([])
        self._attrs: dict[str, Any] = {}
        if attrs is not None:
            self._load(attrs)

    def _load(self, attrs: Mapping[str, Any]) -> None:
        self._attrs = dict(attrs)
        full = str(attrs["name"])
        if not full.startswith(REGISTRY_PREFIX):
            raise CommError(f"project {full!r} is not a registry")
        self._saved_name = self.name = full[len(REGISTRY_PREFIX) :]
        self._entity = attrs["entity"]["name"]
        org = (attrs["entity"].get("organization") or {}).get("name")
        self._organization = org or self._organization
        self.description = attrs.get("description")
        access = attrs.get("access")
        self.visibility = "restricted" if access == "RESTRICTED" else "organization"
        self.allow_all_artifact_types = bool(attrs.get("allowAllArtifactTypes"))
        edges = (attrs.get("artifactTypes") or {}).get("edges") or []
        self.artifact_types = ArtifactTypesList([e["node"]["name"] for e in edges if e.get("node")])

    # ------------------------------------------------------------------ attributes
    @property
    def id(self) -> str:
        return str(self._attrs.get("id") or "")

    @property
    def internal_id(self) -> str | None:
        return self._attrs.get("internalId")

    @property
    def full_name(self) -> str:
        return f"{REGISTRY_PREFIX}{self.name}"

    @property
    def entity(self) -> str:
        """The organization's entity, which owns the registry's project."""
        return self._entity

    @property
    def organization(self) -> str:
        return self._organization

    @property
    def created_at(self) -> str:
        return str(self._attrs.get("createdAt") or "")

    @property
    def updated_at(self) -> str | None:
        return self._attrs.get("updatedAt")

    @property
    def path(self) -> list[str]:
        return [self.entity, self.full_name]

    def __repr__(self) -> str:
        return f"<Registry {self.organization}/{self.name}>"

    def _filter(self) -> dict[str, Any]:
        """How searches scope to this registry: its integer id, else its full name."""
        number = _project_number(self.internal_id)
        return (
            {"id": number} if number is not None else {"name": REGISTRY_PREFIX + self._saved_name}
        )

    # ------------------------------------------------------------------ searches
    def collections(
        self, filter: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 100
    ) -> RegistryCollections:
        """This registry's collections matching `filter` (fields `name`, `tag`,
        `description`, `created_at`, `updated_at`), in `order`."""
        return RegistryCollections(
            self.client, self.organization, self._filter(), filter, order, per_page
        )

    def versions(
        self, filter: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 100
    ) -> RegistryVersions:
        """The versions linked into this registry matching `filter` (fields `id`, `version`,
        `tag`, `alias`, `metadata`, `created_at`, `updated_at`)."""
        return RegistryVersions(
            self.client, self.organization, self._filter(), None, filter, order, per_page
        )

    # ------------------------------------------------------------------ changes
    def load(self) -> None:
        """Read the registry from the server; NotFoundError naming it when there is none."""
        data = self.client.transport.graphql(
            REGISTRY_QUERY, {"name": self.full_name, "entity": self.entity}
        )
        project = (data.get("entity") or {}).get("project")
        if not project:
            raise NotFoundError(
                f"registry {self.name!r} not found in organization {self.organization!r}"
            )
        self._load(project)

    def _upsert(self, name: str, types: list[str]) -> tuple[bool, Mapping[str, Any]]:
        if self.visibility not in VISIBILITY_TO_ACCESS:
            raise InvalidInputError(
                f"Invalid visibility {self.visibility!r}. Expected one of: 'organization', "
                "'restricted'"
            )
        payload: dict[str, Any] = {
            "entityName": self.entity,
            "name": name,
            "access": VISIBILITY_TO_ACCESS[self.visibility],
            "allowAllArtifactTypesInRegistry": bool(self.allow_all_artifact_types),
        }
        if self.description is not None:
            payload["description"] = self.description
        if types:
            payload["artifactTypes"] = [{"name": t} for t in types]
        data = self.client.transport.graphql(UPSERT_REGISTRY_MUTATION, {"input": payload})
        result = data.get("upsertModel") or {}
        if not result.get("project"):
            raise CommError(f"Failed to save registry {self.name!r} in {self.organization!r}")
        return bool(result.get("inserted")), result["project"]

    def save(self) -> None:
        """Save description, visibility, accepted types (additions only) and a new name."""
        new_types = check_artifact_types(self.artifact_types.draft)
        if new_types and self.allow_all_artifact_types:
            raise InvalidInputError(
                "Cannot update artifact types when `allows_all_artifact_types` is True. Set it "
                "to False first."
            )
        new_name = check_registry_name(self.name)
        old_full = REGISTRY_PREFIX + self._saved_name
        _, project = self._upsert(old_full, new_types)
        self._load(project)
        if new_name != self._saved_name:
            data = self.client.transport.graphql(
                RENAME_REGISTRY_MUTATION,
                {
                    "input": {
                        "entityName": self.entity,
                        "oldProjectName": old_full,
                        "newProjectName": REGISTRY_PREFIX + new_name,
                    }
                },
            )
            renamed = (data.get("renameProject") or {}).get("project")
            if not renamed:
                raise CommError(f"Failed to rename registry {old_full!r} to {new_name!r}")
            self._load(renamed)

    def delete(self) -> None:
        """Delete the registry and every link in it (the source versions stay)."""
        data = self.client.transport.graphql(DELETE_REGISTRY_MUTATION, {"id": self.id})
        if not (data.get("deleteModel") or {}).get("success"):
            raise CommError(
                f"Failed to delete registry {self.name!r} in organization {self.organization!r}"
            )

    @classmethod
    def create(
        cls,
        client: Api,
        organization: str,
        name: str,
        visibility: Visibility,
        description: str | None = None,
        artifact_types: list[str] | None = None,
    ) -> Registry:
        """Create registry `name` in `organization`; InvalidInputError when one exists."""
        check_registry_name(name)
        types = check_artifact_types(artifact_types)
        org = fetch_organization(client, organization)
        registry = cls(client, org.name, org.org_entity.name, name)
        try:
            registry.load()
        except NotFoundError:
            pass
        else:
            raise InvalidInputError(
                f"Registry {name!r} already exists in organization {org.name!r}, use "
                "api.registry() to fetch it"
            )
        registry.visibility = visibility
        registry.description = description
        registry.allow_all_artifact_types = not types
        inserted, project = registry._upsert(registry.full_name, types)
        if not inserted:
            raise InvalidInputError(
                f"Failed to create registry {name!r} in organization {organization!r}: "
                "it already exists"
            )
        registry._load(project)
        return registry


T = TypeVar("T")


class _OrganizationPaginator(Paginator[T]):
    """A listing read from one connection of an organization's entity (`CONNECTION`); an
    organization the server does not know is 0.31's NotFoundError."""

    CONNECTION = ""
    organization: str

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        org_entity = (data.get("organization") or {}).get("orgEntity")
        if not org_entity:
            raise NotFoundError(
                f"Organization {self.organization!r} not found. Please verify the organization "
                "name is correct."
            )
        conn: Mapping[str, Any] | None = org_entity.get(self.CONNECTION)
        return conn


class Registries(_OrganizationPaginator[Registry]):
    """The registries of an organization matching `filter` (fields `name`, `description`,
    `created_at`, `updated_at`; names without the prefix), in `order`."""

    QUERY = REGISTRIES_QUERY
    CONNECTION = "projects"

    def __init__(
        self,
        client: Api,
        organization: str,
        filter: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
    ) -> None:
        self.organization = organization
        self.filter = normalize_filter(filter, _BASIC_REGISTRY, prefix_names=True)
        self.order = normalize_order(order, _NAME_ORDER)
        variables = {
            "organization": organization,
            "filters": _json(self.filter),
            "order": self.order,
        }
        super().__init__(client, variables, per_page)

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Registry:
        return Registry(self.client, self.organization, node["entity"]["name"], node["name"], node)

    def collections(
        self, filter: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 100
    ) -> Iterator[ArtifactCollection] | RegistryCollections:
        """The collections of these registries (one search per registry, in the registries'
        order, when they were ordered)."""
        if self.order is not None:
            return _chain(r.collections(filter, order, per_page) for r in self)
        return RegistryCollections(
            self.client, self.organization, self.filter, filter, order, per_page
        )

    def versions(
        self, filter: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 100
    ) -> Iterator[Artifact] | RegistryVersions:
        """The versions linked into these registries."""
        if self.order is not None:
            return _chain(r.versions(filter, order, per_page) for r in self)
        return RegistryVersions(
            self.client, self.organization, self.filter, None, filter, order, per_page
        )

    def __repr__(self) -> str:
        return f"<Registries {self.organization}>"


class RegistryCollections(_OrganizationPaginator[ArtifactCollection]):
    """Registry collections matching a registry filter and a collection filter; `len()` is
    the server's count."""

    QUERY = REGISTRY_COLLECTIONS_QUERY
    CONNECTION = "artifactCollections"

    def __init__(
        self,
        client: Api,
        organization: str,
        registry_filter: Mapping[str, Any] | None,
        filter: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
    ) -> None:
        self.organization = organization
        self.registry_filter = normalize_filter(registry_filter, _BASIC_REGISTRY, prefix_names=True)
        self.filter = normalize_filter(filter, _BASIC_COLLECTION)
        self.order = normalize_order(order, _NAME_ORDER)
        variables = {
            "organization": organization,
            "registryFilter": _json(self.registry_filter),
            "collectionFilter": _json(self.filter),
            "order": self.order,
        }
        super().__init__(client, variables, per_page)

    @property
    def length(self) -> int | None:
        if self.last_response is None:
            self.next_page()
        conn = self.connection(self.last_response or {}) or {}
        return int(conn.get("totalCount") or 0)

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> ArtifactCollection:
        project = node["project"]
        return ArtifactCollection(
            self.client,
            project["entity"]["name"],
            project["name"],
            node["name"],
            (node.get("type") or {}).get("name") or "",
            node,
        )

    def versions(
        self, filter: Mapping[str, Any] | None = None, order: str | None = None, per_page: int = 100
    ) -> Iterator[Artifact] | RegistryVersions:
        """The versions linked into these collections."""
        if self.order is not None:
            return _chain(
                RegistryVersions(
                    self.client,
                    self.organization,
                    {"name": c.project},
                    {"name": c.name},
                    filter,
                    order,
                    per_page,
                )
                for c in self
            )
        return RegistryVersions(
            self.client,
            self.organization,
            self.registry_filter,
            self.filter,
            filter,
            order,
            per_page,
        )

    def __repr__(self) -> str:
        return f"<RegistryCollections {self.organization}>"


class RegistryVersions(_OrganizationPaginator[Artifact]):
    """Versions linked into registries, as links (`is_link`), newest link first. With
    advanced search (server and organization permitting) the advanced field names apply
    and `order` may be given; otherwise ordering is refused, as by 0.31."""

    QUERY = REGISTRY_VERSIONS_QUERY
    CONNECTION = "artifactMemberships"

    def __init__(
        self,
        client: Api,
        organization: str,
        registry_filter: Mapping[str, Any] | None = None,
        collection_filter: Mapping[str, Any] | None = None,
        filter: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
    ) -> None:
        self.organization = organization
        advanced = advanced_search_enabled(client, organization)
        if not advanced and order is not None:
            raise InvalidInputError(
                "Ordering registry versions is not supported for this organization."
            )
        self.registry_filter = normalize_filter(
            registry_filter, _ADVANCED_REGISTRY if advanced else _BASIC_REGISTRY, prefix_names=True
        )
        self.collection_filter = normalize_filter(
            collection_filter, _ADVANCED_COLLECTION if advanced else _BASIC_COLLECTION
        )
        self.filter = normalize_filter(filter, _ADVANCED_VERSION if advanced else _BASIC_VERSION)
        self.order = normalize_order(order, _VERSION_ORDER) if advanced else None
        variables = {
            "organization": organization,
            "registryFilter": _json(self.registry_filter),
            "collectionFilter": _json(self.collection_filter),
            "artifactFilter": _json(self.filter),
            "order": self.order,
        }
        super().__init__(client, variables, per_page)

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Artifact:
        return Artifact._from_attrs(self.client, node["artifact"], None, link_of(node))

    def _convert_edges(self, edges: list[Mapping[str, Any]]) -> list[Artifact]:
        kept = [
            e
            for e in edges
            if (node := e.get("node"))
            and node.get("artifact")
            and node.get("artifactCollection")
            and node.get("versionIndex") is not None
        ]
        return super()._convert_edges(kept)

    def __repr__(self) -> str:
        return f"<RegistryVersions {self.organization}>"


def _chain(paginators: Iterator[Any]) -> Iterator[Any]:
    for paginator in paginators:
        yield from paginator


__all__ = [
    "VISIBILITY_TO_ACCESS",
    "ArtifactTypesList",
    "Registries",
    "Registry",
    "RegistryCollections",
    "RegistryVersions",
    "Visibility",
    "check_artifact_types",
    "check_registry_name",
    "normalize_filter",
    "normalize_order",
    "prefix_registry_name",
]
