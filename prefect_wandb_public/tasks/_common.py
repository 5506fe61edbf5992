"""What every task shares: the transient-failure retry rule, artifact keys, progress
artifacts fed by the client's progress hook, and the sync/async task pairs."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast
from uuid import UUID

from prefect import Task
from prefect._internal.compatibility.async_dispatch import is_in_async_context
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.tasks import exponential_backoff
from prefect.utilities.asyncutils import run_sync_in_worker_thread

from prefect_wandb_public.api import Api, Progress, Run
from prefect_wandb_public.api.paths import parse_run_path
from prefect_wandb_public.errors import (
    AuthenticationError,
    ChecksumError,
    CommError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from prefect_wandb_public.operations import json_safe, run_record

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State, TaskRun

P = ParamSpec("P")
R = TypeVar("R")

_NEVER_RETRIED = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    InvalidInputError,
    ChecksumError,
)


def retry_on_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a task only for transient failures (429, 5xx, connection problems, timeouts) that
    the client has not already retried: one retry budget per operation. A CommError with
    `retries_exhausted` spent the client's retry policy (e.g. 6 attempts in 60 s, 2 for a host
    that does not resolve); a task retry would only multiply those attempts."""
    try:
        state.result()
    except _NEVER_RETRIED:
        return False
    except CommError as exc:
        return exc.retryable and not exc.retries_exhausted
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


def lazy_run(api: Api, run_path: str) -> Run:
    """A `Run` for `run_path` that costs no request until a field is read (history scans and
    file listings ask the server themselves, and name the path when it does not exist)."""
    entity, project, run_id = parse_run_path(
        run_path, lambda: api.default_entity, api.default_project
    )
    return Run(api, entity, project, run_id)


def sync_prefect(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call one of Prefect's dual sync/async functions (artifacts) synchronously: a task's body
    also runs on a worker thread of its async variant, where Prefect would otherwise hand back
    a coroutine."""
    return function(*args, _sync=True, **kwargs)


class ProgressArtifact:
    """A Prefect progress artifact fed by the client's progress hook (`Progress` snapshots),
    updated when the percentage moved by `step` points or `interval` seconds passed, and at
    the end. Callable: pass it as `progress=` to a download, upload or scan."""

    def __init__(
        self, key: str, description: str, *, step: float = 5.0, interval: float = 2.0
    ) -> None:
        self.id = cast(
            UUID, sync_prefect(create_progress_artifact, 0.0, key=key, description=description)
        )
        self.step = step
        self.interval = interval
        self.percent = 0.0
        self._sent_at = time.monotonic()
        self._lock = threading.Lock()

    def update(self, percent: float, *, force: bool = False) -> None:
        """Show `percent` (0-100) if it moved enough since the last update, or when forced."""
        with self._lock:
            now = time.monotonic()
            due = percent - self.percent >= self.step or now - self._sent_at >= self.interval
            if percent == self.percent or not (force or due):
                return
            self.percent, self._sent_at = percent, now
            sync_prefect(update_progress_artifact, self.id, percent)

    def __call__(self, progress: Progress) -> None:
        fraction = progress.fraction
        if fraction is not None:
            self.update(100.0 * fraction, force=progress.finished)

    def done(self) -> None:
        self.update(100.0, force=True)


class AsyncDispatchTask(Task[P, R]):
    """A sync task paired with an async variant (`aio`), as prefect-aws pairs its tasks with
    `@async_dispatch`: called from an async flow or task it returns the async variant's
    coroutine, elsewhere it runs as the plain sync task (`.submit`, `.map`, `.fn` and
    `.with_options` are the sync task's). `_sync=True` forces the sync path."""

    aio: Task[P, Coroutine[Any, Any, R]]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        forced = kwargs.pop("_sync", None)
        run_sync = bool(forced) if forced is not None else not is_in_async_context()
        if not run_sync:
            return self.aio(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def task_with_async_variant(
    **options: Any,
) -> Callable[[Callable[P, R]], AsyncDispatchTask[P, R]]:
    """`@task(**options)` for a sync body, plus its async variant as `.aio` (same options,
    name, parameters and docstring). The variant runs the body on a worker thread (the client
    is synchronous), so an async flow's event loop stays free:

        @task_with_async_variant(name="Download W&B artifact")
        def download_artifact(...): ...
        adownload_artifact = download_artifact.aio
    """

    def make(body: Callable[P, R]) -> AsyncDispatchTask[P, R]:
        @functools.wraps(body)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> R:
            return cast(R, await run_sync_in_worker_thread(body, *args, **kwargs))

        run_async.__name__ = run_async.__qualname__ = "a" + body.__name__
        sync_task: AsyncDispatchTask[P, R] = AsyncDispatchTask(fn=body, **options)
        sync_task.aio = Task(fn=run_async, **options)
        return sync_task

    return make


__all__ = [
    "TRANSIENT_RETRIES",
    "AsyncDispatchTask",
    "ProgressArtifact",
    "artifact_key",
    "json_safe",
    "lazy_run",
    "retry_on_transient",
    "run_record",
    "sync_prefect",
    "task_with_async_variant",
]
