"""Prefect tasks over the W&B public API; each takes a `WandbCredentials` block and returns
plain data (dicts, DataFrames, paths, URLs). Transient failures (429, 5xx, connection,
timeout) are retried with exponential backoff and jitter; nothing else is."""

from __future__ import annotations

from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, retry_on_transient
from prefect_wandb_public.tasks.artifacts import (
    download_artifact,
    link_artifact,
    promote_artifact,
    publish_artifact,
    use_artifact,
)
from prefect_wandb_public.tasks.files import download_run_files
from prefect_wandb_public.tasks.history import (
    export_project_histories,
    export_run_history,
    fetch_run_history,
)
from prefect_wandb_public.tasks.runs import best_run, query_runs
from prefect_wandb_public.tasks.watch import detect_wandb_changes, emit_wandb_events

__all__ = [
    "TRANSIENT_RETRIES",
    "artifact_key",
    "best_run",
    "detect_wandb_changes",
    "download_artifact",
    "download_run_files",
    "emit_wandb_events",
    "export_project_histories",
    "export_run_history",
    "fetch_run_history",
    "link_artifact",
    "promote_artifact",
    "publish_artifact",
    "query_runs",
    "retry_on_transient",
    "use_artifact",
]
