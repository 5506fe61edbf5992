"""The pytest plugin users get with the package (`pytest11` entry point): `wandb_server`,
`wandb_api`, `wandb_env`, `wandb_credentials` in a project with no conftest at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_TESTS = """
from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer


def test_seeded_server_and_api(wandb_server: LocalWandbServer, wandb_api: Api) -> None:
    seed = wandb_server.seed
    runs = wandb_api.runs(f"{seed.entity}/{seed.project}")
    assert len(runs) == 14
    assert wandb_api.artifact(f"{seed.model}:production").version == "v0"
    wandb_server.inject_fault("/graphql", kind="status", status=503, times=1)
    assert wandb_api.run(f"{seed.entity}/{seed.project}/run-03").state == "finished"
    assert wandb_server.request_log.count(status=503) == 1


def test_each_test_gets_a_fresh_server(wandb_server: LocalWandbServer) -> None:
    assert wandb_server.request_log.count(status=503) == 0


def test_environment(wandb_env: None) -> None:
    assert Api().default_project == "mnist-demo"


def test_block(wandb_credentials) -> None:
    assert wandb_credentials.get_client().viewer.username == "local-user"
"""


def test_a_user_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "PYTEST_"))}
    env["PREFECT_WANDB_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout


def test_this_repository_runs_with_the_plugin_loaded(request: pytest.FixtureRequest) -> None:
    """The plugin is active here too; the suite's own session fixture is named differently
    (`session_server`), so nothing shadows the plugin's `wandb_server`."""
    plugin = request.config.pluginmanager.get_plugin("prefect_wandb_public")
    assert plugin is not None and plugin.__name__ == "prefect_wandb_public.pytest_plugin"
    definitions = request._fixturemanager.getfixturedefs("wandb_server", request.node)
    assert definitions and all(d.func.__module__ == plugin.__name__ for d in definitions)
