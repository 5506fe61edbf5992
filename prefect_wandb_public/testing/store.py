"""The local server's state: plain Python objects with the service's rules, no wire format.

Seed it from Python (`create_run`, `create_artifact`, ...), inspect it in tests, and let the GraphQL
layer translate it. Every public method takes the store lock, so the HTTP threads and a test's
seeding calls see consistent state. The pieces: `common.py` (errors, ids, name rules),
`history_log.py` (the history engine), `artifact_store.py` (the artifact half of `WandbStore`),
`account_store.py` (users, teams, integrations and automations), `registry_store.py`
(organizations, registries and links).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from prefect_wandb_public.testing.account_store import AccountStore, User
from prefect_wandb_public.testing.artifact_store import (
    Artifact,
    ArtifactCollection,
    ArtifactStore,
)
from prefect_wandb_public.testing.common import (
    Blob,
    StoreError,
    StoreNotFound,
    b64_md5,
    check_name,
    decode_id,
    encode_id,
    iso,
    mimetype_of,
    wrap_config,
)
from prefect_wandb_public.testing.history_exports import HistoryExports
from prefect_wandb_public.testing.history_log import HistoryLog, append_from
from prefect_wandb_public.testing.multipart import MultipartUploads
from prefect_wandb_public.testing.registry_store import RegistryStore

_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


HISTORY_FILE = "wandb-history.jsonl"
EVENTS_FILE = "wandb-events.jsonl"
SUMMARY_FILE = "wandb-summary.json"
OUTPUT_FILE = "output.log"
_JSON_STREAM_FILES = frozenset({HISTORY_FILE, EVENTS_FILE, SUMMARY_FILE})
# `updateRunState`: the states a run may be moved to, and from which (the service's rules).
STATE_TRANSITIONS = {
    "pending": frozenset({"running", "failed", "crashed", "preempted"}),
    "failed": frozenset({"pending", "running"}),
}
# A console line as the SDK streams it: `[ERROR ]<ISO timestamp> <text>` (stderr is ERROR).
_CONSOLE_LINE_RE = re.compile(
    r"(ERROR )?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?) (.*)", re.S
)


@dataclass(frozen=True)
class ConsoleLine:
    """One console line of a run: its number, timestamp text, level and text."""

    number: int
    timestamp: str | None
    level: str
    text: str


def console_line(number: int, raw: str) -> ConsoleLine:
    """Split a stored console line into timestamp, level (`error` for stderr) and text; a line
    without the SDK's prefix is all text."""
    match = _CONSOLE_LINE_RE.fullmatch(raw)
    if match is None:
        return ConsoleLine(number, None, "", raw)
    return ConsoleLine(number, match.group(2), "error" if match.group(1) else "", match.group(3))


def _stream_line(name: str, number: int, text: str) -> dict[str, Any]:
    """One JSON line of a streamed file, which must be an object."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} line {number} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise StoreError(f"{name} line {number} is not a JSON object")
    return value


@dataclass
class RunFile:
    """A file saved with a run; bytes live in the store's blob table under `md5`."""

    id: str
    name: str
    md5: str
    size: int
    mimetype: str
    updated_at: datetime


@dataclass
class Run:
    """A run ("bucket" on the wire). `name` is the id users see; `id` is the storage id."""

    entity: str
    project: str
    name: str
    seq: int
    created_at: datetime
    display_name: str
    state: str = "finished"
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    system_metrics: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    description: str | None = None
    group: str | None = None
    job_type: str | None = None
    sweep: str | None = None
    commit: str | None = None
    host: str | None = None
    username: str = ""
    heartbeat_at: datetime | None = None
    history: HistoryLog = field(default_factory=HistoryLog)
    events: HistoryLog = field(default_factory=lambda: HistoryLog(numbered=False))
    exports: HistoryExports = field(default_factory=HistoryExports)
    files: dict[str, RunFile] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    exitcode: int | None = None
    should_stop: bool = False
    version: int = 0

    @property
    def id(self) -> str:
        return encode_id("Run", "v1", self.name, self.project, self.entity)

    @property
    def duration(self) -> float | None:
        if self.heartbeat_at is None:
            return None
        return (self.heartbeat_at - self.created_at).total_seconds()

    def document(self) -> dict[str, Any]:
        """The view the filter engine evaluates (field names as the service's filters use them)."""
        return {
            "name": self.name,
            "displayName": self.display_name,
            "state": self.state,
            "tags": self.tags,
            "group": self.group,
            "jobType": self.job_type,
            "sweep": self.sweep,
            "createdAt": iso(self.created_at),
            "heartbeatAt": iso(self.heartbeat_at or self.created_at),
            "username": self.username,
            "host": self.host,
            "duration": self.duration,
            "config": self.config,
            "summary_metrics": self.summary,
            "_seq": self.seq,
        }


