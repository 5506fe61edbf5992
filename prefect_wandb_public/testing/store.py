"""The local server's state: plain Python objects with the service's rules, no wire format.

Seed it from Python (`create_run`, `create_artifact`, ...), inspect it in tests, and let the GraphQL
layer translate it. Every public method takes the store lock, so the HTTP threads and a test's
seeding calls see consistent state.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import math
import re
import threading
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, overload

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class StoreError(Exception):
    """A request the service would refuse; the message is what the server answers."""


class StoreNotFound(StoreError):
    """The named object does not exist."""


def encode_id(kind: str, *parts: object) -> str:
    """Opaque base64 id in the service's style, e.g. `Run:v1:<run>:<project>:<entity>`."""
    text = ":".join([kind, *(str(p) for p in parts)])
    return base64.b64encode(text.encode()).decode()


def decode_id(value: str) -> list[str]:
    """Split an id made by `encode_id` back into its parts; StoreNotFound when it is not one."""
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreNotFound(f"invalid id {value!r}") from exc


def iso(ts: datetime) -> str:
    """The service's DateTime format: ISO-8601, seconds precision, no zone."""
    return ts.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def json_dumps(value: Any) -> str:
    """Compact JSON that keeps NaN/Infinity, as the service's JSONString fields do."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def b64_md5(data: bytes) -> str:
    """The manifest digest of a file: base64 of its md5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise StoreError(f"invalid {kind} name {value!r}")
    return value


@dataclass
class User:
    """The account the API key belongs to."""

    username: str
    entity: str
    email: str

    @property
    def id(self) -> str:
        return encode_id("User", self.username)


class HistoryRows(Sequence[str]):
    """Read-only view of a `HistoryLog`'s row JSON strings (indexing and slicing decode lazily)."""

    def __init__(self, log: HistoryLog) -> None:
        self._log = log

    def __len__(self) -> int:
        return len(self._log.steps)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        count = len(self)
        if isinstance(index, slice):
            start, stop, stride = index.indices(count)
            if stride == 1:
                return self._log.rows_between(start, max(start, stop))
            return [self._log.row(i) for i in range(start, stop, stride)]
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("history row index out of range")
        return self._log.row(index)


