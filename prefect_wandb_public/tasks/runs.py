"""Tasks over runs: query them, and pick the best one by a metric or by a sweep's goal. Each
has an async variant (`a<name>`) for async flows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError, NotFoundError
from prefect_wandb_public.operations import run_field
from prefect_wandb_public.tasks._common import (
    TRANSIENT_RETRIES,
    artifact_key,
    run_record,
    sync_prefect,
    task_with_async_variant,
)

_TABLE_COLUMNS = ("id", "name", "state", "created_at", "url")
_METRIC_PREFIXES = ("summary_metrics.", "summary.", "config.")


def metric_columns(
    columns: Sequence[str] | None, order: str | None, filters: Mapping[str, Any] | None
) -> list[str]:
    """The table's extra columns: those asked for, then the summary and config keys the order
    and filters name (`summary_metrics.acc` becomes `summary.acc`), each once."""
    named: list[str] = list(columns or [])
    keys: list[str] = [order.lstrip("+-")] if order else []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                keys.append(str(key))
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(filters or {})
    for key in keys:
        if key.startswith(_METRIC_PREFIXES):
            named.append(key.replace("summary_metrics.", "summary.", 1))
    return list(dict.fromkeys(named))


@task_with_async_variant(name="Query W&B runs", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def query_runs(
    credentials: WandbCredentials,
    path: str | None = None,
    filters: Mapping[str, Any] | None = None,
    order: str = "-created_at",
    max_runs: int | None = None,
    output: Literal["records", "dataframe"] = "records",
    per_page: int = 200,
    columns: Sequence[str] | None = None,
) -> Any:
    """Runs of a project matching MongoDB-style filters, as plain records or a DataFrame.

    A table artifact lists them in the Prefect UI, titled with the project, with a column per
    summary or config key named in `columns`, `order` or `filters`.

    Args:
        credentials: The W&B credentials block.
        path: The project, `entity/project` (default: the block's project).
        filters: MongoDB-style filters, e.g. `{"state": "finished", "config.lr": {"$lt": 0.01}}`.
        order: Sort key with `+`/`-`, e.g. `-summary_metrics.acc` (default newest first).
        max_runs: At most this many runs.
        output: `records` (a list of dicts) or `dataframe` (flattened, `summary.acc` columns).
        per_page: Runs fetched per request.
        columns: Extra table columns: `summary.<key>` or `config.<key>`.

    Returns:
        Dicts with id, name, path, state, url, created_at, tags, group, job_type, sweep,
        config and summary; or a DataFrame of them.

    Example:
        ```python
        runs = query_runs(credentials, "team/proj", filters={"state": "finished"},
                          order="-summary_metrics.acc", max_runs=10, columns=["config.lr"])
        ```
    """
    if max_runs is not None and max_runs < 0:
        raise InvalidInputError(f"max_runs must be >= 0, got {max_runs}")
    if output not in ("records", "dataframe"):
        raise InvalidInputError(f"output must be 'records' or 'dataframe', got {output!r}")
    extra = metric_columns(columns, order, filters)
    bad = [c for c in extra if not c.startswith(("summary.", "config."))]
    if bad:
        raise InvalidInputError(f"columns must be summary.<key> or config.<key>, got {bad}")
    logger = get_run_logger()
    api = credentials.get_client()
    page = per_page if max_runs is None else max(1, min(per_page, max_runs))
    runs = api.runs(path, filters=filters, order=order, per_page=page, lazy=False)
    selected = runs[:max_runs] if max_runs is not None else list(runs)
    records = [run_record(run) for run in selected]
    project = f"{runs.entity}/{runs.project}"
    logger.info("queried %d runs of %s", len(records), project)
    sync_prefect(
        create_table_artifact,
        [
            {column: run_field(record, column) for column in (*_TABLE_COLUMNS, *extra)}
            for record in records
        ],
        key=artifact_key("wandb-runs", project),
        description=(
            f"{len(records)} W&B runs of {project}, order {order}"
            + (f", filters {dict(filters)}" if filters else "")
        ),
    )
    if output == "dataframe":
        import pandas as pd

        return pd.json_normalize(records, sep=".")
    return records


aquery_runs = query_runs.aio


@task_with_async_variant(name="Find the best W&B run", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def best_run(
    credentials: WandbCredentials,
    path: str | None = None,
    metric: str | None = None,
    goal: Literal["minimize", "maximize"] = "minimize",
    sweep: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The best run of a project by a summary metric, or by a sweep's own metric and goal.

    Raises NotFoundError, naming the project, when no run reports the metric.

    Args:
        credentials: The W&B credentials block.
        path: The project, `entity/project` (default: the block's project).
        metric: The summary metric to rank by, e.g. `val_loss` (default: the sweep's).
        goal: `minimize` or `maximize` the metric.
        sweep: A sweep id in the project: only its runs compete.
        filters: MongoDB-style filters the runs must also match.

    Returns:
        The best run's record plus `metric` (its name) and `value`.

    Example:
        ```python
        best = best_run(credentials, "team/proj", metric="val_loss", goal="minimize")
        print(best["path"], best["value"])
        ```
    """
    if goal not in ("minimize", "maximize"):
        raise InvalidInputError(f"goal must be 'minimize' or 'maximize', got {goal!r}")
    if metric is None and sweep is None:
        raise InvalidInputError("best_run needs a metric, a sweep, or both")
    api = credentials.get_client()
    if sweep is not None:
        project_path = path or f"{api.default_entity}/{api.default_project}"
        found = api.sweep(f"{project_path}/{sweep}")
        if metric is None:
            metric = (found.config.get("metric") or {}).get("name")
            goal = (found.config.get("metric") or {}).get("goal", "minimize")
            if not metric:
                raise InvalidInputError(f"sweep {project_path}/{sweep} names no metric")
    assert metric is not None
    key = f"summary_metrics.{metric}"
    conditions: list[dict[str, Any]] = [{key: {"$exists": True}}]
    if sweep is not None:
        conditions.append({"sweep": sweep})
    if filters:
        conditions.append(dict(filters))
    order = ("+" if goal == "minimize" else "-") + key
    runs = api.runs(path, filters={"$and": conditions}, order=order, per_page=1, lazy=False)
    where = f"{runs.entity}/{runs.project}" + (f" sweep {sweep}" if sweep else "")
    if not runs:
        raise NotFoundError(f"no run in {where} reports the metric {metric!r}")
    record = run_record(runs[0])
    record["metric"] = metric
    record["value"] = record["summary"].get(metric)
    get_run_logger().info("best run of %s by %s (%s): %s", where, metric, goal, record["id"])
    return record


abest_run = best_run.aio

__all__ = ["abest_run", "aquery_runs", "best_run", "metric_columns", "query_runs"]
