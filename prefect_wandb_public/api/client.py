"""`Api`: the entry point, with the `wandb.Api` constructor and methods.

Each `Api` owns its credentials and its `Transport`; nothing is process-global, so two `Api`
objects for different servers and keys work side by side, in threads. Building one sends no
request: the key is checked by the first query.

`Api` is also the composition root of the client: this module imports every object module, and
an object that must build an object of a module above its own (a run's sweep, an artifact's
logging run, a version's collection) asks its `Api` for it, so imports point one way only.
"""

from __future__ import annotations

import logging
import netrc
import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from prefect_wandb_public.api.artifact_listings import (
    ArtifactCollection,
    ArtifactCollections,
    ArtifactType,
    ArtifactTypes,
    ArtifactVersions,
)
from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.automations import Automation, Automations, Integrations
from prefect_wandb_public.api.names import parse_artifact_name
from prefect_wandb_public.api.orgs import (
    Organization,
    default_organization,
    fetch_organization,
    is_registry_project,
    resolve_org_info,
)
from prefect_wandb_public.api.paging import check_per_page
from prefect_wandb_public.api.paths import (
    check_segment,
    parse_object_path,
    parse_project_path,
    parse_run_path,
)
from prefect_wandb_public.api.progress import ProgressCallback
from prefect_wandb_public.api.projects import Project, Projects
from prefect_wandb_public.api.publish import publish
from prefect_wandb_public.api.queries.projects import VIEWER_QUERY
from prefect_wandb_public.api.queries.users import CREATE_PROJECT_MUTATION, SEARCH_USERS_QUERY
from prefect_wandb_public.api.registries import Registries, Registry, Visibility
from prefect_wandb_public.api.reports import BetaReport, Reports
from prefect_wandb_public.api.runs import Run, Runs
from prefect_wandb_public.api.sweeps import Sweep
from prefect_wandb_public.api.transfers import TransferSettings
from prefect_wandb_public.api.transport import (
    USER_AGENT,
    RetryPolicy,
    Transport,
    validate_base_url,
)
from prefect_wandb_public.api.users import Team, User
from prefect_wandb_public.errors import AuthenticationError, InvalidInputError, NotFoundError

DEFAULT_BASE_URL = "https://api.wandb.ai"
DEFAULT_TIMEOUT = 30.0
DEFAULT_PROJECT = "uncategorized"
logger = logging.getLogger(__name__)


def app_url_for(base_url: str) -> str:
    """The web UI's URL for an API base URL, as the official client derives it."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host.startswith("api.wandb."):
        return f"{parts.scheme}://{host[4:]}"
    if host.startswith("api."):
        netloc = parts.netloc.replace("api.", "app.", 1)
        return f"{parts.scheme}://{netloc}"
    return base_url


def key_from_netrc(base_url: str) -> str | None:
    """The password of the netrc entry for base_url's host ($NETRC, else ~/.netrc)."""
    host = urlsplit(base_url).hostname or ""
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    return entry[2] if entry and entry[2] else None


def resolve_api_key(api_key: str | None, base_url: str) -> str | None:
    """The key an `Api` uses: `api_key`, else WANDB_API_KEY, else base_url's netrc entry."""
    return api_key or os.environ.get("WANDB_API_KEY") or key_from_netrc(base_url)


