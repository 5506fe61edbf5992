"""The local server over raw `requests`: auth, GraphQL request handling, faults, the request log
and the server's lifecycle. No client code is involved, so these pin the server's own contract."""

from __future__ import annotations

import base64
import re
import socket
import time
from typing import Any

import pytest
import requests

from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.app import http_date

VIEWER = "query Viewer { viewer { id entity } }"


def basic(key: str) -> dict[str, str]:
    """The Authorization header W&B expects: Basic `api:<key>`."""
    return {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}


def post(server: LocalWandbServer, body: Any, key: str | None = None, **kwargs: Any) -> Any:
    """POST a JSON body to /graphql with the server's key (or `key`)."""
    headers = basic(key if key is not None else server.api_key)
    return requests.post(f"{server.url}/graphql", json=body, headers=headers, timeout=5, **kwargs)


# ---------------------------------------------------------------------- auth


def test_graphql_without_auth_is_401(server: LocalWandbServer) -> None:
    response = requests.post(f"{server.url}/graphql", json={"query": VIEWER}, timeout=5)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith("authentication required")
    assert server.request_log.records[-1].sent_auth is False


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"api:" + b"0" * 40).decode(),
        "Basic not-base64!!",
        "Bearer something",
    ],
    ids=["wrong-key", "garbled", "not-basic"],
)
def test_graphql_with_wrong_auth_is_401(server: LocalWandbServer, header: str) -> None:
    response = requests.post(
        f"{server.url}/graphql",
        json={"query": VIEWER},
        headers={"Authorization": header},
        timeout=5,
    )
    assert response.status_code == 401
    assert server.request_log.records[-1].sent_auth is True


def test_basic_auth_user_must_be_api(server: LocalWandbServer) -> None:
    header = "Basic " + base64.b64encode(f"someone:{server.api_key}".encode()).decode()
    response = requests.post(
        f"{server.url}/graphql",
        json={"query": VIEWER},
        headers={"Authorization": header},
        timeout=5,
    )
    assert response.status_code == 401


def test_graphql_with_right_key_answers(server: LocalWandbServer) -> None:
    response = post(server, {"query": VIEWER})
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["entity"] == server.store.viewer.entity


# ---------------------------------------------------------------------- GraphQL requests


def test_empty_operation_name_is_accepted(server: LocalWandbServer) -> None:
    response = post(server, {"query": VIEWER, "operationName": "", "variables": {}})
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert server.request_log.records[-1].operation == "Viewer"


def test_undeclared_variables_are_ignored(server: LocalWandbServer) -> None:
    body = {"query": VIEWER, "variables": {"entity": "x", "perPage": 5, "nonsense": [1, 2]}}
    response = post(server, body)
    assert response.status_code == 200
    payload = response.json()
    assert "errors" not in payload
    assert payload["data"]["viewer"]["entity"] == server.store.viewer.entity


def test_unknown_field_is_a_graphql_error(server: LocalWandbServer) -> None:
    response = post(server, {"query": "query Bad { viewer { noSuchField } }"})
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert errors[0]["message"].startswith("Cannot query field 'noSuchField'")


