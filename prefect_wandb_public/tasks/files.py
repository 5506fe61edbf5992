"""Tasks over run files."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import cast
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.api.files import download_file
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, lazy_run


@task(
    name="Download W&B run files",
    cache_policy=NO_CACHE,
    timeout_seconds=3600,
    **TRANSIENT_RETRIES,
)
def download_run_files(
    credentials: WandbCredentials,
    run_path: str,
    root: str = ".",
    names: Sequence[str] | None = None,
    pattern: str | None = None,
    replace: bool = True,
    max_workers: int = 8,
) -> list[str]:
    """Download a run's files (all, the `names` given, or a SQL LIKE `pattern` such as
    `%.json`) under `root` (any fsspec URL), md5-verified, several at once; returns the written
    paths in the listing's order. A progress artifact follows the transfer."""
    if max_workers < 1:
        raise InvalidInputError(f"max_workers must be >= 1, got {max_workers}")
    run = lazy_run(credentials.get_client(), run_path)
    files = list(run.files(names=list(names) if names else None, pattern=pattern, per_page=200))
    progress = cast(
        UUID,
        create_progress_artifact(
            0.0,
            key=artifact_key("wandb-run-files", run_path),
            description=f"Download of {len(files)} files of {run_path} to {root}",
        ),
    )
    paths: list[str] = [""] * len(files)
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wandb-files")
    try:
        futures = {
            pool.submit(download_file, file, root, replace=replace): index
            for index, file in enumerate(files)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            paths[futures[future]] = future.result()  # the first failure stops the rest
            update_progress_artifact(progress, 100.0 * done / len(files))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if not files:
        update_progress_artifact(progress, 100.0)
    get_run_logger().info("downloaded %d files of %s to %s", len(paths), run_path, root)
    return paths


__all__ = ["download_run_files"]
