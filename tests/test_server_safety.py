"""The local server is safe to run as a shared test service: requests are judged before their
bodies are read (no buffering of unauthenticated or oversized bodies), keyless storage URLs are
signed and expire, and the command line fails clearly on a port in use."""

from __future__ import annotations

import base64
import hashlib
import inspect
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.app import WandbHTTPApp
from prefect_wandb_public.testing.urls import ServerUrls, SignatureError

MIB = 1 << 20
CLI = [sys.executable, "-m", "prefect_wandb_public.cli"]


def raw_request(
    port: int, head: str, body_bytes: int = 0, timeout: float = 30.0
) -> tuple[bytes, threading.Thread | None]:
    """Send a request head (and, from a thread, `body_bytes` zeros); returns the first bytes of
    the answer and the sending thread. Send errors are ignored: the server may close early."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(head.encode())
    sender = None
    if body_bytes:

        def send() -> None:
            chunk = bytes(MIB)
            sent = 0
            try:
                while sent < body_bytes:
                    sock.sendall(chunk[: min(MIB, body_bytes - sent)])
                    sent += MIB
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
    try:
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.find(b"\r\n\r\n") + 8:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    finally:
        if sender is not None:
            sender.join(timeout=60)
        sock.close()
    return answer, sender


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def server_process() -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """`prefect-wandb-public server --port 0` in its own process: (process, port, key)."""
    proc = subprocess.Popen(
        [*CLI, "server", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        proc.stdout.readline()
        key = proc.stdout.readline().strip()
        yield proc, int(url.rsplit(":", 1)[1]), key
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for peak RSS")
def test_an_unauthenticated_200_mib_post_is_refused_without_buffering_it(
    server_process: tuple[subprocess.Popen[str], int, str],
) -> None:
    proc, port, _ = server_process
    before = peak_rss_mb(proc.pid)
    size = 200 * MIB
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    answer, _ = raw_request(port, head, body_bytes=size)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    after = peak_rss_mb(proc.pid)
    print(f"server peak RSS {before:.0f} MB before, {after:.0f} MB after a 200 MiB POST")
    assert after - before < 20, (before, after)
    assert requests.get(f"http://127.0.0.1:{port}/nothing", timeout=10).status_code == 404


def test_a_declared_body_over_the_limit_is_413_before_it_is_sent(
    server: LocalWandbServer,
) -> None:
    auth = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Length: {10 << 30}\r\n\r\n"
    )
    answer, _ = raw_request(server.port, head)  # not one body byte sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"over this server's limit" in answer


def test_the_body_limit_is_configurable() -> None:
    with LocalWandbServer(max_body=4096) as small:
        api = Api(api_key=small.api_key, overrides={"base_url": small.url})
        assert api.viewer.username == small.store.viewer.username
        big = requests.post(
            f"{small.url}/graphql",
            data=b" " * 5000,
            auth=("api", small.api_key),
            timeout=10,
        )
        assert big.status_code == 413
        api.close()


@pytest.mark.parametrize(
    "path",
    [
        "/storage/manifests/" + base64.b64encode(b"Artifact:5").decode(),
        "/storage/blobs/" + hashlib.md5(b"guess").hexdigest(),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_storage_urls_without_a_signature_are_refused(
    server: LocalWandbServer, path: str, method: str
) -> None:
    response = requests.request(method, server.url + path, data=b"guess", timeout=10)
    assert response.status_code == 403
    assert "signed URL" in response.json()["errors"][0]["message"]
    assert base64.b64encode(hashlib.md5(b"guess").digest()).decode() not in server.store.blobs


def test_signed_storage_urls_work_for_their_method_and_path_until_they_expire(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_artifact(entity, project, "d", "dataset", {"a.txt": b"abc"})
    file = next(iter(api.artifact(f"{entity}/{project}/d:v0").files()))
    assert file.direct_url and "signature=" in file.direct_url
    assert requests.get(file.direct_url, timeout=10).content == b"abc"
    assert requests.put(file.direct_url, data=b"abc", timeout=10).status_code == 403  # GET only
    path = file.direct_url.split("?")[0].removeprefix(server.url)
    other = server.url + path[:-1] + ("0" if path[-1] != "0" else "1")
    query = file.direct_url.split("?")[1]
    assert requests.get(f"{other}?{query}", timeout=10).status_code == 403  # another path
    expired = server.urls.signed_url(path, expires_in=-1)
    answer = requests.get(expired, timeout=10)
    assert answer.status_code == 403 and "expired" in answer.text


def test_url_signing_is_reusable_for_new_routes() -> None:
    now = [1_000_000.0]
    urls = ServerUrls(lambda: "http://127.0.0.1:1", url_ttl=60, clock=lambda: now[0])
    signed = urls.sign("/storage/exports/e/p/run.parquet")
    path, _, query_text = signed.partition("?")
    query = {k: [v] for k, v in (pair.split("=") for pair in query_text.split("&"))}
    urls.verify(path, query)
    with pytest.raises(SignatureError, match="does not match"):
        urls.verify(path, query, method="PUT")
    with pytest.raises(SignatureError, match="does not match"):
        urls.verify(path + "x", query)
    now[0] += 61
    with pytest.raises(SignatureError, match="expired"):
        urls.verify(path, query)
    with pytest.raises(SignatureError, match="needs a signed URL"):
        urls.verify(path, {})


def test_keys_are_compared_in_constant_time(server: LocalWandbServer) -> None:
    assert "hmac.compare_digest" in inspect.getsource(WandbHTTPApp.check_auth)
    wrong = "x" * len(server.api_key)
    for key in (wrong, server.api_key[:-1], server.api_key + "x", "é" * 4):
        response = requests.post(
            f"{server.url}/graphql",
            json={"query": "{ viewer { id } }"},
            auth=("api", key),
            timeout=10,
        )
        assert response.status_code == 401


def test_the_server_command_on_a_port_in_use_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, "server", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
            check=False,
        )
    assert done.returncode == 2, (done.stdout, done.stderr, time.monotonic() - started)
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"error: port {port} on 127.0.0.1 is in use; pick another with --port (0 picks a free one)"
    ]
    assert "Traceback" not in done.stderr and done.stdout == ""
