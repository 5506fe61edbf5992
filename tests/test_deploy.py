"""The README's "Deploy" section as written, for real on 127.0.0.1: the wheel in a fresh venv,
the Prefect test harness's API server, a process work pool and worker, `prefect deploy --all`
from flows/prefect.yaml, one deployment run that must complete and write its files."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WheelVenv

from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import seed_demo

CHECKOUT = Path(__file__).resolve().parents[1]
STEP_TIMEOUT = 120


def readme_deploy_lines() -> list[str]:
    """The shell lines of the README between the deploy markers, comments dropped."""
    text = (CHECKOUT / "README.md").read_text()
    block = text.split("<!-- deploy:start", 1)[1].split("<!-- deploy:end -->", 1)[0]
    body = block.split("```shell", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in body.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_names_the_pool_the_yaml_expects() -> None:
    import yaml

    lines = readme_deploy_lines()
    spec = yaml.safe_load((CHECKOUT / "flows" / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in spec["deployments"]}
    assert pools == {"wandb-process"}
    assert "prefect work-pool create wandb-process --type process" in lines
    assert "prefect worker start --pool wandb-process" in lines
    assert "prefect deploy --all --prefect-file flows/prefect.yaml" in lines


@pytest.fixture
def leaves_no_deployments(prefect_harness: None) -> Iterator[None]:
    """The session's Prefect API is shared: the deployments made here, with their triggers, are
    deleted afterwards, so no later test sees them fire on its events (the promotion trigger
    matches any new `mnist-cnn` model version)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        before = {d.id for d in client.read_deployments()}
    yield
    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            if deployment.id not in before:
                client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
                client.delete_deployment(deployment.id)


@pytest.mark.usefixtures("leaves_no_deployments")
def test_deploy_as_the_readme_says_and_run_a_deployment(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    import prefect_wandb_public.flows as packaged

    project_dir = tmp_path / "project"  # a user's folder: the two files the README names
    (project_dir / "flows").mkdir(parents=True)
    (project_dir / "blocks").mkdir()
    shutil.copy(CHECKOUT / "flows" / "prefect.yaml", project_dir / "flows")
    shutil.copy(CHECKOUT / "blocks" / "save_credentials.py", project_dir / "blocks")
    started = time.monotonic()
    with LocalWandbServer() as wandb:
        seed = seed_demo(wandb.store)
        env = {
            **os.environ,
            "PATH": f"{wheel_venv.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
            "WANDB_BASE_URL": wandb.url,
            "PWD": str(project_dir),  # as a shell in that folder has it (prefect.yaml reads it)
        }
        env.pop("WANDB_API_KEY", None)
        outputs: dict[str, str] = {}
        worker = None
        for line in readme_deploy_lines():
            words = shlex.split(line)
            if words[0] == "pip":  # the wheel is what `pip install` would have installed
                assert words[1:2] == ["install"] and words[2].startswith("prefect-wandb-public")
                continue
            step_env = dict(env)
            while "=" in words[0]:  # VAR=value prefixes
                name, _, _ = words.pop(0).partition("=")
                assert name == "WANDB_API_KEY"
                step_env[name] = wandb.api_key
            words = [{"my-team": seed.entity, "my-project": seed.project}.get(w, w) for w in words]
            if words[:2] == ["prefect", "worker"]:
                worker = [*words, "--run-once"]  # runs once the deployment run is scheduled
                continue
            executable = "python" if words[0] == "python" else words[0]
            words[0] = str(wheel_venv.bin / executable)
            result = subprocess.run(
                words,
                cwd=project_dir,
                env=step_env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=STEP_TIMEOUT,
            )
            assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])
            outputs[line] = result.stdout
            assert wandb.api_key not in result.stdout + result.stderr
        assert worker is not None
        run_output = outputs["prefect deployment run wandb-history-export/nightly-history-export"]
        found = re.search(r"flow-run/([0-9a-f-]{36})", run_output)
        assert found is not None, run_output
        worker[0] = str(wheel_venv.bin / "prefect")
        result = subprocess.run(
            worker,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=STEP_TIMEOUT,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(found.group(1))
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
        deployments = {
            d.name: d
            for d in client.read_deployments()
            if d.name in {"nightly-history-export", "daily-model-promotion", "nightly-ci-lineage"}
        }
        assert set(deployments) == {
            "nightly-history-export",
            "daily-model-promotion",
            "nightly-ci-lineage",
        }
        assert {d.work_pool_name for d in deployments.values()} == {"wandb-process"}
        assert deployments["nightly-history-export"].entrypoint == (
            "prefect_wandb_public.flows.history_export:history_export"
        )
        assert "description" in str(deployments["daily-model-promotion"].parameter_openapi_schema)

        # Serving (`--serve`) applies deployments of its own names; the pool ones stay.
        for name in packaged.__all__:
            module = __import__(f"prefect_wandb_public.flows.{name}", fromlist=["x"])
            module.served_deployment().apply()
        kept = client.read_deployment(deployments["nightly-history-export"].id)
        assert kept.work_pool_name == "wandb-process"
    exported = sorted((project_dir / "wandb-history").glob("*.parquet"))
    assert len(exported) == 12, "every finished demo run, written where the yaml says"
    assert time.monotonic() - started < 240
