"""`Runs` (a lazy, filtered listing) and `Run` (one run: metadata, config, summary, updates)."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.artifact_listings import RunArtifacts
from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.console_logs import ConsoleLogs
from prefect_wandb_public.api.fields import NodeAttributes, count, optional_int, text, wire_field
from prefect_wandb_public.api.files import File, Files, upload_run_file
from prefect_wandb_public.api.history import (
    HistoryScan,
    fresh_export_urls,
    load_plan,
    runs_histories,
    sampled_history,
)
from prefect_wandb_public.api.history_exports import DownloadHistoryResult, download_exports
from prefect_wandb_public.api.paging import Paginator, project_connection
from prefect_wandb_public.api.paths import check_segment
from prefect_wandb_public.api.publish import log_artifact, use_artifact
from prefect_wandb_public.api.queries.runs import (
    CREATE_RUN_MUTATION,
    DELETE_RUN_MUTATION,
    FULL_RUN_FIELDS,
    LIGHT_RUN_FIELDS,
    RUN_QUERY,
    RUN_STATE_QUERY,
    RUNS_QUERY,
    STOP_RUN_MUTATION,
    UPDATE_RUN_MUTATION,
    UPDATE_RUN_STATE_MUTATION,
)
from prefect_wandb_public.api.summary import HTTPSummary
from prefect_wandb_public.api.users import User
from prefect_wandb_public.errors import (
    CommError,
    IncompleteRunHistoryError,
    InvalidInputError,
    NotFoundError,
    WaitTimeoutError,
)

if TYPE_CHECKING:
    import pandas as pd

    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.progress import ProgressCallback
    from prefect_wandb_public.api.sweeps import Sweep

FILTER_OPERATORS = frozenset(
    {
        "$and",
        "$or",
        "$nor",
        "$not",
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$exists",
        "$regex",
        "$options",
    }
)
_HIDDEN_CONFIG_KEYS = ("_wandb", "wandb_version")
GROWN_PAGE_SIZE = 1000  # the page size a lazy listing's pages grow to while it is iterated
# States `wait_until_finished` stops at (0.31 stops at the first three and polls a killed run
# forever; a killed run never resumes, so it ends the wait here too).
FINISHED_STATES = frozenset({"finished", "crashed", "failed", "killed"})
METADATA_FILE = "wandb-metadata.json"


def encode_filters(filters: Mapping[str, Any] | None) -> str:
    """Check a MongoDB-style filter client-side and encode it as the JSONString variable."""
    if filters is None:
        return "{}"
    if not isinstance(filters, Mapping):
        raise InvalidInputError(f"filters must be a dict, got {type(filters).__name__}")
    _check_operators(filters)
    try:
        return json.dumps(filters, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"filters are not JSON-serializable: {exc}") from exc


def _check_operators(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"filter keys must be strings, got {key!r}")
            if key.startswith("$") and key not in FILTER_OPERATORS:
                raise InvalidInputError(f"unknown filter operator {key!r}")
            _check_operators(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_operators(item)


def check_order(order: str) -> str:
    """`+col`, `-col` or `col`, one column, no spaces."""
    if not isinstance(order, str) or not order.lstrip("+-") or " " in order:
        raise InvalidInputError(f"invalid order {order!r}: expected '+column' or '-column'")
    return order


def decode_json_field(value: Any, run_path: str, field: str) -> Any:
    """JSONString fields arrive as text (NaN/Infinity tolerated); objects pass through. Text
    that is not JSON is a CommError naming the run and the field, never a silent `{}`."""
    if isinstance(value, str):
        try:
            return json.loads(value, strict=False)
        except ValueError as exc:
            raise CommError(f"{field} of run {run_path} is not valid JSON: {exc}") from exc
    return value if value is not None else {}


def unwrap_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`{k: {"value": v, "desc": d}}` -> `{k: v}`; values that are not wrapped pass through."""
    return {
        key: entry["value"] if isinstance(entry, Mapping) and "value" in entry else entry
        for key, entry in raw.items()
    }


