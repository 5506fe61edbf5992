"""The W&B watcher under the Prefect harness: a baseline first, then one event per change with
the labels triggers match on, no duplicates across runs, nothing missed after a failed run,
state in Prefect Variables, and targets that do not exist failing before any state is saved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - pytest fixture
from prefect.variables import Variable
from pydantic import SecretStr

from prefect_wandb_public import Api, WandbCredentials
from prefect_wandb_public.errors import NotFoundError
from prefect_wandb_public.flows.watch_wandb import watch_wandb
from prefect_wandb_public.tasks.watch import detect_changes
from prefect_wandb_public.tasks.watch_state import PART_SIZE, load_watch_state, save_watch_state
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("prefect_harness")

ORG, ORG_ENTITY, TEAM, PROJECT = "Watch Org", "watch-org", "watch-team", "mnist"
REGISTRY = "wandb-registry-model/mnist-cnn"


@pytest.fixture
def server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(entity=TEAM) as srv:
        srv.create_organization(ORG, org_entity=ORG_ENTITY, members=[TEAM])
        srv.create_registry(ORG, "model", artifact_types=["model"])
        srv.create_run(TEAM, PROJECT, "train-0", summary={"val_loss": 0.5})
        srv.create_run(TEAM, PROJECT, "train-1", state="running")
        srv.create_artifact(
            TEAM,
            PROJECT,
            "mnist-cnn",
            "model",
            {"w": b"0"},
            created_by="train-0",
            aliases=["production"],
        )
        srv.link_artifact(TEAM, PROJECT, "mnist-cnn:v0", REGISTRY, aliases=["production"])
        yield srv


@pytest.fixture
def block(server: LocalWandbServer) -> WandbCredentials:
    return WandbCredentials(
        api_key=SecretStr(server.api_key), base_url=server.url, entity=TEAM, retry_attempts=1
    )


@pytest.fixture
def state_name(request: pytest.FixtureRequest) -> str:
    return "watch-" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]


def _watch(block: WandbCredentials, state_name: str, **kwargs: Any) -> Any:
    return watch_wandb(
        block,
        projects=[f"{TEAM}/{PROJECT}"],
        registries=[REGISTRY],
        state_name=state_name,
        **kwargs,
    )


def _changes(server: LocalWandbServer) -> None:
    """One of each change the watcher reports."""
    server.create_run(TEAM, PROJECT, "train-2", summary={"val_loss": 0.1}, state="finished")
    server.create_artifact(
        TEAM,
        PROJECT,
        "mnist-cnn",
        "model",
        {"w": b"1"},
        created_by="train-2",
        aliases=["staging"],
    )
    server.link_artifact(TEAM, PROJECT, "mnist-cnn:v1", REGISTRY, aliases=["production"])
    run = server.store.require_run(TEAM, PROJECT, "train-1")
    server.store.update_run(run, {"state": "crashed"})


def _sent(worker: EventsWorker, flow_run_id: Any) -> list[Any]:
    """The events the watcher's flow run `flow_run_id` sent."""
    worker.drain()
    flow_run = f"prefect.flow-run.{flow_run_id}"
    return [
        e
        for client in AssertingEventsClient.all
        for e in client.events
        if e.event.startswith("wandb.") and flow_run in {r.id for r in e.related}
    ]


def test_baseline_then_one_event_per_change_and_no_duplicates(
    server: LocalWandbServer,
    block: WandbCredentials,
    state_name: str,
    asserting_events_worker: EventsWorker,  # noqa: F811 - pytest fixture
) -> None:
    first = _watch(block, state_name)
    assert first["events"] == [] and sorted(first["baselined"]) == sorted(
        [f"{TEAM}/{PROJECT}", REGISTRY]
    )
    _changes(server)
    run = _watch(block, state_name, return_state=True)
    second = run.result()
    link = f"wandb.artifact.{ORG_ENTITY}/wandb-registry-model/mnist-cnn"
    assert sorted(second["events"]) == sorted(
        [
            f"wandb.artifact.version.created wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v1",
            f"wandb.artifact.alias.moved wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v1",
            f"wandb.run.finished wandb.run.{TEAM}/{PROJECT}/train-2",
            f"wandb.run.crashed wandb.run.{TEAM}/{PROJECT}/train-1",
            f"wandb.artifact.linked {link}:v1",
            f"wandb.artifact.alias.moved {link}:v1",
        ]
    )
    assert _watch(block, state_name)["events"] == []  # nothing new: nothing emitted

    sent = _sent(asserting_events_worker, run.state_details.flow_run_id)
    events = {(e.event, e.resource.id): e for e in sent}
    assert len(sent) == len(events) == 6
    created = events[
        ("wandb.artifact.version.created", f"wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v1")
    ]
    assert {
        k: created.resource[k]
        for k in (
            "wandb.entity",
            "wandb.project",
            "wandb.collection",
            "wandb.type",
            "wandb.version",
        )
    } == {
        "wandb.entity": TEAM,
        "wandb.project": PROJECT,
        "wandb.collection": "mnist-cnn",
        "wandb.type": "model",
        "wandb.version": "v1",
    }
    assert {r.role: r.id for r in created.related}["run"] == f"wandb.run.{TEAM}/{PROJECT}/train-2"
    assert created.payload["aliases"] == ["latest", "staging"]
    staging = events[
        ("wandb.artifact.alias.moved", f"wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v1")
    ]
    assert (staging.resource["wandb.alias"], staging.resource["wandb.previous_version"]) == (
        "staging",
        "none",
    )
    linked = events[("wandb.artifact.linked", f"{link}:v1")]
    assert (linked.resource["wandb.registry"], linked.resource["wandb.source.collection"]) == (
        "model",
        "mnist-cnn",
    )
    assert linked.resource["wandb.source.version"] == "v1"
    assert {r.role: r.id for r in linked.related}["source"] == (
        f"wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v1"
    )
    moved = events[("wandb.artifact.alias.moved", f"{link}:v1")]
    assert (moved.resource["wandb.alias"], moved.resource["wandb.previous_version"]) == (
        "production",
        "v0",
    )
    crashed = events[("wandb.run.crashed", f"wandb.run.{TEAM}/{PROJECT}/train-1")]
    assert (crashed.resource["wandb.state"], crashed.resource["wandb.previous_state"]) == (
        "crashed",
        "running",
    )


