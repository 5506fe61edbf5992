"""Watching W&B for changes and telling Prefect: the tasks `watch_wandb` is built from.

`detect_wandb_changes` compares what W&B holds now with what the previous run saw (registry
notes §2.5: a poller works with the public API alone) and returns one change per event:

- `wandb.artifact.version.created`: a version index above the collection's high-water mark;
- `wandb.artifact.linked`: a link whose `linked_at` (membership createdAt) is past the last seen;
- `wandb.artifact.alias.moved` / `.removed`: a watched alias's holder differs from the snapshot
  (aliases carry no timestamp);
- `wandb.run.finished` / `failed` / `crashed` / `killed`: a run that was active, or is new, and
  is now in that state.

Every artifact event's resource is `wandb.artifact.<entity>/<project>/<collection>:<version>`
with labels `wandb.entity`, `wandb.project`, `wandb.collection`, `wandb.type`, `wandb.version`,
`wandb.source.{entity,project,collection,version}` (the version itself, or a link's source),
`wandb.registry` for registry links, and `wandb.alias` / `wandb.previous_version` for alias
events; related resources are the logging run (role `run`), the project (role `project`) and a
link's source (role `source`). Run events: `wandb.run.<entity>/<project>/<id>` with
`wandb.entity`, `wandb.project`, `wandb.run_id`, `wandb.state`, `wandb.previous_state`.

A target seen for the first time is recorded without events (unless `emit_baseline`).
`emit_wandb_events` sends the changes with ids derived from the change and the state's
generation, so a run repeated after a crash between emitting and saving re-sends the same ids
(Prefect's triggers skip ids they have seen).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.logging import get_run_logger

from prefect_wandb_public.api import Api, Artifact, Run
from prefect_wandb_public.api.orgs import REGISTRY_PREFIX, is_registry_project
from prefect_wandb_public.api.paths import split_path
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError, NotFoundError
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, task_with_async_variant

TERMINAL_RUN_STATES = ("finished", "failed", "crashed", "killed")
DEFAULT_ALIASES = ("production", "staging")
STATE_VERSION = 1
_EVENT_NAMESPACE = uuid.UUID("7f1d3c52-4a8e-4f6b-9a57-3d1b2c9e8f10")


def _when(value: str | None) -> datetime:
    """An ISO timestamp as an aware UTC datetime (the service sends no zone)."""
    if not value:
        return datetime.min.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def artifact_resource(artifact: Artifact) -> dict[str, str]:
    """The Prefect resource of a version (or a link), with the labels triggers match on."""
    name = f"{artifact.collection_name}:{artifact.version}"
    source_collection, _, source_version = artifact.source_name.partition(":")
    resource = {
        "prefect.resource.id": f"wandb.artifact.{artifact.entity}/{artifact.project}/{name}",
        "prefect.resource.name": f"{artifact.entity}/{artifact.project}/{name}",
        "wandb.entity": artifact.entity,
        "wandb.project": artifact.project,
        "wandb.collection": artifact.collection_name,
        "wandb.type": artifact.type,
        "wandb.version": artifact.version,
        "wandb.source.entity": artifact.source_entity,
        "wandb.source.project": artifact.source_project,
        "wandb.source.collection": source_collection,
        "wandb.source.version": source_version,
    }
    if is_registry_project(artifact.project):
        resource["wandb.registry"] = artifact.project[len(REGISTRY_PREFIX) :]
    return resource


def artifact_related(artifact: Artifact) -> list[dict[str, str]]:
    """The logging run, the source project, and a link's source version."""
    related = [
        {
            "prefect.resource.id": f"wandb.project.{artifact.source_entity}/"
            f"{artifact.source_project}",
            "prefect.resource.role": "project",
        }
    ]
    run = artifact.logged_by()
    if run is not None:
        related.append(
            {
                "prefect.resource.id": f"wandb.run.{'/'.join(run.path)}",
                "prefect.resource.role": "run",
                "prefect.resource.name": run.name,
            }
        )
    if artifact.is_link:
        related.append(
            {
                "prefect.resource.id": f"wandb.artifact.{artifact.source_qualified_name}",
                "prefect.resource.role": "source",
            }
        )
    return related