class Runs(Paginator["Run"]):
    """A project's runs matching `filters`, in `order`; `len()` is the server's count.

    `include_sweeps` is accepted for compatibility: a run's sweep always loads on first use.
    """

    QUERY = RUNS_QUERY % LIGHT_RUN_FIELDS
    FULL_QUERY = RUNS_QUERY % FULL_RUN_FIELDS

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        include_sweeps: bool = False,
        lazy: bool = True,
    ) -> None:
        self.entity = entity
        self.project = project
        encoded_filters = encode_filters(filters)  # checks the type before dict() copies it
        self.filters = dict(filters or {})
        self.order = check_order(order)
        self.include_sweeps = include_sweeps
        self.lazy = lazy
        variables = {
            "project": project,
            "entity": entity,
            "order": self.order,
            "filters": encoded_filters,
        }
        super().__init__(client, variables, per_page)
        if not lazy:
            self.QUERY = self.FULL_QUERY
        else:  # light run nodes: iterating, pages grow to 1,000 runs (fewer round trips)
            self.grow_pages_to = GROWN_PAGE_SIZE

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return project_connection(data, self.entity, self.project, "runs")

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Run:
        return Run(
            self.client,
            self.entity,
            self.project,
            node["name"],
            node,
            include_sweeps=self.include_sweeps,
            lazy=self.lazy,
        )

    @property
    def length(self) -> int | None:
        if self.last_response is None:
            self.next_page()
        assert self.last_response is not None
        return int((self.last_response.get("project") or {}).get("runCount") or 0)

    def upgrade_to_full(self) -> None:
        """Fetch config/summary/system metrics with every following page (no per-run query)."""
        self.lazy = False
        self.QUERY = self.FULL_QUERY
        self.grow_pages_to = None

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"

    # ------------------------------------------------------------------ history (api/history.py)
    def histories(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: str = "default",
        stream: str = "default",
        *,
        max_workers: int = 8,
    ) -> list[dict[str, Any]] | pd.DataFrame:
        """Sampled history of every run with a `run_id` column, fetched in parallel: a list of
        dicts, or with `format="pandas"` one DataFrame (columns sorted). Fully exported runs
        are read from their parquet exports (see `api/history.py`)."""
        return runs_histories(self, samples, keys, x_axis, format, stream, max_workers=max_workers)


