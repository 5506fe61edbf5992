"""Tasks over run files."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, lazy_run


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
) -> list[str]:
    """Download a run's files (all, the `names` given, or a SQL LIKE `pattern` such as
    `%.json`) under `root` (any fsspec URL), md5-verified; returns the written paths."""
    run = lazy_run(credentials.get_client(), run_path)
    files = run.files(names=list(names) if names else None, pattern=pattern, per_page=200)
    paths = [f.download(root=root, replace=replace) for f in files]
    get_run_logger().info("downloaded %d files of %s to %s", len(paths), run_path, root)
    return paths
