"""Tasks over runs: query them, and pick the best one by a metric or by a sweep's goal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError, NotFoundError
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, run_record

_TABLE_COLUMNS = ("id", "name", "state", "created_at", "url")


@task(name="Query W&B runs", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def query_runs(
    credentials: WandbCredentials,
    path: str | None = None,
    filters: Mapping[str, Any] | None = None,
    order: str = "-created_at",
    max_runs: int | None = None,
    output: Literal["records", "dataframe"] = "records",
    per_page: int = 200,
) -> Any:
    """Runs of `entity/project` matching MongoDB-style `filters`, as dicts (id, name, path,
    state, url, created_at, tags, group, job_type, sweep, config, summary) or a DataFrame.

    A table artifact lists them in the Prefect UI.
    """
    if max_runs is not None and max_runs < 0:
        raise InvalidInputError(f"max_runs must be >= 0, got {max_runs}")
    if output not in ("records", "dataframe"):
        raise InvalidInputError(f"output must be 'records' or 'dataframe', got {output!r}")
    logger = get_run_logger()
    api = credentials.get_client()
    page = per_page if max_runs is None else max(1, min(per_page, max_runs))
    runs = api.runs(path, filters=filters, order=order, per_page=page, lazy=False)
    selected = runs[:max_runs] if max_runs is not None else list(runs)
    records = [run_record(run) for run in selected]
    logger.info("queried %d runs of %s", len(records), path or "the default project")
    create_table_artifact(
        [{column: record[column] for column in _TABLE_COLUMNS} for record in records],
        key=artifact_key("wandb-runs", path or "default"),
        description=f"W&B runs of {path or 'the default project'} (filters: {dict(filters or {})})",
    )
    if output == "dataframe":
        import pandas as pd

        return pd.json_normalize(records, sep=".")
    return records


@task(name="Find the best W&B run", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def best_run(
    credentials: WandbCredentials,
    path: str | None = None,
    metric: str | None = None,
    goal: Literal["minimize", "maximize"] = "minimize",
    sweep: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The best run: by `metric` and `goal` among `path`'s runs (optionally filtered), or, with
    `sweep` (an id in `path`'s project) and no metric, by the sweep's own metric and goal.

    Raises NotFoundError when no run reports the metric.
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
    where = f"{path or 'the default project'}" + (f" sweep {sweep}" if sweep else "")
    if not runs:
        raise NotFoundError(f"no run in {where} reports the metric {metric!r}")
    record = run_record(runs[0])
    record["metric"] = metric
    record["value"] = record["summary"].get(metric)
    get_run_logger().info("best run of %s by %s (%s): %s", where, metric, goal, record["id"])
    return record


__all__ = ["best_run", "query_runs"]
