"""Prefect tasks over the W&B public API; each takes a `WandbCredentials` block and returns
plain data (dicts, DataFrames, paths, URLs)."""

from __future__ import annotations

from prefect_wandb_public.tasks._common import retry_on_transient
from prefect_wandb_public.tasks.runs import best_run, query_runs

__all__ = ["best_run", "query_runs", "retry_on_transient"]
