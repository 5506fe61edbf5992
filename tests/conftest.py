"""Shared fixtures: one local W&B server for the session, and clients pointed at it.

Tests seed their own entity/project names (see `project`) so they never collide.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import threading
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Progress, RetryPolicy
from prefect_wandb_public.testing import LocalWandbServer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A temporary Prefect API takes ~30 s to start on a busy 2-core machine (Prefect's default limit
# is 30 s): give it room, here and in the subprocesses that start their own.
PREFECT_STARTUP_TIMEOUT = 120
os.environ.setdefault(
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(PREFECT_STARTUP_TIMEOUT)
)
# wandb-core (started by any official-SDK test) reports its errors to Sentry unless told not to.
os.environ["WANDB_ERROR_REPORTING"] = "false"
# Downloads cache into a directory of this test session, never the user's ~/.cache.
os.environ["PREFECT_WANDB_CACHE_DIR"] = tempfile.mkdtemp(prefix="prefect-wandb-test-cache-")

if TYPE_CHECKING:
    from prefect_wandb_public import WandbCredentials

FAST_RETRY = RetryPolicy(max_attempts=4, max_elapsed=10.0, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture(scope="session")
def session_server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer() as server:
        yield server


@pytest.fixture
def server(session_server: LocalWandbServer) -> Iterator[LocalWandbServer]:
    """The session server with a clean fault plan and request log for this test."""
    session_server.faults.clear()
    session_server.request_log.clear()
    yield session_server
    session_server.faults.clear()


@pytest.fixture
def api(server: LocalWandbServer) -> Iterator[Api]:
    client = Api(api_key=server.api_key, overrides={"base_url": server.url}, retry=FAST_RETRY)
    yield client
    client.close()


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A project name unique to this test (entity is the server's default user)."""
    digest = hashlib.md5(request.node.nodeid.encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80] + "-" + digest


@pytest.fixture
def entity(server: LocalWandbServer) -> str:
    return server.store.viewer.entity


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in `tmp_path` with a cache of the test's own and no artifact-dir override, so the
    default destinations (`./artifacts/...`) and the download cache start empty."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WANDB_ARTIFACT_DIR", raising=False)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server (temporary SQLite) for every test that runs flows or tasks."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=PREFECT_STARTUP_TIMEOUT):
        yield


@pytest.fixture
def credentials(server: LocalWandbServer) -> WandbCredentials:
    """A block pointing at the session server, with a small retry budget for fast tests."""
    from prefect_wandb_public import WandbCredentials

    return WandbCredentials(api_key=server.api_key, base_url=server.url, retry_attempts=2)


@dataclass(frozen=True)
class WheelVenv:
    """A fresh venv with only this package's wheel installed (third-party packages borrowed)."""

    root: Path
    python: Path
    bin: Path
    purelib: str


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    """Build the wheel, install it alone into a new venv, away from the checkout. The venv
    borrows this environment's third-party packages through a path file (no download); the
    path file does not run this environment's editable-install hook, so only the wheel
    provides `prefect_wandb_public`."""
    checkout = Path(__file__).resolve().parents[1]
    base = tmp_path_factory.mktemp("wheel-venv")
    wheels = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(checkout)],
        check=True,
        timeout=300,
    )
    target = base / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    bin_dir = target / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "borrowed-packages.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    wheel = next(wheels.glob("prefect_wandb_public-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True,
        timeout=300,
    )  # fmt: skip
    # Borrowed console scripts (prefect) would run this environment's interpreter: give the
    # venv its own `prefect` command.
    prefect = bin_dir / "prefect"
    prefect.write_text(f"#!{python}\nimport sys\nfrom prefect.cli import app\n\nsys.exit(app())\n")
    prefect.chmod(0o755)
    return WheelVenv(base, python, bin_dir, purelib)


class Recorder:
    """A progress callback that keeps every snapshot (callbacks come from worker threads)."""

    def __init__(self) -> None:
        self.seen: list[Progress] = []
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            self.seen.append(progress)

    @property
    def last(self) -> Progress:
        return self.seen[-1]


@contextmanager
def plain_http_origin(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stdlib HTTP server on 127.0.0.1 answering with `handler`, on a daemon thread, for
    origins the local W&B server is not (any storage, any headers); yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