class Api:
    """Query and manage W&B data over the public GraphQL API.

    `overrides` may hold `base_url`, `entity`, `project` and `organization`; otherwise
    WANDB_BASE_URL, WANDB_ENTITY, WANDB_PROJECT and WANDB_ORGANIZATION apply, then
    https://api.wandb.ai, the key's own entity, "uncategorized" and the entity's organization.
    The key comes from `api_key`, WANDB_API_KEY, or the netrc entry for the base URL's host.
    `timeout` is seconds per request (default 30; connecting waits at most 10 s of it,
    `CONNECT_TIMEOUT_CAP`); `retry` tunes the retry policy (`RetryPolicy`: 6 attempts within
    60 s; a host name that does not resolve or a host that never answered and refuses
    connections gets 2); `transfers` says when files move in parallel parts
    (`TransferSettings`: ranged downloads from 64 MiB, multipart uploads from 64 MiB).
    """

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        pool_size: int = 64,
        transfers: TransferSettings | None = None,
    ) -> None:
        settings = dict(overrides or {})
        unknown = set(settings) - {"base_url", "entity", "project", "app_url", "organization"}
        if unknown:
            raise InvalidInputError(f"unknown overrides {sorted(unknown)}")
        base_url = validate_base_url(
            settings.get("base_url") or os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL
        )
        key = resolve_api_key(api_key, base_url)
        if not key:
            raise AuthenticationError(
                f"no W&B API key for {base_url}: pass api_key=, set WANDB_API_KEY, or add a "
                f"netrc entry for {urlsplit(base_url).hostname}"
            )
        self.settings: dict[str, Any] = {
            "base_url": base_url,
            "entity": settings.get("entity") or os.environ.get("WANDB_ENTITY") or None,
            "project": settings.get("project") or os.environ.get("WANDB_PROJECT") or None,
            "app_url": settings.get("app_url")
            or os.environ.get("WANDB_APP_URL")
            or app_url_for(base_url),
            "organization": settings.get("organization")
            or os.environ.get("WANDB_ORGANIZATION")
            or None,
        }
        self.transport = Transport(
            base_url,
            key,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            retry=retry,
            pool_size=pool_size,
        )
        if transfers is not None and not isinstance(transfers, TransferSettings):
            raise InvalidInputError(f"transfers must be a TransferSettings, got {transfers!r}")
        self.transfers = transfers or TransferSettings()
        self._lock = threading.Lock()
        self._viewer: User | None = None
        # Organizations of entities and server features, as the registry code asks for them.
        self._registry_cache: dict[tuple[Any, ...], Any] = {}

    def __repr__(self) -> str:
        return f"<Api base_url={self.base_url!r}>"

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def app_url(self) -> str:
        return str(self.settings["app_url"]).rstrip("/")

    @property
    def api_key(self) -> None:
        """Never returned: the key lives only in the transport's auth header."""
        return None

    def close(self) -> None:
        """Release pooled connections."""
        self.transport.close()

    # ------------------------------------------------------------------ identity
    @property
    def user_agent(self) -> str:
        """The User-Agent header every request carries."""
        return USER_AGENT

    @property
    def viewer(self) -> User:
        """The key's user (`id`, `entity`, `username`, `teams`, ...); fetched once, cached."""
        with self._lock:
            if self._viewer is None:
                data = self.transport.graphql(VIEWER_QUERY)
                if not data.get("viewer"):
                    raise AuthenticationError(f"the API key was rejected by {self.base_url}")
                self._viewer = User(self, data["viewer"])
            return self._viewer

    @property
    def default_entity(self) -> str:
        """The configured entity, else the key's own entity."""
        return str(self.settings["entity"] or self.viewer.entity)

    @property
    def default_project(self) -> str:
        return str(self.settings["project"] or DEFAULT_PROJECT)

    def flush(self) -> None:
        """Forget cached server answers (the viewer, organizations); objects already returned
        keep theirs."""
        with self._lock:
            self._viewer = None
            self._registry_cache.clear()

    def _entity_default(self) -> str:
        return self.default_entity

    def _run_from_node(self, node: Mapping[str, Any]) -> Run:
        """A `Run` from a GraphQL run node that names its project (artifact lineage)."""
        project = node["project"]
        return Run(self, project["entity"]["name"], project["name"], node["name"], node)

    # ------------------------------------------------------------------ users and teams
    def users(self, username_or_email: str) -> list[User]:
        """Users whose username or email matches (a server admin's search; others may get
        an error or only themselves)."""
        if not isinstance(username_or_email, str) or not username_or_email:
            raise InvalidInputError(f"expected a username or email, got {username_or_email!r}")
        data = self.transport.graphql(SEARCH_USERS_QUERY, {"query": username_or_email})
        edges = (data.get("users") or {}).get("edges") or []
        return [User(self, e["node"]) for e in edges if e.get("node")]

    def user(self, username_or_email: str) -> User | None:
        """The user matching `username_or_email` (the first, with a warning, when several
        do), or None."""
        found = self.users(username_or_email)
        if len(found) > 1:
            logger.warning("%d users match %r; returning the first", len(found), username_or_email)
        return found[0] if found else None

    def team(self, team: str) -> Team:
        """A team and its members, loaded now (NotFoundError when it does not exist)."""
        return Team(self, team)

    def from_path(self, path: str) -> Project | Run | Sweep | BetaReport:
        """The object a W&B path names: `project`, `entity/project`, `entity/project/run_id`,
        `entity/project/runs/run_id`, `entity/project/sweeps/sweep_id` or
        `entity/project/reports/Name--id` (a report is built from its path, no request)."""
        if not isinstance(path, str):
            raise InvalidInputError(f"path must be a string, got {path!r}")
        parts = path.strip("/ ").split("/")
        if len(parts) == 1:
            return self.project(parts[0])
        if len(parts) == 2:
            return self.project(parts[1], parts[0])
        if len(parts) == 3:
            return self.run(path)
        if len(parts) == 4:
            kind = parts[2]
            if kind.startswith("run"):
                return self.run(f"{parts[0]}/{parts[1]}/{parts[3]}")
            if kind.startswith("sweep"):
                return self.sweep(f"{parts[0]}/{parts[1]}/{parts[3]}")
            if kind.startswith("report"):
                slug = parts[3]
                if "--" not in slug:
                    if "-" in slug:
                        raise InvalidInputError(
                            f"invalid report path {path!r}: expected "
                            "entity/project/reports/Name--ID"
                        )
                    slug = "--" + slug
                name, _, report_id = slug.partition("--")
                attrs = {
                    "displayName": unquote(name.replace("-", " ")),
                    "id": report_id,
                    "spec": "{}",
                }
                return BetaReport(self, attrs, entity=parts[0], project=parts[1])
        raise InvalidInputError(
            f"invalid path {path!r}: expected entity/project/TYPE/ID where TYPE is runs, "
            "sweeps or reports"
        )

    # ------------------------------------------------------------------ integrations, automations
    def integrations(
        self, entity: str | None = None, *, per_page: int = 50, start: str | None = None
    ) -> Integrations:
        """The Slack channels and webhooks of `entity` (default: the default entity); `start`
        resumes after a saved `cursor`."""
        return Integrations(
            self, entity or self.default_entity, check_per_page(per_page), start=start
        )

    def webhook_integrations(
        self, entity: str | None = None, *, per_page: int = 50, start: str | None = None
    ) -> Integrations:
        """The webhooks of `entity` (default: the default entity)."""
        return Integrations(
            self,
            entity or self.default_entity,
            check_per_page(per_page),
            kind="webhook",
            start=start,
        )

    def slack_integrations(
        self, *, entity: str | None = None, per_page: int = 50, start: str | None = None
    ) -> Integrations:
        """The Slack channels of `entity` (default: the default entity)."""
        return Integrations(
            self, entity or self.default_entity, check_per_page(per_page), kind="slack", start=start
        )

    def automations(
        self,
        entity: str | None = None,
        *,
        name: str | None = None,
        per_page: int = 50,
        start: str | None = None,
    ) -> Automations:
        """The automations of `entity` (default: the default entity), or only the one named
        `name`; `start` resumes after a saved `cursor`."""
        return Automations(
            self, entity or self.default_entity, name, check_per_page(per_page), start=start
        )

    def automation(self, name: str, *, entity: str | None = None) -> Automation:
        """The automation named `name`; InvalidInputError when none or several match."""
        found = list(self.automations(entity, name=name, per_page=2))
        if len(found) != 1:
            where = entity or self.default_entity
            how = "No automations found" if not found else "Multiple automations found"
            raise InvalidInputError(f"{how} named {name!r} in {where}")
        return found[0]

    # ------------------------------------------------------------------ projects
    def create_project(self, name: str, entity: str) -> None:
        """Create project `entity/name` (nothing changes when it exists)."""
        check_segment(name, "project", name)
        check_segment(entity, "entity", entity)
        self.transport.graphql(
            CREATE_PROJECT_MUTATION, {"input": {"name": name, "entityName": entity}}
        )

    def projects(self, entity: str | None = None, per_page: int = 200) -> Projects:
        """Projects of `entity` (default: the default entity)."""
        return Projects(self, entity or self.default_entity, per_page=per_page)

    def project(self, name: str, entity: str | None = None) -> Project:
        """One project, loaded now (NotFoundError when it does not exist)."""
        return Project.load(self, entity or self.default_entity, name)

    # ------------------------------------------------------------------ runs
    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        include_sweeps: bool = False,
        lazy: bool = True,
    ) -> Runs:
        """Runs of a project (`entity/project` or `project`), filtered with MongoDB-style
        `filters` and sorted by `order` (`+`/`-` and a column), loaded page by page."""
        entity, project = parse_project_path(path, self._entity_default, self.default_project)
        return Runs(
            self,
            entity,
            project,
            filters=filters,
            order=order,
            per_page=check_per_page(per_page),
            include_sweeps=include_sweeps,
            lazy=lazy,
        )

    def run(self, path: str = "") -> Run:
        """One run by `entity/project/run_id` (or `entity/project/runs/run_id`, `project/run_id`,
        `run_id` with the defaults); loaded now."""
        entity, project, run_id = parse_run_path(path, self._entity_default, self.default_project)
        return Run.fetch(self, entity, project, run_id)

    def create_run(
        self,
        *,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
    ) -> Run:
        """Create an empty run (state `pending`) and return it."""
        return Run.create(self, run_id=run_id, project=project, entity=entity)

    # ------------------------------------------------------------------ sweeps and reports
    def sweep(self, path: str = "") -> Sweep:
        """One sweep by `entity/project/sweep_id` (or shorter, with the defaults)."""
        entity, project, sweep_id = parse_object_path(
            path, "sweep", self._entity_default, self.default_project
        )
        return Sweep.fetch(self, entity, project, sweep_id)

    def reports(self, path: str = "", name: str | None = None, per_page: int = 50) -> Reports:
        """Reports of a project (`entity/project` or `project`), optionally one by name."""
        entity, project = parse_project_path(
            path or None, self._entity_default, self.default_project
        )
        return Reports(self, entity, project, name=name, per_page=per_page)

    # ------------------------------------------------------------------ artifacts
    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """One artifact version: `entity/project/collection:alias`, `project/collection:v3`,
        `collection:latest` or `collection` (= latest). A registry version is
        `wandb-registry-<registry>/<collection>:<alias>` (the default entity's organization) or
        `<org or org entity>/wandb-registry-<registry>/<collection>:<alias>`; it and a legacy
        `<team>/model-registry/<name>:<alias>` come back as links (`is_link`). A `type` that
        differs from the artifact's is an InvalidInputError."""
        if type is not None and not isinstance(type, str):
            raise InvalidInputError(f"type must be a string, got {type!r}")
        parse_artifact_name(name.rsplit("/", 1)[-1] if isinstance(name, str) else name)
        parts = name.split("/")
        if len(parts) >= 2 and is_registry_project(parts[-2]):
            organization = parts[0] if len(parts) == 3 else self.settings["organization"]
            entity = resolve_org_info(self, self.default_entity, organization).entity_name
            name = f"{entity}/{parts[-2]}/{parts[-1]}"
        entity, project, coll_name = parse_object_path(
            name, "artifact", self._entity_default, self.default_project
        )
        artifact = Artifact.load(self, entity, project, coll_name)
        if type is not None and artifact.type != type:
            raise InvalidInputError(
                f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
            )
        return artifact

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether `artifact(name, type)` would find a version."""
        try:
            self.artifact(name, type)
        except (NotFoundError, InvalidInputError):
            return False
        return True

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        """One artifact type of a project (`entity/project` or `project`)."""
        entity, proj = parse_project_path(project, self._entity_default, self.default_project)
        return ArtifactType(self, entity, proj, type_name)

    def artifact_types(self, project: str | None = None, start: str | None = None) -> ArtifactTypes:
        """The artifact types of a project (`entity/project` or `project`); `start` resumes
        after a saved `cursor`."""
        entity, proj = parse_project_path(project, self._entity_default, self.default_project)
        return ArtifactTypes(self, entity, proj, start=start)

    def artifact_collection(self, type_name: str, name: str) -> ArtifactCollection:
        """One collection by type and `entity/project/name` (or shorter, with the defaults)."""
        entity, project, coll_name = parse_object_path(
            name, "artifact collection", self._entity_default, self.default_project
        )
        return ArtifactCollection(self, entity, project, coll_name, type_name)

    def artifact_collection_exists(self, name: str, type: str) -> bool:
        try:
            self.artifact_collection(type, name)
        except NotFoundError:
            return False
        return True

    def artifact_collections(
        self,
        project_name: str,
        type_name: str,
        order: str | None = None,
        per_page: int = 50,
        start: str | None = None,
    ) -> ArtifactCollections:
        """The collections of one type in a project (`entity/project` or `project`), in
        `order` (`+field` / `-field`, default newest first); `start` resumes after a saved
        `cursor`."""
        entity, project = parse_project_path(
            project_name, self._entity_default, self.default_project
        )
        return ArtifactCollections(
            self, entity, project, type_name, check_per_page(per_page), order=order, start=start
        )

    def artifacts(
        self,
        type_name: str,
        name: str,
        order: str | None = None,
        per_page: int = 50,
        tags: list[str] | None = None,
        start: str | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
    ) -> ArtifactVersions:
        """The committed versions of collection `entity/project/name`, newest first unless
        `order` says otherwise; with `tags`, only versions holding all of them; `filters`
        (ours) replaces the default `{"state": "COMMITTED"}`."""
        entity, project, coll_name = parse_object_path(
            name, "artifact collection", self._entity_default, self.default_project
        )
        return ArtifactVersions(
            self,
            entity,
            project,
            coll_name,
            type_name,
            filters=filters,
            order=order,
            per_page=check_per_page(per_page),
            tags=tags,
            start=start,
        )

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> ArtifactVersions:
        """Same as `artifacts(type_name, name, per_page)` (the older name)."""
        return self.artifacts(type_name, name, per_page=per_page)

    # ------------------------------------------------------------------ organizations, registries
    def organization(self, name: str | None = None) -> Organization:
        """An organization by display name (default: the configured one, else the default
        entity's); NotFoundError when there is none of that name."""
        if not name:
            name = self.settings["organization"] or (
                resolve_org_info(self, self.default_entity).org_name
            )
        return fetch_organization(self, str(name))

    def registries(
        self,
        organization: str | None = None,
        filter: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 100,
    ) -> Registries:
        """The registries of `organization` (default: the configured one, else the default
        entity's) matching `filter`; `.collections(...)` and `.versions(...)` search inside."""
        org = organization or default_organization(self)
        return Registries(self, org, filter=filter, order=order, per_page=check_per_page(per_page))

    def registry(self, name: str, organization: str | None = None) -> Registry:
        """One registry by name (without the `wandb-registry-` prefix), loaded now;
        NotFoundError naming it when the organization has none of that name."""
        org = fetch_organization(self, organization or default_organization(self))
        registry = Registry(self, org.name, org.org_entity.name, name)
        registry.load()
        return registry

    def create_registry(
        self,
        name: str,
        visibility: Visibility,
        organization: str | None = None,
        description: str | None = None,
        artifact_types: list[str] | None = None,
    ) -> Registry:
        """Create a registry (`visibility` "organization" or "restricted") accepting
        `artifact_types` (every type when none are given); InvalidInputError if it exists."""
        org = organization or default_organization(self)
        return Registry.create(self, org, name, visibility, description, artifact_types)

    def log_artifact(
        self,
        artifact: Artifact,
        project: str | None = None,
        entity: str | None = None,
        aliases: list[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> Artifact:
        """Publish a draft `Artifact(name, type)` with no run to `project` (`entity/project` or
        `project`; default: the default project, created when missing); returns the committed
        version. Identical content returns the existing version and uploads nothing.
        `progress` follows the upload (a `Progress` per file)."""
        return publish(
            self,
            artifact,
            lambda: parse_project_path(
                project, entity or self._entity_default, self.default_project
            ),
            aliases=aliases,
            progress=progress,
        )


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_PROJECT",
    "Api",
    "app_url_for",
    "key_from_netrc",
    "resolve_api_key",
]