class HistoryLog:
    """One run's history stream, lean and fast at millions of rows.

    Steps sit in an int64 array (a step range is a bisect), each row's compact ASCII JSON in one
    byte buffer with end offsets (no per-row string objects), and each row's key set as a shape
    id, so a keys filter picks its rows without parsing any JSON.

    History rows carry `_step`; system-event rows (`numbered=False`) do not, as the service
    stores them: their step is their line number.
    """

    def __init__(self, *, numbered: bool = True) -> None:
        self.numbered = numbered
        self.steps: array[int] = array("q")
        self.key_types: dict[str, dict[str, int]] = {}
        self.previous: dict[str, Any] = {}
        self._text = bytearray()
        self._ends: array[int] = array("q")
        self._row_shapes: array[int] = array("I")
        self._shapes: list[frozenset[str]] = []
        self._shape_ids: dict[frozenset[str], int] = {}
        self._flat_shape_ids: dict[tuple[str, ...], int] = {}

    def __repr__(self) -> str:
        return f"<HistoryLog rows={len(self.steps)} last_step={self.last_step}>"

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def rows(self) -> HistoryRows:
        """The rows as JSON strings, in step order."""
        return HistoryRows(self)

    def append(self, row: Mapping[str, Any], default_step: int) -> None:
        """Add one row; `_step` comes from the row, else `default_step`; steps must increase."""
        data = dict(row)
        step = data.get("_step", default_step) if self.numbered else len(self.steps)
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        if not isinstance(step, int) or isinstance(step, bool):
            raise StoreError(f"history _step must be an integer, got {step!r}")
        if self.steps and step <= self.steps[-1]:
            raise StoreError(f"history steps must increase: {step} after {self.steps[-1]}")
        if self.numbered:
            data["_step"] = step
        encoded = _ROW_ENCODER.encode(data).encode("ascii")  # ASCII: byte offsets = characters
        nested = not all(type(value) in _PLAIN_TYPE_NAMES for value in data.values()) and any(
            isinstance(value, Mapping) for value in data.values()
        )
        for key, value in (_flatten(data) if nested else data).items():
            counts = self.key_types.get(key)
            if counts is None:
                counts = self.key_types[key] = {}
            type_name = _PLAIN_TYPE_NAMES.get(type(value)) or _history_type(value)
            counts[type_name] = counts.get(type_name, 0) + 1
            self.previous[key] = value
        self.steps.append(step)
        self._text += encoded
        self._ends.append(len(self._text))
        self._row_shapes.append(self._shape_of(data, nested))

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows, numbering those without `_step` after the last step."""
        for row in rows:
            self.append(row, self.steps[-1] + 1 if self.steps else 0)

    @property
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    def row(self, index: int) -> str:
        """The JSON text of row `index`."""
        start = self._ends[index - 1] if index > 0 else 0
        return self._text[start : self._ends[index]].decode("ascii")

    def rows_between(self, lo: int, hi: int) -> list[str]:
        """The JSON texts of rows lo..hi-1, decoded as one block and cut at the row ends."""
        if hi <= lo:
            return []
        base = self._ends[lo - 1] if lo > 0 else 0
        block = self._text[base : self._ends[hi - 1]].decode("ascii")
        starts = [0, *(end - base for end in self._ends[lo : hi - 1])]
        ends = [end - base for end in self._ends[lo:hi]]
        return [block[a:b] for a, b in zip(starts, ends, strict=True)]

    def index_range(self, min_step: int | None, max_step: int | None) -> tuple[int, int]:
        """Row indexes of steps in [min_step, max_step) (open ends when None)."""
        lo = 0 if min_step is None else bisect.bisect_left(self.steps, min_step)
        hi = len(self.steps) if max_step is None else bisect.bisect_left(self.steps, max_step)
        return lo, max(lo, hi)

    def indexes_with(self, keys: Iterable[str], lo: int, hi: int) -> Sequence[int]:
        """Indexes in lo..hi-1 of rows holding every key (top-level or dotted path)."""
        wanted = set(keys)
        eligible = {i for i, shape in enumerate(self._shapes) if wanted <= shape}
        if not eligible or hi <= lo:
            return range(0)
        if len(eligible) == len(self._shapes):
            return range(lo, hi)
        flags = map(eligible.__contains__, self._row_shapes[lo:hi])
        return list(itertools.compress(range(lo, hi), flags))

    @staticmethod
    def spread(indexes: Sequence[int], samples: int) -> Sequence[int]:
        """At most `samples` of `indexes`, evenly spread, first and last included."""
        count = len(indexes)
        if samples <= 0 or count == 0:
            return range(0)
        if count <= samples:
            return indexes
        if samples == 1:
            return indexes[:1]
        stride = (count - 1) / (samples - 1)
        return [indexes[round(i * stride)] for i in range(samples)]

    def sample(self, min_step: int | None, max_step: int | None, samples: int) -> list[str]:
        """At most `samples` row strings of the range, evenly spread, first and last included."""
        lo, hi = self.index_range(min_step, max_step)
        if 0 < hi - lo <= samples:
            return self.rows_between(lo, hi)
        return [self.row(i) for i in self.spread(range(lo, hi), samples)]

    def _shape_of(self, data: Mapping[str, Any], nested: bool) -> int:
        """The id of the row's key set (every key and dotted path into nested dicts)."""
        if not nested:
            names = tuple(data)
            found = self._flat_shape_ids.get(names)
            if found is None:
                found = self._flat_shape_ids[names] = self._shape_id(frozenset(names))
            return found
        return self._shape_id(frozenset(_key_paths(data)))

    def _shape_id(self, shape: frozenset[str]) -> int:
        found = self._shape_ids.get(shape)
        if found is None:
            found = self._shape_ids[shape] = len(self._shapes)
            self._shapes.append(shape)
        return found


