"""Network profiles on the local server: GraphQL latency, history page costs, storage first byte
and per-connection bandwidth, the GraphQL rate limit, and the client honouring its headers.

Waits are checked two ways: what the shaper was asked to sleep (exact, from a recording sleep
that still sleeps), and lower bounds on wall time (a wait never ends early). That concurrent
requests wait concurrently is shown with a barrier inside the sleep, never with an upper bound
on a shared machine's clock.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.api import RetryPolicy
from prefect_wandb_public.testing import LOOPBACK, WAN, LocalWandbServer, NetworkProfile
from prefect_wandb_public.testing.profiles import RateLimiter, StorageProfile, resolve_profile

VIEWER = {"query": "query Viewer { viewer { id } }"}


@pytest.fixture
def shaped(server: LocalWandbServer) -> Iterator[LocalWandbServer]:
    """The session server; its network profile is put back to loopback afterwards."""
    yield server
    server.network = "loopback"
    server.app.shaper.sleep = time.sleep
    server.app.shaper.clock = time.monotonic


def record_sleeps(server: LocalWandbServer) -> list[float]:
    """Make the server's shaper note every wait it asks for (and still wait). Its clock stands
    still, so the server's own handling time takes nothing off a wait and each wait is exactly
    the request's cost."""
    waits: list[float] = []
    server.app.shaper.clock = lambda: 0.0

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    server.app.shaper.sleep = sleep
    return waits


def project_run(server: LocalWandbServer, entity: str, project: str) -> str:
    """Create run `r` (no history) and return its id."""
    server.create_run(entity, project, "r")
    return "r"


def post_graphql(server: LocalWandbServer, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{server.url}/graphql", json=body, auth=("api", server.api_key), timeout=30
    )


# ---------------------------------------------------------------------------- profiles
def test_named_profiles_and_scaling() -> None:
    assert resolve_profile("loopback") is LOOPBACK and resolve_profile("wan") is WAN
    assert WAN.graphql_latency == 0.150 and WAN.storage.first_byte == 0.145
    assert WAN.storage.bandwidth == 50e6
    # A 1,000-row page of 4 keys costs ~0.30 s with its round trip, as the notes calibrate.
    assert WAN.graphql_latency + WAN.history_cost(1000, 4) == pytest.approx(0.30)
    small = WAN.scaled(0.02)
    assert small.graphql_latency == pytest.approx(0.003)
    assert small.storage.bandwidth == pytest.approx(2.5e9)
    assert small.rate_limit_window == pytest.approx(1.2)
    assert LOOPBACK.history_cost(10_000, 50) == 0.0
    with pytest.raises(ValueError, match="network must be one of"):
        resolve_profile("moon")
    with pytest.raises(ValueError, match="graphql_requests_per_minute"):
        NetworkProfile(graphql_requests_per_minute=0)
    with pytest.raises(ValueError, match="bandwidth"):
        StorageProfile(bandwidth=0)


def test_the_network_is_set_at_construction_or_later() -> None:
    with LocalWandbServer(network="wan") as server:
        assert server.network is WAN
        server.network = NetworkProfile(name="mine", graphql_latency=0.01)
        assert server.network.name == "mine"
        server.network = "loopback"
        assert server.network is LOOPBACK
        with pytest.raises(ValueError):
            server.network = "nope"


