"""Network profiles for the local server: what a request costs on the way to the real service.

On loopback a GraphQL call costs about a millisecond and a storage GET streams at memory speed;
clients are used from far away, where every GraphQL call is a round trip to the API server, a
history page costs the service real work, a storage object takes a while to its first byte, and
one connection to an object store moves a capped number of bytes per second. A `NetworkProfile`
names those costs; `LocalWandbServer(network=...)` applies them as **waits** (never CPU), in the
thread serving the request, so requests sent concurrently wait concurrently, as they would on the
real service. A cost is counted from the moment the request's headers have arrived, and the
local server's own work on it (receiving an upload's body over loopback, building a page of runs,
hashing an uploaded part) is part of it, not added on top: the calibrated round trips are what
clients measured end to end, the service's own work included, and an upload's modelled transfer
time is the time its body takes to arrive, so charging this process's CPU as well would count that
work twice. Only a request whose own work takes longer than its cost is answered later than it.

    LocalWandbServer(network="wan")                     # the calibrated profile below
    LocalWandbServer(network=WAN.scaled(0.02))           # the same shape, 50 times faster (tests)
    server.network = NetworkProfile(graphql_requests_per_minute=200)   # settable later

What each request waits (`NetworkShaper` applies it; `app.py` calls it):
- GraphQL (`POST /graphql`): `graphql_latency`, plus the history rows the query returned
  (`history`, `sampledHistory`, `events`): `rows / 1000 * (history_row_cost + width *
  history_key_cost)`, where width is the keys a row carries (the run's history keys, or the keys
  asked for). With a rate limit, requests beyond `graphql_requests_per_minute` in the current
  fixed window are answered `429` at once (see `RateLimiter`).
- Storage (the routes that move stored bytes: blobs, manifests, run files, history exports,
  uploads): `storage.first_byte` before the answer, then the body at no more than
  `storage.bandwidth` bytes per second **per connection** (an upload's body counts the same
  way), so parallel streams add up.
- Other API routes (the file stream): `graphql_latency`, no rate limit.

`StorageProfile` is the storage half on its own, for transfer benchmarks (multipart up- and
downloads) that need no GraphQL costs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

ROUTE_KINDS = ("graphql", "storage", "api")


@dataclass(frozen=True)
class StorageProfile:
    """What an object store costs: time to the first byte, and bytes per second per connection.

    `first_byte` (seconds) is waited once per request (GET, HEAD, PUT) before the answer;
    `bandwidth` (bytes/second, None = unlimited) caps each connection's body, in either direction.
    """

    first_byte: float = 0.0
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        if self.first_byte < 0:
            raise ValueError(f"first_byte must be >= 0 seconds, got {self.first_byte}")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError(f"bandwidth must be > 0 bytes/s or None, got {self.bandwidth}")

    def transfer_seconds(self, size: int) -> float:
        """The least time one connection needs to move `size` body bytes."""
        return 0.0 if self.bandwidth is None else size / self.bandwidth


@dataclass(frozen=True)
class NetworkProfile:
    """The costs a client meets when it talks to the service from far away (see the module
    docstring for where each applies). Every time is in seconds; `loopback` is all zeros."""

    name: str = "custom"
    graphql_latency: float = 0.0
    history_row_cost: float = 0.0  # per 1,000 history rows returned
    history_key_cost: float = 0.0  # per 1,000 rows, for each key a row carries
    storage: StorageProfile = field(default_factory=StorageProfile)
    graphql_requests_per_minute: int | None = None
    rate_limit_window: float = 60.0  # the fixed window the limit counts in (seconds)

    def __post_init__(self) -> None:
        for name in ("graphql_latency", "history_row_cost", "history_key_cost"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")
        limit = self.graphql_requests_per_minute
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValueError(f"graphql_requests_per_minute must be an integer, got {limit!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"graphql_requests_per_minute must be >= 1 or None, got {limit}")
        if self.rate_limit_window <= 0:
            raise ValueError(f"rate_limit_window must be > 0 seconds, got {self.rate_limit_window}")

    @property
    def storage_first_byte(self) -> float:
        return self.storage.first_byte

    @property
    def storage_bandwidth(self) -> float | None:
        return self.storage.bandwidth

    def history_cost(self, rows: int, width: int) -> float:
        """Seconds the service spends returning `rows` history rows of `width` keys each."""
        return rows / 1000.0 * (self.history_row_cost + width * self.history_key_cost)

    def scaled(self, factor: float) -> NetworkProfile:
        """The same profile with every wait multiplied by `factor` (bandwidth divided by it, the
        rate-limit window multiplied by it): `WAN.scaled(0.02)` keeps the shape of a WAN at a
        fiftieth of its cost, for tests."""
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        bandwidth = self.storage.bandwidth
        return replace(
            self,
            name=f"{self.name} x{factor:g}",
            graphql_latency=self.graphql_latency * factor,
            history_row_cost=self.history_row_cost * factor,
            history_key_cost=self.history_key_cost * factor,
            storage=StorageProfile(
                self.storage.first_byte * factor, None if bandwidth is None else bandwidth / factor
            ),
            rate_limit_window=self.rate_limit_window * factor,
        )

    def with_rate_limit(self, requests_per_minute: int | None) -> NetworkProfile:
        """This profile with a GraphQL rate limit (None removes it)."""
        suffix = f" + {requests_per_minute}/min" if requests_per_minute else ""
        return replace(
            self, name=self.name + suffix, graphql_requests_per_minute=requests_per_minute
        )


LOOPBACK = NetworkProfile(name="loopback")
"""Nothing added: today's local server (the default)."""

