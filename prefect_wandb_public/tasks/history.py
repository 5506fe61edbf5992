"""Tasks over run history: fetch it as a DataFrame, export one run or a whole project."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Literal, cast
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.api import export_history, fetch_history_plans
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, lazy_run

if TYPE_CHECKING:
    import pandas as pd

    from prefect_wandb_public.api import Run


PROGRESS_STEP = 5.0  # percent of a project export between two progress artifact updates


@task(name="Fetch W&B run history", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def fetch_run_history(
    credentials: WandbCredentials,
    run_path: str,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> pd.DataFrame:
    """Every history row of a run (with `keys`: the rows holding all of them) as a DataFrame."""
    run = lazy_run(credentials.get_client(), run_path)
    frame = run.history_frame(
        keys=list(keys) if keys else None, min_step=min_step, max_step=max_step
    )
    get_run_logger().info("fetched %d history rows of %s", len(frame), run_path)
    return frame


@task(name="Export W&B run history", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def export_run_history(
    credentials: WandbCredentials,
    run_path: str,
    destination: str,
    format: Literal["parquet", "csv"] | None = None,
    keys: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Stream a run's history to `destination` (a path or any fsspec URL), written atomically;
    returns `{"run": path, "destination": url, "rows": n}`."""
    run = lazy_run(credentials.get_client(), run_path)
    rows = export_history(
        run, destination, format, keys=list(keys) if keys else None, storage_options=storage_options
    )
    get_run_logger().info("exported %d history rows of %s to %s", rows, run_path, destination)
    return {"run": run_path, "destination": destination, "rows": rows}


@task(name="Export W&B project histories", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
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
    """Export the history of every run of `entity/project` matching `filters` to
    `<destination_dir>/<run_id>.<format>`, several runs at once; a progress artifact follows.

    The runs are listed 500 per request and their history plans (export URLs, live steps) asked
    for 100 runs per request, so a fully exported run costs no GraphQL request of its own (under
    a rate limit, requests are what time is made of); only live steps are paged. The export
    files of all runs are fetched first, 16 at a time, then `max_workers` runs are written at
    once. The number of GraphQL requests the export made is logged."""
    if format not in ("parquet", "csv"):
        raise InvalidInputError(f"format must be 'parquet' or 'csv', got {format!r}")
    if max_workers < 1:
        raise InvalidInputError(f"max_workers must be >= 1, got {max_workers}")
    logger = get_run_logger()
    client = credentials.get_client()
    requests_before = client.transport.graphql_requests
    runs = list(client.runs(path, filters=filters, per_page=500))
    plans = fetch_history_plans(runs, prefetch=True)  # every export file, 16 at a time
    progress = cast(
        UUID,
        create_progress_artifact(
            0.0,
            key=artifact_key("wandb-export", path),
            description=f"History export of {len(runs)} runs of {path}",
        ),
    )

    def export_one(run: Run) -> dict[str, Any]:
        target = posixpath.join(destination_dir.rstrip("/"), f"{run.id}.{format}")
        rows = export_history(
            run,
            target,
            format,
            keys=list(keys) if keys else None,
            storage_options=storage_options,
            plan=plans[run.id],
        )
        return {"run": "/".join(run.path), "destination": target, "rows": rows}

    results: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wandb-export")
    try:
        futures = [pool.submit(export_one, run) for run in runs]
        reported = 0.0
        for done, future in enumerate(as_completed(futures), start=1):
            results.append(future.result())  # the first failure stops the rest (finally)
            share = 100.0 * done / len(futures)
            if share - reported >= PROGRESS_STEP or done == len(futures):
                update_progress_artifact(progress, share)  # a Prefect API call: not per run
                reported = share
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if not runs:
        update_progress_artifact(progress, 100.0)
    results.sort(key=lambda r: r["run"])
    logger.info(
        "exported %d runs of %s to %s with %d GraphQL requests",
        len(results),
        path,
        destination_dir,
        client.transport.graphql_requests - requests_before,
    )
    return results


__all__ = ["PROGRESS_STEP", "export_project_histories", "export_run_history", "fetch_run_history"]
