"""The official SDK (wandb==0.31.0) as a second reader of the local server, and as a writer.

Every WANDB_* directory points into a temp dir, output is silenced, and nothing leaves loopback.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

WANDB_DIR_VARIABLES = (
    "WANDB_DIR",
    "WANDB_CACHE_DIR",
    "WANDB_CONFIG_DIR",
    "WANDB_DATA_DIR",
    "WANDB_ARTIFACT_DIR",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/oracle/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.oracle)


@pytest.fixture(scope="session")
def wandb_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The `wandb` module with its directories in a temp dir and its output silenced."""
    root = tmp_path_factory.mktemp("wandb-sdk")
    saved = {name: os.environ.get(name) for name in (*WANDB_DIR_VARIABLES, "WANDB_SILENT")}
    for name in WANDB_DIR_VARIABLES:
        os.environ[name] = str(root / name.lower())
    os.environ["WANDB_SILENT"] = "true"
    import wandb

    yield wandb
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def ours(session_server: LocalWandbServer) -> Iterator[Api]:
    """Our client pointed at the session's local server."""
    client = Api(api_key=session_server.api_key, overrides={"base_url": session_server.url})
    yield client
    client.close()


@pytest.fixture(scope="session")
def official(wandb_sdk: Any, session_server: LocalWandbServer) -> Any:
    """`wandb.Api` pointed at the session's local server."""
    return wandb_sdk.Api(
        api_key=session_server.api_key, overrides={"base_url": session_server.url}, timeout=30
    )


def plain(value: Any) -> Any:
    """SDK values made plain data: its summary and config are dict-like objects."""
    if hasattr(value, "items"):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def same(a: Any, b: Any, *, exact_numbers: bool = True) -> bool:
    """Deep equality where NaN equals NaN (history and summaries carry NaN). With
    `exact_numbers=False` an integral float equals its int: the SDK's history scan goes through
    wandb-core, which re-encodes rows and writes 2.0 as 2."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(
            same(a[k], b[k], exact_numbers=exact_numbers) for k in a
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            same(x, y, exact_numbers=exact_numbers) for x, y in zip(a, b, strict=True)
        )
    numbers = (int, float)
    if not exact_numbers and type(a) in numbers and type(b) in numbers:
        return bool(a == b)
    return bool(type(a) is type(b) and a == b)
