"""The README's demo command end to end, and the package's own conventions."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pandas as pd

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


def test_the_demo_runs_from_a_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a new venv and run the README's demo there, away
    from the checkout. The venv borrows this environment's third-party packages through a path
    file (no download); the path file does not run this environment's editable-install hook, so
    only the wheel provides `prefect_wandb_public`."""
    checkout = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(checkout)],
        check=True,
        timeout=300,
    )
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
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
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    where = subprocess.run(
        [str(python), "-c", "import prefect_wandb_public as p; print(p.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(purelib), where
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": "",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
    }
    script = target / ("Scripts" if os.name == "nt" else "bin") / "prefect-wandb-public"
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
