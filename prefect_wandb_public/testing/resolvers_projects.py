"""Resolvers of the viewer, entities, projects, runs (history included), sweeps and reports:
GraphQL arguments to store calls, store objects to the wire shapes of `schema.graphql`.

Each `*_node` function returns a dict: plain values for fields that cost nothing, and callables for
fields that take arguments or cost work (they run only when a query selects them). JSONString
fields are JSON text, ids are the service's base64 ids, DateTimes are ISO strings.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import yaml

from prefect_wandb_public.testing.common import StoreError, iso, json_dumps, wrap_config
from prefect_wandb_public.testing.filters import FilterError, compile_filter, sort_documents
from prefect_wandb_public.testing.history_exports import ABSENT, live_rows, lookup
from prefect_wandb_public.testing.wire import connection, json_arg, json_safe

if TYPE_CHECKING:
    from prefect_wandb_public.testing.resolvers import Resolvers
    from prefect_wandb_public.testing.store import (
        ConsoleLine,
        Project,
        Report,
        Run,
        Sweep,
        SweepAgent,
        User,
    )

RUN_STATES = frozenset(
    {"running", "finished", "crashed", "failed", "killed", "preempting", "preempted", "pending"}
)
SERVER_FEATURES: tuple[str, ...] = (
    "MARK_RUN_FILES_UPLOADED",  # resolvers_artifacts: markRunFilesUploaded
    "TOTAL_COUNT_IN_FILE_CONNECTION",  # resolvers_artifacts: FileConnection.totalCount
    "ARTIFACT_COLLECTIONS_FILTERING_SORTING",  # artifactCollections(filters, order, totalCount)
    "SWEEPS_QUERY_FILTERING",  # project.sweeps(filters)
    "ARTIFACT_DIGEST_ALGORITHM",  # Artifact.digestAlgorithm
    "USE_ARTIFACT_WITH_ENTITY_AND_PROJECT_INFORMATION",  # useArtifact(artifactEntityName, ...)
    "QUERY_AUTOMATIONS_ON_ENTITY",  # resolvers_accounts: Entity.triggers
)
MAX_PAGE_SIZE = 10_000


class ProjectResolvers:
    """The viewer, entities, projects and their runs, sweeps and reports, for the hub's store."""

    def __init__(self, hub: Resolvers) -> None:
        self.hub = hub
        self.store = hub.store
        self._runs_cache: dict[tuple[Any, ...], list[Run]] = {}
        self._run_nodes: dict[int, tuple[Run, tuple[int, int, int], dict[str, Any]]] = {}

    def root(self) -> dict[str, Any]:
        return {
            "viewer": lambda: self.user_node(self.store.viewer),
            "serverInfo": self.server_info,
            "models": self.models,
            "project": self.project,
            "model": self.project,
            "entity": self.entity,
            "upsertBucket": self.upsert_bucket,
            "deleteRun": self.delete_run,
            "updateRunState": self.update_run_state,
            "stopRun": self.stop_run,
            "upsertModel": self.upsert_model,
        }

    # ------------------------------------------------------------------ queries
    def server_info(self) -> dict[str, Any]:
        return {
            "features": [{"name": name, "isEnabled": True} for name in SERVER_FEATURES],
            "cliVersionInfo": {"min_cli_version": "0.10.0"},
            "latestLocalVersionInfo": {
                "outOfDate": False,
                "latestVersionString": "0.0.0",
                "versionOnThisInstanceString": "0.0.0",
            },
        }

    def user_node(self, user: User) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.username,
            "username": user.username,
            "email": user.email,
            "admin": False,
            "flags": "{}",
            "entity": user.entity,
            "photoUrl": None,
            "deletedAt": None,
            "teams": lambda first=None: {
                "edges": [
                    {"node": {"name": team}}
                    for team in sorted(self.store.team_members)
                    if any(m.username == user.username for m in self.store.team_members[team])
                ]
            },
            "apiKeys": {"edges": []},
            **self.hub.accounts.user_fields(user),
        }

    def entity(self, name: str) -> dict[str, Any]:
        return {
            "id": base64.b64encode(f"Entity:{name}".encode()).decode(),
            "name": name,
            "projects": lambda after=None, first=None: self.models(name, after, first),
            "organization": None,  # a personal entity: the SDK's CoreWeave probe reads null
            **self.hub.accounts.entity_fields(name),
        }

    def models(
        self, entityName: str | None = None, after: str | None = None, first: int | None = None
    ) -> dict[str, Any]:
        entity = entityName or self.store.viewer.entity
        return connection(self.store.list_projects(entity), first, after, self.project_node)

    def project(self, name: str | None = None, entityName: str | None = None) -> Any:
        if not name:
            raise StoreError("project name is required")
        found = self.store.get_project(entityName or self.store.viewer.entity, name)
        return None if found is None else self.project_node(found)

    def project_node(self, proj: Project) -> dict[str, Any]:
        return {
            "id": proj.id,
            "internalId": str(proj.internal_id),
            "name": proj.name,
            "entityName": proj.entity,
            "description": None,
            "createdAt": iso(proj.created_at),
            "isBenchmark": False,
            "readOnly": False,
            "access": "PRIVATE",
            "views": "{}",
            "user": lambda: self.user_node(self.store.viewer),
            "entity": lambda: self.entity(proj.entity),
            "runCount": lambda filters=None: len(self._runs(proj, filters, None)),
            "runs": lambda filters=None, after=None, first=None, order=None: connection(
                self._runs(proj, filters, order), first, after, self.run_node
            ),
            "run": lambda name: self._run(proj, name),
            "bucket": lambda name: self._run(proj, name),
            "totalSweeps": len(proj.sweeps),
            "sweeps": lambda after=None, first=None, filters=None: connection(
                self._sweeps(proj, filters), first, after, self.sweep_node
            ),
            "sweep": lambda sweepName: self._sweep(proj, sweepName),
            "allViews": lambda viewType="runs", viewName=None, first=None, after=None: connection(
                [r for r in proj.reports if viewName is None or r.name == viewName],
                first,
                after,
                self.report_node,
            ),
            **self.hub.project_fields(proj),
        }

    def _runs(self, proj: Project, filters: Any, order: str | None) -> list[Run]:
        """Runs of a project matching `filters`, in `order`; cached per store revision."""
        key = (proj.entity, proj.name, filters, order, self.store.revision)
        cached = self._runs_cache.get(key)
        if cached is not None:
            return cached
        decoded = json_arg(filters, "filters") or {}
        try:
            predicate = compile_filter(decoded)
            with self.store.lock:
                runs = list(proj.runs.values())
            docs: list[dict[str, Any]] = []
            by_seq: dict[int, Run] = {}
            for run in runs:
                doc = run.document()
                if predicate(doc):
                    docs.append(doc)
                    by_seq[run.seq] = run
            ordered = [by_seq[doc["_seq"]] for doc in sort_documents(docs, order)]
        except FilterError as exc:
            raise StoreError(str(exc)) from exc
        if len(self._runs_cache) > 64:
            self._runs_cache.clear()
        self._runs_cache[key] = ordered
        return ordered

    def _run(self, proj: Project, name: str) -> Any:
        run = proj.runs.get(name)
        return None if run is None else self.run_node(run)

    def run_node(self, run: Run) -> dict[str, Any]:
        """The wire node of a run, cached while its version and line counts stay the same
        (listing thousands of runs is the hot path; history grows without a version bump)."""
        stamp = (run.version, len(run.history.steps), len(run.events.steps))
        cached = self._run_nodes.get(id(run))
        if cached is None or cached[0] is not run or cached[1] != stamp:
            node = self._run_node_static(run)
            node["historyLineCount"], node["eventsLineCount"] = stamp[1], stamp[2]
            cached = (run, stamp, node)
            self._run_nodes[id(run)] = cached
        return cached[2]

    def _run_node_static(self, run: Run) -> dict[str, Any]:
        proj = self.store.require_project(run.entity, run.project)
        return {
            "id": run.id,
            "name": run.name,
            "displayName": run.display_name,
            "state": run.state,
            "projectId": str(proj.internal_id),
            "project": lambda: self.project_node(proj),
            "user": self.user_node(self.store.viewer),
            "tags": run.tags,
            "notes": run.notes,
            "description": run.description,
            "group": run.group,
            "jobType": run.job_type,
            "sweepName": run.sweep,
            "commit": run.commit,
            "host": run.host,
            "readOnly": False,
            "createdAt": iso(run.created_at),
            "updatedAt": iso(run.heartbeat_at or run.created_at),
            "heartbeatAt": iso(run.heartbeat_at or run.created_at),
            "config": lambda: json_dumps(run.config),
            "summaryMetrics": lambda: json_dumps(run.summary),
            "systemMetrics": lambda: json_dumps(run.system_metrics),
            "historyKeys": lambda: self.history_keys(run),
            "history": lambda samples=500, minStep=None, maxStep=None: self._charged(
                run.history.sample(minStep, maxStep, samples), len(run.history.key_types)
            ),
            "sampledHistory": lambda specs: [self.sampled_history(run, spec) for spec in specs],
            "events": lambda samples=500: self._charged(
                run.events.sample(None, None, samples), len(run.events.key_types)
            ),
            "parquetHistory": lambda liveKeys: self.parquet_history(run, liveKeys),
            "exitcode": run.exitcode if run.exitcode is not None else _exitcode(run.state),
            "shouldStop": run.should_stop,
            "failed": run.state in ("failed", "crashed"),
            "stopped": run.state == "killed",
            "running": run.state == "running",
            "logLineCount": lambda: len(run.log_lines),
            "logLines": lambda first=None, after=None, last=None, useImprovedPagination=None: (
                self.log_lines(run, first, after, last)
            ),
            **self.hub.artifacts.run_fields(run),
        }

    def _charged(self, rows: list[Any], width: int) -> list[Any]:
        """History rows a query returns, counted for the network profile's page cost."""
        self.hub.history_costs.add(len(rows), width)
        return rows

    def log_lines(
        self, run: Run, first: int | None, after: str | None, last: int | None
    ) -> dict[str, Any]:
        """Console lines from the cursor on (`first` of them), or the newest `last`."""
        lines = self.store.console_lines(run)
        if last is not None:
            if last < 0:
                raise StoreError(f"last must not be negative, got {last}")
            lines = lines[len(lines) - min(last, len(lines)) :]
            first, after = None, None
        return connection(lines, first, after, _log_line_node)

    def history_keys(self, run: Run) -> dict[str, Any]:
        log = run.history
        return {
            "lastStep": log.last_step if log.last_step is not None else -1,
            "keys": {
                key: {
                    "typeCounts": [{"type": t, "count": c} for t, c in counts.items()],
                    "previousValue": json_safe(log.previous.get(key)),
                }
                for key, counts in log.key_types.items()
            },
        }

    def sampled_history(self, run: Run, raw_spec: str) -> list[dict[str, Any]]:
        """One spec's rows: only rows holding every key, inclusive maxStep, evenly sampled.

        Rows are picked by their key shapes and sampled first, so only the returned rows are parsed.
        """
        spec = json_arg(raw_spec, "spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("keys"), list):
            raise StoreError("sampledHistory spec must be an object with a keys list")
        keys = [str(k) for k in spec["keys"]]
        samples = int(spec.get("samples", 500))
        min_step = spec.get("minStep")
        max_step = spec.get("maxStep")
        log = run.history
        lo, hi = log.index_range(
            None if min_step is None else int(min_step),
            None if max_step is None else int(max_step) + 1,
        )
        rows = []
        for index in log.spread(log.indexes_with(keys, lo, hi), samples):
            text = log.row(index)
            row = json.loads(text)
            picked = {key: lookup(row, key) for key in keys}
            if _NON_FINITE_RE.search(text):
                picked = json_safe(picked)
            if all(value is not ABSENT for value in picked.values()):
                rows.append(picked)
        return self._charged(rows, len(keys))

    def parquet_history(self, run: Run, live_keys: list[str]) -> dict[str, Any]:
        """The signed URLs of the run's export files (`history_exports.py`) and a `liveData` row
        for each step logged since the last export, holding the `liveKeys` the row has; neither
        when the server plays one without exports (`hub.parquet_history` False)."""
        if not self.hub.parquet_history:
            return {"parquetUrls": [], "liveData": []}
        with self.store.lock:
            exports = run.exports
            urls = [
                self.hub.urls.history_export(
                    run.entity, run.project, run.name, file.export_id, file.index
                )
                for file in exports.files
            ]
            live_indexes = exports.live_indexes(run.history)

        def live_data() -> list[Any]:  # only when selected: a long live tail costs work
            with self.store.lock:
                live = list(live_rows(run.history, live_indexes, live_keys))
            steps_only = set(live_keys) <= {"_step"}  # integers: nothing to make JSON-safe
            return live if steps_only else json_safe(live)

        return {"parquetUrls": urls, "liveData": live_data}

    def _sweeps(self, proj: Project, filters: Any) -> list[Sweep]:
        """A project's sweeps matching `filters` (MongoDB-style over name, state, config...)."""
        decoded = json_arg(filters, "filters") or {}
        try:
            predicate = compile_filter(decoded)
        except FilterError as exc:
            raise StoreError(str(exc)) from exc
        with self.store.lock:
            sweeps = list(proj.sweeps.values())
        return [s for i, s in enumerate(sweeps) if predicate(s.document(i))]

    def _sweep(self, proj: Project, name: str) -> Any:
        sweep = proj.sweeps.get(name)
        return None if sweep is None else self.sweep_node(sweep)

    def sweep_node(self, sweep: Sweep) -> dict[str, Any]:
        runs = self.store.sweep_runs(sweep)
        proj = self.store.require_project(sweep.entity, sweep.project)
        return {
            "id": sweep.id,
            "name": sweep.name,
            "displayName": sweep.display_name,
            "method": sweep.method,
            "state": sweep.state,
            "description": sweep.description,
            "bestLoss": lambda: _best_loss(sweep, runs),
            "config": yaml.safe_dump(sweep.config, sort_keys=False),
            "createdAt": iso(sweep.created_at),
            "updatedAt": iso(sweep.created_at),
            "heartbeatAt": iso(sweep.created_at),
            "runCount": len(runs),
            "runCountExpected": None,
            "earlyStopJobRunning": False,
            "controller": None,
            "scheduler": None,
            "project": lambda: self.project_node(proj),
            "runs": lambda after=None, first=None, order=None: connection(
                self._runs(proj, json.dumps({"sweep": sweep.name}), order),
                first,
                after,
                self.run_node,
            ),
            "agents": lambda: connection(
                list(sweep.agents), None, None, lambda a: self.agent_node(proj, a)
            ),
            "agent": lambda agentName: next(
                (self.agent_node(proj, a) for a in sweep.agents if a.name == agentName), None
            ),
        }

    def agent_node(self, proj: Project, agent: SweepAgent) -> dict[str, Any]:
        return {
            "id": agent.id,
            "name": agent.name,
            "host": agent.host,
            "state": agent.state,
            "totalRuns": len(agent.runs),
            "createdAt": iso(agent.created_at),
            "heartbeatAt": iso(agent.heartbeat_at or agent.created_at),
            "runs": lambda after=None, before=None, first=None, last=None, order=None: connection(
                [r for r in self._runs(proj, None, order) if r.name in agent.runs],
                first,
                after,
                self.run_node,
            ),
        }

    def report_node(self, report: Report) -> dict[str, Any]:
        return {
            "id": report.id,
            "name": report.name,
            "displayName": report.display_name,
            "type": "runs",
            "description": report.description,
            "user": lambda: self.user_node(report.user),
            "spec": json_dumps(report.spec),
            "project": lambda: self.project_node(
                self.store.require_project(report.entity, report.project)
            ),
            "createdAt": iso(report.created_at),
            "updatedAt": iso(report.updated_at),
        }

    # ------------------------------------------------------------------ mutations
    def upsert_bucket(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """Create a run (by modelName/entityName/name) or update one (by storage id or name)."""
        store = self.store
        with store.lock:
            run: Run | None = None
            if input.get("id"):
                run = store.run_by_id(input["id"])
            entity = input.get("entityName") or store.viewer.entity
            project = input.get("modelName") or "uncategorized"
            if run is None and input.get("name"):
                run = store.get_run(entity, project, input["name"])
            inserted = run is None
            if run is None:
                run = store.create_run(
                    entity,
                    project,
                    input.get("name") or secrets.token_hex(4),
                    state=input.get("state") or "running",
                    created_at=datetime.now(timezone.utc),
                )
            store.update_run(run, _run_changes(input))
        return {"bucket": self.run_node(run), "inserted": inserted}

    def delete_run(self, input: Mapping[str, Any]) -> dict[str, Any]:
        self.store.delete_run(self.store.run_by_id(input["id"]))
        return {"clientMutationId": input.get("clientMutationId")}

    def update_run_state(self, input: Mapping[str, Any]) -> dict[str, Any]:
        run = self.store.run_by_id(input["id"])
        self.store.set_run_state(run, _state(input["state"]))
        return {"success": True}

    def stop_run(self, input: Mapping[str, Any]) -> dict[str, Any]:
        self.store.stop_run(self.store.run_by_id(input["id"]))
        return {"success": True, "clientMutationId": input.get("clientMutationId")}

    def upsert_model(self, input: Mapping[str, Any]) -> dict[str, Any]:
        name = input.get("name")
        if not name:
            raise StoreError("project name is required")
        entity = input.get("entityName") or self.store.viewer.entity
        inserted = self.store.get_project(entity, name) is None
        node = self.project_node(self.store.create_project(entity, name))
        return {"project": node, "model": node, "inserted": inserted}


def _log_line_node(line: ConsoleLine) -> dict[str, Any]:
    return {
        "number": line.number,
        "timestamp": line.timestamp,
        "level": line.level,
        "label": "",
        "line": line.text,
    }


def _state(value: str) -> str:
    if value not in RUN_STATES:
        raise StoreError(f"invalid run state {value!r}")
    return value


def _exitcode(state: str) -> int | None:
    return 0 if state == "finished" else None


def _run_changes(input: Mapping[str, Any]) -> dict[str, Any]:
    """Map UpsertBucketInput fields to Run attributes; config/summary replace the stored value.

    A null field leaves the attribute as it is: wandb-core sends every variable of its
    mutation, null for what it does not change."""
    simple = {
        "displayName": "display_name",
        "notes": "notes",
        "description": "description",
        "groupName": "group",
        "jobType": "job_type",
        "commit": "commit",
        "host": "host",
        "sweep": "sweep",
    }
    changes: dict[str, Any] = {
        attr: input[key] for key, attr in simple.items() if input.get(key) is not None
    }
    if input.get("tags") is not None:
        changes["tags"] = list(input["tags"])
    if input.get("state") is not None:
        changes["state"] = _state(input["state"])
    if input.get("config") is not None:
        config = json_arg(input["config"], "config")
        if not isinstance(config, dict):
            raise StoreError("config must be a JSON object")
        changes["config"] = {
            k: v if isinstance(v, dict) and "value" in v else wrap_config({k: v})[k]
            for k, v in config.items()
        }
    if input.get("summaryMetrics") is not None:
        summary = json_arg(input["summaryMetrics"], "summaryMetrics")
        if not isinstance(summary, dict):
            raise StoreError("summaryMetrics must be a JSON object")
        changes["summary"] = summary
    return changes


_NON_FINITE_RE = re.compile(r"NaN|Infinity")


def _best_loss(sweep: Sweep, runs: list[Run]) -> float | None:
    metric = sweep.config.get("metric") or {}
    name = metric.get("name")
    if not name:
        return None
    values = [
        v
        for r in runs
        for v in [r.summary.get(name)]
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    if not values:
        return None
    return float(max(values) if metric.get("goal") == "maximize" else min(values))


__all__ = ["RUN_STATES", "SERVER_FEATURES", "ProjectResolvers", "json_safe"]
