"""Fault injection and the request log of the local server.

A `FaultPlan` holds rules such as "the next 2 POSTs to /graphql for operation Runs answer 503 with
Retry-After: 1". The HTTP app asks the plan before handling each request; every request, faulted or
not, is recorded in the `RequestLog` so tests can count retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("status", "reset", "truncate", "delay", "corrupt", "ignore_range")


@dataclass
class Fault:
    """One rule: `kind` applies to the next `times` requests matching path prefix/method/operation.

    - status:   answer `status` (with `Retry-After` when `retry_after` is set, and any `headers`)
                and a JSON error body
    - reset:    send the headers and part of the real body, then reset the connection
    - truncate: send the headers and part of the real body, then close cleanly (short body)
    - delay:    sleep `delay` seconds, then answer normally
    - corrupt:  answer normally but with flipped bytes in the body (file downloads)
    - ignore_range: answer as a server that ignores `Range` does: 200 and the whole body
    """

    kind: str
    path: str = "/"
    operation: str | None = None
    method: str | None = None
    times: int = 1
    status: int = 503
    retry_after: float | str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str, operation: str | None) -> bool:
        return (
            self.hits < self.times
            and path.startswith(self.path)
            and (self.method is None or self.method == method)
            and (self.operation is None or self.operation == operation)
        )

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.times


@dataclass
class RequestRecord:
    """What the server saw: method, path (no query string), GraphQL operation, status, fault,
    whether an Authorization header came with it, the User-Agent and the Range header; and when
    (`time.monotonic()` seconds): `received` as its headers arrived, `answered` once its answer
    was sent (None until then, or when the client went away), so tests can tell which requests
    overlapped."""

    method: str
    path: str
    operation: str | None
    status: int
    fault: str | None = None
    sent_auth: bool = False
    user_agent: str = ""
    range: str | None = None
    received: float = 0.0
    answered: float | None = None


class FaultPlan:
    """Thread-safe list of pending faults; the first matching rule fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {FAULT_KINDS}")
        if fault.times < 1:
            raise ValueError(f"fault times must be >= 1, got {fault.times}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, operation: str | None) -> Fault | None:
        """The first matching fault, counted as used; None when the request runs normally."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, operation):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]


class RequestLog:
    """Append-only record of requests, with helpers to count them.

    The log also knows how many requests the server is handling right now: with no client
    thread left to send more, `wait_idle()` returning True means the counts are final.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._records: list[RequestRecord] = []
        self._in_flight = 0

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def begin(self) -> None:
        """A request arrived (the HTTP app calls this before reading it)."""
        with self._lock:
            self._in_flight += 1

    def end(self) -> None:
        """A request was answered (or its connection dropped)."""
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Whether, within `timeout` seconds, no request is being handled."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def count(
        self,
        *,
        path: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        method: str | None = None,
    ) -> int:
        """Requests matching every given criterion (path is a prefix)."""
        return sum(
            1
            for r in self.records
            if (path is None or r.path.startswith(path))
            and (operation is None or r.operation == operation)
            and (status is None or r.status == status)
            and (method is None or r.method == method)
        )


__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultPlan",
    "RequestLog",
    "RequestRecord",
]
