"""Tasks over run history: fetch it as a DataFrame, export one run or a whole project. Each
has an async variant (`a<name>`) for async flows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.api import export_history
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.operations import check_export_options, export_runs
from prefect_wandb_public.tasks._common import (
    TRANSIENT_RETRIES,
    ProgressArtifact,
    artifact_key,
    lazy_run,
    task_with_async_variant,
)

if TYPE_CHECKING:
    import pandas as pd


@task_with_async_variant(name="Fetch W&B run history", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def fetch_run_history(
    credentials: WandbCredentials,
    run_path: str,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> pd.DataFrame:
    """Every history row of a run as a DataFrame; a progress artifact follows the scan.

    Args:
        credentials: The W&B credentials block.
        run_path: The run, `entity/project/run_id`.
        keys: Only rows holding all of these keys (and only these columns).
        min_step: The first step to read.
        max_step: The step to stop before.

    Returns:
        A DataFrame with one row per history step (`_step` and the logged keys).

    Example:
        ```python
        frame = fetch_run_history(credentials, "team/proj/abc123", keys=["loss"])
        ```
    """
    run = lazy_run(credentials.get_client(), run_path)
    progress = ProgressArtifact(
        artifact_key("wandb-history", run_path), f"History scan of {run_path}"
    )
    frame = run.history_frame(
        keys=list(keys) if keys else None, min_step=min_step, max_step=max_step, progress=progress
    )
    progress.done()
    get_run_logger().info("fetched %d history rows of %s", len(frame), run_path)
    return frame


afetch_run_history = fetch_run_history.aio


@task_with_async_variant(name="Export W&B run history", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def export_run_history(
    credentials: WandbCredentials,
    run_path: str,
    destination: str,
    format: Literal["parquet", "csv"] | None = None,
    keys: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Stream a run's history to a parquet or CSV file, written atomically.

    A progress artifact follows the scan.

    Args:
        credentials: The W&B credentials block.
        run_path: The run, `entity/project/run_id`.
        destination: A local path or any fsspec URL, e.g. `s3://bucket/run.parquet`.
        format: `parquet` or `csv` (default: from the destination's suffix, else parquet).
        keys: Only rows holding all of these keys (and only these columns).
        storage_options: Options for the destination's file system (credentials, ...).

    Returns:
        `{"run": run_path, "destination": url, "rows": rows written}`.

    Example:
        ```python
        export_run_history(credentials, "team/proj/abc123", "./abc123.parquet")
        ```
    """
    run = lazy_run(credentials.get_client(), run_path)
    progress = ProgressArtifact(
        artifact_key("wandb-export", run_path), f"History export of {run_path} to {destination}"
    )
    rows = export_history(
        run,
        destination,
        format,
        keys=list(keys) if keys else None,
        storage_options=storage_options,
        progress=progress,
    )
    progress.done()
    get_run_logger().info("exported %d history rows of %s to %s", rows, run_path, destination)
    return {"run": run_path, "destination": destination, "rows": rows}


aexport_run_history = export_run_history.aio


@task_with_async_variant(
    name="Export W&B project histories", cache_policy=NO_CACHE, **TRANSIENT_RETRIES
)
def export_project_histories(
    credentials: WandbCredentials,
    path: str,
    destination_dir: str,
    filters: Mapping[str, Any] | None = None,
    format: Literal["parquet", "csv"] = "parquet",
    keys: Sequence[str] | None = None,
    max_workers: int = 4,
    storage_options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Export the history of every matching run of a project, several runs at once.

    Each run lands at `<destination_dir>/<run_id>.<format>`; a progress artifact counts the
    runs done.

    Args:
        credentials: The W&B credentials block.
        path: The project, `entity/project`.
        destination_dir: A local folder or any fsspec URL.
        filters: MongoDB-style run filters, e.g. `{"state": "finished"}`.
        format: `parquet` or `csv`.
        keys: Only rows holding all of these keys (and only these columns).
        max_workers: Runs exported at once.
        storage_options: Options for the destination's file system (credentials, ...).

    Returns:
        One `{"run", "destination", "rows"}` per run, ordered by run path.

    Example:
        ```python
        export_project_histories(credentials, "team/proj", "s3://bucket/history")
        ```
    """
    check_export_options(format, max_workers)
    logger = get_run_logger()
    runs = list(credentials.get_client().runs(path, filters=filters, per_page=500))
    progress = ProgressArtifact(
        artifact_key("wandb-export", path), f"History export of {len(runs)} runs of {path}"
    )
    results = export_runs(
        runs,
        destination_dir,
        format,
        keys,
        max_workers=max_workers,
        storage_options=storage_options,
        on_done=lambda _result, done, total: progress.update(100.0 * done / total),
    )
    progress.done()
    logger.info("exported %d runs of %s to %s", len(results), path, destination_dir)
    return results


aexport_project_histories = export_project_histories.aio

__all__ = [
    "aexport_project_histories",
    "aexport_run_history",
    "afetch_run_history",
    "export_project_histories",
    "export_run_history",
    "fetch_run_history",
]