def test_a_failed_run_misses_nothing_and_repeats_the_same_event_ids(
    server: LocalWandbServer, block: WandbCredentials, state_name: str
) -> None:
    _watch(block, state_name)
    saved = load_watch_state(state_name)
    _changes(server)
    server.inject_fault("/graphql", status=400, operation="ArtifactCreatedBy", times=1)
    with pytest.raises(Exception, match="400"):
        _watch(block, state_name)
    assert load_watch_state(state_name) == saved  # nothing saved by the failed run
    api = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": TEAM})
    targets = ([f"{TEAM}/{PROJECT}"], [REGISTRY])
    again = [c["id"] for c in detect_changes(api, *targets, state=saved)["changes"]]
    assert again == [c["id"] for c in detect_changes(api, *targets, state=saved)["changes"]]
    assert len(_watch(block, state_name)["events"]) == 6


def test_emit_baseline_reports_what_is_there(block: WandbCredentials, state_name: str) -> None:
    events = _watch(block, state_name, emit_baseline=True)["events"]
    assert f"wandb.artifact.version.created wandb.artifact.{TEAM}/{PROJECT}/mnist-cnn:v0" in events
    assert f"wandb.run.finished wandb.run.{TEAM}/{PROJECT}/train-0" in events
    assert not any("train-1" in e for e in events)  # still running


@pytest.mark.parametrize(
    ("projects", "registries", "named"),
    [
        ([f"{TEAM}/no-such-project"], [], f"project {TEAM}/no-such-project not found"),
        ([f"{TEAM}/{PROJECT}/no-such-collection"], [], "no-such-collection not found"),
        ([], ["wandb-registry-nope/x"], "registry 'nope' not found"),
        ([], ["wandb-registry-model/no-such-collection"], "'no-such-collection' not found"),
    ],
)
def test_a_target_that_does_not_exist_fails_and_writes_no_state(
    block: WandbCredentials,
    state_name: str,
    projects: list[str],
    registries: list[str],
    named: str,
) -> None:
    with pytest.raises(NotFoundError, match=named):
        watch_wandb(block, projects=projects, registries=registries, state_name=state_name)
    assert Variable.get(state_name, default=None) is None


def test_state_outgrows_one_variable_and_round_trips(state_name: str) -> None:
    big = {"runs": {f"run-{i:05d}": {"state": "running", "n": i} for i in range(3000)}}
    parts = save_watch_state(state_name, big)
    assert parts > 1 and load_watch_state(state_name) == big
    assert save_watch_state(state_name, {"small": True}) == 1
    assert load_watch_state(state_name) == {"small": True}
    # The previous generation's parts are gone.
    assert Variable.get(f"{state_name}__g1_1", default=None) is None
    assert PART_SIZE <= 4000


def test_prefect_yaml_schedules_the_watcher_and_triggers_the_promotion() -> None:
    import yaml
    from script_loader import CHECKOUT

    spec = yaml.safe_load((CHECKOUT / "flows" / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    watcher = deployments["wandb-watcher"]
    assert watcher["entrypoint"] == "prefect_wandb_public.flows.watch_wandb:watch_wandb"
    assert watcher["schedules"] == [{"interval": 300}] and watcher["concurrency_limit"] == 1
    (trigger,) = deployments["model-promotion-on-new-model"]["triggers"]
    assert set(trigger["expect"]) == {"wandb.artifact.version.created", "wandb.artifact.linked"}
    assert trigger["match"]["wandb.source.collection"] == "mnist-cnn"
    assert deployments["model-promotion-on-new-model"]["parameters"]["registry"] == REGISTRY
