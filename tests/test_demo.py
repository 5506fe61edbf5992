"""The README's demo command end to end, and the package's own conventions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from conftest import WheelVenv

import prefect_wandb_public

DEMO_KEY = "demo-" + "k3y" * 15


def test_version() -> None:
    assert prefect_wandb_public.__version__.startswith("0.")


def test_demo_runs_the_flows_and_never_logs_the_key(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": "",
        "PREFECT_LOGGING_LEVEL": "DEBUG",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefect_wandb_public.cli",
            "demo",
            "--verbose",
            "--api-key",
            DEMO_KEY,
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs[-3000:]
    assert "Demo report" in result.stdout
    for label in ("best run:", "production alias:", "history export:", "published artifact:"):
        assert label in result.stdout
    assert "Finished in state Completed" in logs, "Prefect's DEBUG logs were captured"
    assert logs.count(DEMO_KEY) == 0
    exported = sorted((tmp_path / "out" / "history").glob("*.parquet"))
    assert len(exported) == 12
    assert len(pd.read_parquet(exported[0])) == 60


def test_the_demo_runs_from_a_wheel_in_a_fresh_venv(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    """The README's demo from the wheel alone, in a fresh venv away from the checkout."""
    where = subprocess.run(
        [str(wheel_venv.python), "-c", "import prefect_wandb_public as p; print(p.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(wheel_venv.purelib), where
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": "",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
    }
    script = wheel_venv.bin / "prefect-wandb-public"
    result = subprocess.run(
        [str(script), "demo", "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Demo report" in result.stdout
    assert len(list((tmp_path / "out" / "history").glob("*.parquet"))) == 12
