"""What every task shares: the transient-failure retry rule, artifact keys, plain-data records."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect.tasks import exponential_backoff

from prefect_wandb_public.api import Api, Run
from prefect_wandb_public.api.paths import parse_run_path
from prefect_wandb_public.errors import (
    AuthenticationError,
    ChecksumError,
    CommError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

_NEVER_RETRIED = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    InvalidInputError,
    ChecksumError,
)


def retry_on_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a task only for transient failures: 429, 5xx, connection problems, timeouts."""
    try:
        state.result()
    except _NEVER_RETRIED:
        return False
    except CommError as exc:
        return exc.retryable
    except TimeoutError:
        return True
    except Exception:
        return False
    return False


# Task options shared by every W&B task (override per call with `.with_options(...)`).
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_on_transient,
}


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from free text: lowercase letters, digits and dashes only."""
    text = "-".join(parts).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:100] or "wandb"


def json_safe(value: Any) -> Any:
    """NaN/Infinity become None so records survive JSON (Prefect results, table artifacts)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def run_record(run: Run, *, full: bool = True) -> dict[str, Any]:
    """A run as plain data (what tasks return instead of live client objects)."""
    record: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "path": "/".join(run.path),
        "state": run.state,
        "url": run.url,
        "created_at": run.created_at,
        "tags": list(run.tags),
        "group": run.group,
        "job_type": run.job_type,
        "sweep": run.sweep_name,
    }
    if full:
        record["config"] = json_safe(run.config)
        record["summary"] = json_safe(run.summary_metrics)
    return record


def lazy_run(api: Api, run_path: str) -> Run:
    """A `Run` for `run_path` that costs no request until a field is read (history scans and
    file listings ask the server themselves, and name the path when it does not exist)."""
    entity, project, run_id = parse_run_path(
        run_path, lambda: api.default_entity, api.default_project
    )
    return Run(api, entity, project, run_id)
