"""Tasks over run files (each with an async variant, `a<name>`)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.api.files import download_file
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.tasks._common import (
    TRANSIENT_RETRIES,
    ProgressArtifact,
    artifact_key,
    lazy_run,
    task_with_async_variant,
)


@task_with_async_variant(
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
    """Download a run's files under a folder, md5-verified, several at once.

    All files, the `names` given, or those matching a SQL LIKE `pattern`; a progress artifact
    follows the transfer.

    Args:
        credentials: The W&B credentials block.
        run_path: The run, `entity/project/run_id`.
        root: A local folder or any fsspec URL to download under.
        names: Only these file names.
        pattern: Only names matching this SQL LIKE pattern, e.g. `%.json`.
        replace: Overwrite files that exist under `root` (else keep them).
        max_workers: Files downloaded at once.

    Returns:
        The written paths, in the listing's order.

    Example:
        ```python
        paths = download_run_files(credentials, "team/proj/abc123", "./out", pattern="%.json")
        ```
    """
    if max_workers < 1:
        raise InvalidInputError(f"max_workers must be >= 1, got {max_workers}")
    run = lazy_run(credentials.get_client(), run_path)
    files = list(run.files(names=list(names) if names else None, pattern=pattern, per_page=200))
    progress = ProgressArtifact(
        artifact_key("wandb-run-files", run_path),
        f"Download of {len(files)} files of {run_path} to {root}",
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
            progress.update(100.0 * done / len(files))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    progress.done()
    get_run_logger().info("downloaded %d files of %s to %s", len(paths), run_path, root)
    return paths


adownload_run_files = download_run_files.aio

__all__ = ["adownload_run_files", "download_run_files"]