class _Detector:
    """One detection pass: walks the targets, collects changes, builds the next state."""

    def __init__(
        self, api: Api, aliases: Sequence[str], generation: int, emit_baseline: bool
    ) -> None:
        self.api = api
        self.aliases = list(aliases)
        self.generation = generation
        self.emit_baseline = emit_baseline
        self.changes: list[dict[str, Any]] = []

    def _change(
        self,
        event: str,
        resource: dict[str, str],
        related: list[dict[str, str]],
        payload: dict[str, Any],
        key: str,
    ) -> None:
        seed = f"{self.generation}|{event}|{resource['prefect.resource.id']}|{key}"
        self.changes.append(
            {
                "event": event,
                "resource": resource,
                "related": related,
                "payload": payload,
                "id": str(uuid.uuid5(_EVENT_NAMESPACE, seed)),
            }
        )

    def _alias_changes(
        self, path: str, now: Mapping[str, Artifact | None], before: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Alias events for `path` (entity/project/collection); returns the new snapshot."""
        snapshot: dict[str, str | None] = {}
        for alias in self.aliases:
            holder = now.get(alias)
            version = holder.version if holder is not None else None
            snapshot[alias] = version
            previous = before.get(alias)
            if version == previous:
                continue
            if holder is not None:
                resource = {
                    **artifact_resource(holder),
                    "wandb.alias": alias,
                    "wandb.previous_version": previous or "none",
                }
                self._change(
                    "wandb.artifact.alias.moved",
                    resource,
                    artifact_related(holder),
                    {"alias": alias, "version": version, "previous": previous},
                    f"{alias}|{previous}",
                )
            else:
                entity, project, collection = path.split("/")
                resource = {
                    "prefect.resource.id": f"wandb.artifact.{path}:{previous}",
                    "prefect.resource.name": f"{path}:{previous}",
                    "wandb.entity": entity,
                    "wandb.project": project,
                    "wandb.collection": collection,
                    "wandb.version": str(previous),
                    "wandb.alias": alias,
                    "wandb.previous_version": str(previous),
                }
                self._change(
                    "wandb.artifact.alias.removed",
                    resource,
                    [],
                    {"alias": alias, "version": None, "previous": previous},
                    alias,
                )
        return snapshot

    # ------------------------------------------------------------------ projects
    def project(self, target: str, before: Mapping[str, Any] | None) -> dict[str, Any]:
        """A project (`entity/project`: its sequences and runs) or one of its collections
        (`entity/project/collection`)."""
        parts = split_path(target, "watched project", max_parts=3)
        if len(parts) < 2:
            raise InvalidInputError(
                f"watched project {target!r} must be 'entity/project' or "
                "'entity/project/collection'"
            )
        entity, project = parts[0], parts[1]
        self.api.project(project, entity)  # NotFoundError naming it when it does not exist
        wanted = parts[2] if len(parts) == 3 else None
        emitting = before is not None or self.emit_baseline
        known = (before or {}).get("collections") or {}
        collections: dict[str, Any] = {}
        for art_type in self.api.artifact_types(f"{entity}/{project}"):
            if art_type.name.startswith("wandb-"):
                continue
            for coll in art_type.collections():
                if (wanted is not None and coll.name != wanted) or not coll.is_sequence():
                    continue
                seen = known.get(coll.name)
                collections[coll.name] = self._collection(
                    f"{entity}/{project}/{coll.name}", coll, seen, emitting
                )
        if wanted is not None and wanted not in collections:
            raise NotFoundError(f"artifact collection {target} not found")
        state: dict[str, Any] = {"collections": collections}
        if wanted is None:
            state["runs"] = self._runs(entity, project, (before or {}).get("runs"), emitting)
        return state

    def _collection(
        self, path: str, coll: Any, seen: Mapping[str, Any] | None, emitting: bool
    ) -> dict[str, Any]:
        mark = int(seen["hwm"]) if seen else -1
        fresh: list[Artifact] = []
        top = mark
        for version in coll.artifacts(per_page=50):
            index = int(version.version[1:])
            if index <= mark:
                break  # newest first: everything older was seen
            fresh.append(version)
            top = max(top, index)
        if emitting:
            for version in sorted(fresh, key=lambda a: int(a.version[1:])):
                self._change(
                    "wandb.artifact.version.created",
                    artifact_resource(version),
                    artifact_related(version),
                    {
                        "digest": version.digest,
                        "aliases": list(version.aliases),
                        "created_at": version.created_at,
                        "url": version.url,
                    },
                    "",
                )
        now: dict[str, Artifact | None] = {}
        for alias in self.aliases:
            try:
                now[alias] = self.api.artifact(f"{path}:{alias}")
            except NotFoundError:
                now[alias] = None
        before = (seen or {}).get("aliases") or {}
        if emitting:
            aliases = self._alias_changes(path, now, before)
        else:
            aliases = {a: (h.version if h else None) for a, h in now.items()}
        return {"hwm": top, "aliases": aliases}

    def _runs(
        self, entity: str, project: str, seen: Mapping[str, Any] | None, emitting: bool
    ) -> dict[str, Any]:
        """Runs that reached a terminal state: the ones active last time, and new ones."""
        since = (seen or {}).get("since")
        at_since = set((seen or {}).get("at_since") or [])
        active: dict[str, str] = dict((seen or {}).get("active") or {})
        if since is None:
            filters: dict[str, Any] | None = None
        else:
            newer = {"createdAt": {"$gte": since}}
            filters = {"$or": [newer, {"name": {"$in": sorted(active)}}]} if active else newer
        runs: list[Run] = list(
            self.api.runs(f"{entity}/{project}", filters=filters, order="+created_at", per_page=200)
        )
        returned = {run.id for run in runs}
        next_active = {rid: st for rid, st in active.items() if rid in returned}
        top = since
        for run in runs:
            created = run.created_at or ""
            state = str(run.state or "")
            new = (
                since is None
                or _when(created) > _when(since)
                or (_when(created) == _when(since) and run.id not in at_since)
            )
            if top is None or _when(created) > _when(top):
                top = created
            if run.id in active or new:
                previous = active.get(run.id)
                if state in TERMINAL_RUN_STATES:
                    next_active.pop(run.id, None)
                    if emitting and (previous is not None or new):
                        self._run_change(run, state, previous)
                else:
                    next_active[run.id] = state
        tied = sorted(r.id for r in runs if top is not None and _when(r.created_at) == _when(top))
        if top == since:
            tied = sorted(set(tied) | at_since)
        return {"since": top, "at_since": tied, "active": next_active}

    def _run_change(self, run: Run, state: str, previous: str | None) -> None:
        resource = {
            "prefect.resource.id": f"wandb.run.{'/'.join(run.path)}",
            "prefect.resource.name": run.name,
            "wandb.entity": run.entity,
            "wandb.project": run.project,
            "wandb.run_id": run.id,
            "wandb.state": state,
            "wandb.previous_state": previous or "none",
        }
        related = [
            {
                "prefect.resource.id": f"wandb.project.{run.entity}/{run.project}",
                "prefect.resource.role": "project",
            }
        ]
        self._change(
            f"wandb.run.{state}",
            resource,
            related,
            {"state": state, "previous_state": previous, "url": run.url},
            "",
        )

    # ------------------------------------------------------------------ registries
    def registry(self, target: str, before: Mapping[str, Any] | None) -> dict[str, Any]:
        """A registry (`[org/]wandb-registry-<name>`) or one of its collections
        (`[org/]wandb-registry-<name>/<collection>`)."""
        parts = target.split("/") if isinstance(target, str) else []
        where = [i for i, part in enumerate(parts) if is_registry_project(part)]
        if len(where) != 1 or where[0] > 1 or len(parts) - where[0] > 2 or not all(parts):
            raise InvalidInputError(
                f"watched registry {target!r} must be '[org/]wandb-registry-<name>' or "
                "'[org/]wandb-registry-<name>/<collection>'"
            )
        at = where[0]
        organization = parts[0] if at == 1 else None
        registry = self.api.registry(parts[at][len(REGISTRY_PREFIX) :], organization=organization)
        wanted = parts[at + 1] if len(parts) > at + 1 else None
        if wanted is None:
            links = list(registry.versions())
        else:
            found = registry.collections(filter={"name": wanted})
            if not list(found):
                raise NotFoundError(
                    f"collection {wanted!r} not found in registry {registry.name!r} of "
                    f"organization {registry.organization!r}"
                )
            links = list(found.versions())
        emitting = before is not None or self.emit_baseline
        known = (before or {}).get("collections") or {}
        by_collection: dict[str, list[Artifact]] = {}
        for link in links:
            by_collection.setdefault(link.collection_name, []).append(link)
        if wanted is not None:
            by_collection.setdefault(wanted, [])
        collections = {
            name: self._links(
                f"{registry.entity}/{registry.full_name}/{name}", items, known.get(name), emitting
            )
            for name, items in sorted(by_collection.items())
        }
        return {"collections": collections}

    def _links(
        self, path: str, links: list[Artifact], seen: Mapping[str, Any] | None, emitting: bool
    ) -> dict[str, Any]:
        since = (seen or {}).get("since")
        at_since = set((seen or {}).get("at_since") or [])
        ordered = sorted(links, key=lambda a: (_when(a.linked_at), int(a.version[1:])))
        top = since
        for link in ordered:
            linked = _when(link.linked_at)
            new = (
                since is None
                or linked > _when(since)
                or (linked == _when(since) and link.version not in at_since)
            )
            if top is None or linked > _when(top):
                top = link.linked_at
            if new and emitting:
                self._change(
                    "wandb.artifact.linked",
                    artifact_resource(link),
                    artifact_related(link),
                    {
                        "linked_at": link.linked_at,
                        "aliases": list(link.aliases),
                        "source": link.source_qualified_name,
                        "url": link.url,
                    },
                    "",
                )
        tied = sorted(
            a.version for a in links if top is not None and _when(a.linked_at) == _when(top)
        )
        if top == since:
            tied = sorted(set(tied) | at_since)
        now = {a: next((x for x in links if a in x.aliases), None) for a in self.aliases}
        before = (seen or {}).get("aliases") or {}
        if emitting:
            aliases = self._alias_changes(path, now, before)
        else:
            aliases = {a: (h.version if h else None) for a, h in now.items()}
        return {"since": top, "at_since": tied, "aliases": aliases}


def detect_changes(
    api: Api,
    projects: Iterable[str] = (),
    registries: Iterable[str] = (),
    aliases: Sequence[str] = DEFAULT_ALIASES,
    state: Mapping[str, Any] | None = None,
    *,
    emit_baseline: bool = False,
) -> dict[str, Any]:
    """What changed in the watched `projects` and `registries` since `state` (the previous
    pass's, or None); returns `changes`, the next `state` and the `baselined` targets. Any
    target that cannot be read fails the whole pass (so no state is saved for it)."""
    projects, registries = list(projects or ()), list(registries or ())
    if isinstance(aliases, str) or isinstance(projects, str) or isinstance(registries, str):
        raise InvalidInputError("projects, registries and aliases must be lists of strings")
    if not projects and not registries:
        raise InvalidInputError("nothing to watch: give projects and/or registries")
    previous = dict(state or {})
    if previous and previous.get("version") != STATE_VERSION:
        raise InvalidInputError(
            f"watch state version {previous.get('version')!r} is not {STATE_VERSION}"
        )
    generation = int(previous.get("generation") or 0) + 1
    detector = _Detector(api, aliases, generation, emit_baseline)
    baselined: list[str] = []
    seen_projects = previous.get("projects") or {}
    next_projects = {}
    for target in projects:
        before = seen_projects.get(target)
        if before is None:
            baselined.append(target)
        next_projects[target] = detector.project(target, before)
    seen_registries = previous.get("registries") or {}
    next_registries = {}
    for target in registries:
        before = seen_registries.get(target)
        if before is None:
            baselined.append(target)
        next_registries[target] = detector.registry(target, before)
    return {
        "changes": detector.changes,
        "state": {
            "version": STATE_VERSION,
            "generation": generation,
            "projects": next_projects,
            "registries": next_registries,
        },
        "baselined": baselined,
    }


@task_with_async_variant(name="Detect W&B changes", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def detect_wandb_changes(
    credentials: WandbCredentials,
    projects: Sequence[str] = (),
    registries: Sequence[str] = (),
    aliases: Sequence[str] = DEFAULT_ALIASES,
    state: Mapping[str, Any] | None = None,
    emit_baseline: bool = False,
) -> dict[str, Any]:
    """New versions, links, alias moves and finished runs since the previous pass.

    See the module docstring for the events and labels; a target seen for the first time is
    recorded as a baseline without events (unless `emit_baseline`).

    Args:
        credentials: The W&B credentials block.
        projects: Projects to watch, `entity/project` (every collection) or
            `entity/project/collection`.
        registries: Registry collections to watch for links,
            `[org/]wandb-registry-<name>[/<collection>]`.
        aliases: Aliases whose moves are reported.
        state: The previous pass's `state` (None: the first pass).
        emit_baseline: Report what already exists on a target's first pass.

    Returns:
        `changes` (one per event), the next `state` and the `baselined` targets.

    Example:
        ```python
        found = detect_wandb_changes(credentials, projects=["team/proj"], state=previous)
        emit_wandb_events(found["changes"])
        ```
    """
    found = detect_changes(
        credentials.get_client(), projects, registries, aliases, state, emit_baseline=emit_baseline
    )
    get_run_logger().info(
        "%d changes in %d projects and %d registries%s",
        len(found["changes"]),
        len(found["state"]["projects"]),
        len(found["state"]["registries"]),
        f" (baseline recorded for {found['baselined']})" if found["baselined"] else "",
    )
    return found


@task_with_async_variant(name="Emit W&B change events", cache_policy=NO_CACHE)
def emit_wandb_events(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Send one Prefect event per change, with the ids `detect_wandb_changes` derived.

    Args:
        changes: The `changes` of `detect_wandb_changes`.

    Returns:
        One `"<event> <resource id>"` line per event sent.

    Example:
        ```python
        sent = emit_wandb_events(found["changes"])
        ```
    """
    sent = []
    for change in changes:
        emit_event(
            event=change["event"],
            resource=dict(change["resource"]),
            related=[dict(r) for r in change["related"]],
            payload=dict(change["payload"]),
            id=uuid.UUID(change["id"]),
        )
        sent.append(f"{change['event']} {change['resource']['prefect.resource.id']}")
    logger = get_run_logger()
    for line in sent:
        logger.info("emitted %s", line)
    return sent


adetect_wandb_changes = detect_wandb_changes.aio
aemit_wandb_events = emit_wandb_events.aio


__all__ = [
    "DEFAULT_ALIASES",
    "STATE_VERSION",
    "TERMINAL_RUN_STATES",
    "adetect_wandb_changes",
    "aemit_wandb_events",
    "artifact_related",
    "artifact_resource",
    "detect_changes",
    "detect_wandb_changes",
    "emit_wandb_events",
]
