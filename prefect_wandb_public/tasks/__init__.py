"""Prefect tasks over the W&B public API; each takes a `WandbCredentials` block and returns
plain data (dicts, DataFrames, paths, URLs). Transient failures (429, 5xx, connection,
timeout) are retried with exponential backoff and jitter; nothing else is.

Every task has an async variant named with an `a` in front (`adownload_artifact`, ...) for
async flows, as prefect-aws pairs its tasks; the sync task called inside an async flow hands
back the async variant's coroutine (`@async_dispatch` semantics), so `await` it there."""

from __future__ import annotations

from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, retry_on_transient
from prefect_wandb_public.tasks.artifacts import (
    adownload_artifact,
    alink_artifact,
    apromote_artifact,
    apublish_artifact,
    ause_artifact,
    download_artifact,
    link_artifact,
    promote_artifact,
    publish_artifact,
    use_artifact,
)
from prefect_wandb_public.tasks.files import adownload_run_files, download_run_files
from prefect_wandb_public.tasks.history import (
    aexport_project_histories,
    aexport_run_history,
    afetch_run_history,
    export_project_histories,
    export_run_history,
    fetch_run_history,
)
from prefect_wandb_public.tasks.runs import abest_run, aquery_runs, best_run, query_runs
from prefect_wandb_public.tasks.watch import (
    adetect_wandb_changes,
    aemit_wandb_events,
    detect_wandb_changes,
    emit_wandb_events,
)

__all__ = [
    "TRANSIENT_RETRIES",
    "abest_run",
    "adetect_wandb_changes",
    "adownload_artifact",
    "adownload_run_files",
    "aemit_wandb_events",
    "aexport_project_histories",
    "aexport_run_history",
    "afetch_run_history",
    "alink_artifact",
    "apromote_artifact",
    "apublish_artifact",
    "aquery_runs",
    "artifact_key",
    "ause_artifact",
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