def _key_paths(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key of a row and every dotted path into its nested dicts."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        yield name
        if isinstance(value, Mapping):
            yield from _key_paths(value, name + ".")


_ROW_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=True)  # as json_dumps, reused
_PLAIN_TYPE_NAMES: dict[type, str] = {
    float: "number",
    int: "number",
    str: "string",
    bool: "boolean",
    type(None): "nil",
    list: "list",
}


def _history_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "list"
    return "map"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "_type" not in value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


HISTORY_FILE = "wandb-history.jsonl"
EVENTS_FILE = "wandb-events.jsonl"
SUMMARY_FILE = "wandb-summary.json"
OUTPUT_FILE = "output.log"
_JSON_STREAM_FILES = frozenset({HISTORY_FILE, EVENTS_FILE, SUMMARY_FILE})


def _stream_line(name: str, number: int, text: str) -> dict[str, Any]:
    """One JSON line of a streamed file, which must be an object."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} line {number} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise StoreError(f"{name} line {number} is not a JSON object")
    return value


def _append_from(log: HistoryLog, offset: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append the rows of a chunk starting at line `offset`, skipping lines already stored."""
    for row in rows[max(0, len(log) - offset) :]:
        log.append(row, log.steps[-1] + 1 if log.steps else 0)


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
    files: dict[str, RunFile] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    exitcode: int | None = None
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

    @property
    def id(self) -> str:
        return encode_id("Sweep", self.name, self.project, self.entity)

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
class ManifestEntry:
    """One path of an artifact: digest (base64 md5), size, and where the bytes came from."""

    path: str
    digest: str
    size: int
    birth_artifact_id: str
    ref: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Artifact:
    """One artifact version inside a collection (sequence).

    A version being saved is PENDING: it has no number, no entries and no aliases yet, only
    the manifest uploaded so far and the aliases its commit will apply; nothing lists it.
    """

    id: str
    entity: str
    project: str
    collection: str
    type: str
    version_index: int | None
    digest: str
    entries: dict[str, ManifestEntry]
    created_at: datetime
    state: str = "COMMITTED"
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    used_by: list[tuple[str, str, str]] = field(default_factory=list)
    updated_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    ttl_duration_seconds: int | None = None
    manifest_digest: str = ""
    manifest_body: bytes | None = None
    pending_aliases: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return f"v{self.version_index}"

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries.values())


@dataclass
class ArtifactCollection:
    """An artifact sequence: versions in order plus its aliases (alias -> version index)."""

    id: str
    entity: str
    project: str
    name: str
    type: str
    created_at: datetime
    description: str | None = None
    versions: list[Artifact] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Artifact] = field(default_factory=dict)  # by digest


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


def artifact_digest(entries: Mapping[str, str]) -> str:
    """The artifact digest over {path: b64 md5}, as the service and SDK compute it."""
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(entries):
        h.update(f"{path}:{entries[path]}\n".encode())
    return h.hexdigest()