WAN = NetworkProfile(
    name="wan",
    # ~0.14 s per `_fetch_file_urls` GraphQL call in the SDK profile of wandb/wandb#7006 (302 calls
    # in 42.1 s); the transfer notes (wandb-protocol-transfers.md section 5) suggest about 150 ms.
    graphql_latency=0.150,
    # A 1,000-row page of 4 keys (3 metrics + _step, PR #10875's sampledHistory benchmark) took
    # ~0.30 s in all: 0.15 s round trip + 0.075 + 4 x 0.01875 s of rows. The same formula gives
    # ~0.34-0.45 s for pages of 6-12 keys, inside the 0.30-0.55 s range the notes give for pages
    # "depending on width" (the 0.53 s all-columns page of that benchmark had an unknown width).
    history_row_cost=0.075,
    history_key_cost=0.01875,
    storage=StorageProfile(
        # ~0.145 s per small-object storage GET in the #7006 profile (910 GETs in 131.9 s).
        first_byte=0.145,
        # Chosen, not measured: one connection to GCS/S3 from a cloud VM in another region
        # commonly sustains 40-100 MB/s, and object stores cap a single stream while parallel
        # streams add up (hence multipart transfers). 50 MB/s sits at the low end of that range.
        bandwidth=50e6,
    ),
)
"""A client in another region than the service (the numbers and their sources are inline)."""

PROFILES: dict[str, NetworkProfile] = {"loopback": LOOPBACK, "wan": WAN}


def resolve_profile(network: str | NetworkProfile) -> NetworkProfile:
    """A profile by name ("loopback", "wan") or the profile itself; ValueError otherwise."""
    if isinstance(network, NetworkProfile):
        return network
    if isinstance(network, str) and network in PROFILES:
        return PROFILES[network]
    raise ValueError(
        f"network must be one of {sorted(PROFILES)} or a NetworkProfile, got {network!r}"
    )


