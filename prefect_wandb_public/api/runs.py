"""`Runs` (a lazy, filtered listing) and `Run` (one run: metadata, config, summary, updates)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.artifact_listings import RunArtifacts
from prefect_wandb_public.api.artifacts import Artifact
from prefect_wandb_public.api.fields import count, optional_int, text, wire_field
from prefect_wandb_public.api.files import File, Files, upload_run_file
from prefect_wandb_public.api.history import HistoryScan, runs_histories, sampled_history
from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.paths import check_segment
from prefect_wandb_public.api.publish import log_artifact, use_artifact
from prefect_wandb_public.api.queries.runs import (
    CREATE_RUN_MUTATION,
    DELETE_RUN_MUTATION,
    FULL_RUN_FIELDS,
    LIGHT_RUN_FIELDS,
    RUN_QUERY,
    RUNS_QUERY,
    UPDATE_RUN_MUTATION,
)
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError

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

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        project = data.get("project")
        if project is None:
            raise NotFoundError(f"project {self.entity}/{self.project} not found")
        conn: Mapping[str, Any] | None = project.get("runs")
        return conn

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
        dicts, or with `format="pandas"` one DataFrame (columns sorted)."""
        return runs_histories(self, samples, keys, x_axis, format, stream, max_workers=max_workers)


class Run:
    """One run. `id` is the run id users see, `name` its display name, `storage_id` the
    server's id. `config`, `summary` and `system_metrics` of a listed run load on first use."""

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
    def load(cls, client: Api, entity: str, project: str, run_id: str) -> Run:
        """Fetch a run with every field (NotFoundError naming the path when missing)."""
        return cls(client, entity, project, run_id, cls.load_path(client, entity, project, run_id))

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
            self.rawconfig: dict[str, Any] = unwrap_config(raw) if isinstance(raw, Mapping) else {}
            self._config = {k: v for k, v in self.rawconfig.items() if k not in _HIDDEN_CONFIG_KEYS}
            summary = decode_json_field(attrs.get("summaryMetrics"), path, "summaryMetrics")
            self._summary = dict(summary or {})
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
    user: dict[str, Any] | None = wire_field("user")

    @property
    def username(self) -> str | None:
        user = self.user or {}
        return user.get("username")

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return f"{self.client.app_url}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def config(self) -> dict[str, Any]:
        self.load_full_data()
        return self._config

    @property
    def summary(self) -> dict[str, Any]:
        """Summary metrics; assign keys and call `update()` to save them."""
        self.load_full_data()
        return self._summary

    summary_metrics = summary

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
            "summaryMetrics": _dumps(self._summary, "summary", self),
        }
        data = self.client.transport.graphql(UPDATE_RUN_MUTATION, variables)
        self._apply(dict(data["upsertBucket"]["bucket"]))

    save = update

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
        `stream="system"` reads system metrics; a DataFrame, or dicts when `pandas=False`."""
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
        """Every history row in [min_step, max_step), in step order, pages fetched ahead in
        parallel; with `keys` only rows holding all of them. `.to_pandas()` is the fast path.
        `use_cache` is accepted for compatibility: nothing is cached on disk. `progress` is
        called with a `Progress` (rows) per page."""
        return HistoryScan(
            self, keys, page_size, min_step, max_step, max_workers=max_workers, progress=progress
        )

    def history_frame(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        *,
        max_workers: int = 4,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Every history row as a DataFrame, decoded columnar page by page (no dict rows);
        `progress` is called with a `Progress` (rows) per page."""
        scan = HistoryScan(
            self, keys, page_size, min_step, max_step, max_workers=max_workers, progress=progress
        )
        return scan.to_pandas()

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
    "Run",
    "Runs",
    "check_order",
    "decode_json_field",
    "encode_filters",
    "unwrap_config",
]