def test_the_cli_takes_a_network() -> None:
    command = [sys.executable, "-m", "prefect_wandb_public.cli", "server", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--network", "wan"], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert lines[0].startswith("W&B-compatible server at http://127.0.0.1:")
    assert lines[3] == "network profile: wan\n"
    done = subprocess.run(
        [*command, "--network", "mars"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "'mars' is not one of 'loopback', 'wan'" in done.stderr


# ---------------------------------------------------------------------------- GraphQL
def test_every_graphql_request_waits_the_latency(shaped: LocalWandbServer) -> None:
    waits = record_sleeps(shaped)
    shaped.network = NetworkProfile(graphql_latency=0.12)

    started = time.monotonic()
    assert post_graphql(shaped, VIEWER).status_code == 200
    elapsed = time.monotonic() - started

    assert waits == [pytest.approx(0.12)]
    assert elapsed >= 0.12


def test_the_servers_own_work_counts_toward_the_cost(shaped: LocalWandbServer) -> None:
    """The calibrated round trip includes the service's work: 50 ms spent building the answer
    leaves 70 ms of a 120 ms round trip to wait; work longer than the cost waits nothing."""
    waits = record_sleeps(shaped)
    readings = iter([10.0, 10.05, 20.0, 20.5])
    shaped.app.shaper.clock = lambda: next(readings)
    shaped.network = NetworkProfile(graphql_latency=0.12)

    assert post_graphql(shaped, VIEWER).status_code == 200
    assert post_graphql(shaped, VIEWER).status_code == 200

    assert waits == [pytest.approx(0.07)]


def test_receiving_an_uploads_body_counts_toward_its_transfer_time(
    shaped: LocalWandbServer,
) -> None:
    """An upload's modelled transfer time (`bandwidth`) is the time its body takes to arrive:
    a body that took 0.4 s to come in over loopback leaves at most 0.2 s of a 0.6 s transfer to
    wait (the cost runs from the request's headers, not from the end of its body)."""
    body = b"x" * 400_000
    waits = record_sleeps(shaped)
    shaped.app.shaper.clock = time.monotonic
    shaped.network = NetworkProfile(storage=StorageProfile(bandwidth=len(body) / 0.6))
    url = urlsplit(
        shaped.urls.signed_url("/storage/blobs/" + hashlib.md5(body).hexdigest(), method="PUT")
    )
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for start in range(0, len(body), 100_000):
            time.sleep(0.1)  # the first piece after 0.1 s, the last after 0.4 s
            sock.sendall(body[start : start + 100_000])
        answer = sock.makefile("rb").readline()

    assert answer.split()[1] == b"200"
    assert waits and waits[0] < 0.3  # (a later, tiny wait paces the answer's body)


def test_concurrent_requests_wait_concurrently(shaped: LocalWandbServer) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def sleep(seconds: float) -> None:
        barrier.wait()  # raises BrokenBarrierError unless 4 requests wait at the same time
        time.sleep(seconds)

    shaped.app.shaper.sleep = sleep
    shaped.network = NetworkProfile(graphql_latency=0.05)

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: post_graphql(shaped, VIEWER).status_code, range(4)))

    assert statuses == [200] * 4


def test_history_rows_cost_per_thousand_rows_and_width(
    shaped: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"a": i, "b": i / 2, "c": -i} for i in range(2000)]  # 4 keys with _step
    shaped.create_run(entity, project, "r", history=rows, history_exports=False)
    waits = record_sleeps(shaped)
    profile = NetworkProfile(graphql_latency=0.01, history_row_cost=0.02, history_key_cost=0.005)
    shaped.network = profile
    page = (
        'query { project(name: "%s", entityName: "%s") { run(name: "r") { '
        "history(minStep: 0, maxStep: 1000, samples: 1000) "
        'sampledHistory(specs: ["{\\"keys\\": [\\"a\\"], \\"samples\\": 500}"]) } } }'
    ) % (project, entity)

    assert "errors" not in post_graphql(shaped, {"query": page}).json()

    # 1,000 rows of 4 keys, then 500 sampled rows of 1 key, and the round trip.
    expected = 0.01 + 1.0 * (0.02 + 4 * 0.005) + 0.5 * (0.02 + 1 * 0.005)
    assert waits == [pytest.approx(expected)]


# ---------------------------------------------------------------------------- storage
def test_storage_waits_its_first_byte_for_get_head_and_put(
    shaped: LocalWandbServer, entity: str, project: str
) -> None:
    shaped.create_run(entity, project, "r", history=[{"x": 1}])  # finished: exported
    query = (
        'query { project(name: "%s", entityName: "%s") { run(name: "r") { '
        'parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } }'
    ) % (project, entity)
    answer = post_graphql(shaped, {"query": query}).json()["data"]["project"]["run"]
    [export_url] = answer["parquetHistory"]["parquetUrls"]
    waits = record_sleeps(shaped)
    shaped.network = NetworkProfile(
        graphql_latency=0.2, storage=StorageProfile(first_byte=0.03, bandwidth=None)
    )

    assert requests.get(export_url, timeout=30).status_code == 200
    assert requests.head(export_url, timeout=30).status_code == 200
    put = requests.put(
        f"{shaped.url}/files/{entity}/{project}/r/notes.txt",
        data=b"hello",
        auth=("api", shaped.api_key),
        timeout=30,
    )
    assert put.status_code == 200

    assert waits == [pytest.approx(0.03)] * 3  # no GraphQL latency on storage routes


def test_bandwidth_is_per_connection_and_parallel_streams_add_up(
    shaped: LocalWandbServer, entity: str, project: str
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    shaped.put_run_file(entity, project, project_run(shaped, entity, project), "big.bin", payload)
    url = f"{shaped.url}/files/{entity}/{project}/r/big.bin"
    shaped.network = NetworkProfile(storage=StorageProfile(bandwidth=4 * 2**20))  # 0.25 s each

    def fetch(_: int) -> tuple[bytes, float]:
        started = time.monotonic()
        body = requests.get(url, auth=("api", shaped.api_key), timeout=30).content
        return body, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(fetch, range(3)))
    elapsed = time.monotonic() - started

    assert [body for body, _ in results] == [payload] * 3
    assert all(seconds >= 0.24 for _, seconds in results)  # each stream is capped
    # Three streams of 0.25 s each, side by side: far less than 0.75 s one after the other.
    assert elapsed < 0.7, elapsed


