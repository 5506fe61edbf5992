"""The client's transport against the local server: retries and their bounds, auth, settings
resolution, two clients side by side, and the API key never leaking.

Retry counts come from the server's request log; faults come from its fault API.
"""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import RetryPolicy
from prefect_wandb_public.api.client import DEFAULT_BASE_URL, DEFAULT_PROJECT
from prefect_wandb_public.api.transport import (
    USER_AGENT,
    Transport,
    is_retryable_status,
    parse_retry_after,
)
from prefect_wandb_public.errors import (
    AuthenticationError,
    CommError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.app import http_date

# The bounds of conftest's `api` fixture: 4 attempts, waits of 10-50 ms.
FAST_RETRY = RetryPolicy(max_attempts=4, max_elapsed=10.0, initial_backoff=0.01, max_backoff=0.05)
VIEWER = "query Viewer { viewer { id entity } }"
WANDB_ENV = ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_APP_URL")


# ---------------------------------------------------------------------- helpers and fixtures


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No W&B variables, and a netrc path with no file: tests see only what they set."""
    for name in WANDB_ENV:
        monkeypatch.delenv(name, raising=False)
    netrc_path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc_path))
    return netrc_path


@pytest.fixture(scope="module")
def other_server() -> Iterator[LocalWandbServer]:
    """A second server with its own key and user, for cross-server tests."""
    with LocalWandbServer(username="other-user") as server:
        yield server


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """Build `Api` objects pointed at a server; all are closed after the test."""
    made: list[Api] = []

    def build(server: LocalWandbServer | str, key: str | None = None, **kwargs: Any) -> Api:
        url = server if isinstance(server, str) else server.url
        if key is None and isinstance(server, LocalWandbServer):
            key = server.api_key
        kwargs.setdefault("retry", FAST_RETRY)
        client = Api(
            api_key=key, overrides={"base_url": url, **kwargs.pop("overrides", {})}, **kwargs
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def secrets_of(*keys: str) -> list[str]:
    """A key and its Basic-auth form: neither may appear anywhere a user can see."""
    return [
        form for key in keys for form in (key, base64.b64encode(f"api:{key}".encode()).decode())
    ]


def assert_no_key(error: BaseException, *keys: str) -> None:
    """The error, its repr, its URL and every chained error are free of the keys."""
    seen: BaseException | None = error
    while seen is not None:
        texts = [str(seen), repr(seen), str(getattr(seen, "url", ""))]
        for secret in secrets_of(*keys):
            assert all(secret not in text for text in texts), f"key leaked in {seen!r}"
        seen = seen.__cause__ or seen.__context__


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll until `condition()` (a delayed request is logged only after its delay)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def run_path(server: LocalWandbServer, entity: str, project: str) -> str:
    """A seeded run's full path (a full path sends no Viewer query first)."""
    server.create_run(entity, project, "r1", config={"lr": 0.1})
    return f"{entity}/{project}/r1"


# ---------------------------------------------------------------------- retry policy


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4.0, jitter=0.25)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.backoff(attempt) for _ in range(50)]
        assert all(base <= w <= base * 1.25 for w in waits)
        assert len(set(waits)) > 1  # jitter varies the wait


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"max_elapsed": -1}, {"initial_backoff": -0.1}, {"max_backoff": -1}],
)
def test_retry_policy_rejects_bad_bounds(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert 28 <= (parse_retry_after(http_date(30)) or 0) <= 30
    assert parse_retry_after(http_date(-60)) == 0.0


def test_retryable_statuses() -> None:
    assert [
        s
        for s in (400, 401, 403, 404, 408, 409, 410, 413, 422, 429, 500, 501, 502, 503, 504)
        if is_retryable_status(s)
    ] == [408, 429, 500, 502, 503, 504]


# ---------------------------------------------------------------------- retried failures


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_status_is_retried(
    api: Api, server: LocalWandbServer, run_path: str, status: int
) -> None:
    server.inject_fault("/graphql", operation="Run", status=status, times=2)
    assert api.run(run_path).config == {"lr": 0.1}
    assert server.request_log.count(operation="Run", status=status) == 2
    assert server.request_log.count(operation="Run") == 3


@pytest.mark.parametrize("kind", ["reset", "truncate", "corrupt"])
def test_broken_body_is_retried(
    api: Api, server: LocalWandbServer, run_path: str, kind: str
) -> None:
    server.inject_fault("/graphql", operation="Run", kind=kind, times=2)
    assert api.run(run_path).config == {"lr": 0.1}
    assert [r.fault for r in server.request_log.records] == [kind, kind, None]


def test_delay_beyond_timeout_is_retried(
    make_api: Callable[..., Api], server: LocalWandbServer, run_path: str
) -> None:
    api = make_api(server, timeout=0.25)
    server.inject_fault("/graphql", operation="Run", kind="delay", delay=0.75)
    started = time.monotonic()
    assert api.run(run_path).config == {"lr": 0.1}
    assert time.monotonic() - started >= 0.25
    wait_for(lambda: server.request_log.count(operation="Run") == 2)
    assert sorted(str(r.fault) for r in server.request_log.records) == ["None", "delay"]


def test_connection_refused_by_a_host_that_never_answered_fails_after_two_attempts(
    make_api: Callable[..., Api],
) -> None:
    # Changed on purpose (issue 10): a dead address is not worth the whole retry budget.
    url = closed_port_url()
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.02)
    api = make_api(url, key="k" * 40, retry=policy)
    with pytest.raises(CommError) as info:
        api.run("e/p/r1")
    error = info.value
    assert type(error) is CommError
    assert url in str(error)
    assert "never answered" in str(error)
    assert "retries exhausted: gave up after 2 attempts in" in str(error)
    assert error.retryable and error.retries_exhausted and error.attempts == 2
    assert_no_key(error, "k" * 40)


