"""The official SDK (wandb==0.31.0) as a second reader of the local server.

Every WANDB_* directory points into a temp dir, output is silenced, and nothing leaves loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def official(wandb_sdk: Any, wandb_server: LocalWandbServer) -> Any:
    """`wandb.Api` pointed at the session's local server."""
    return wandb_sdk.Api(
        api_key=wandb_server.api_key, overrides={"base_url": wandb_server.url}, timeout=30
    )