@dataclass
class SweepAgent:
    """A process that ran trials of a sweep (`wandb agent`), and the runs it started."""

    id: str
    name: str
    host: str
    state: str
    created_at: datetime
    heartbeat_at: datetime | None = None
    runs: list[str] = field(default_factory=list)


@dataclass
class Sweep:
    """A hyper-parameter sweep; runs join it through `Run.sweep`."""

    entity: str
    project: str
    name: str
    config: dict[str, Any]
    created_at: datetime
    display_name: str | None = None
    state: str = "FINISHED"
    description: str | None = None
    agents: list[SweepAgent] = field(default_factory=list)

    @property
    def id(self) -> str:
        return encode_id("Sweep", self.name, self.project, self.entity)

    def document(self, seq: int) -> dict[str, Any]:
        """The view the filter engine evaluates for `sweeps(filters:)`."""
        return {
            "name": self.name,
            "displayName": self.display_name,
            "state": self.state,
            "method": self.method,
            "createdAt": iso(self.created_at),
            "config": self.config,
            "_seq": seq,
        }

    @property
    def method(self) -> str | None:
        method = self.config.get("method")
        return method if isinstance(method, str) else None


@dataclass
class Report:
    """A saved report ("view" of type runs on the wire)."""

    entity: str
    project: str
    id: str
    name: str
    display_name: str
    description: str
    spec: dict[str, Any]
    user: User
    created_at: datetime
    updated_at: datetime


@dataclass
class Project:
    """A project ("model" on the wire) and everything in it."""

    entity: str
    name: str
    internal_id: int
    created_at: datetime
    runs: dict[str, Run] = field(default_factory=dict)
    sweeps: dict[str, Sweep] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    collections: dict[str, ArtifactCollection] = field(default_factory=dict)
    artifact_types: dict[str, datetime] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return encode_id("Project", "v1", self.name, self.entity)