def test_a_host_name_that_does_not_resolve_fails_after_two_attempts(
    make_api: Callable[..., Api],
) -> None:
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.02)
    api = make_api("http://api.wandb.invalid", key="k" * 40, retry=policy)
    with pytest.raises(CommError) as info:
        api.run("e/p/r1")
    message = str(info.value)
    assert "http://api.wandb.invalid/graphql" in message
    assert "'api.wandb.invalid' does not resolve" in message
    assert "gave up after 2 attempts in" in message
    assert info.value.attempts == 2


def test_a_host_that_answered_before_gets_the_whole_budget_when_it_refuses(
    make_api: Callable[..., Api],
) -> None:
    sleeps: list[float] = []
    with LocalWandbServer() as server:
        server.create_run("e", "p", "r1")
        url = server.url
        policy = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.01, jitter=0.0)
        transport = Transport(url, server.api_key, retry=policy, sleep=sleeps.append)
        transport.graphql(VIEWER)
    transport.close()  # drop the kept-alive connection the stopped server still serves
    try:
        with pytest.raises(CommError, match="gave up after 4 attempts") as info:
            transport.graphql(VIEWER)  # the server restarts: worth waiting for
        assert "never answered" not in str(info.value)
        assert sleeps == [0.01, 0.01, 0.01]
    finally:
        transport.close()


def test_a_503_names_the_query_and_the_run(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    server.inject_fault("/graphql", operation="Run", status=503, times=10)
    with pytest.raises(ServerError) as info:
        api.run(run_path)
    entity, project, run_id = run_path.split("/")
    message = str(info.value)
    assert message.startswith(
        f"GraphQL Run(project={project!r}, entity={entity!r}, name={run_id!r}): POST "
    )
    assert "returned HTTP 503" in message and "gave up after 4 attempts" in message


@pytest.mark.parametrize("timeout", ["x", float("nan"), float("inf"), 0, -1, True])
def test_a_bad_timeout_is_invalid_input(timeout: object) -> None:
    assert Api(api_key="k" * 40, timeout=None).transport.timeout == 30.0  # None: the default
    with pytest.raises(InvalidInputError, match="timeout"):
        Api(api_key="k" * 40, timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="timeout"):
        Transport("http://127.0.0.1:9", "k" * 40, timeout=timeout)  # type: ignore[arg-type]


def test_timeouts_exhausted_raise_comm_error(
    make_api: Callable[..., Api], server: LocalWandbServer, run_path: str
) -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02)
    api = make_api(server, timeout=0.2, retry=policy)
    server.inject_fault("/graphql", operation="Run", kind="delay", delay=0.5, times=2)
    with pytest.raises(CommError, match="Timeout") as info:
        api.run(run_path)
    assert "gave up after 2 attempts" in str(info.value)
    assert_no_key(info.value, server.api_key)
    wait_for(lambda: server.request_log.count(operation="Run") == 2)