class Run(NodeAttributes):
    """One run. `id` is the run id users see, `name` its display name, `storage_id` the
    server's id. `config`, `summary` and `system_metrics` of a listed run load on first use;
    any other field of the run's node reads as `run.<snake_case>` or `run.<camelCase>`."""

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        run_id: str,
        attrs: Mapping[str, Any] | None = None,
        include_sweeps: bool = False,
        lazy: bool = True,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self.id = run_id
        self.include_sweeps = include_sweeps
        self._attrs: dict[str, Any] = {}
        self._full = False
        self._sweep: Sweep | None = None
        self._summary_metrics: dict[str, Any] = {}
        self._summary: HTTPSummary | None = None
        self._metadata: dict[str, Any] | None = None
        self.server_provides_internal_id_field: None = None  # kept from 0.31, always None
        self._apply(attrs or {})
        if not lazy and not self._full:
            self.load_full_data(force=True)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load_path(cls, client: Api, entity: str, project: str, run_id: str) -> dict[str, Any]:
        data = client.transport.graphql(
            RUN_QUERY, {"project": project, "entity": entity, "name": run_id}
        )
        node = (data.get("project") or {}).get("run")
        if node is None:
            if data.get("project") is None:
                raise NotFoundError(
                    f"run {entity}/{project}/{run_id} not found: "
                    f"project {entity}/{project} does not exist"
                )
            raise NotFoundError(f"run {entity}/{project}/{run_id} not found")
        return dict(node)

    @classmethod
    def fetch(cls, client: Api, entity: str, project: str, run_id: str) -> Run:
        """Fetch a run with every field (NotFoundError naming the path when missing)."""
        return cls(client, entity, project, run_id, cls.load_path(client, entity, project, run_id))

    def load(self, force: bool = False) -> dict[str, Any]:
        """The run's node fields, as 0.31's `Run.load`: fetched (every field) when nothing is
        loaded yet or `force` is true, which also drops local summary edits; otherwise the
        fields already held, without a request."""
        if force or not self._attrs:
            self._apply(self.load_path(self.client, self.entity, self.project, self.id))
        return self._attrs

    def load_full_data(self, force: bool = False) -> dict[str, Any]:
        """Fetch config, summary, system metrics and history keys (once, unless `force`)."""
        if force or not self._full:
            self._apply(self.load_path(self.client, self.entity, self.project, self.id))
        return self._attrs

    def _apply(self, attrs: Mapping[str, Any]) -> None:
        """Take in a node's fields (a listing's light ones, or all of them)."""
        self._attrs.update(attrs)
        if "config" in attrs:
            path = "/".join(self.path)
            raw = decode_json_field(attrs["config"], path, "config")
            self._rawconfig = unwrap_config(raw) if isinstance(raw, Mapping) else {}
            self._config = {
                k: v for k, v in self._rawconfig.items() if k not in _HIDDEN_CONFIG_KEYS
            }
            summary = decode_json_field(attrs.get("summaryMetrics"), path, "summaryMetrics")
            # One dict for the run's lifetime: `run.summary` (and whoever holds it) sees it.
            self._summary_metrics.clear()
            self._summary_metrics.update(summary or {})
            self._attrs["summaryMetrics"] = self._summary_metrics
            system = decode_json_field(attrs.get("systemMetrics"), path, "systemMetrics")
            self._system_metrics = dict(system or {})
            self._full = True
        get = self._attrs.get
        self._display_name = get("displayName") or self.id
        self.tags: list[str] = list(get("tags") or ())
        self.notes: str | None = get("notes")
        self.description: str | None = get("description")
        self.group: str | None = get("group")
        self.job_type: str | None = get("jobType")

    # ------------------------------------------------------------------ attributes
    @property
    def name(self) -> str:
        """The display name (settable; saved by `update()`)."""
        return str(self._display_name)

    @name.setter
    def name(self, value: str) -> None:
        self._display_name = value

    display_name = name

    storage_id: str = wire_field("id", text)
    state: str | None = wire_field("state")
    sweep_name: str | None = wire_field("sweepName")
    created_at: str | None = wire_field("createdAt")
    heartbeat_at: str | None = wire_field("heartbeatAt")
    commit: str | None = wire_field("commit")
    read_only: bool = wire_field("readOnly", bool)
    history_line_count: int = wire_field("historyLineCount", count)
    project_id: int | None = wire_field("projectId", optional_int)

    @property
    def user(self) -> User | None:
        """The user who created the run (`user.username`, `user.name`), when the server says."""
        node = self._attrs.get("user")
        return User(self.client, node) if node else None

    @property
    def username(self) -> str | None:
        """The creator's username (0.31's deprecated `username` returns the entity)."""
        node = self._attrs.get("user") or {}
        return node.get("username")

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return f"{self.client.app_url}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def config(self) -> dict[str, Any]:
        """The config values (`_wandb` and `wandb_version` left out); edit, then `update()`."""
        self.load_full_data()
        return self._config

    @property
    def rawconfig(self) -> dict[str, Any]:
        """The config values including `_wandb` and `wandb_version`."""
        self.load_full_data()
        return self._rawconfig

    @property
    def summary(self) -> HTTPSummary:
        """The summary metrics as a live mapping (`api/summary.py`): `summary.update()` and
        `summary.update({...})` save them, as does `update()`; `summary[k] = v` changes only
        the local copy. `summary._json_dict` is `summary_metrics`."""
        self.load_full_data()
        if self._summary is None:
            self._summary = HTTPSummary(self, self._summary_metrics)
        return self._summary

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The summary metrics as a plain dict (the one `summary` reads and writes)."""
        self.load_full_data()
        return self._summary_metrics

    @property
    def json_config(self) -> str:
        """The config as the JSON text `update()` sends: `{key: {"value": v, "desc": None}}`,
        `_wandb` included."""
        config: dict[str, Any] = {}
        if "_wandb" in self.rawconfig:
            config["_wandb"] = {"value": self.rawconfig["_wandb"], "desc": None}
        for key, value in self.config.items():
            config[key] = {"value": value, "desc": None}
        return _dumps(config, "config", self)

    @property
    def dir(self) -> str:
        """A local directory for this run's files: `$WANDB_DIR` (else the temp dir) joined with
        entity/project/id; created on first use (0.31 creates one per run it builds)."""
        base = os.environ.get("WANDB_DIR") or tempfile.gettempdir()
        path = os.path.join(base, *self.path)
        os.makedirs(path, exist_ok=True)
        return path

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The run's `wandb-metadata.json` (host, program, git, python, ...) parsed; None when
        the run has no such file or it is not a JSON object. Read once, cached."""
        if self._metadata is None:
            try:
                file = self.file(METADATA_FILE)
            except NotFoundError:
                return None
            response = self.client.transport.request("GET", file.direct_url or file.url or "")
            try:
                data = response.json()
            except ValueError:
                return None
            finally:
                response.close()
            self._metadata = data if isinstance(data, dict) else None
        return self._metadata

    @property
    def system_metrics(self) -> dict[str, Any]:
        self.load_full_data()
        return self._system_metrics

    @property
    def history_keys(self) -> dict[str, Any]:
        self.load_full_data()
        return dict(self._attrs.get("historyKeys") or {})

    @property
    def lastHistoryStep(self) -> int:
        keys = self.history_keys
        last = keys.get("lastStep")
        return int(last) if last is not None else -1

    @property
    def sweep(self) -> Sweep | None:
        """The sweep this run belongs to (loaded on first use), or None."""
        if self._sweep is None and self.sweep_name:
            # Sweeps list runs, so `sweeps` sits above this module: ask the client for it.
            self._sweep = self.client.sweep(f"{self.entity}/{self.project}/{self.sweep_name}")
        return self._sweep

    def __repr__(self) -> str:
        return f"<Run {self.entity}/{self.project}/{self.id} ({self.state})>"

    # ------------------------------------------------------------------ changes
    @classmethod
    def create(
        cls,
        api: Api,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
        state: str = "pending",
    ) -> Run:
        """Create a run on the server (a random 8-character id unless given)."""
        run_id = run_id or secrets.token_hex(4)
        check_segment(run_id, "run id", run_id)
        entity = entity or api.default_entity
        project = project or api.default_project
        data = api.transport.graphql(
            CREATE_RUN_MUTATION,
            {"project": project, "entity": entity, "name": run_id, "state": state},
        )
        bucket = data["upsertBucket"]["bucket"]
        return cls(api, entity, project, bucket["name"], bucket)

    def update(self) -> None:
        """Save display name, tags, notes, description, group, job type, config and summary."""
        self.load_full_data()
        config = {k: {"value": v, "desc": None} for k, v in self._config.items()}
        for key in _HIDDEN_CONFIG_KEYS:
            if key in self.rawconfig:
                config[key] = {"value": self.rawconfig[key], "desc": None}
        variables = {
            "id": self.storage_id,
            "description": self.description,
            "display_name": self._display_name,
            "notes": self.notes,
            "tags": list(self.tags),
            "config": _dumps(config, "config", self),
            "groupName": self.group,
            "jobType": self.job_type,
            "summaryMetrics": _dumps(self._summary_metrics, "summary", self),
        }
        data = self.client.transport.graphql(UPDATE_RUN_MUTATION, variables)
        self._apply(dict(data["upsertBucket"]["bucket"]))

    save = update

    def update_state(self, state: str) -> bool:
        """Move the run to `state` (`"pending"` to requeue it, `"failed"` to give it up);
        True when the server did. A transition the server refuses is a CommError."""
        if not isinstance(state, str) or not state:
            raise InvalidInputError(f"state must be a run state name, got {state!r}")
        data = self.client.transport.graphql(
            UPDATE_RUN_STATE_MUTATION, {"input": {"id": self.storage_id, "state": state}}
        )
        if not (data.get("updateRunState") or {}).get("success"):
            return False
        self._attrs["state"] = state
        return True

    def stop(self) -> None:
        """Ask the process running this run to stop it (the UI's "Stop run"); returns once the
        server has flagged the run, not when the run ends."""
        data = self.client.transport.graphql(STOP_RUN_MUTATION, {"id": self.storage_id})
        if not (data.get("stopRun") or {}).get("success"):
            raise CommError(f"the server did not flag run {'/'.join(self.path)} to stop")

    def wait_until_finished(
        self, *, timeout: float | None = None, poll_interval: float = 5.0
    ) -> None:
        """Poll the run's state every `poll_interval` seconds until it is finished, crashed,
        failed or killed; with `timeout` (seconds), WaitTimeoutError once it has passed."""
        if poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be positive, got {poll_interval}")
        deadline = None if timeout is None else time.monotonic() + timeout
        variables = {"project": self.project, "entity": self.entity, "name": self.id}
        while True:
            data = self.client.transport.graphql(RUN_STATE_QUERY, variables)
            node = (data.get("project") or {}).get("run")
            if node is None:
                raise NotFoundError(f"run {'/'.join(self.path)} not found")
            self._attrs["state"] = node.get("state")
            if node.get("state") in FINISHED_STATES:
                return
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise WaitTimeoutError(
                    f"run {'/'.join(self.path)} is still {node.get('state')!r} after {timeout} s"
                )
            time.sleep(poll_interval)

    def delete(self, delete_artifacts: bool = False) -> None:
        """Delete the run (and the artifacts it logged when `delete_artifacts`)."""
        self.client.transport.graphql(
            DELETE_RUN_MUTATION, {"id": self.storage_id, "deleteArtifacts": delete_artifacts}
        )

    # ------------------------------------------------------------------ history (api/history.py)
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """At most `samples` rows spread over the run (with `keys`: rows holding all of them);
        any `stream` but "default" (0.31 documents "system") reads the system-events stream,
        where `keys` give `[]` and a warning, as in 0.31; a DataFrame, or dicts when
        `pandas=False`."""
        return sampled_history(self, samples, keys, x_axis, pandas, stream)

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        use_cache: bool = True,
        *,
        max_workers: int = 4,
        progress: ProgressCallback | None = None,
    ) -> HistoryScan:
        """Every history row in [min_step, max_step), in step order, with `keys` only rows
        holding all of them: the run's parquet exports first, then its live steps as GraphQL
        pages fetched ahead in parallel. `use_cache=False` fetches the exports again instead of
        reading the download cache. `.to_pandas()` is the fast path; each `for` loop over the
        scan reads it again from `min_step`. `progress` is called with a `Progress` (rows) per
        export batch and page."""
        return HistoryScan(
            self,
            keys,
            page_size,
            min_step,
            max_step,
            max_workers=max_workers,
            use_cache=use_cache,
            progress=progress,
        )

    def beta_scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> HistoryScan:
        """`scan_history` under its deprecated 0.31 name (with the same DeprecationWarning)."""
        warnings.warn(
            "`beta_scan_history` is deprecated and will be removed in a future release. "
            "Use `scan_history` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.scan_history(keys, page_size, min_step, max_step, use_cache)

    def history_frame(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        *,
        max_workers: int = 4,
        use_cache: bool = True,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Every history row as a DataFrame, decoded columnar (exports as Arrow tables, live
        pages with pyarrow's JSON reader; no dict rows); `progress` is called with a
        `Progress` (rows) per export batch and page."""
        scan = HistoryScan(
            self,
            keys,
            page_size,
            min_step,
            max_step,
            max_workers=max_workers,
            use_cache=use_cache,
            progress=progress,
        )
        return scan.to_pandas()

    def download_history_exports(
        self, download_dir: str | os.PathLike[str], require_complete_history: bool = True
    ) -> DownloadHistoryResult:
        """Copy the run's parquet history exports into the local directory `download_dir`
        (created if missing) as `{entity}_{project}_{run}_{i}.runhistory.parquet`, as 0.31
        names them. With `require_complete_history`, a run holding steps no export has yet
        raises IncompleteRunHistoryError before anything is fetched; otherwise
        `contains_live_data` says so. A file that fails (after one retry with fresh URLs) is in
        `errors`, with its message, and not in `paths`."""
        plan = load_plan(self)
        if require_complete_history and plan.has_live_data:
            count = len(plan.live_steps) if plan.live_steps is not None else plan.line_count
            raise IncompleteRunHistoryError(
                f"run {'/'.join(self.path)} has {count} history steps not exported to parquet "
                "yet; pass require_complete_history=False to download the exports there are"
            )
        return download_exports(
            self.client.transport,
            self.path,
            plan,
            download_dir,
            lambda: fresh_export_urls(self),
        )

    # ------------------------------------------------------------------ files and artifacts
    def files(
        self, names: list[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> Files:
        """The run's files: all, the `names` given, or those matching a SQL LIKE `pattern`."""
        return Files(self.client, self, names=names, pattern=pattern, per_page=per_page)

    def file(self, name: str) -> File:
        """One file of the run by name (NotFoundError when it has none of that name)."""
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"file name must be a non-empty string, got {name!r}")
        found = Files(self.client, self, names=[name], per_page=1)[:1]
        if not found:
            raise NotFoundError(f"run {'/'.join(self.path)} has no file {name!r}")
        return found[0]

    def console_logs(self, *, per_page: int = 1000, last: int | None = None) -> ConsoleLogs:
        """The run's console output as `ConsoleLogLine`s, paged (`last=N`: the newest N)."""
        return ConsoleLogs(self.client, self, per_page=per_page, last=last)

    def upload_file(self, path: str, root: str = ".") -> File:
        """Save a local file with the run, named by its path relative to `root`."""
        return upload_run_file(self, path, root)

    def use_artifact(self, artifact: Artifact, use_as: str | None = None) -> Artifact:
        """Declare `artifact` an input of this run."""
        return use_artifact(self, artifact, use_as)

    def log_artifact(
        self,
        artifact: Artifact,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> Artifact:
        """Publish a draft `Artifact(name, type)` as a new version this run logged, or
        declare an existing version (of this run's project) an output of this run; returns
        the committed version. `progress` follows the upload (a `Progress` per file)."""
        return log_artifact(self, artifact, aliases, tags, progress=progress)

    def logged_artifacts(self, per_page: int = 100) -> RunArtifacts:
        """The artifacts this run logged."""
        return RunArtifacts(self.client, self, "output", per_page)

    def used_artifacts(self, per_page: int = 100) -> RunArtifacts:
        """The artifacts this run used."""
        return RunArtifacts(self.client, self, "input", per_page)


def _dumps(value: Any, what: str, run: Run) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{what} of run {'/'.join(run.path)} is not JSON-serializable: {exc}"
        ) from exc


__all__ = [
    "FILTER_OPERATORS",
    "FINISHED_STATES",
    "GROWN_PAGE_SIZE",
    "Run",
    "Runs",
    "check_order",
    "decode_json_field",
    "encode_filters",
    "unwrap_config",
]