class WandbStore(ArtifactStore, AccountStore, RegistryStore):
    """All state of one local server."""

    def __init__(self, *, username: str = "local-user", entity: str | None = None) -> None:
        self.lock = threading.RLock()
        self.viewer = User(username, entity or username, f"{username}@localhost")
        self.projects: dict[tuple[str, str], Project] = {}
        # A multipart upload's blob is its parts as they arrived (`PartsBlob`).
        self.blobs: dict[str, Blob] = {}
        self.multipart = MultipartUploads()
        self.artifacts: dict[str, Artifact] = {}
        self.run_outputs: dict[tuple[str, str, str], list[str]] = {}
        self.run_inputs: dict[tuple[str, str, str], list[str]] = {}
        self._ids = itertools.count(1)
        self._clock = itertools.count()
        self.revision = 0
        self._init_accounts()
        self._init_registry_state()

    def touch(self) -> None:
        """Note a change, so caches keyed by `revision` (run listings) go stale."""
        self.revision += 1

    # ------------------------------------------------------------------ helpers
    def _next_time(self, explicit: datetime | str | None = None) -> datetime:
        """Creation times that strictly increase unless given, so `created_at` order is stable."""
        if explicit is not None:
            if isinstance(explicit, str):
                explicit = datetime.fromisoformat(explicit.replace("Z", "+00:00"))
            if explicit.tzinfo is None:
                explicit = explicit.replace(tzinfo=timezone.utc)
            return explicit
        return _EPOCH + timedelta(seconds=next(self._clock))

    def next_int(self) -> int:
        """A fresh integer for internal ids."""
        return next(self._ids)

    def put_blob(self, data: Blob, digest: str | None = None) -> str:
        """Store bytes content-addressed; returns the base64 md5. `digest` is that md5 when the
        caller has just computed it from these very bytes (large uploads are hashed once; a
        `PartsBlob` always comes with it)."""
        digest = digest or b64_md5(bytes(data))
        with self.lock:
            self.blobs.setdefault(digest, data)
        return digest

    def has_blob(self, b64_md5: str) -> bool:
        with self.lock:
            return b64_md5 in self.blobs

    def blob_by_hex(self, hex_md5: str) -> Blob | None:
        """Blob bytes by the hex md5 that URLs carry; None when unknown or malformed."""
        try:
            digest = base64.b64encode(bytes.fromhex(hex_md5)).decode()
        except ValueError:
            return None
        with self.lock:
            return self.blobs.get(digest)

    def _now(self) -> datetime:
        return datetime.now(timezone.utc)

    # ------------------------------------------------------------------ projects
    def create_project(self, entity: str, project: str) -> Project:
        """Create (or return) a project; the entity springs into being with it."""
        check_name("entity", entity)
        check_name("project", project)
        with self.lock:
            key = (entity, project)
            if key not in self.projects:
                self.projects[key] = Project(
                    entity=entity,
                    name=project,
                    internal_id=self.next_int(),
                    created_at=self._next_time(),
                )
            return self.projects[key]

    def get_project(self, entity: str, project: str) -> Project | None:
        with self.lock:
            return self.projects.get((entity, project))

    def require_project(self, entity: str, project: str) -> Project:
        found = self.get_project(entity, project)
        if found is None:
            raise StoreNotFound(f"project {entity}/{project} not found")
        return found

    def list_projects(self, entity: str) -> list[Project]:
        with self.lock:
            return sorted(
                (p for (e, _), p in self.projects.items() if e == entity),
                key=lambda p: p.internal_id,
            )

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        entity: str,
        project: str,
        run_id: str,
        *,
        display_name: str | None = None,
        state: str = "finished",
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        notes: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        sweep: str | None = None,
        created_at: datetime | str | None = None,
        history: Iterable[Mapping[str, Any]] | None = None,
        system_history: Iterable[Mapping[str, Any]] | None = None,
        files: Mapping[str, bytes] | None = None,
        system_metrics: Mapping[str, Any] | None = None,
        host: str | None = None,
        heartbeat_at: datetime | str | None = None,
        history_exports: bool = True,
    ) -> Run:
        """Create a run with its config (plain values; stored wrapped as `{value, desc}`),
        summary, history rows and files. The last history row fills summary keys not given.
        A `finished` run's history is exported to parquet, as the service compacts finished
        runs (`history_exports=False` keeps every step live, as before the compaction)."""
        check_name("run", run_id)
        with self.lock:
            proj = self.create_project(entity, project)
            if run_id in proj.runs:
                raise StoreError(f"run {entity}/{project}/{run_id} already exists")
            if sweep is not None and sweep not in proj.sweeps:
                raise StoreNotFound(f"sweep {entity}/{project}/{sweep} not found")
            created = self._next_time(created_at)
            run = Run(
                entity=entity,
                project=project,
                name=run_id,
                seq=self.next_int(),
                created_at=created,
                display_name=display_name or run_id,
                state=state,
                config=wrap_config(config or {}),
                tags=list(tags),
                notes=notes,
                group=group,
                job_type=job_type,
                sweep=sweep,
                host=host,
                username=self.viewer.username,
                system_metrics=dict(system_metrics or {}),
            )
            if history:
                run.history.extend(history)
            if system_history:
                run.events.extend({"_wandb": True, **row} for row in system_history)
            derived: dict[str, Any] = {}
            if run.history.rows:
                derived = json.loads(run.history.rows[-1])
            run.summary = {**derived, **dict(summary or {})}
            if heartbeat_at is not None:
                run.heartbeat_at = self._next_time(heartbeat_at)
            else:
                runtime: Any = run.summary.get("_runtime")
                seconds = float(runtime) if _is_number(runtime) else 60.0
                run.heartbeat_at = created + timedelta(seconds=seconds)
            for name, data in (files or {}).items():
                self._put_run_file(run, name, data)
            if state == "finished" and history_exports:
                run.exports.export(run.history)
            proj.runs[run_id] = run
            self.touch()
            return run

    def _put_run_file(self, run: Run, name: str, data: bytes) -> RunFile:
        digest = self.put_blob(data)
        existing = run.files.get(name)
        record = RunFile(
            id=existing.id if existing else encode_id("File", self.next_int()),
            name=name,
            md5=digest,
            size=len(data),
            mimetype=mimetype_of(name),
            updated_at=datetime.now(timezone.utc),
        )
        run.files[name] = record
        run.version += 1
        self.touch()
        return record

    def put_run_file(
        self, entity: str, project: str, run_id: str, name: str, data: bytes
    ) -> RunFile:
        """Save (or replace) one file of a run."""
        with self.lock:
            return self._put_run_file(self.require_run(entity, project, run_id), name, data)

    def log_history(
        self, entity: str, project: str, run_id: str, rows: Iterable[Mapping[str, Any]]
    ) -> int:
        """Append history rows as a running run logs them (a row without `_step` takes the next
        one); they stay live until the next export. Returns the run's last step."""
        with self.lock:
            run = self.require_run(entity, project, run_id)
            run.history.extend(rows)
            return run.history.last_step if run.history.last_step is not None else -1

    def export_history(self, entity: str, project: str, run_id: str) -> int:
        """Export what the run has logged since its last export to a new parquet file (a run
        never exported gets a file even when empty); returns the rows the new file holds."""
        with self.lock:
            run = self.require_run(entity, project, run_id)
            file = run.exports.export(run.history)
            return 0 if file is None else file.rows

    def get_run(self, entity: str, project: str, run_id: str) -> Run | None:
        with self.lock:
            proj = self.projects.get((entity, project))
            return proj.runs.get(run_id) if proj else None

    def require_run(self, entity: str, project: str, run_id: str) -> Run:
        found = self.get_run(entity, project, run_id)
        if found is None:
            raise StoreNotFound(f"run {entity}/{project}/{run_id} not found")
        return found

    def run_by_id(self, storage_id: str) -> Run:
        """Resolve a storage id (`Run:v1:<run>:<project>:<entity>`)."""
        parts = decode_id(storage_id)
        if len(parts) != 5 or parts[:2] != ["Run", "v1"]:
            raise StoreNotFound(f"run id {storage_id!r} not found")
        return self.require_run(parts[4], parts[3], parts[2])

    def update_run(self, run: Run, changes: Mapping[str, Any]) -> Run:
        """Apply field changes (keys are Run attribute names) atomically."""
        with self.lock:
            for key, value in changes.items():
                if not hasattr(run, key):
                    raise StoreError(f"unknown run field {key!r}")
                setattr(run, key, value)
            run.version += 1
            self.touch()
            return run

    def set_run_state(self, run: Run, state: str) -> Run:
        """`updateRunState`: requeue a run (to `pending`) or give it up (to `failed`), only
        from the states the service allows; sweep runs are refused."""
        allowed = STATE_TRANSITIONS.get(state)
        if allowed is None:
            raise StoreError(
                f"cannot move run {run.name} to state {state!r}: only "
                f"{sorted(STATE_TRANSITIONS)} may be set"
            )
        with self.lock:
            if run.sweep is not None:
                raise StoreError(f"run {run.name} belongs to sweep {run.sweep}: its state is fixed")
            if run.state not in allowed:
                raise StoreError(
                    f"cannot move run {run.name} from {run.state!r} to {state!r} (allowed "
                    f"from {sorted(allowed)})"
                )
            return self.update_run(run, {"state": state})

    def stop_run(self, run: Run) -> Run:
        """`stopRun`: flag the run to stop (its process sees `shouldStop` on its heartbeat)."""
        with self.lock:
            return self.update_run(run, {"should_stop": True})

    def console_lines(self, run: Run) -> list[ConsoleLine]:
        """The run's console output, one `ConsoleLine` per stored line."""
        with self.lock:
            lines = list(run.log_lines)
        return [console_line(number, raw) for number, raw in enumerate(lines)]

    def stream_run_files(
        self,
        run: Run,
        chunks: Mapping[str, tuple[int, Sequence[str]]],
        *,
        complete: bool = False,
        exitcode: int | None = None,
        preempting: bool = False,
    ) -> None:
        """Apply one `file_stream` request: `chunks` maps a file name to (offset, lines).

        History and system-event lines append (a line below the stored count is a retried
        chunk, skipped); the last summary line replaces the summary; console lines overwrite
        from their offset. Every request is a heartbeat; `complete` ends the run by `exitcode`.
        """
        parsed = {
            name: (offset, [_stream_line(name, offset + i, text) for i, text in enumerate(lines)])
            for name, (offset, lines) in chunks.items()
            if name in _JSON_STREAM_FILES
        }
        with self.lock:
            history = parsed.get(HISTORY_FILE)
            if history is not None:
                append_from(run.history, *history)
            events = parsed.get(EVENTS_FILE)
            if events is not None:
                append_from(run.events, *events)
                for row in events[1]:
                    run.system_metrics.update(row)
            summary = parsed.get(SUMMARY_FILE)
            if summary is not None and summary[1]:
                run.summary = summary[1][-1]
            if OUTPUT_FILE in chunks:
                offset, lines = chunks[OUTPUT_FILE]
                run.log_lines[offset : offset + len(lines)] = list(lines)
            if preempting:
                run.state = "preempting"
            if complete:
                run.exitcode = exitcode
                run.state = "finished" if not exitcode else "failed"
            run.heartbeat_at = max(self._now(), run.created_at)
            run.version += 1
            self.touch()

    def delete_run(self, run: Run) -> None:
        with self.lock:
            self.require_project(run.entity, run.project).runs.pop(run.name, None)
            self.touch()

    # ------------------------------------------------------------------ sweeps
    def create_sweep(
        self,
        entity: str,
        project: str,
        sweep_id: str,
        config: Mapping[str, Any],
        *,
        display_name: str | None = None,
        state: str = "FINISHED",
    ) -> Sweep:
        """Create a sweep from its config (`method`, `metric: {name, goal}`, `parameters`)."""
        check_name("sweep", sweep_id)
        if not isinstance(config, Mapping):
            raise StoreError("sweep config must be a mapping")
        with self.lock:
            proj = self.create_project(entity, project)
            if sweep_id in proj.sweeps:
                raise StoreError(f"sweep {entity}/{project}/{sweep_id} already exists")
            sweep = Sweep(
                entity=entity,
                project=project,
                name=sweep_id,
                config=dict(config),
                created_at=self._next_time(),
                display_name=display_name or sweep_id,
                state=state,
            )
            proj.sweeps[sweep_id] = sweep
            self.touch()
            return sweep

    def create_sweep_agent(
        self,
        entity: str,
        project: str,
        sweep_id: str,
        name: str,
        *,
        host: str = "localhost",
        state: str = "RUNNING",
        runs: Sequence[str] = (),
    ) -> SweepAgent:
        """Record an agent of a sweep and the runs (of that sweep) it started."""
        check_name("agent", name)
        with self.lock:
            proj = self.require_project(entity, project)
            sweep = proj.sweeps.get(sweep_id)
            if sweep is None:
                raise StoreNotFound(f"sweep {entity}/{project}/{sweep_id} not found")
            for run_id in runs:
                if self.require_run(entity, project, run_id).sweep != sweep_id:
                    raise StoreError(f"run {run_id} is not a run of sweep {sweep_id}")
            created = self._next_time()
            agent = SweepAgent(
                id=encode_id("Agent", self.next_int()),
                name=name,
                host=host,
                state=state,
                created_at=created,
                heartbeat_at=created,
                runs=list(runs),
            )
            sweep.agents.append(agent)
            self.touch()
            return agent

    def sweep_runs(self, sweep: Sweep) -> list[Run]:
        with self.lock:
            proj = self.require_project(sweep.entity, sweep.project)
            return [r for r in proj.runs.values() if r.sweep == sweep.name]

    # ------------------------------------------------------------------ reports
    def create_report(
        self,
        entity: str,
        project: str,
        display_name: str,
        *,
        description: str = "",
        spec: Mapping[str, Any] | None = None,
    ) -> Report:
        """Create a report; `spec` is the report JSON (panelGroups, blocks, ...)."""
        with self.lock:
            proj = self.create_project(entity, project)
            number = self.next_int()
            created = self._next_time()
            report = Report(
                entity=entity,
                project=project,
                id=encode_id("View", number),
                name=f"report-{number}",
                display_name=display_name,
                description=description,
                spec=dict(spec or {"version": 5, "panelGroups": [], "blocks": []}),
                user=self.viewer,
                created_at=created,
                updated_at=created,
            )
            proj.reports.append(report)
            return report

    def delete_run_files(self, file_ids: Iterable[str]) -> int:
        """Remove the run files with these ids (from any run); returns how many went."""
        wanted = set(file_ids)
        removed = 0
        with self.lock:
            for proj in self.projects.values():
                for run in proj.runs.values():
                    for name in [n for n, f in run.files.items() if f.id in wanted]:
                        del run.files[name]
                        run.version += 1
                        removed += 1
            if removed:
                self.touch()
        return removed


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "STATE_TRANSITIONS",
    "ConsoleLine",
    "Project",
    "Report",
    "Run",
    "RunFile",
    "StoreError",
    "StoreNotFound",
    "Sweep",
    "SweepAgent",
    "User",
    "WandbStore",
    "console_line",
]