# ---------------------------------------------------------------------------- rate limit
@dataclass(frozen=True)
class Admission:
    """A rate limiter's verdict on one request, with the headers to answer it with."""

    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """A request-rate limit in fixed windows, as the service documents its GraphQL limit.

    Up to `limit` requests per `window` seconds are admitted; the others are refused until the
    window ends. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` (on the 0-1000
    scale the service's docs describe: the share of the window's budget left, times 1000) and
    `RateLimit-Reset` (seconds until the window ends); a refusal also carries `Retry-After` (the
    same seconds). Seconds are whole (rounded up) for windows of a second or more, else given
    to the millisecond so that scaled-down test profiles stay fast.
    """

    def __init__(self, limit: int, window: float, clock: Any = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._used = 0

    def admit(self) -> Admission:
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self.window:
                elapsed_windows = math.floor((now - self._window_start) / self.window)
                self._window_start += elapsed_windows * self.window
                self._used = 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            reset = max(0.0, self._window_start + self.window - now)
            remaining = self.limit - self._used
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(remaining * 1000 // self.limit),
            "RateLimit-Reset": self._seconds(reset),
        }
        if not allowed:
            headers["Retry-After"] = headers["RateLimit-Reset"]
        return Admission(allowed, headers)

    def _seconds(self, value: float) -> str:
        if self.window >= 1.0:
            return str(max(1, math.ceil(value)))
        return f"{max(value, 0.001):.3f}"


# ---------------------------------------------------------------------------- history costs
class HistoryCostMeter:
    """Counts the history rows a GraphQL request returns (per thread: one request per thread),
    so the server can charge the profile's page cost for them after executing the query."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def measure(self) -> Iterator[list[tuple[int, int]]]:
        """Collect (rows, width) of every history field resolved inside the block."""
        found: list[tuple[int, int]] = []
        self._local.found = found
        try:
            yield found
        finally:
            self._local.found = None

    def add(self, rows: int, width: int) -> None:
        """Record a history field's answer (outside `measure`, nothing is recorded)."""
        found = getattr(self._local, "found", None)
        if found is not None and rows:
            found.append((rows, width))


# ---------------------------------------------------------------------------- shaping
class NetworkShaper:
    """Applies one server's current profile: the GraphQL rate limit, the waits before an answer,
    and the per-connection bandwidth of storage bodies. Swapping the profile (`profile = ...`)
    takes effect for the next request and starts a fresh rate-limit window."""

    def __init__(self, profile: NetworkProfile = LOOPBACK) -> None:
        self._lock = threading.Lock()
        self._profile = profile
        self._limiter = self._limiter_for(profile)
        self.sleep = time.sleep
        self.clock = time.monotonic  # when a request arrived and how long its handling took

    @property
    def profile(self) -> NetworkProfile:
        return self._profile

    @profile.setter
    def profile(self, profile: NetworkProfile) -> None:
        with self._lock:
            self._profile = profile
            self._limiter = self._limiter_for(profile)

    @staticmethod
    def _limiter_for(profile: NetworkProfile) -> RateLimiter | None:
        limit = profile.graphql_requests_per_minute
        if limit is None:
            return None
        return RateLimiter(limit, profile.rate_limit_window)

    def admit(self, kind: str) -> Admission | None:
        """The rate limiter's verdict for a GraphQL request; None when nothing limits it."""
        limiter = self._limiter
        if kind != "graphql" or limiter is None:
            return None
        return limiter.admit()

    def wait_before_answer(
        self, kind: str, method: str, extra: float, uploaded: int, arrived: float
    ) -> None:
        """Wait until what the profile charges has passed since the request `arrived` (a
        `clock()` reading): the round trip of a GraphQL or API request plus `extra` (its history
        rows), or a storage request's first byte plus the time its upload body (`uploaded`
        bytes) takes on one connection. The time the server already spent handling the request
        counts toward it."""
        profile = self._profile
        if kind == "storage":
            cost = profile.storage.first_byte + profile.storage.transfer_seconds(uploaded)
        else:
            cost = profile.graphql_latency + extra
        if cost <= 0:
            return
        delay = cost - (self.clock() - arrived)
        if delay > 0:
            self.sleep(delay)

    def throttle(
        self, kind: str, chunks: Iterable[bytes | memoryview]
    ) -> Iterator[bytes | memoryview]:
        """The body's chunks, released no faster than the profile's per-connection bandwidth
        (storage bodies only; others pass through)."""
        bandwidth = self._profile.storage.bandwidth
        if kind != "storage" or bandwidth is None:
            yield from chunks
            return
        started = time.monotonic()
        sent = 0
        for chunk in chunks:
            for piece in _pieces(chunk, max(16 << 10, int(bandwidth / 100))):
                yield piece
                sent += len(piece)
                ahead = sent / bandwidth - (time.monotonic() - started)
                if ahead > 0:
                    self.sleep(ahead)


def _pieces(chunk: bytes | memoryview, size: int) -> Iterator[bytes | memoryview]:
    view = memoryview(chunk)
    for start in range(0, len(view), size):
        yield view[start : start + size]


__all__ = [
    "LOOPBACK",
    "PROFILES",
    "ROUTE_KINDS",
    "WAN",
    "Admission",
    "HistoryCostMeter",
    "NetworkProfile",
    "NetworkShaper",
    "RateLimiter",
    "StorageProfile",
    "resolve_profile",
]