def test_a_range_request_is_throttled_and_whole(
    shaped: LocalWandbServer, entity: str, project: str
) -> None:
    payload = bytes(range(256)) * 1024
    shaped.put_run_file(entity, project, project_run(shaped, entity, project), "b.bin", payload)
    shaped.network = NetworkProfile(storage=StorageProfile(first_byte=0.01, bandwidth=1e6))

    response = requests.get(
        f"{shaped.url}/files/{entity}/{project}/r/b.bin",
        headers={"Range": "bytes=1000-100999"},
        auth=("api", shaped.api_key),
        timeout=30,
    )

    assert response.status_code == 206
    assert response.content == payload[1000:101000]


# ---------------------------------------------------------------------------- rate limit
def test_rate_limiter_counts_fixed_windows() -> None:
    now = [100.0]
    limiter = RateLimiter(limit=2, window=60.0, clock=lambda: now[0])

    first, second, third = limiter.admit(), limiter.admit(), limiter.admit()
    now[0] += 59.5
    fourth = limiter.admit()
    now[0] += 1.0
    fifth = limiter.admit()

    assert (first.allowed, second.allowed, third.allowed, fourth.allowed) == (
        True,
        True,
        False,
        False,
    )
    assert first.headers == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "500",  # half the window's budget left, on the 0-1000 scale
        "RateLimit-Reset": "60",
    }
    assert third.headers["Retry-After"] == third.headers["RateLimit-Reset"] == "60"
    assert fourth.headers["RateLimit-Reset"] == "1"
    assert fifth.allowed and fifth.headers["RateLimit-Remaining"] == "500"


def test_graphql_beyond_the_limit_is_a_429_with_the_documented_headers(
    shaped: LocalWandbServer,
) -> None:
    shaped.network = NetworkProfile(graphql_requests_per_minute=2, rate_limit_window=30.0)

    answers = [post_graphql(shaped, VIEWER) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "2"
    assert answers[1].headers["RateLimit-Remaining"] == "0"
    refused = answers[2]
    assert refused.json() == {"error": "rate limit exceeded"}
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]
    assert 1 <= int(refused.headers["RateLimit-Reset"]) <= 30
    # Storage is not rate limited.
    blob = shaped.urls.signed_url(f"/storage/blobs/{'0' * 32}")  # storage: never limited
    assert requests.get(blob, timeout=30).status_code == 404
    assert shaped.request_log.count(status=429) == 1


def test_the_client_waits_out_the_window_and_counts_its_requests(
    shaped: LocalWandbServer, entity: str, project: str
) -> None:
    shaped.create_run(entity, project, "r")
    shaped.network = NetworkProfile(graphql_requests_per_minute=2, rate_limit_window=0.6)
    api = Api(
        api_key=shaped.api_key,
        overrides={"base_url": shaped.url},
        retry=RetryPolicy(max_attempts=6, max_elapsed=20.0),
    )

    started = time.monotonic()
    runs = [api.run(f"{entity}/{project}/r") for _ in range(5)]
    elapsed = time.monotonic() - started

    assert [run.id for run in runs] == ["r"] * 5
    refused = shaped.request_log.count(status=429)
    assert refused >= 1
    assert api.transport.graphql_requests == 5 + refused
    assert elapsed >= 1.0  # five requests at two per 0.6 s window span three windows


def test_the_client_honours_rate_limit_reset_without_retry_after(
    make_api: Callable[..., Api], server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r")
    server.inject_fault("/graphql", operation="Run", status=429, headers={"RateLimit-Reset": "0.6"})
    api = make_api(server)

    started = time.monotonic()
    api.run(f"{entity}/{project}/r")

    assert time.monotonic() - started >= 0.55
    assert server.request_log.count(operation="Run") == 2


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(server: LocalWandbServer) -> Api:
        # Backoff alone would wait ~10 ms: a longer wait can only come from the header.
        policy = RetryPolicy(
            max_attempts=3, max_elapsed=10.0, initial_backoff=0.01, max_backoff=0.02
        )
        api = Api(api_key=server.api_key, overrides={"base_url": server.url}, retry=policy)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


def test_a_scan_under_a_scaled_wan_reads_exports_and_live_pages(
    shaped: LocalWandbServer, api: Api, entity: str, project: str
) -> None:
    rows = [{"loss": i / 10, "val": {"acc": i}} for i in range(300)]
    shaped.create_run(entity, project, "r", history=rows[:200], state="running")
    shaped.export_history(entity, project, "r")
    shaped.log_history(entity, project, "r", rows[200:])
    run = api.run(f"{entity}/{project}/r")
    waits = record_sleeps(shaped)
    small = WAN.scaled(0.05)
    shaped.network = small

    scanned = list(run.scan_history(page_size=50))

    assert [row["val"]["acc"] for row in scanned] == list(range(300))
    # One plan, two live pages of 50 rows of 3 keys (GraphQL), one export file (storage).
    page = small.graphql_latency + small.history_cost(50, 3)
    expected = [small.graphql_latency, small.storage.first_byte, page, page]
    charged = [w for w in waits if any(w == pytest.approx(e) for e in expected)]
    assert sorted(charged) == pytest.approx(sorted(expected))