def test_syntax_error_is_a_graphql_error(server: LocalWandbServer) -> None:
    response = post(server, {"query": "query Broken { viewer { "})
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"variables": {}}',
        b'{"query": "{ viewer { id } }", "variables": 3}',
    ],
    ids=["malformed", "array", "no-query", "variables-not-object"],
)
def test_bad_request_body_is_400(server: LocalWandbServer, body: bytes) -> None:
    response = requests.post(
        f"{server.url}/graphql",
        data=body,
        headers={**basic(server.api_key), "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


def test_unknown_route_is_404(server: LocalWandbServer) -> None:
    # A GET outside the API routes is a web page request now (see the read-only pages).
    response = requests.get(f"{server.url}/no/such/route", headers=basic(server.api_key), timeout=5)
    assert response.status_code == 404 and "/no/such/route" in response.text
    response = requests.put(f"{server.url}/no/such/route", headers=basic(server.api_key), timeout=5)
    assert response.status_code == 404
    assert "/no/such/route" in response.json()["errors"][0]["message"]


# ---------------------------------------------------------------------- faults


def test_status_fault_with_retry_after_seconds(server: LocalWandbServer) -> None:
    server.inject_fault("/graphql", status=429, retry_after=3)
    response = post(server, {"query": VIEWER})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert "injected fault" in response.json()["errors"][0]["message"]
    record = server.request_log.records[-1]
    assert (record.status, record.fault) == (429, "status")
    assert post(server, {"query": VIEWER}).status_code == 200


def test_status_fault_with_retry_after_http_date(server: LocalWandbServer) -> None:
    date = http_date(30)
    server.inject_fault("/graphql", status=503, retry_after=date)
    response = post(server, {"query": VIEWER})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == date
    assert date.endswith(" GMT")


def test_status_fault_answers_before_auth(server: LocalWandbServer) -> None:
    """A faulted request answers the injected status even without credentials."""
    server.inject_fault("/graphql", status=502)
    response = requests.post(f"{server.url}/graphql", json={"query": VIEWER}, timeout=5)
    assert response.status_code == 502
    assert "Retry-After" not in response.headers


def test_reset_fault_resets_the_connection(server: LocalWandbServer) -> None:
    """The client sees ECONNRESET (while reading headers or body), not a clean end of stream."""
    server.inject_fault("/graphql", kind="reset")
    with pytest.raises(
        (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ) as info:
        post(server, {"query": VIEWER})
    assert "ConnectionResetError" in str(info.value)
    assert server.request_log.records[-1].fault == "reset"
    assert post(server, {"query": VIEWER}).status_code == 200


def test_truncate_fault_cuts_the_body_short(server: LocalWandbServer) -> None:
    server.inject_fault("/graphql", kind="truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        post(server, {"query": VIEWER})
    assert "IncompleteRead" in str(info.value)


def test_truncate_fault_sends_half_the_body(server: LocalWandbServer) -> None:
    full = post(server, {"query": VIEWER}).content
    server.inject_fault("/graphql", kind="truncate")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        body = b'{"query": "%s"}' % VIEWER.encode()
        auth = basic(server.api_key)["Authorization"].encode()
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(full) in head
    assert payload == full[: len(full) // 2]


def test_delay_fault_delays_the_answer(server: LocalWandbServer) -> None:
    server.inject_fault("/graphql", kind="delay", delay=0.3)
    started = time.monotonic()
    response = post(server, {"query": VIEWER})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["entity"] == server.store.viewer.entity
    assert server.request_log.records[-1].fault == "delay"


def test_the_request_log_says_when_each_request_arrived_and_was_answered(
    server: LocalWandbServer,
) -> None:
    """`received` and `answered` are on the client's `time.monotonic()` clock (one process),
    so tests can order requests by them."""
    server.inject_fault("/graphql", kind="delay", delay=0.3)
    sent = time.monotonic()
    post(server, {"query": VIEWER})
    back = time.monotonic()
    post(server, {"query": VIEWER})
    assert server.request_log.wait_idle()  # `answered` is set once the answer is sent
    held, quick = server.request_log.records[-2:]
    assert sent <= held.received and held.answered is not None
    assert held.answered - held.received >= 0.3
    assert back <= quick.received and quick.answered is not None
    assert quick.answered >= quick.received


def test_corrupt_fault_flips_body_bytes(server: LocalWandbServer) -> None:
    clean = post(server, {"query": VIEWER}).content
    server.inject_fault("/graphql", kind="corrupt")
    response = post(server, {"query": VIEWER})
    assert response.status_code == 200
    assert len(response.content) == len(clean)
    assert response.content != clean
    assert response.content[1:] == clean[1:]
    with pytest.raises(ValueError):
        response.json()


def test_fault_times_is_honoured(server: LocalWandbServer) -> None:
    server.inject_fault("/graphql", status=500, times=3)
    statuses = [post(server, {"query": VIEWER}).status_code for _ in range(5)]
    assert statuses == [500, 500, 500, 200, 200]
    assert server.request_log.count(status=500) == 3
    assert server.faults.pending == []


def test_fault_matches_by_operation(server: LocalWandbServer) -> None:
    server.inject_fault("/graphql", operation="Other", status=503)
    assert post(server, {"query": VIEWER}).status_code == 200
    response = post(server, {"query": "query Other { viewer { id } }"})
    assert response.status_code == 503
    assert server.request_log.records[-1].operation == "Other"


def test_fault_matches_by_method(server: LocalWandbServer) -> None:
    server.inject_fault("/", method="GET", status=418)
    assert post(server, {"query": VIEWER}).status_code == 200
    response = requests.get(f"{server.url}/graphql", timeout=5)
    assert response.status_code == 418


def test_fault_matches_by_path_prefix(server: LocalWandbServer) -> None:
    server.inject_fault("/files/", method="GET", status=503)
    assert requests.get(f"{server.url}/graphql", timeout=5).status_code != 503
    assert requests.get(f"{server.url}/files/e/p/r/x.txt", timeout=5).status_code == 503
    assert server.request_log.count(path="/files/", status=503) == 1


def test_unknown_fault_kind_is_refused(server: LocalWandbServer) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.inject_fault("/graphql", kind="explode")
    with pytest.raises(ValueError, match="times"):
        server.inject_fault("/graphql", times=0)


# ---------------------------------------------------------------------- request log


def test_request_log_records_each_request(server: LocalWandbServer) -> None:
    post(server, {"query": VIEWER})
    requests.get(f"{server.url}/graphql?token=secret", timeout=5)
    first, second = server.request_log.records
    assert (first.method, first.path, first.operation, first.status) == (
        "POST",
        "/graphql",
        "Viewer",
        200,
    )
    assert first.sent_auth is True
    assert first.fault is None
    assert second.method == "GET"
    assert second.path == "/graphql"  # the query string is not recorded
    assert second.sent_auth is False
    assert second.user_agent.startswith("python-requests/")
    assert server.request_log.count(method="POST", operation="Viewer", status=200) == 1
    assert server.request_log.count(path="/graph") == 2


def test_request_log_keeps_user_agent(server: LocalWandbServer) -> None:
    requests.post(
        f"{server.url}/graphql",
        json={"query": VIEWER},
        headers={**basic(server.api_key), "User-Agent": "probe/1.0"},
        timeout=5,
    )
    assert server.request_log.records[-1].user_agent == "probe/1.0"


# ---------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("host", ["0.0.0.0", "8.8.8.8", "example.com", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalWandbServer(host=host)


def test_start_stop_and_context_manager() -> None:
    server = LocalWandbServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    assert repr(server) == "LocalWandbServer(stopped)"
    with server as started:
        assert started is server
        assert server.start() is server  # starting twice is harmless
        url = server.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert int(url.rsplit(":", 1)[1]) == server.port > 0
        assert post(server, {"query": VIEWER}).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/graphql", json={"query": VIEWER}, timeout=2)
    server.stop()  # stopping twice is harmless


def test_custom_api_key_must_be_40_chars() -> None:
    with pytest.raises(ValueError, match="40"):
        LocalWandbServer(api_key="x" * 39)
    key = "k" * 40
    with LocalWandbServer(api_key=key) as server:
        assert server.api_key == key
        assert post(server, {"query": VIEWER}, key=key).status_code == 200


def test_generated_keys_are_distinct_and_long() -> None:
    first, second = LocalWandbServer(), LocalWandbServer()
    assert first.api_key != second.api_key
    assert len(first.api_key) >= 40


def test_web_links_answer_a_read_only_page(server: LocalWandbServer) -> None:
    """`Run.url` and `Artifact.url` on the local server open an HTML page, not a JSON error."""
    from prefect_wandb_public import Api

    server.create_run("pages", "proj", "r1", config={"lr": 0.5}, summary={"acc": 0.75})
    server.create_artifact("pages", "proj", "model", "model", {"w.bin": b"w"}, created_by="r1")
    api = Api(api_key=server.api_key, overrides={"base_url": server.url})
    run_page = requests.get(api.run("pages/proj/r1").url, timeout=10)
    assert run_page.status_code == 200 and run_page.headers["Content-Type"].startswith("text/html")
    assert "Run pages/proj/r1" in run_page.text and "0.75" in run_page.text
    art_page = requests.get(api.artifact("pages/proj/model:latest").url, timeout=10)
    assert art_page.status_code == 200 and "pages/proj/model:v0" in art_page.text
    assert "w.bin" in art_page.text and "latest" in art_page.text
    for missing in ("/pages/proj/runs/nope", "/pages/proj/artifacts/model/model/v9", "/x"):
        page = requests.get(server.url + missing, timeout=10)
        assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    assert requests.post(server.url + "/pages/proj/runs/r1", timeout=10).status_code in (404, 405)
