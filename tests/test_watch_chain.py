"""The whole chain on 127.0.0.1: a new model version is published on the local W&B server → the
watcher emits `wandb.artifact.version.created` → the trigger of `flows/prefect.yaml`'s
`model-promotion-on-new-model` deployment starts a flow run (parameters templated from the
event) → a process worker runs it → `production` moves in the registry.

The Prefect test harness evaluates deployment triggers (its ephemeral server runs the
triggers and actions services), so no separate `prefect server` is needed; the deployment is
made with `prefect deploy` from a copy of `flows/prefect.yaml` pointed at a test work pool and
credentials block, and a `prefect worker` subprocess runs the triggered flow. Bounded: the
worker is stopped in every case, every wait has a deadline.

On SQLite the triggers service learns of new automations only in its periodic evaluation (every
5 s, later on a busy machine), and an event that arrives before its automation is loaded is
never matched. So the test proves the deployment's trigger is loaded before it publishes: a
probe automation created after the deploy pauses a dummy automation when a probe event
arrives; once the dummy is paused, the triggers service has loaded a snapshot that holds the
probe, and so the deployment's trigger committed before it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events import emit_event
from prefect.events.actions import DoNothing, PauseAutomation
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr
from script_loader import CHECKOUT

from prefect_wandb_public import Api, WandbCredentials
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.flows.watch_wandb import watch_wandb
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DEMO_TEAM, seed_demo

pytestmark = pytest.mark.usefixtures("prefect_harness")

DEPLOYMENT = "model-promotion-on-new-model"
BIN = Path(sys.executable).parent
CHAIN_DEADLINE = 120.0  # seconds from publishing to the promotion run finishing
TRIGGERS_LOADED_DEADLINE = 120.0  # seconds for the triggers service to load the deploy's trigger


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (the worker and the flow runs it started), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture
def wandb_demo(tmp_path: Path) -> Iterator[tuple[LocalWandbServer, str]]:
    with LocalWandbServer(entity=DEMO_TEAM) as server:
        seed = seed_demo(server.store)
        block_name = "chain-" + uuid.uuid4().hex[:8]
        WandbCredentials(
            api_key=SecretStr(server.api_key),
            base_url=server.url,
            entity=seed.entity,
            retry_attempts=2,
        ).save(block_name)
        yield server, block_name


def _deployment_file(tmp_path: Path, pool: str, block_name: str) -> Path:
    """The repository's deployment, pointed at this test's pool, block and checkout."""
    spec = yaml.safe_load((CHECKOUT / "flows" / "prefect.yaml").read_text())
    (deployment,) = [d for d in spec["deployments"] if d["name"] == DEPLOYMENT]
    deployment["name"] = f"{DEPLOYMENT}-{pool}"  # its own, whatever else the session deployed
    deployment["work_pool"] = {"name": pool}
    deployment["parameters"]["credentials"] = block_name
    spec["deployments"] = [deployment]
    spec["pull"] = [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(CHECKOUT)}}
    ]
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _publish(server: LocalWandbServer, api: Api, tmp_path: Path) -> str:
    """A new run with the best val_loss so far logs a new model version (through the API)."""
    server.create_run(DEMO_TEAM, "mnist-demo", "run-new", summary={"val_loss": 0.001})
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(2048))
    draft = Artifact("mnist-cnn", "model")
    draft.add_file(str(weights))
    return api.run(f"{DEMO_TEAM}/mnist-demo/run-new").log_artifact(draft).version


def _wait_for_triggers_loaded(deadline: float) -> None:
    """Return once the triggers service has loaded every automation committed so far.

    A probe automation (created now) pauses a dummy one when a probe event arrives; probe events
    are emitted until the dummy is paused. Both are deleted on the way out.
    """
    probe_resource = "chain.probe." + uuid.uuid4().hex[:8]
    with get_client(sync_client=True) as client:
        dummy_id = client.create_automation(
            AutomationCore(
                name=probe_resource + ".dummy",
                trigger=EventTrigger(expect={"chain.never"}, posture=Posture.Reactive),
                actions=[DoNothing()],
            )
        )
        probe_id = client.create_automation(
            AutomationCore(
                name=probe_resource,
                trigger=EventTrigger(
                    expect={"chain.probe"},
                    match={"prefect.resource.id": probe_resource},
                    posture=Posture.Reactive,
                    threshold=1,
                ),
                actions=[PauseAutomation(source="selected", automation_id=dummy_id)],
            )
        )
        try:
            while time.monotonic() < deadline:
                emit_event("chain.probe", resource={"prefect.resource.id": probe_resource})
                time.sleep(1.0)
                dummy = client.read_automation(dummy_id)
                if dummy is not None and not dummy.enabled:
                    break
            else:
                raise TimeoutError(
                    f"the triggers service did not load new automations within "
                    f"{TRIGGERS_LOADED_DEADLINE} s"
                )
        finally:
            client.delete_automation(probe_id)
            client.delete_automation(dummy_id)


def _wait_for_run(deployment_id: uuid.UUID, deadline: float) -> Any:
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            if runs and runs[0].state is not None and runs[0].state.is_final():
                return runs[0]
            time.sleep(0.25)
    raise TimeoutError(f"no finished run of {DEPLOYMENT} within {CHAIN_DEADLINE} s")


@pytest.mark.timeout(420)
def test_publish_watch_trigger_promote(
    wandb_demo: tuple[LocalWandbServer, str], tmp_path: Path
) -> None:
    server, block_name = wandb_demo
    api = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": DEMO_TEAM})
    pool = "chain-" + uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
    }
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    deployed = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--name", f"{DEPLOYMENT}-{pool}",
         "--prefect-file", str(_deployment_file(tmp_path, pool, block_name))],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"wandb-model-promotion/{DEPLOYMENT}-{pool}")
    worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed in finally
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process",
         "--install-policy", "never"],
        env=env, stdout=worker_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    state = "chain-" + uuid.uuid4().hex[:8]
    targets = {"projects": [f"{DEMO_TEAM}/mnist-demo"], "state_name": state}
    try:
        assert watch_wandb(block_name, **targets)["events"] == []  # the baseline
        _wait_for_triggers_loaded(time.monotonic() + TRIGGERS_LOADED_DEADLINE)
        started = time.monotonic()
        version = _publish(server, api, tmp_path)
        emitted = watch_wandb(block_name, **targets)["events"]
        assert sorted(emitted) == [
            f"wandb.artifact.version.created wandb.artifact.{DEMO_TEAM}/mnist-demo/"
            f"mnist-cnn:{version}",
            f"wandb.run.finished wandb.run.{DEMO_TEAM}/mnist-demo/run-new",
        ]
        try:
            run = _wait_for_run(deployment.id, started + CHAIN_DEADLINE)
        except TimeoutError as timeout:
            worker_said = (tmp_path / "worker.log").read_text()[-4000:]
            raise TimeoutError(f"{timeout}; the worker's log ends:\n{worker_said}") from None
        elapsed = time.monotonic() - started
        assert run.state.is_completed(), (tmp_path / "worker.log").read_text()[-4000:]
        assert run.parameters["project_path"] == f"{DEMO_TEAM}/mnist-demo"
        assert run.parameters["model"] == "mnist-cnn"
        holder = api.artifact("wandb-registry-model/mnist-cnn:production")
        assert holder.source_qualified_name == f"{DEMO_TEAM}/mnist-demo/mnist-cnn:{version}"
        print(f"\npublish -> watcher event -> trigger -> promoted in {elapsed:.1f} s "
              f"(load average {os.getloadavg()[0]:.2f})")  # fmt: skip
    finally:
        _stop(worker)
        worker_log.close()
        with get_client(sync_client=True) as client:
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
            client.delete_deployment(deployment.id)