# ---------------------------------------------------------------------- final failures


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, CommError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, CommError),
        (422, CommError),
        (501, ServerError),
    ],
)
def test_final_status_is_not_retried(
    api: Api, server: LocalWandbServer, run_path: str, status: int, error_type: type[CommError]
) -> None:
    server.inject_fault("/graphql", operation="Run", status=status, times=3)
    with pytest.raises(error_type) as info:
        api.run(run_path)
    assert info.value.status == status
    assert not info.value.retryable
    assert server.request_log.count(operation="Run") == 1
    assert_no_key(info.value, server.api_key)


def test_graphql_errors_in_a_200_raise_without_retry(api: Api, server: LocalWandbServer) -> None:
    with pytest.raises(CommError, match="Cannot query field 'nope'") as info:
        api.transport.graphql("query Bad { viewer { nope } }")
    assert info.value.status == 200
    assert server.request_log.count(operation="Bad") == 1
    assert_no_key(info.value, server.api_key)


def test_rate_limit_exhausted_raises_rate_limit_error(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    server.inject_fault("/graphql", operation="Run", status=429, times=10)
    with pytest.raises(RateLimitError) as info:
        api.run(run_path)
    assert "gave up after 4 attempts" in str(info.value)
    assert info.value.status == 429
    assert server.request_log.count(operation="Run") == FAST_RETRY.max_attempts == 4
    assert_no_key(info.value, server.api_key)


def test_server_errors_exhausted_raise_server_error(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    server.inject_fault("/graphql", operation="Run", status=503, times=10)
    with pytest.raises(ServerError, match="HTTP 503") as info:
        api.run(run_path)
    assert "gave up after 4 attempts" in str(info.value)
    assert server.request_log.count(operation="Run") == 4
    assert_no_key(info.value, server.api_key)


def test_retries_are_bounded_by_total_time(
    make_api: Callable[..., Api], server: LocalWandbServer, run_path: str
) -> None:
    # A budget of 1 s with 50 ms waits: time, not the 1000 attempts, ends it. The bounds leave
    # room for a loaded machine, where one answer may take a good part of the budget.
    policy = RetryPolicy(
        max_attempts=1000, max_elapsed=1.0, initial_backoff=0.05, max_backoff=0.05, jitter=0.0
    )
    api = make_api(server, retry=policy)
    server.inject_fault("/graphql", operation="Run", status=500, times=1000)
    started = time.monotonic()
    with pytest.raises(ServerError) as info:
        api.run(run_path)
    assert time.monotonic() - started < 3.0
    attempts = server.request_log.count(operation="Run")
    assert 2 <= attempts <= 20
    assert f"gave up after {attempts} attempts" in str(info.value)


# ---------------------------------------------------------------------- Retry-After


def test_retry_after_seconds_is_honoured(api: Api, server: LocalWandbServer, run_path: str) -> None:
    server.inject_fault("/graphql", operation="Run", status=429, retry_after=1)
    started = time.monotonic()
    api.run(run_path)
    assert time.monotonic() - started >= 0.95
    assert server.request_log.count(operation="Run") == 2


def test_retry_after_http_date_is_honoured(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    # HTTP dates have whole seconds, so "2 s from now" means a wait of 1 to 2 s.
    server.inject_fault("/graphql", operation="Run", status=503, retry_after=http_date(2))
    started = time.monotonic()
    api.run(run_path)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4
    assert server.request_log.count(operation="Run") == 2


def test_retry_after_beyond_the_budget_gives_up_at_once(
    make_api: Callable[..., Api], server: LocalWandbServer, run_path: str
) -> None:
    api = make_api(server, retry=RetryPolicy(max_elapsed=5.0))
    server.inject_fault("/graphql", operation="Run", status=429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="gave up after 1 attempt "):
        api.run(run_path)
    assert time.monotonic() - started < 1
    assert server.request_log.count(operation="Run") == 1


# ---------------------------------------------------------------------- auth


def test_wrong_key_is_authentication_error_without_retry(
    make_api: Callable[..., Api], server: LocalWandbServer, run_path: str
) -> None:
    wrong = "w" * 40
    api = make_api(server, key=wrong)
    with pytest.raises(AuthenticationError, match="rejected") as info:
        api.run(run_path)
    assert info.value.status == 401
    assert server.url in str(info.value)
    assert len(server.request_log.records) == 1
    assert_no_key(info.value, wrong, server.api_key)


def test_basic_auth_carries_api_and_the_key(server: LocalWandbServer) -> None:
    transport = Transport(server.url, server.api_key, retry=FAST_RETRY)
    try:
        response = transport.request("POST", "/graphql", json_body={"query": VIEWER})
        assert response.json()["data"]["viewer"]["entity"] == server.store.viewer.entity
    finally:
        transport.close()
    record = server.request_log.records[-1]
    assert record.sent_auth and record.status == 200


def test_credentials_go_only_to_base_url(
    api: Api, server: LocalWandbServer, other_server: LocalWandbServer
) -> None:
    other_server.request_log.clear()
    assert (
        api.transport.request(
            "POST", f"{server.url}/graphql", json_body={"query": VIEWER}
        ).status_code
        == 200
    )
    with pytest.raises(AuthenticationError, match="credentials go only to") as info:
        api.transport.request(
            "POST", f"{other_server.url}/graphql?x=1", json_body={"query": VIEWER}
        )
    assert_no_key(info.value, server.api_key)
    assert [r.sent_auth for r in server.request_log.records] == [True]
    assert [r.sent_auth for r in other_server.request_log.records] == [False]


def test_netrc_entry_does_not_replace_the_given_key(
    make_api: Callable[..., Api], server: LocalWandbServer, clean_env: Path, run_path: str
) -> None:
    """requests reads netrc when a request has no auth; the client's key must win."""
    clean_env.write_text("machine 127.0.0.1 login api password " + "n" * 40 + "\n")
    clean_env.chmod(0o600)
    assert make_api(server).run(run_path).config == {"lr": 0.1}


def test_netrc_credentials_do_not_reach_other_hosts(
    api: Api, clean_env: Path, other_server: LocalWandbServer
) -> None:
    clean_env.write_text(f"machine 127.0.0.1 login api password {other_server.api_key}\n")
    clean_env.chmod(0o600)
    other_server.request_log.clear()
    with pytest.raises(AuthenticationError):
        api.transport.request("POST", f"{other_server.url}/graphql", json_body={"query": VIEWER})
    assert [r.sent_auth for r in other_server.request_log.records] == [False]


@pytest.mark.parametrize(
    ("url", "under"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8080/graphql", True),
        ("http://127.0.0.1:80801/graphql", False),
        ("http://127.0.0.1:8080.evil.example/graphql", False),
        ("http://127.0.0.1:8080@evil.example/graphql", False),
        ("https://127.0.0.1:8080/graphql", False),
        ("http://localhost:8080/graphql", False),
    ],
)
def test_only_urls_under_base_get_the_key(url: str, under: bool) -> None:
    transport = Transport("http://127.0.0.1:8080/", "k" * 40)
    assert transport.is_under_base(url) is under


def test_user_agent_names_this_package(api: Api, server: LocalWandbServer, run_path: str) -> None:
    api.run(run_path)
    assert USER_AGENT.startswith("prefect-wandb-public/")
    assert [r.user_agent for r in server.request_log.records] == [USER_AGENT]


# ---------------------------------------------------------------------- the key never appears


def test_key_absent_from_reprs(api: Api, server: LocalWandbServer) -> None:
    api.viewer  # noqa: B018 - a loaded client must not show the key either
    texts = [
        repr(api),
        str(api),
        repr(api.transport),
        repr(api.settings),
        repr(api.transport.retry),
    ]
    for secret in secrets_of(server.api_key):
        assert all(secret not in text for text in texts)
    assert api.api_key is None


def test_key_absent_from_debug_logs(
    make_api: Callable[..., Api],
    server: LocalWandbServer,
    run_path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api(server)
    server.inject_fault("/graphql", operation="Run", status=503, times=1)
    api.run(run_path)
    with pytest.raises(AuthenticationError):
        make_api(server, key="w" * 40).run(run_path)
    with pytest.raises(NotFoundError):
        api.run(run_path + "-missing")
    messages = [record.getMessage() for record in caplog.records]
    assert any("/graphql" in message for message in messages), "urllib3 debug log not captured"
    for secret in secrets_of(server.api_key, "w" * 40):
        assert all(secret not in message for message in messages)


def test_server_message_echoing_the_key_is_scrubbed(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r1")
    runs = api.runs(f"{entity}/{project}", filters={"name": {"$regex": server.api_key + "("}})
    with pytest.raises(CommError, match=r"\*\*\*") as info:
        list(runs)
    assert_no_key(info.value, server.api_key)


# ---------------------------------------------------------------------- two clients side by side


def test_two_clients_work_side_by_side_in_threads(
    make_api: Callable[..., Api],
    server: LocalWandbServer,
    other_server: LocalWandbServer,
    project: str,
) -> None:
    ours, theirs = server.store.viewer.entity, other_server.store.viewer.entity
    for index in range(4):
        server.create_run(ours, project, f"a-{index}", config={"server": "A"})
    for index in range(3):
        other_server.create_run(theirs, project, f"b-{index}", config={"server": "B"})
    api_a, api_b = make_api(server), make_api(other_server)

    def listing(api: Api) -> tuple[str, list[str], Any]:
        ids = sorted(run.id for run in api.runs(project, per_page=2))
        return api.default_entity, ids, api.run(f"{project}/{ids[0]}").config["server"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(listing, api_a if i % 2 == 0 else api_b) for i in range(24)]
        results = [future.result(timeout=30) for future in futures]
    expected_a = (ours, ["a-0", "a-1", "a-2", "a-3"], "A")
    expected_b = (theirs, ["b-0", "b-1", "b-2"], "B")
    assert results == [expected_a if i % 2 == 0 else expected_b for i in range(24)]
    assert all(r.sent_auth for r in other_server.request_log.records[-10:])


def test_key_of_one_server_is_refused_by_the_other(
    make_api: Callable[..., Api], server: LocalWandbServer, other_server: LocalWandbServer
) -> None:
    api = make_api(other_server, key=server.api_key)
    with pytest.raises(AuthenticationError, match=other_server.url) as info:
        api.viewer  # noqa: B018
    assert_no_key(info.value, server.api_key, other_server.api_key)


# ---------------------------------------------------------------------- settings resolution


def test_base_url_override_beats_environment(
    monkeypatch: pytest.MonkeyPatch, server: LocalWandbServer
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    api = Api(api_key=server.api_key, overrides={"base_url": server.url + "/"})
    assert api.base_url == server.url
    assert api.viewer.entity == server.store.viewer.entity


def test_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, server: LocalWandbServer
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    api = Api(api_key=server.api_key, retry=FAST_RETRY)
    assert api.base_url == server.url
    assert api.viewer.entity == server.store.viewer.entity


def test_base_url_default() -> None:
    api = Api(api_key="k" * 40)
    assert api.base_url == DEFAULT_BASE_URL == "https://api.wandb.ai"
    assert api.app_url == "https://wandb.ai"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1:21",
        "127.0.0.1:8080",
        "file:///tmp/wandb",
        "http://",
        "not a url",
        "http://api:secret@127.0.0.1:8080",
    ],
)
def test_non_http_base_url_is_refused_before_any_request(
    server: LocalWandbServer, url: str
) -> None:
    before = len(server.request_log.records)
    with pytest.raises(InvalidInputError, match="base_url"):
        Api(api_key=server.api_key, overrides={"base_url": url})
    assert len(server.request_log.records) == before


def test_non_http_base_url_from_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "gopher://127.0.0.1:70")
    with pytest.raises(InvalidInputError, match="gopher"):
        Api(api_key="k" * 40)


def test_key_argument_beats_environment(
    monkeypatch: pytest.MonkeyPatch, make_api: Callable[..., Api], server: LocalWandbServer
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "e" * 40)
    assert make_api(server).viewer.entity == server.store.viewer.entity


def test_key_from_environment_beats_netrc(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path, server: LocalWandbServer
) -> None:
    clean_env.write_text("machine 127.0.0.1 login api password " + "n" * 40 + "\n")
    clean_env.chmod(0o600)
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    api = Api(overrides={"base_url": server.url}, retry=FAST_RETRY)
    assert api.viewer.entity == server.store.viewer.entity
    monkeypatch.setenv("WANDB_API_KEY", "e" * 40)
    with pytest.raises(AuthenticationError) as info:
        Api(overrides={"base_url": server.url}, retry=FAST_RETRY).viewer  # noqa: B018
    assert_no_key(info.value, "e" * 40, "n" * 40, server.api_key)


def test_key_from_netrc(clean_env: Path, server: LocalWandbServer) -> None:
    clean_env.write_text(
        "machine api.example.com login api password " + "x" * 40 + "\n"
        f"machine 127.0.0.1 login api password {server.api_key}\n"
    )
    clean_env.chmod(0o600)
    api = Api(overrides={"base_url": server.url}, retry=FAST_RETRY)
    assert api.viewer.entity == server.store.viewer.entity
    assert server.request_log.records[-1].sent_auth


def test_no_key_anywhere_is_authentication_error(clean_env: Path, server: LocalWandbServer) -> None:
    other_key = "o" * 40
    clean_env.write_text(f"machine api.example.com login api password {other_key}\n")
    clean_env.chmod(0o600)
    before = len(server.request_log.records)
    with pytest.raises(AuthenticationError, match=r"127\.0\.0\.1") as info:
        Api(overrides={"base_url": server.url})
    assert "WANDB_API_KEY" in str(info.value)
    assert_no_key(info.value, other_key, server.api_key)
    assert len(server.request_log.records) == before


def test_entity_and_project_from_overrides(
    monkeypatch: pytest.MonkeyPatch, make_api: Callable[..., Api], server: LocalWandbServer
) -> None:
    monkeypatch.setenv("WANDB_ENTITY", "env-entity")
    monkeypatch.setenv("WANDB_PROJECT", "env-project")
    api = make_api(server, overrides={"entity": "my-team", "project": "my-project"})
    assert (api.default_entity, api.default_project) == ("my-team", "my-project")
    assert server.request_log.records == []


def test_entity_and_project_from_environment(
    monkeypatch: pytest.MonkeyPatch, make_api: Callable[..., Api], server: LocalWandbServer
) -> None:
    monkeypatch.setenv("WANDB_ENTITY", "env-entity")
    monkeypatch.setenv("WANDB_PROJECT", "env-project")
    api = make_api(server)
    assert (api.default_entity, api.default_project) == ("env-entity", "env-project")
    assert server.request_log.records == []


def test_entity_and_project_defaults(
    make_api: Callable[..., Api], server: LocalWandbServer
) -> None:
    api = make_api(server)
    assert api.default_project == DEFAULT_PROJECT == "uncategorized"
    assert api.default_entity == server.store.viewer.entity
    assert api.default_entity == server.store.viewer.entity  # cached: one viewer query
    assert server.request_log.count(operation="GetViewer") == 1


@pytest.mark.parametrize("timeout", [0, -1.0, True])
def test_bad_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(InvalidInputError, match="timeout"):
        Api(api_key="k" * 40, timeout=timeout)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="base_uri"):
        Api(api_key="k" * 40, overrides={"base_uri": "http://127.0.0.1:1"})


def test_presigned_query_strings_never_reach_messages() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport("http://127.0.0.1:9", "k" * 40, retry=FAST_RETRY)
    url = f"http://127.0.0.1:{port}/blob?X-Amz-Signature=TOPSECRETSIG&X-Amz-Credential=AKIA"
    with pytest.raises(CommError) as info:
        transport.request("GET", url)
    assert "TOPSECRETSIG" not in str(info.value) and "AKIA" not in str(info.value)
    assert f"127.0.0.1:{port}/blob" in str(info.value)


@pytest.mark.parametrize("kind", ["corrupt", "truncate"])
def test_a_garbled_manifest_body_is_retried_like_a_graphql_body(
    api: Api, server: LocalWandbServer, entity: str, project: str, kind: str
) -> None:
    server.create_artifact(entity, project, "m", "model", {"a.txt": b"a"})
    artifact = api.artifact(f"{entity}/{project}/m:v0")
    server.inject_fault("/storage/manifests/", kind=kind, method="GET", times=1)
    assert list(artifact.manifest.entries) == ["a.txt"]
    assert [r.fault for r in server.request_log.records if "manifests" in r.path] == [kind, None]


def test_a_manifest_that_stays_garbled_names_the_artifact(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_artifact(entity, project, "m", "model", {"a.txt": b"a"})
    artifact = api.artifact(f"{entity}/{project}/m:v0")
    server.inject_fault("/storage/manifests/", kind="corrupt", method="GET", times=10)
    with pytest.raises(CommError, match=r"the manifest of .*/m:v0: GET .* not JSON") as info:
        artifact.manifest  # noqa: B018
    assert info.value.retries_exhausted and info.value.attempts == FAST_RETRY.max_attempts
