"""Organizations: resolving an entity's organization as the 0.31 client does, and
`Organization` itself (registry notes §1.2).

An organization has a display name and an org entity. Registry paths name either (or neither:
then the organization of the default entity is used), so every registry read and link starts
with `FetchOrgInfoFromEntity`. Answers are cached on the `Api` until `Api.flush()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.queries.registry import (
    ADVANCED_FEATURES_QUERY,
    ORG_INFO_QUERY,
    ORGANIZATION_QUERY,
    SERVER_FEATURES_QUERY,
)
from prefect_wandb_public.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

REGISTRY_PREFIX = "wandb-registry-"
LEGACY_REGISTRY_PROJECT = "model-registry"


def is_registry_project(project: str | None) -> bool:
    """Whether `project` is a registry's project (`wandb-registry-<name>`)."""
    return (
        isinstance(project, str)
        and project.startswith(REGISTRY_PREFIX)
        and project != REGISTRY_PREFIX
    )


@dataclass(frozen=True)
class OrgInfo:
    """An organization's display name and org entity name."""

    org_name: str
    entity_name: str

    def __contains__(self, name: object) -> bool:
        return name in (self.org_name, self.entity_name)


@dataclass(frozen=True)
class OrgEntity:
    id: str
    name: str
    entity_type: str = "organization"


@dataclass(frozen=True)
class Organization:
    """An organization (`Api.organization()`): id, display name and org entity."""

    id: str
    name: str
    org_entity: OrgEntity


def _cached(client: Api, key: tuple[Any, ...], load: Any) -> Any:
    cache = client._registry_cache
    if key not in cache:
        cache[key] = load()
    return cache[key]


def org_info_from_entity(client: Api, entity: str) -> Mapping[str, Any] | None:
    """The `entity` node of `FetchOrgInfoFromEntity` (cached per entity)."""
    return _cached(
        client,
        ("org-info", entity),
        lambda: client.transport.graphql(ORG_INFO_QUERY, {"entity": entity}).get("entity"),
    )


def _info(org: Mapping[str, Any] | None) -> OrgInfo | None:
    if not org or not org.get("orgEntity"):
        return None
    return OrgInfo(org["name"], org["orgEntity"]["name"])


def resolve_org_info(client: Api, entity: str | None, org_or_entity: str | None = None) -> OrgInfo:
    """The organization of `entity` (a team's own, or the one its user belongs to), checked
    against `org_or_entity` (a display name or org entity name) when given. Every failure is
    an InvalidInputError with the 0.31 client's message."""
    if not entity:
        raise InvalidInputError("Entity name is required to resolve org entity name.")
    node = org_info_from_entity(client, entity) or {}
    team = _info(node.get("organization"))
    if team is not None and (not org_or_entity or org_or_entity in team):
        return team
    orgs = (node.get("user") or {}).get("organizations") or []
    if orgs:
        infos = [i for i in map(_info, orgs) if i is not None]
        if org_or_entity:
            for info in infos:
                if org_or_entity in info:
                    return info
            if len(infos) == 1:
                raise InvalidInputError(
                    f"Expecting the organization name or entity name to match "
                    f"{infos[0].org_name!r} and cannot be linked/fetched with {org_or_entity!r}. "
                    "Please update the target path with the correct organization name."
                )
            raise InvalidInputError(
                "Personal entity belongs to multiple organizations and cannot be linked/fetched "
                f"with {org_or_entity!r}. Please update the target path with the correct "
                "organization name or use a team entity in the entity settings."
            )
        if len(infos) == 1:
            return infos[0]
        if not infos:
            raise InvalidInputError(
                f"Unable to resolve an organization associated with personal entity: "
                f"{entity!r}. This could be because its a personal entity that doesn't belong "
                "to any organizations. Please specify the organization in the Registry path or "
                "use a team entity in the entity settings."
            )
        raise InvalidInputError(
            f"Personal entity {entity!r} belongs to multiple organizations and cannot be used "
            "without specifying the organization name. Please specify the organization in the "
            "Registry path or use a team entity in the entity settings."
        )
    raise InvalidInputError(f"Unable to find organization for entity {entity!r}.")


def default_organization(client: Api) -> str:
    """The organization's display name from the settings, else the default entity's one
    (its team's, or its user's only one), as `Api.registries` and `Api.registry` resolve it."""
    configured = client.settings.get("organization")
    if configured:
        return str(configured)
    entity = client.default_entity
    node = org_info_from_entity(client, entity) or {}
    team = _info(node.get("organization"))
    if team is not None:
        return team.org_name
    orgs = (node.get("user") or {}).get("organizations") or []
    if not orgs:
        raise InvalidInputError(
            "No organizations found for entity. Please specify an organization in the settings."
        )
    if len(orgs) > 1:
        raise InvalidInputError(
            "Multiple organizations found for entity. Please specify an organization in the "
            "settings."
        )
    return str(orgs[0]["name"])


def fetch_organization(client: Api, name: str) -> Organization:
    """`FetchOrganization`; NotFoundError naming `name` when there is no such organization."""
    data = client.transport.graphql(ORGANIZATION_QUERY, {"org": name})
    org = data.get("organization")
    if not org or not org.get("orgEntity"):
        raise NotFoundError(f"Organization {name!r} not found.")
    entity = org["orgEntity"]
    return Organization(
        org["id"],
        org["name"],
        OrgEntity(entity["id"], entity["name"], entity.get("entityType") or "organization"),
    )


def server_features(client: Api) -> dict[str, bool]:
    """The server's feature flags by name (cached)."""

    def load() -> dict[str, bool]:
        info = client.transport.graphql(SERVER_FEATURES_QUERY).get("serverInfo") or {}
        return {f["name"]: bool(f["isEnabled"]) for f in info.get("features") or [] if f}

    result: dict[str, bool] = _cached(client, ("features",), load)
    return result


def advanced_search_enabled(client: Api, organization: str) -> bool:
    """Whether registry version searches use the advanced field names and may be ordered:
    the server has `ARTIFACT_COLLECTIONS_FILTERING_SORTING` and the organization says so."""
    if not server_features(client).get("ARTIFACT_COLLECTIONS_FILTERING_SORTING"):
        return False

    def load() -> bool:
        data = client.transport.graphql(ADVANCED_FEATURES_QUERY, {"organization": organization})
        features = (data.get("organization") or {}).get("advancedRegistryFeatures") or {}
        return bool(features.get("advancedSearch"))

    return bool(_cached(client, ("advanced-search", organization), load))


__all__ = [
    "LEGACY_REGISTRY_PROJECT",
    "REGISTRY_PREFIX",
    "OrgEntity",
    "OrgInfo",
    "Organization",
    "advanced_search_enabled",
    "default_organization",
    "fetch_organization",
    "is_registry_project",
    "org_info_from_entity",
    "resolve_org_info",
    "server_features",
]
