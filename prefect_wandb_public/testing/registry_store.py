"""The registry half of the local server's state: organizations, registries and portfolios
(link collections), with the service's rules (protocol notes, registry §1.1, §1.11).

- An organization has a display name and an **org entity** (`entityType` "organization"); team
  entities belong to one organization, the viewer's personal entity to any number of them.
- A registry is a project `wandb-registry-<name>` of the org entity, with a visibility
  (`access` PRIVATE for "organization", RESTRICTED) and the artifact types it accepts.
- A portfolio is a collection of links to versions that live in sequences. Linking gives the
  next `vN` of the portfolio (numbers are never reused) and moves `latest` to it; linking a
  member again only applies the aliases. Portfolios live in registries and in the legacy
  `<team>/model-registry` project. Artifacts of a personal entity cannot enter a registry.

`RegistryStore` is a part of `WandbStore` (which inherits it), as `ArtifactStore` is.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prefect_wandb_public.testing.common import (
    StoreConflict,
    StoreError,
    StoreNotFound,
    check_alias,
    check_name,
    encode_id,
)

if TYPE_CHECKING:
    from prefect_wandb_public.testing.artifact_store import Artifact, ArtifactCollection
    from prefect_wandb_public.testing.store import Project, User

REGISTRY_PREFIX = "wandb-registry-"
LEGACY_REGISTRY_PROJECT = "model-registry"
VISIBILITY_TO_ACCESS = {"organization": "PRIVATE", "restricted": "RESTRICTED"}
REGISTRY_NAME_MAXLEN = 128
_REGISTRY_NAME_FORBIDDEN = re.compile(r"[/\\#?%:\r\n]")


def is_registry_project(name: str) -> bool:
    return name.startswith(REGISTRY_PREFIX) and name != REGISTRY_PREFIX


@dataclass
class Organization:
    """An organization: display `name`, org `entity`, and the entities joined to it."""

    id: str
    name: str
    entity: str
    created_at: datetime
    members: list[str] = field(default_factory=list)


@dataclass
class RegistrySettings:
    """What makes a project of an org entity a registry."""

    organization: str
    description: str
    access: str
    allow_all_types: bool
    artifact_types: list[str]
    updated_at: datetime


@dataclass
class Membership:
    """One link: version `vN` of a portfolio pointing at a committed source version."""

    id: str
    portfolio: Portfolio
    artifact: Artifact
    version_index: int
    created_at: datetime

    @property
    def version(self) -> str:
        return f"v{self.version_index}"


@dataclass
class Portfolio:
    """A link collection: memberships by version index, aliases (alias -> version index)."""

    id: str
    entity: str
    project: str
    name: str
    type: str
    created_at: datetime
    description: str | None = None
    members: dict[int, Membership] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    next_index: int = 0
    tags: list[str] = field(default_factory=list)
    updated_at: datetime | None = None

    def live_members(self) -> list[Membership]:
        """Members in version order, those whose source version was deleted left out."""
        return [m for _, m in sorted(self.members.items()) if m.artifact.state != "DELETED"]

    def member_of(self, artifact: Artifact) -> Membership | None:
        return next((m for m in self.members.values() if m.artifact.id == artifact.id), None)

    def resolve(self, alias: str) -> Membership | None:
        """The live member a `vN`, an alias or `latest` names, else None."""
        if re.fullmatch(r"v\d+", alias):
            index: int | None = int(alias[1:])
        else:
            index = self.aliases.get(alias)
        found = self.members.get(index) if index is not None else None
        return None if found is None or found.artifact.state == "DELETED" else found

    def aliases_of(self, membership: Membership) -> list[str]:
        return [a for a, index in self.aliases.items() if index == membership.version_index]


class RegistryStore:
    """The registry rules of `WandbStore`; see the module docstring."""

    if TYPE_CHECKING:  # provided by WandbStore
        lock: threading.RLock
        viewer: User
        projects: dict[tuple[str, str], Project]

        def touch(self) -> None: ...
        def is_team(self, entity: str) -> bool: ...
        def next_int(self) -> int: ...
        def _next_time(self, explicit: datetime | str | None = None) -> datetime: ...
        def create_project(self, entity: str, project: str) -> Project: ...
        def get_project(self, entity: str, project: str) -> Project | None: ...
        def require_project(self, entity: str, project: str) -> Project: ...
        def resolve_artifact(self, entity: str, project: str, name: str) -> Artifact | None: ...
        def get_collection(
            self, entity: str, project: str, name: str
        ) -> ArtifactCollection | None: ...

    def _init_registry_state(self) -> None:
        self.organizations: dict[str, Organization] = {}
        self.registries: dict[tuple[str, str], RegistrySettings] = {}
        self.portfolios: dict[tuple[str, str], dict[str, Portfolio]] = {}

    # ------------------------------------------------------------------ organizations
    def create_organization(
        self, name: str, *, org_entity: str | None = None, members: Sequence[str] = ()
    ) -> Organization:
        """Create an organization named `name` whose org entity is `org_entity` (default
        `<name>-org`), joining `members`: team entities (each in one organization only) and
        the viewer's personal entity (which may join several)."""
        if not isinstance(name, str) or not name.strip():
            raise StoreError(f"invalid organization name {name!r}")
        entity = check_name("organization entity", org_entity or f"{_slug(name)}-org")
        if isinstance(members, str):
            raise StoreError(f"members must be a list of entity names, not {members!r}")
        with self.lock:
            if name in self.organizations:
                raise StoreConflict(f"organization {name!r} already exists")
            if self.organization_of_entity(entity) is not None or self.get_project_names(entity):
                raise StoreConflict(f"entity {entity!r} already exists")
            for member in members:
                check_name("entity", member)
                taken = self.organization_of_entity(member)
                if taken is not None:
                    raise StoreConflict(
                        f"team entity {member!r} already belongs to organization {taken.name!r}"
                    )
            org = Organization(
                id=encode_id("Organization", self.next_int()),
                name=name,
                entity=entity,
                created_at=self._next_time(),
                members=list(dict.fromkeys(members)),
            )
            self.organizations[name] = org
            self.touch()
            return org

    def get_project_names(self, entity: str) -> list[str]:
        with self.lock:
            return [p for (e, p) in self.projects if e == entity]

    def is_personal_entity(self, entity: str) -> bool:
        """A user's own entity (its user name) is personal; every other one is a team."""
        return not self.is_team(entity)

    def organization_by_name(self, name: str) -> Organization | None:
        with self.lock:
            return self.organizations.get(name)

    def organization_of_entity(self, entity: str) -> Organization | None:
        """The organization of an org entity or of a team entity joined to one (a personal
        entity has none: its user's organizations are `user_organizations`)."""
        with self.lock:
            for org in self.organizations.values():
                if org.entity == entity:
                    return org
                if not self.is_personal_entity(entity) and entity in org.members:
                    return org
            return None

    def user_organizations(self, entity: str) -> list[Organization]:
        """The organizations the personal entity `entity` joined (none for a team)."""
        if not self.is_personal_entity(entity):
            return []
        with self.lock:
            return [org for org in self.organizations.values() if entity in org.members]

    def entity_type(self, entity: str) -> str:
        with self.lock:
            if any(org.entity == entity for org in self.organizations.values()):
                return "organization"
        return "user" if self.is_personal_entity(entity) else "team"

    def _require_organization(self, name: str) -> Organization:
        found = self.organization_by_name(name)
        if found is None:
            with self.lock:
                found = next((o for o in self.organizations.values() if o.entity == name), None)
        if found is None:
            raise StoreNotFound(f"organization {name!r} not found")
        return found

    # ------------------------------------------------------------------ registries
    def create_registry(
        self,
        organization: str,
        name: str,
        *,
        artifact_types: Sequence[str] | None = None,
        visibility: str = "organization",
        description: str = "",
    ) -> Project:
        """Create registry `name` (project `wandb-registry-<name>` of the org entity) accepting
        `artifact_types` (None: every type)."""
        if visibility not in VISIBILITY_TO_ACCESS:
            raise StoreError(
                f"invalid visibility {visibility!r}: expected 'organization' or 'restricted'"
            )
        with self.lock:
            org = self._require_organization(organization)
            full_name = REGISTRY_PREFIX + name
            if self.get_project(org.entity, full_name) is not None:
                raise StoreConflict(f"registry {name!r} already exists in {org.name!r}")
            project, _ = self.upsert_registry(
                org.entity,
                full_name,
                description=description,
                access=VISIBILITY_TO_ACCESS[visibility],
                allow_all_types=not artifact_types,
                artifact_types=artifact_types or (),
            )
            return project

    def upsert_registry(
        self,
        entity: str,
        full_name: str,
        *,
        description: str | None = None,
        access: str | None = None,
        allow_all_types: bool | None = None,
        artifact_types: Iterable[str] = (),
    ) -> tuple[Project, bool]:
        """`upsertModel` on a registry name: create it, or change what is given (types are
        only ever added). Returns (project, inserted)."""
        check_registry_name(full_name)
        if access is not None and access not in VISIBILITY_TO_ACCESS.values():
            raise StoreError(f"invalid registry access {access!r}: expected PRIVATE or RESTRICTED")
        types = [check_name("artifact type", t) for t in artifact_types]
        with self.lock:
            org = self.organization_of_entity(entity)
            if org is None or org.entity != entity:
                raise StoreNotFound(
                    f"registries live in an organization's entity; {entity!r} is not one"
                )
            settings = self.registries.get((entity, full_name))
            inserted = settings is None
            if settings is None:
                project = self.create_project(entity, full_name)
                settings = RegistrySettings(
                    organization=org.name,
                    description="",
                    access="PRIVATE",
                    allow_all_types=True,
                    artifact_types=[],
                    updated_at=project.created_at,
                )
                self.registries[(entity, full_name)] = settings
                self.portfolios[(entity, full_name)] = {}
            else:
                project = self.require_project(entity, full_name)
            if description is not None:
                settings.description = description
            if access is not None:
                if settings.access == "RESTRICTED" and access == "PRIVATE" and not inserted:
                    raise StoreError(
                        f"registry {full_name!r} is restricted and cannot become "
                        "organization-visible again"
                    )
                settings.access = access
            if allow_all_types is not None:
                settings.allow_all_types = allow_all_types
            for type_name in types:
                if type_name not in settings.artifact_types:
                    settings.artifact_types.append(type_name)
                project.artifact_types.setdefault(type_name, self._next_time())
            settings.updated_at = self._next_time()
            self.touch()
            return project, inserted

    def registry_settings(self, entity: str, project: str) -> RegistrySettings | None:
        with self.lock:
            return self.registries.get((entity, project))

    def registries_of(self, org: Organization) -> list[Project]:
        """The organization's registry projects, oldest first."""
        with self.lock:
            return sorted(
                (self.projects[key] for key in self.registries if key[0] == org.entity),
                key=lambda p: p.internal_id,
            )

    def rename_registry(self, entity: str, old: str, new: str) -> Project:
        """`renameProject` for a registry (the local server renames nothing else)."""
        check_registry_name(new)
        with self.lock:
            settings = self.registries.get((entity, old))
            if settings is None:
                raise StoreError(
                    f"renameProject: {entity}/{old} is not a registry (the local server renames "
                    "registries only)"
                )
            if self.get_project(entity, new) is not None:
                raise StoreConflict(f"project {entity}/{new} already exists")
            project = self.projects.pop((entity, old))
            project.name = new
            self.projects[(entity, new)] = project
            self.registries[(entity, new)] = self.registries.pop((entity, old))
            portfolios = self.portfolios.pop((entity, old))
            for portfolio in portfolios.values():
                portfolio.project = new
            self.portfolios[(entity, new)] = portfolios
            settings.updated_at = self._next_time()
            self.touch()
            return project

    def delete_registry(self, project_id: str) -> None:
        """`deleteModel` for a registry: the project, its settings and its links go."""
        with self.lock:
            key = next((k for k in self.registries if self.projects[k].id == project_id), None)
            if key is None:
                raise StoreNotFound(
                    f"deleteModel: no registry with id {project_id!r} (the local server deletes "
                    "registries only)"
                )
            del self.registries[key]
            del self.portfolios[key]
            del self.projects[key]
            self.touch()

    # ------------------------------------------------------------------ portfolios and links
    def get_portfolio(self, entity: str, project: str, name: str) -> Portfolio | None:
        with self.lock:
            return self.portfolios.get((entity, project), {}).get(name)

    def portfolios_in(self, entity: str, project: str) -> list[Portfolio]:
        with self.lock:
            return list(self.portfolios.get((entity, project), {}).values())

    def portfolio_by_id(self, portfolio_id: str) -> Portfolio | None:
        with self.lock:
            for portfolios in self.portfolios.values():
                for portfolio in portfolios.values():
                    if portfolio.id == portfolio_id:
                        return portfolio
            return None

    def memberships_of(self, artifact: Artifact) -> list[Membership]:
        """Every link to `artifact`, oldest first."""
        with self.lock:
            found = [
                m
                for portfolios in self.portfolios.values()
                for portfolio in portfolios.values()
                for m in portfolio.members.values()
                if m.artifact.id == artifact.id
            ]
            return sorted(found, key=lambda m: (m.created_at, m.id))

    def link(
        self,
        artifact: Artifact,
        entity: str,
        project: str,
        portfolio_name: str,
        aliases: Sequence[str] = (),
    ) -> Membership:
        """`linkArtifact`: link committed `artifact` into portfolio `entity/project/name`,
        creating the portfolio if missing. A new link takes the next `vN` and `latest`; a
        version already linked there keeps its number. Then `aliases` move to it.

        Refused, with nothing changed: a version that is not committed; a registry that does
        not accept the artifact's type; an artifact of a personal entity, or of a team outside
        the registry's organization, into a registry; a name that is a sequence."""
        check_name("artifact collection", portfolio_name)
        names = [check_alias(a) for a in dict.fromkeys(aliases) if a != "latest"]
        with self.lock:
            if artifact.state != "COMMITTED":
                raise StoreConflict(
                    f"artifact {artifact.id!r} is {artifact.state}; only committed versions link"
                )
            target = self._link_target(artifact, entity, project)
            if self.get_collection(entity, project, portfolio_name) is not None:
                raise StoreError(
                    f"{entity}/{project}/{portfolio_name} is an artifact sequence, not a "
                    "portfolio: versions cannot be linked into it"
                )
            portfolios = self.portfolios.setdefault((entity, project), {})
            portfolio = portfolios.get(portfolio_name)
            if portfolio is not None and portfolio.type != artifact.type:
                raise StoreError(
                    f"collection {entity}/{project}/{portfolio_name} holds {portfolio.type!r} "
                    f"artifacts; cannot link {artifact.collection}:{artifact.version} of type "
                    f"{artifact.type!r}"
                )
            if portfolio is None:
                portfolio = Portfolio(
                    id=encode_id("ArtifactCollection", self.next_int()),
                    entity=entity,
                    project=project,
                    name=portfolio_name,
                    type=artifact.type,
                    created_at=self._next_time(),
                )
                portfolios[portfolio_name] = portfolio
                target.artifact_types.setdefault(artifact.type, self._next_time())
            membership = portfolio.member_of(artifact)
            if membership is None:
                index = portfolio.next_index
                portfolio.next_index += 1
                membership = Membership(
                    id=encode_id("ArtifactCollectionMembership", portfolio.id, index),
                    portfolio=portfolio,
                    artifact=artifact,
                    version_index=index,
                    created_at=self._next_time(),
                )
                portfolio.members[index] = membership
                portfolio.aliases["latest"] = index
            for alias in names:
                portfolio.aliases[alias] = membership.version_index
            portfolio.updated_at = self._next_time()
            self.touch()
            return membership

    def _link_target(self, artifact: Artifact, entity: str, project: str) -> Project:
        """The project links go to, after the service's checks on who may link what there."""
        settings = self.registries.get((entity, project))
        if settings is not None:
            name = project[len(REGISTRY_PREFIX) :]
            if self.is_personal_entity(artifact.entity):
                raise StoreError(
                    f"artifact {artifact.entity}/{artifact.project}/{artifact.collection} was "
                    f"logged to the personal entity {artifact.entity!r}; artifacts of personal "
                    "entities cannot be linked to a registry (log them to a team entity)"
                )
            org = self.organization_of_entity(artifact.entity)
            if org is None or org.name != settings.organization:
                raise StoreError(
                    f"entity {artifact.entity!r} is not in organization "
                    f"{settings.organization!r}, which owns registry {name!r}"
                )
            if not settings.allow_all_types and artifact.type not in settings.artifact_types:
                raise StoreError(
                    f"registry {name!r} accepts artifact types {settings.artifact_types}, not "
                    f"{artifact.type!r} ({artifact.collection}:{artifact.version})"
                )
            return self.require_project(entity, project)
        if is_registry_project(project):
            org = self.organization_of_entity(entity)
            where = f"organization {org.name!r}" if org else f"entity {entity!r}"
            raise StoreNotFound(
                f"registry {project[len(REGISTRY_PREFIX) :]!r} not found in {where}"
            )
        if project == LEGACY_REGISTRY_PROJECT:
            return self.create_project(entity, project)
        return self.require_project(entity, project)

    def unlink(self, artifact: Artifact, portfolio: Portfolio) -> None:
        """`unlinkArtifact`: remove the link to `artifact` and the aliases on it; `latest`
        falls back to the newest remaining link. Its version number is not reused."""
        with self.lock:
            membership = portfolio.member_of(artifact)
            if membership is None:
                raise StoreNotFound(
                    f"artifact {artifact.id!r} is not linked to "
                    f"{portfolio.entity}/{portfolio.project}/{portfolio.name}"
                )
            del portfolio.members[membership.version_index]
            for alias in portfolio.aliases_of(membership):
                del portfolio.aliases[alias]
            live = portfolio.live_members()
            if live:
                portfolio.aliases["latest"] = live[-1].version_index
            portfolio.updated_at = self._next_time()
            self.touch()

    def add_portfolio_aliases(self, membership: Membership, aliases: Iterable[str]) -> None:
        """Point `aliases` at a link, moving each from whichever link held it."""
        names = [check_alias(a) for a in aliases]
        with self.lock:
            portfolio = membership.portfolio
            for alias in names:
                portfolio.aliases[alias] = membership.version_index
            portfolio.updated_at = self._next_time()
            self.touch()

    def delete_portfolio_aliases(self, membership: Membership, aliases: Iterable[str]) -> None:
        """Remove those of `aliases` that point at this link."""
        with self.lock:
            portfolio = membership.portfolio
            for alias in aliases:
                if portfolio.aliases.get(alias) == membership.version_index:
                    del portfolio.aliases[alias]
            portfolio.updated_at = self._next_time()
            self.touch()

    def link_artifact(
        self,
        entity: str,
        project: str,
        name_version: str,
        target_path: str,
        aliases: Sequence[str] = (),
    ) -> str:
        """Seed a link: version `name_version` (`coll:vN` or `coll:alias`) of
        `entity/project` into `target_path` (`[org/]wandb-registry-<name>/<collection>` or
        `<entity>/<project>/<collection>`); returns the link's version (`vN`)."""
        with self.lock:
            artifact = self.resolve_artifact(entity, project, name_version)
            if artifact is None:
                raise StoreNotFound(f"artifact {entity}/{project}/{name_version} not found")
            parts = target_path.split("/") if isinstance(target_path, str) else []
            if len(parts) not in (2, 3) or not all(parts) or ":" in target_path:
                raise StoreError(
                    f"invalid link target {target_path!r}: expected [prefix/]project/collection"
                )
            *prefix, target_project, collection = parts
            if is_registry_project(target_project):
                org = (
                    self._require_organization(prefix[0])
                    if prefix
                    else self._organization_for(artifact.entity)
                )
                target_entity = org.entity
            elif prefix:
                target_entity = prefix[0]
            else:
                target_entity = artifact.entity
            return self.link(artifact, target_entity, target_project, collection, aliases).version

    def _organization_for(self, entity: str) -> Organization:
        org = self.organization_of_entity(entity)
        if org is not None:
            return org
        orgs = self.user_organizations(entity)
        if len(orgs) != 1:
            raise StoreError(
                f"entity {entity!r} belongs to {len(orgs)} organizations; name one in the path"
            )
        return orgs[0]


def check_registry_name(full_name: str) -> str:
    """A registry's project name: the prefix, a name, at most 128 characters, none of
    `/ \\ # ? % :` or line breaks."""
    if (
        not isinstance(full_name, str)
        or not is_registry_project(full_name)
        or len(full_name) > REGISTRY_NAME_MAXLEN
        or _REGISTRY_NAME_FORBIDDEN.search(full_name)
    ):
        raise StoreError(f"invalid registry name {full_name!r}")
    return check_name("registry", full_name)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-").lower() or "org"


__all__ = [
    "LEGACY_REGISTRY_PROJECT",
    "REGISTRY_PREFIX",
    "VISIBILITY_TO_ACCESS",
    "Membership",
    "Organization",
    "Portfolio",
    "RegistrySettings",
    "RegistryStore",
    "check_registry_name",
    "is_registry_project",
]
