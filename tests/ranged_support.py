"""Shared by the ranged-download tests (test_ranged_download.py, test_ranged_in_order.py): a
loopback server of the test module's own, reset for each test, a client of one project, and a
20 MiB single-file artifact published through it.

Import `ranged_server` (a fixture) into a test module and yield from `fresh(ranged_server)` in
the module's own `server` fixture.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import FAST_RETRY

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, TransferSettings
from prefect_wandb_public.testing import LocalWandbServer

MIB = 1 << 20
SIZE = 20 * MIB
BLOBS = "/storage/blobs/"


@pytest.fixture(scope="module")
def ranged_server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer() as server:
        yield server


def fresh(server: LocalWandbServer) -> Iterator[LocalWandbServer]:
    """`server` for one test: no faults, an empty request log, the loopback profile after."""
    server.faults.clear()
    server.request_log.clear()
    yield server
    server.faults.clear()
    server.network = "loopback"


def ranged_client(server: LocalWandbServer, project: str, transfers: TransferSettings) -> Api:
    return Api(
        api_key=server.api_key,
        overrides={"base_url": server.url, "project": project},
        retry=FAST_RETRY,
        transfers=transfers,
    )


def publish_one_file(api: Api, server: LocalWandbServer, tmp_path: Path) -> tuple[str, bytes]:
    """Publish a `SIZE` single-file artifact (`weights.bin`) through `api`, then clear the
    server's request log; returns its name (`...:latest`) and bytes."""
    data = os.urandom(SIZE)
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    name = f"ckpt-{hashlib.md5(data).hexdigest()[:8]}"
    with closing(api):
        draft = Artifact(name, "model")
        draft.add_file(str(path))
        logged = api.log_artifact(draft)
    server.request_log.clear()
    return f"{logged.entity}/{logged.project}/{name}:latest", data
