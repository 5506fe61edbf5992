"""Resolvers of organizations, registries and links: `schema_registry.graphql`'s fields, store
objects of `registry_store.py` to wire shapes, mutations to store calls (protocol notes,
registry §1.10-§1.11).

The hub (`resolvers.py`) merges `root()` over the other domains' root fields: `entity`,
`serverInfo`, `upsertModel`, `artifactCollection`, `addAliases` and `deleteAliases` are
wrapped here to add what registries need (org fields, feature flags, registry settings,
portfolios, aliases of links) and hand everything else to the domain that owns it. Project
nodes get `project_fields` on top of the artifact resolvers' fields, so registry projects
resolve their portfolios through the same `artifactType(...).artifactCollection(...)`,
`artifactCollectionMembership(...)` and `artifacts(...)` paths as sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.common import (
    StoreError,
    StoreNotFound,
    check_alias,
    decode_id,
    encode_id,
    iso,
)
from prefect_wandb_public.testing.filters import FilterError, compile_filter, sort_documents
from prefect_wandb_public.testing.registry_store import (
    REGISTRY_PREFIX,
    Membership,
    Organization,
    Portfolio,
    is_registry_project,
)
from prefect_wandb_public.testing.resolvers_artifacts import (
    DEFAULT_COLLECTIONS_ORDER,
    DEFAULT_VERSIONS_FILTERS,
    DEFAULT_VERSIONS_ORDER,
)
from prefect_wandb_public.testing.wire import connection, json_arg

if TYPE_CHECKING:
    from prefect_wandb_public.testing.artifact_store import Artifact, ArtifactCollection
    from prefect_wandb_public.testing.resolvers import Resolvers
    from prefect_wandb_public.testing.store import Project

# The registry features the SDK probes (registry notes §1.11).
REGISTRY_FEATURES: tuple[str, ...] = (
    "ARTIFACT_REGISTRY_SEARCH",
    "INCLUDE_ARTIFACT_TYPES_IN_REGISTRY_CREATION",
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
)
DEFAULT_REGISTRY_ORDER = "+name"
DEFAULT_LINKS_ORDER = "-acm_created_at"


def _select(docs: list[dict[str, Any]], filters: Any, order: str, what: str) -> list[Any]:
    """The `_item` of each document matching the JSON filter, in `order`."""
    decoded = json_arg(filters, what) or {}
    try:
        predicate = compile_filter(decoded)
        return [doc["_item"] for doc in sort_documents(list(filter(predicate, docs)), order)]
    except FilterError as exc:
        raise StoreError(f"{what}: {exc}") from exc


class RegistryResolvers:
    """Organizations, registries and portfolios for the `Resolvers` of one store."""

    def __init__(self, hub: Resolvers) -> None:
        self.hub = hub
        self.store = hub.store

    # ------------------------------------------------------------------ hooks
    def root(self) -> dict[str, Any]:
        projects, artifacts = self.hub.projects, self.hub.artifacts
        return {
            "organization": self.organization,
            "entity": self.entity,
            "serverInfo": lambda: self._with_features(projects.server_info()),
            "upsertModel": self.upsert_model,
            "renameProject": self.rename_project,
            "deleteModel": self.delete_model,
            "linkArtifact": self.link_artifact,
            "unlinkArtifact": self.unlink_artifact,
            "artifactCollection": lambda id: (
                artifacts.collection_by_id(id) or self._portfolio_by_id(id)
            ),
            "addAliases": lambda input: self._aliases(input, artifacts.add_aliases, add=True),
            "deleteAliases": lambda input: self._aliases(
                input, artifacts.delete_aliases, add=False
            ),
        }

    def project_fields(self, proj: Project, base: Mapping[str, Any]) -> dict[str, Any]:
        """Fields of a project node on top of `base` (the artifact resolvers' fields): the
        portfolios of the project, and a registry's settings."""
        fields: dict[str, Any] = {
            "artifactCollectionMembership": lambda name: self._membership_by_name(
                proj, name, base["artifactCollectionMembership"]
            ),
            "artifactType": lambda name: self._type_or_none(proj, name),
            "artifactCollection": lambda name: self._portfolio_or(
                proj, name, None, lambda: base["artifactCollection"](name)
            ),
            "artifactCollections": lambda after=None, first=None, filters=None, order=None: (
                self.collections(proj, None, after, first, filters, order)
            ),
            "entity": lambda: self.entity(proj.entity),
            "allowAllArtifactTypesInRegistry": None,
            "updatedAt": None,
        }
        settings = self.store.registry_settings(proj.entity, proj.name)
        if settings is not None:
            fields.update(
                {
                    "internalId": encode_id("ProjectInternalId", proj.internal_id),
                    "description": settings.description,
                    "access": settings.access,
                    "allowAllArtifactTypesInRegistry": settings.allow_all_types,
                    "updatedAt": iso(settings.updated_at),
                }
            )
        return fields

    def link_alias_nodes(self, artifact: Artifact) -> list[dict[str, Any]]:
        """An artifact's aliases in the portfolios it is linked to (`vN` of each link first),
        each naming its portfolio."""
        return [
            self.alias_node(m.portfolio, alias, m)
            for m in self.store.memberships_of(artifact)
            for alias in [m.version, *m.portfolio.aliases_of(m)]
        ]

    def link_membership_nodes(self, artifact: Artifact) -> list[dict[str, Any]]:
        return [self.membership_node(m) for m in self.store.memberships_of(artifact)]

    @staticmethod
    def _with_features(info: dict[str, Any]) -> dict[str, Any]:
        known = {f["name"] for f in info["features"]}
        extra = [{"name": n, "isEnabled": True} for n in REGISTRY_FEATURES if n not in known]
        return {**info, "features": [*info["features"], *extra]}

    # ------------------------------------------------------------------ organizations, entities
    def organization(self, name: str) -> Any:
        org = self.store.organization_by_name(name)
        return None if org is None else self.organization_node(org)

    def organization_node(self, org: Organization) -> dict[str, Any]:
        return {
            "id": org.id,
            "name": org.name,
            "coreWeaveOrganizationId": None,
            "orgEntity": lambda: self.entity(org.entity),
            "advancedRegistryFeatures": {"advancedSearch": True},
        }

    def entity(self, name: str | None = None) -> Any:
        """The base entity node plus its organization, user, type and registry searches."""
        if not name:
            return None
        store = self.store
        node = dict(self.hub.projects.entity(name))
        org = store.organization_of_entity(name)
        personal = store.is_personal_entity(name)
        node.update(
            {
                "entityType": store.entity_type(name),
                "isTeam": not personal and (org is None or org.entity != name),
                "organization": None if org is None else self.organization_node(org),
                "user": self._entity_user(name) if personal else None,
                "project": lambda name=None, entity=name: self._entity_project(entity, name),
                "projects": lambda after=None, first=None, filters=None, order=None: (
                    self._entity_projects(name, org, after, first, filters, order)
                ),
                "artifactCollections": lambda **kw: self._org_collections(name, org, **kw),
                "artifactMemberships": lambda **kw: self._org_memberships(name, org, **kw),
            }
        )
        return node

    def _entity_user(self, entity: str) -> dict[str, Any]:
        node = dict(self.hub.projects.user_node(self.store.viewer))
        node["organizations"] = [
            self.organization_node(org) for org in self.store.user_organizations(entity)
        ]
        return node

    def _entity_project(self, entity: str, name: str | None) -> Any:
        found = self.store.get_project(entity, name) if name else None
        return None if found is None else self.hub.projects.project_node(found)

    def _entity_projects(
        self,
        entity: str,
        org: Organization | None,
        after: str | None,
        first: int | None,
        filters: Any,
        order: str | None,
    ) -> dict[str, Any]:
        """An org entity lists its registries only (the SDK insists); filtered by the
        registry filter fields, in `order`. Other entities list their projects."""
        if org is None or org.entity != entity:
            if filters is not None or order is not None:
                docs = [self._project_doc(p) for p in self.store.list_projects(entity)]
                items = _select(docs, filters, order or "+createdAt", "filters")
                return connection(items, first, after, self.hub.projects.project_node)
            return self.hub.projects.models(entity, after, first)
        docs = [self._project_doc(p) for p in self.store.registries_of(org)]
        items = _select(docs, filters, order or DEFAULT_REGISTRY_ORDER, "filters")
        return connection(items, first, after, self.hub.projects.project_node)

    def _project_doc(self, proj: Project) -> dict[str, Any]:
        settings = self.store.registry_settings(proj.entity, proj.name)
        updated = settings.updated_at if settings else proj.created_at
        return {
            "id": proj.internal_id,
            "project_id": proj.internal_id,
            "name": proj.name,
            "entity_id": proj.entity,
            "description": settings.description if settings else None,
            "createdAt": iso(proj.created_at),
            "heartbeatAt": iso(updated),  # the filter engine's field for `updated_at`
            "_seq": proj.internal_id,
            "_item": proj,
        }

    # ------------------------------------------------------------------ registry searches
    def _registries_matching(self, org: Organization, project_filters: Any) -> list[Project]:
        docs = [self._project_doc(p) for p in self.store.registries_of(org)]
        return list(_select(docs, project_filters, "+createdAt", "projectFilters"))

    def _org_collections(
        self,
        entity: str,
        org: Organization | None,
        projectFilters: Any = None,
        filters: Any = None,
        collectionTypes: Sequence[str] | None = None,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """`orgEntity.artifactCollections`: collections of the registries matching
        `projectFilters` and matching `filters` (portfolios unless `collectionTypes` says
        otherwise; registries hold no sequences)."""
        if org is None or org.entity != entity:
            raise StoreError(f"entity {entity!r} is not an organization's entity")
        kinds = set(collectionTypes or ["PORTFOLIO"])
        docs = []
        if "PORTFOLIO" in kinds:
            for proj in self._registries_matching(org, projectFilters):
                docs += [
                    self._portfolio_doc(p) for p in self.store.portfolios_in(entity, proj.name)
                ]
        items = _select(docs, filters, order or DEFAULT_COLLECTIONS_ORDER, "filters")
        return connection(items, first, after, self.portfolio_node)

    def _org_memberships(
        self,
        entity: str,
        org: Organization | None,
        projectFilters: Any = None,
        collectionFilters: Any = None,
        filters: Any = None,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """`orgEntity.artifactMemberships`: the links of the matching registries' matching
        collections that match `filters` (newest link first unless `order` says otherwise)."""
        if org is None or org.entity != entity:
            raise StoreError(f"entity {entity!r} is not an organization's entity")
        docs = []
        for proj in self._registries_matching(org, projectFilters):
            portfolios = [
                self._portfolio_doc(p) for p in self.store.portfolios_in(entity, proj.name)
            ]
            for portfolio in _select(
                portfolios, collectionFilters, "+createdAt", "collectionFilters"
            ):
                docs += [self._link_doc(m) for m in portfolio.live_members()]
        items = _select(docs, filters, order or DEFAULT_LINKS_ORDER, "filters")
        return connection(items, first, after, self.membership_node)

    def _portfolio_doc(self, portfolio: Portfolio) -> dict[str, Any]:
        number = int(decode_id(portfolio.id)[-1])
        return {
            "artifact_collection_id": number,
            "id": number,
            "name": portfolio.name,
            "tag": list(portfolio.tags),
            "description": portfolio.description,
            "type": portfolio.type,
            "createdAt": iso(portfolio.created_at),
            "heartbeatAt": iso(portfolio.updated_at or portfolio.created_at),
            "_seq": number,
            "_item": portfolio,
        }

    def _link_doc(self, membership: Membership) -> dict[str, Any]:
        artifact = membership.artifact
        aliases = membership.portfolio.aliases_of(membership)
        created = iso(artifact.created_at)
        return {
            "id": artifact.id,
            "artifact_id": artifact.id,
            "version": membership.version,
            "tag": list(artifact.tags),
            "alias": aliases,
            "metadata": artifact.metadata,
            "createdAt": created,
            "artifact_created_at": created,
            "heartbeatAt": iso(artifact.updated_at or artifact.created_at),
            "artifact_size": artifact.size,
            "acm_created_at": iso(membership.created_at),
            "_seq": (membership.created_at, membership.id),
            "_item": membership,
        }

    # ------------------------------------------------------------------ portfolios
    def _portfolio_by_id(self, portfolio_id: str) -> Any:
        found = self.store.portfolio_by_id(portfolio_id)
        return None if found is None else self.portfolio_node(found)

    def _portfolio_or(
        self, proj: Project, name: str, type_name: str | None, otherwise: Callable[[], Any]
    ) -> Any:
        portfolio = self.store.get_portfolio(proj.entity, proj.name, name)
        if portfolio is None:
            return otherwise()
        if type_name is not None and portfolio.type != type_name:
            return None
        return self.portfolio_node(portfolio)

    def _membership_by_name(self, proj: Project, name: str, otherwise: Callable[[str], Any]) -> Any:
        collection, _, alias = name.partition(":")
        portfolio = self.store.get_portfolio(proj.entity, proj.name, collection)
        if portfolio is None:
            return otherwise(name)
        found = portfolio.resolve(alias or "latest")
        return None if found is None else self.membership_node(found)

    def _type_or_none(self, proj: Project, type_name: str) -> Any:
        return self.type_node(proj, type_name) if type_name in proj.artifact_types else None

    def type_node(self, proj: Project, type_name: str) -> dict[str, Any]:
        """The artifact resolvers' type node, whose collections include portfolios."""
        base = self.hub.artifacts.type_node(proj, type_name)
        return {
            **base,
            "artifactCollection": lambda name: self._portfolio_or(
                proj, name, type_name, lambda: base["artifactCollection"](name)
            ),
            "artifactCollections": lambda after=None, first=None, filters=None, order=None: (
                self.collections(proj, type_name, after, first, filters, order)
            ),
        }

    def collections(
        self,
        proj: Project,
        type_name: str | None,
        after: str | None,
        first: int | None,
        filters: Any,
        order: str | None,
    ) -> dict[str, Any]:
        """A project's collections (sequences with versions, and portfolios) of one type or
        all; the artifact resolvers' listing when the project has no portfolios."""
        portfolios = self.store.portfolios_in(proj.entity, proj.name)
        if not portfolios:
            return self.hub.artifacts.collections(proj, type_name, after, first, filters, order)
        sequences = [c for c in proj.collections.values() if c.versions]
        docs: list[dict[str, Any]] = []
        items: list[ArtifactCollection | Portfolio] = [*sequences, *portfolios]
        for index, item in enumerate(items):
            if type_name is None or item.type == type_name:
                docs.append(
                    {
                        "name": item.name,
                        "type": item.type,
                        "description": item.description,
                        "createdAt": iso(item.created_at),
                        "_seq": index,
                        "_item": item,
                    }
                )
        chosen = _select(docs, filters, order or DEFAULT_COLLECTIONS_ORDER, "filters")
        return connection(chosen, first, after, self._collection_node)

    def _collection_node(self, item: Any) -> dict[str, Any]:
        if isinstance(item, Portfolio):
            return self.portfolio_node(item)
        return self.hub.artifacts.collection_node(item)

    def portfolio_node(self, portfolio: Portfolio) -> dict[str, Any]:
        proj = self.store.require_project(portfolio.entity, portfolio.project)
        return {
            "__typename": "ArtifactPortfolio",
            "id": portfolio.id,
            "name": portfolio.name,
            "description": portfolio.description,
            "createdAt": iso(portfolio.created_at),
            "updatedAt": iso(portfolio.updated_at or portfolio.created_at),
            "project": lambda: self.hub.projects.project_node(proj),
            "defaultArtifactType": lambda: self.type_node(proj, portfolio.type),
            "tags": {
                "edges": [{"node": {"id": encode_id("Tag", t), "name": t}} for t in portfolio.tags]
            },
            "aliases": lambda after=None, first=None: connection(
                sorted(portfolio.aliases.items()),
                first,
                after,
                lambda item: self.alias_node(portfolio, item[0], portfolio.resolve(item[0])),
            ),
            "artifacts": lambda after=None, first=None, order=None, filters=None: self.versions(
                portfolio, after, first, order, filters
            ),
            "artifactMembership": lambda aliasName: self._maybe_membership(
                portfolio.resolve(aliasName)
            ),
            "state": "READY",  # a deleted portfolio is gone from the store
        }

    def _maybe_membership(self, membership: Membership | None) -> Any:
        return None if membership is None else self.membership_node(membership)

    def versions(
        self,
        portfolio: Portfolio,
        after: str | None,
        first: int | None,
        order: str | None,
        filters: Any,
    ) -> dict[str, Any]:
        """`ProjectArtifacts` on a portfolio: its links as versions (`version` is the link's
        `vN`), committed ones unless `filters` says otherwise, newest first."""
        docs = [
            {
                "state": m.artifact.state,
                "versionIndex": m.version_index,
                "digest": m.artifact.digest,
                "createdAt": iso(m.created_at),
                "updatedAt": iso(m.artifact.updated_at or m.artifact.created_at),
                "description": m.artifact.description,
                "metadata": m.artifact.metadata,
                "aliases": portfolio.aliases_of(m),
                "tags": m.artifact.tags,
                "_seq": m.version_index,
                "_item": m,
            }
            for m in portfolio.live_members()
        ]
        chosen = _select(
            docs, filters or DEFAULT_VERSIONS_FILTERS, order or DEFAULT_VERSIONS_ORDER, "filters"
        )
        conn = connection(chosen, first, after, lambda m: m)
        conn["edges"] = [
            {
                "node": self.hub.artifacts.artifact_node(e["node"].artifact),
                "version": e["node"].version,
                "cursor": e["cursor"],
            }
            for e in conn["edges"]
        ]
        return conn

    def membership_node(self, membership: Membership) -> dict[str, Any]:
        portfolio, artifact = membership.portfolio, membership.artifact
        artifacts = self.hub.artifacts
        return {
            "__typename": "ArtifactCollectionMembership",
            "id": membership.id,
            "versionIndex": membership.version_index,
            "createdAt": iso(membership.created_at),
            "aliases": lambda: [
                self.alias_node(portfolio, alias, membership)
                for alias in [membership.version, *portfolio.aliases_of(membership)]
            ],
            "artifactCollection": lambda: self.portfolio_node(portfolio),
            "artifact": lambda: artifacts.artifact_node(artifact),
            "files": lambda names=None, after=None, first=None: artifacts.artifact_files(
                artifact, names, after, first
            ),
        }

    def alias_node(
        self, portfolio: Portfolio, alias: str, membership: Membership | None
    ) -> dict[str, Any]:
        return {
            "__typename": "ArtifactAlias",
            "id": encode_id("ArtifactAlias", portfolio.id, alias),
            "alias": alias,
            "artifactCollection": lambda: self.portfolio_node(portfolio),
            "artifact": lambda: (
                None
                if membership is None
                else self.hub.artifacts.artifact_node(membership.artifact)
            ),
        }

    # ------------------------------------------------------------------ mutations
    def link_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """`linkArtifact` by portfolio id, or by entity, project and portfolio name."""
        if not input.get("artifactID"):
            raise StoreError("linkArtifact needs artifactID")
        artifact = self.store.artifact_by_id(input["artifactID"])
        if input.get("artifactPortfolioID"):
            found = self.store.portfolio_by_id(input["artifactPortfolioID"])
            if found is None:
                raise StoreNotFound(f"portfolio {input['artifactPortfolioID']!r} not found")
            entity, project, name = found.entity, found.project, found.name
        else:
            missing = [
                key
                for key in ("entityName", "projectName", "artifactPortfolioName")
                if not input.get(key)
            ]
            if missing:
                raise StoreError(f"linkArtifact needs artifactPortfolioID or {missing}")
            entity, project = input["entityName"], input["projectName"]
            name = input["artifactPortfolioName"]
        aliases = []
        for item in input.get("aliases") or []:
            if item["artifactCollectionName"] != name:
                raise StoreError(
                    f"alias {item['alias']!r} names collection {item['artifactCollectionName']!r}"
                    f", not the link target {name!r}"
                )
            aliases.append(item["alias"])
        membership = self.store.link(artifact, entity, project, name, aliases)
        return {
            "versionIndex": membership.version_index,
            "artifactMembership": self.membership_node(membership),
        }

    def unlink_artifact(self, input: Mapping[str, Any]) -> dict[str, Any]:
        artifact = self.store.artifact_by_id(input["artifactID"])
        portfolio = self.store.portfolio_by_id(input["artifactPortfolioID"])
        if portfolio is None:
            raise StoreNotFound(f"portfolio {input['artifactPortfolioID']!r} not found")
        self.store.unlink(artifact, portfolio)
        return {"success": True}

    def upsert_model(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """Registries (names with the registry prefix) here, other projects as before."""
        name = input.get("name") or ""
        registry_only = [
            key for key in ("allowAllArtifactTypesInRegistry", "artifactTypes") if key in input
        ]
        if not is_registry_project(name):
            if registry_only:
                raise StoreError(
                    f"{registry_only} apply to registries (names starting with "
                    f"{REGISTRY_PREFIX!r}), not to project {name!r}"
                )
            return dict(self.hub.projects.upsert_model(input))
        entity = input.get("entityName") or self.store.viewer.entity
        project, inserted = self.store.upsert_registry(
            entity,
            name,
            description=input.get("description"),
            access=input.get("access"),
            allow_all_types=input.get("allowAllArtifactTypesInRegistry"),
            artifact_types=[t["name"] for t in input.get("artifactTypes") or []],
        )
        node = self.hub.projects.project_node(project)
        return {"project": node, "model": node, "inserted": inserted}

    def rename_project(self, input: Mapping[str, Any]) -> dict[str, Any]:
        project = self.store.rename_registry(
            input["entityName"], input["oldProjectName"], input["newProjectName"]
        )
        return {"inserted": False, "project": self.hub.projects.project_node(project)}

    def delete_model(self, input: Mapping[str, Any]) -> dict[str, Any]:
        self.store.delete_registry(input["id"])
        return {"success": True}

    def _aliases(
        self, input: Mapping[str, Any], base: Callable[[Mapping[str, Any]], Any], *, add: bool
    ) -> dict[str, Any]:
        """`addAliases` / `deleteAliases`: aliases naming a portfolio the artifact is linked
        to change that link; the rest go to the artifact resolvers (its own sequence)."""
        artifact = self.store.artifact_by_id(input["artifactID"])
        on_links: dict[str, tuple[Membership, list[str]]] = {}
        rest = []
        for item in input["aliases"]:
            portfolio = self.store.get_portfolio(
                item["entityName"], item["projectName"], item["artifactCollectionName"]
            )
            membership = portfolio.member_of(artifact) if portfolio is not None else None
            if membership is None:
                rest.append(item)
                continue
            name = check_alias(item["alias"]) if add else item["alias"]
            on_links.setdefault(membership.id, (membership, []))[1].append(name)
        if rest:
            base({**input, "aliases": rest})
        for membership, names in on_links.values():
            if add:
                self.store.add_portfolio_aliases(membership, names)
            else:
                self.store.delete_portfolio_aliases(membership, names)
        return {"success": True}


__all__ = [
    "DEFAULT_LINKS_ORDER",
    "DEFAULT_REGISTRY_ORDER",
    "REGISTRY_FEATURES",
    "RegistryResolvers",
]