class WandbStore:
    """All state of one local server."""

    def __init__(self, *, username: str = "local-user", entity: str | None = None) -> None:
        self.lock = threading.RLock()
        self.viewer = User(username, entity or username, f"{username}@localhost")
        self.projects: dict[tuple[str, str], Project] = {}
        self.blobs: dict[str, bytes] = {}
        self.artifacts: dict[str, Artifact] = {}
        self.run_outputs: dict[tuple[str, str, str], list[str]] = {}
        self.run_inputs: dict[tuple[str, str, str], list[str]] = {}
        self._ids = itertools.count(1)
        self._clock = itertools.count()
        self.revision = 0

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

    def put_blob(self, data: bytes) -> str:
        """Store bytes content-addressed; returns the base64 md5."""
        digest = b64_md5(data)
        with self.lock:
            self.blobs.setdefault(digest, bytes(data))
        return digest

    # ------------------------------------------------------------------ projects
    def create_project(self, entity: str, project: str) -> Project:
        """Create (or return) a project; the entity springs into being with it."""
        _check_name("entity", entity)
        _check_name("project", project)
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
    ) -> Run:
        """Create a run with its config (plain values; stored wrapped as `{value, desc}`),
        summary, history rows and files. The last history row fills summary keys not given."""
        _check_name("run", run_id)
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
            mimetype=_mimetype(name),
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
                _append_from(run.history, *history)
            events = parsed.get(EVENTS_FILE)
            if events is not None:
                _append_from(run.events, *events)
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
        _check_name("sweep", sweep_id)
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

    # ------------------------------------------------------------------ artifacts
    def create_artifact(
        self,
        entity: str,
        project: str,
        name: str,
        type: str,
        files: Mapping[str, bytes],
        *,
        aliases: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        created_by: str | None = None,
        used_by: Sequence[str] = (),
    ) -> str:
        """Commit a new version of `name` holding `files`; returns its version (`vN`).

        `latest` moves to it and `aliases` move from whichever version held them. An identical
        digest in the same collection returns that existing version instead (digest dedup).
        """
        _check_name("artifact", name)
        _check_name("artifact type", type)
        for alias in aliases:
            check_alias(alias)
        with self.lock:
            proj = self.create_project(entity, project)
            for run_name in [created_by, *used_by]:
                if run_name is not None:
                    self.require_run(entity, project, run_name)
            coll = self._collection(proj, name, type)
            digests = {path: self.put_blob(data) for path, data in files.items()}
            digest = artifact_digest(digests)
            existing = next((a for a in coll.versions if a.digest == digest), None)
            if existing is not None:
                artifact = existing
            else:
                artifact_id = encode_id("Artifact", self.next_int())
                artifact = Artifact(
                    id=artifact_id,
                    entity=entity,
                    project=project,
                    collection=name,
                    type=type,
                    version_index=len(coll.versions),
                    digest=digest,
                    entries={
                        path: ManifestEntry(path, d, len(files[path]), artifact_id)
                        for path, d in sorted(digests.items())
                    },
                    created_at=self._next_time(),
                    description=description,
                    metadata=dict(metadata or {}),
                    created_by=created_by,
                )
                coll.versions.append(artifact)
                self.artifacts[artifact_id] = artifact
                coll.aliases["latest"] = artifact.version_index or 0
                if created_by is not None:
                    self._record_output(artifact, (entity, project, created_by))
            for alias in aliases:
                coll.aliases[alias] = artifact.version_index or 0
            for run_name in used_by:
                self._record_use(artifact, (entity, project, run_name))
            self.touch()
            return artifact.version

    def _collection(self, proj: Project, name: str, type: str) -> ArtifactCollection:
        coll = proj.collections.get(name)
        if coll is None:
            proj.artifact_types.setdefault(type, self._next_time())
            coll = ArtifactCollection(
                id=encode_id("ArtifactCollection", self.next_int()),
                entity=proj.entity,
                project=proj.name,
                name=name,
                type=type,
                created_at=self._next_time(),
            )
            proj.collections[name] = coll
        elif coll.type != type:
            raise StoreError(
                f"artifact {name!r} has type {coll.type!r}, cannot add a version of type {type!r}"
            )
        return coll

    # ------------------------------------------------------------------ artifact rules
    def get_collection(self, entity: str, project: str, name: str) -> ArtifactCollection | None:
        with self.lock:
            proj = self.projects.get((entity, project))
            return proj.collections.get(name) if proj else None

    def resolve_artifact(self, entity: str, project: str, name: str) -> Artifact | None:
        """`coll:alias`, `coll:vN` or a bare `coll` (= `coll:latest`); None when nothing matches."""
        collection, _, alias = name.partition(":")
        with self.lock:
            coll = self.get_collection(entity, project, collection)
            return None if coll is None else self.version_of(coll, alias or "latest")

    def version_of(self, coll: ArtifactCollection, alias: str) -> Artifact | None:
        """The live version a `vN` or alias names in `coll`, else None."""
        with self.lock:
            if re.fullmatch(r"v\d+", alias):
                index: int | None = int(alias[1:])
            else:
                index = coll.aliases.get(alias)
            if index is None or index >= len(coll.versions):
                return None
            artifact = coll.versions[index]
            return None if artifact.state == "DELETED" else artifact

    def artifact_by_id(self, artifact_id: str) -> Artifact:
        with self.lock:
            found = self.artifacts.get(artifact_id)
        if found is None or found.state == "DELETED":
            raise StoreNotFound(f"artifact {artifact_id!r} not found")
        return found

    def collection_of(self, artifact: Artifact) -> ArtifactCollection:
        with self.lock:
            proj = self.require_project(artifact.entity, artifact.project)
            return proj.collections[artifact.collection]

    def aliases_of(self, artifact: Artifact) -> list[str]:
        """The aliases (`latest` included, `vN` not) that point at `artifact`."""
        with self.lock:
            coll = self.collection_of(artifact)
            return [a for a, index in coll.aliases.items() if index == artifact.version_index]

    def add_aliases(self, artifact: Artifact, aliases: Iterable[str]) -> None:
        """Point `aliases` at `artifact`, moving each from whichever version held it."""
        names = [check_alias(alias) for alias in aliases]
        with self.lock:
            coll = self.collection_of(artifact)
            for alias in names:
                coll.aliases[alias] = artifact.version_index or 0
            artifact.updated_at = self._now()
            self.touch()

    def delete_aliases(self, artifact: Artifact, aliases: Iterable[str]) -> None:
        """Remove those of `aliases` that point at `artifact` (others are left alone)."""
        with self.lock:
            coll = self.collection_of(artifact)
            for alias in aliases:
                if coll.aliases.get(alias) == artifact.version_index:
                    del coll.aliases[alias]
            artifact.updated_at = self._now()
            self.touch()

    def update_artifact(
        self,
        artifact: Artifact,
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags_to_add: Iterable[str] = (),
        tags_to_delete: Iterable[str] = (),
        ttl_duration_seconds: int | None = None,
    ) -> Artifact:
        """Change description, metadata, tags and TTL (None leaves a field as it is)."""
        with self.lock:
            if description is not None:
                artifact.description = description
            if metadata is not None:
                artifact.metadata = dict(metadata)
            removed = set(tags_to_delete)
            artifact.tags = [t for t in artifact.tags if t not in removed]
            artifact.tags += [t for t in dict.fromkeys(tags_to_add) if t not in artifact.tags]
            if ttl_duration_seconds is not None:
                artifact.ttl_duration_seconds = (
                    ttl_duration_seconds if ttl_duration_seconds > 0 else None
                )
            artifact.updated_at = self._now()
            self.touch()
            return artifact

    def delete_artifact(self, artifact: Artifact, *, delete_aliases: bool = False) -> None:
        """Mark a version DELETED; refused while aliases point at it unless `delete_aliases`.

        Its number is never reused; `latest` falls back to the newest live version.
        """
        with self.lock:
            aliases = self.aliases_of(artifact)
            if aliases and not delete_aliases:
                raise StoreError(
                    f"cannot delete artifact {artifact.collection}:{artifact.version} while it has "
                    f"aliases {aliases}; delete the aliases first or pass deleteAliases: true"
                )
            coll = self.collection_of(artifact)
            for alias in aliases:
                del coll.aliases[alias]
            artifact.state = "DELETED"
            live = [a for a in coll.versions if a.state != "DELETED"]
            if "latest" in aliases and live:
                coll.aliases["latest"] = live[-1].version_index or 0
            self.touch()

    def use_artifact(self, artifact: Artifact, entity: str, project: str, run_id: str) -> None:
        """Record that run `entity/project/run_id` consumed `artifact` (its input)."""
        with self.lock:
            self.require_run(entity, project, run_id)
            self._record_use(artifact, (entity, project, run_id))
            self.touch()

    def create_artifact_version(
        self,
        entity: str,
        project: str,
        collection: str,
        type: str,
        digest: str,
        *,
        run_id: str | None = None,
        aliases: Sequence[str] = (),
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        deduplicate: bool = True,
    ) -> Artifact:
        """`createArtifact`: with `deduplicate`, the COMMITTED version of `collection` with this
        digest (its aliases and tags applied at once, the run recording it as an output); else
        the PENDING version with this digest (a save being resumed) or a new PENDING one, whose
        aliases wait for `commit_artifact`."""
        _check_name("artifact", collection)
        _check_name("artifact type", type)
        names = list(dict.fromkeys(check_alias(alias) for alias in aliases))
        if not re.fullmatch(r"[0-9a-f]{32}", digest or ""):
            raise StoreError(f"invalid artifact digest {digest!r}: expected 32 hex characters")
        with self.lock:
            proj = self.require_project(entity, project)
            if run_id is not None:
                self.require_run(entity, project, run_id)
            coll = self._collection(proj, collection, type)
            found = next(
                (a for a in coll.versions if a.digest == digest and a.state == "COMMITTED"),
                None,
            )
            if found is not None and deduplicate:
                for alias in names:
                    coll.aliases[alias] = found.version_index or 0
                found.tags += [t for t in dict.fromkeys(tags) if t not in found.tags]
                if run_id is not None:
                    self._record_output(found, (entity, project, run_id))
                self.touch()
                return found
            pending = coll.pending.get(digest)
            if pending is None:
                pending = Artifact(
                    id=encode_id("Artifact", self.next_int()),
                    entity=entity,
                    project=project,
                    collection=collection,
                    type=type,
                    version_index=None,
                    digest=digest,
                    entries={},
                    created_at=self._next_time(),
                    state="PENDING",
                    created_by=run_id,
                )
                coll.pending[digest] = pending
                self.artifacts[pending.id] = pending
            pending.description = description
            pending.metadata = dict(metadata or {})
            pending.pending_aliases = names
            pending.tags = list(dict.fromkeys(tags))
            pending.created_by = pending.created_by or run_id
            self.touch()
            return pending

    def pending_artifact(self, artifact_id: str) -> Artifact:
        """A version still being saved; StoreError when it is already committed."""
        artifact = self.artifact_by_id(artifact_id)
        if artifact.state != "PENDING":
            raise StoreError(f"artifact {artifact_id!r} is {artifact.state}, not PENDING")
        return artifact

    def set_manifest_digest(self, artifact: Artifact, digest: str) -> None:
        """Record the digest (base64 md5) the manifest upload will carry."""
        with self.lock:
            artifact.manifest_digest = digest

    def put_manifest(self, artifact: Artifact, body: bytes) -> None:
        """Keep the uploaded manifest JSON of a PENDING version (replacing an earlier one); an
        identical upload to a committed version is accepted and changes nothing."""
        with self.lock:
            if artifact.state == "COMMITTED" and artifact.manifest_body == body:
                return
            if artifact.state != "PENDING":
                raise StoreError(f"artifact {artifact.id!r} is {artifact.state}, not PENDING")
            artifact.manifest_body = bytes(body)

    def commit_artifact(self, artifact: Artifact) -> Artifact:
        """`commitArtifact`: check the uploaded manifest (its digest is the artifact's, every
        stored file is present with its size), then number the version (`vN`, never reused),
        move `latest` and the pending aliases to it and record it as its run's output.
        Committing a COMMITTED version again returns it unchanged."""
        with self.lock:
            if artifact.state == "COMMITTED":
                return artifact
            if artifact.state != "PENDING":
                raise StoreError(f"artifact {artifact.id!r} is {artifact.state}, not PENDING")
            if artifact.manifest_body is None:
                raise StoreError(f"artifact {artifact.id!r}: its manifest was not uploaded")
            entries = self._manifest_entries(artifact)
            digest = artifact_digest({path: e.digest for path, e in entries.items()})
            if digest != artifact.digest:
                raise StoreError(
                    f"artifact {artifact.id!r}: the manifest's digest {digest} is not the "
                    f"artifact's digest {artifact.digest}"
                )
            missing = [
                path
                for path, e in entries.items()
                if e.ref is None
                and (e.digest not in self.blobs or len(self.blobs[e.digest]) != e.size)
            ]
            if missing:
                raise StoreError(
                    f"artifact {artifact.id!r}: files {sorted(missing)[:5]} were not uploaded"
                )
            proj = self.require_project(artifact.entity, artifact.project)
            coll = self.collection_of(artifact)
            coll.pending.pop(artifact.digest, None)
            index = len(coll.versions)
            artifact.entries = entries
            artifact.version_index = index
            artifact.state = "COMMITTED"
            coll.versions.append(artifact)
            proj.artifact_types.setdefault(artifact.type, self._next_time())
            for alias in ["latest", *artifact.pending_aliases]:
                coll.aliases[alias] = index
            artifact.pending_aliases = []
            if artifact.created_by is not None:
                self._record_output(
                    artifact, (artifact.entity, artifact.project, artifact.created_by)
                )
            self.touch()
            return artifact

    @staticmethod
    def _manifest_entries(artifact: Artifact) -> dict[str, ManifestEntry]:
        """The entries of an uploaded manifest (JSON v1), file names checked."""
        try:
            data = json.loads(artifact.manifest_body or b"")
        except ValueError as exc:
            raise StoreError(f"artifact {artifact.id!r}: the manifest is not JSON") from exc
        contents = data.get("contents") if isinstance(data, dict) else None
        if not isinstance(contents, dict) or data.get("version") != 1:
            raise StoreError(f"artifact {artifact.id!r}: not a version 1 manifest")
        entries = {}
        for path, item in sorted(contents.items()):
            check_file_name(path)
            if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
                raise StoreError(f"artifact {artifact.id!r}: manifest entry {path!r} has no digest")
            entries[path] = ManifestEntry(
                path,
                item["digest"],
                int(item.get("size") or 0),
                str(item.get("birthArtifactID") or artifact.id),
                item.get("ref"),
                dict(item.get("extra") or {}),
            )
        return entries

    def has_blob(self, b64_md5: str) -> bool:
        with self.lock:
            return b64_md5 in self.blobs

    def _record_use(self, artifact: Artifact, run_key: tuple[str, str, str]) -> None:
        if run_key not in artifact.used_by:
            artifact.used_by.append(run_key)
        inputs = self.run_inputs.setdefault(run_key, [])
        if artifact.id not in inputs:
            inputs.append(artifact.id)

    def _record_output(self, artifact: Artifact, run_key: tuple[str, str, str]) -> None:
        outputs = self.run_outputs.setdefault(run_key, [])
        if artifact.id not in outputs:
            outputs.append(artifact.id)

    def run_artifacts(self, run: Run, direction: str) -> list[Artifact]:
        """A run's live `output` or `input` artifacts, in the order they were recorded."""
        index = self.run_outputs if direction == "output" else self.run_inputs
        with self.lock:
            ids = index.get((run.entity, run.project, run.name), [])
            found = (self.artifacts.get(i) for i in ids)
            return [a for a in found if a is not None and a.state != "DELETED"]

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

    def blob_by_hex(self, hex_md5: str) -> bytes | None:
        """Blob bytes by the hex md5 that URLs carry; None when unknown or malformed."""
        try:
            digest = base64.b64encode(bytes.fromhex(hex_md5)).decode()
        except ValueError:
            return None
        with self.lock:
            return self.blobs.get(digest)

    def _now(self) -> datetime:
        return datetime.now(timezone.utc)


def check_file_name(name: str) -> str:
    """Run file names are relative paths: no leading `/`, no `.`/`..` or empty parts."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if not name or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"invalid file name {name!r}")
    return name


def check_alias(alias: str) -> str:
    """Aliases may not contain `/` or `:`, and `vN` is reserved for versions."""
    if not isinstance(alias, str) or not alias or "/" in alias or ":" in alias:
        raise StoreError(f"invalid alias {alias!r}")
    if re.fullmatch(r"v\d+", alias):
        raise StoreError(f"alias {alias!r} is reserved for versions")
    return alias


def wrap_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Store plain config values the way the service does: `{key: {"value": v, "desc": None}}`."""
    return {key: {"value": value, "desc": None} for key, value in config.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_MIMETYPES = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
    ".csv": "text/csv",
    ".png": "image/png",
    ".md": "text/markdown",
    ".py": "text/x-python",
}


def _mimetype(name: str) -> str:
    for suffix, mimetype in _MIMETYPES.items():
        if name.endswith(suffix):
            return mimetype
    return "application/octet-stream"
