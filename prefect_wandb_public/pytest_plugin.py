"""pytest fixtures for testing your own W&B code and flows ("moto for W&B"), registered through
the `pytest11` entry point: installing the package is the one import.

    def test_my_export(wandb_api, wandb_server):
        run = wandb_api.run(f"{wandb_server.seed.entity}/{wandb_server.seed.project}/run-03")
        assert run.summary["val_loss"] > 0

- `wandb_server`: a `LocalWandbServer` on 127.0.0.1 seeded with the demo project (a sweep of 14
  runs with histories, a dataset and a model with a `production` alias; `wandb_server.seed`
  says where), fresh for each test; inject faults, read `request_log`, seed more.
- `wandb_api`: an `Api` pointed at it.
- `wandb_env`: WANDB_API_KEY / WANDB_BASE_URL / WANDB_ENTITY / WANDB_PROJECT set for the test,
  so code that builds its own `Api()` (or the command line) talks to the server.
- `wandb_credentials`: a `WandbCredentials` block pointed at it, for tasks and flows.

Fixtures of the same name in a conftest.py take precedence, as pytest's rules say. The module
imports nothing heavy until a fixture is used (pytest loads plugins before conftest.py runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from prefect_wandb_public.api import Api
    from prefect_wandb_public.credentials import WandbCredentials
    from prefect_wandb_public.testing import LocalWandbServer
    from prefect_wandb_public.testing.seed import DemoSeed


@pytest.fixture
def wandb_server() -> Iterator[LocalWandbServer]:
    """A local W&B server seeded with the demo project (`.seed` says where)."""
    from prefect_wandb_public.testing import LocalWandbServer
    from prefect_wandb_public.testing.seed import seed_demo

    with LocalWandbServer() as server:
        server.seed = seed_demo(server.store)
        yield server


def _seed_of(server: LocalWandbServer) -> DemoSeed:
    if server.seed is None:  # a conftest's own `wandb_server` may not seed the demo
        raise pytest.UsageError("wandb_server has no demo seed (set server.seed = seed_demo(...))")
    return server.seed


@pytest.fixture
def wandb_api(wandb_server: LocalWandbServer) -> Iterator[Api]:
    """An `Api` for `wandb_server`, defaulting to the demo entity and project."""
    from prefect_wandb_public.api import Api

    seed = _seed_of(wandb_server)
    api = Api(
        api_key=wandb_server.api_key,
        overrides={"base_url": wandb_server.url, "entity": seed.entity, "project": seed.project},
    )
    yield api
    api.close()


@pytest.fixture
def wandb_env(wandb_server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The W&B environment variables point at `wandb_server` for this test."""
    seed = _seed_of(wandb_server)
    monkeypatch.setenv("WANDB_API_KEY", wandb_server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", wandb_server.url)
    monkeypatch.setenv("WANDB_ENTITY", seed.entity)
    monkeypatch.setenv("WANDB_PROJECT", seed.project)


@pytest.fixture
def wandb_credentials(wandb_server: LocalWandbServer) -> WandbCredentials:
    """A `WandbCredentials` block for `wandb_server` (not saved; pass it to tasks and flows)."""
    from pydantic import SecretStr

    from prefect_wandb_public.credentials import WandbCredentials

    seed = _seed_of(wandb_server)
    return WandbCredentials(
        api_key=SecretStr(wandb_server.api_key),
        base_url=wandb_server.url,
        entity=seed.entity,
        project=seed.project,
    )


__all__ = ["wandb_api", "wandb_credentials", "wandb_env", "wandb_server"]
