"""The client's one retry primitive and the policy it follows.

Every retry of the client goes through `with_retries`: the transport's HTTP and GraphQL requests,
the byte mover's resume loop (`api/download.py`) and the publish pipeline's streamed uploads
(`api/publish.py`). An attempt is a callable that returns a result or raises; a `CommError` whose
`retryable` is true is tried again after a wait, anything else propagates at once.

One budget per operation: the attempts and the time of one call to `with_retries` are bounded by
its `RetryPolicy`, and a failure may lower the attempt count it deserves (`attempt_limit`: a host
name that does not resolve, a host that never answered and refuses connections). When the budget
is spent the last failure is raised with `retries_exhausted` true and a message naming the
attempts and the seconds spent, so the layers above (Prefect task retries) know not to multiply
them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from prefect_wandb_public.errors import CommError, InvalidInputError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry transient failures (connection, timeout, 429, 5xx but 501).

    Defaults: up to 6 attempts within 60 s, waits of 0.5 s doubling to at most 8 s with +0-25%
    jitter; a `Retry-After` header (seconds or HTTP date) replaces the computed wait, and so does
    a 429's `RateLimit-Reset` (seconds until the service's rate-limit window ends; the longer of
    the two when both are sent: `transport.server_wait`). A host name
    that does not resolve, and a host that never answered and refuses connections, get at most
    2 attempts (`FAIL_FAST_ATTEMPTS`).
    """

    max_attempts: int = 6
    max_elapsed: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_elapsed < 0 or self.initial_backoff < 0 or self.max_backoff < 0:
            raise InvalidInputError("retry times must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Wait before retry number `attempt` (1-based) when the server gave no Retry-After."""
        base = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return base * (1 + self.jitter * random.random())


# Attempts for failures that waiting rarely cures: a name that does not resolve, a host that
# refuses connections and never answered this client.
FAIL_FAST_ATTEMPTS = 2


def with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] | None = None,
) -> T:
    """`attempt()`, tried again on retryable `CommError`s as `policy` allows.

    The wait before a retry is the failure's `retry_after` when the server gave one, else the
    policy's backoff; it goes through `sleep`. Retrying stops when the attempts (the policy's,
    or the failure's lower `attempt_limit`) or the time are spent, or when `should_stop()` says
    so (a sibling transfer failed), checked before and during the wait and before the next
    attempt; the last failure is then raised with `gave_up()` recorded.
    """
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt()
        except CommError as failure:
            if not failure.retryable:
                raise
            elapsed = time.monotonic() - started
            delay = failure.retry_after
            if delay is None:
                delay = policy.backoff(attempts)
            limit = policy.max_attempts
            if failure.attempt_limit is not None:
                limit = min(limit, failure.attempt_limit)
            if (
                attempts >= limit
                or elapsed + delay > policy.max_elapsed
                or (should_stop is not None and should_stop())
            ):
                failure.gave_up(attempts, elapsed)
                raise
            if should_stop is not None:
                delay = _wait_unless_stopped(delay, sleep, should_stop)
                if should_stop():
                    failure.gave_up(attempts, time.monotonic() - started)
                    raise
        sleep(delay)


STOP_CHECK_INTERVAL = 0.25  # seconds between `should_stop` checks during a longer wait


def _wait_unless_stopped(
    delay: float, sleep: Callable[[float], None], should_stop: Callable[[], bool]
) -> float:
    """Sleep `delay` in slices of `STOP_CHECK_INTERVAL` until at most one slice is left or
    `should_stop()` says so; returns the seconds still to sleep. A wait for a server's
    `Retry-After` must not hold up a caller whose other work already failed."""
    while delay > STOP_CHECK_INTERVAL and not should_stop():
        sleep(STOP_CHECK_INTERVAL)
        delay -= STOP_CHECK_INTERVAL
    return delay


__all__ = ["FAIL_FAST_ATTEMPTS", "RetryPolicy", "with_retries"]
