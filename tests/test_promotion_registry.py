"""Promotion into a registry under the Prefect harness: `link_artifact`, `promote_artifact`
with a registry target, `model_promotion(registry=...)`, the `wandb.artifact.promoted` event's
labels, and the rollback that leaves the registry as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - pytest fixture
from prefect.transactions import transaction
from pydantic import SecretStr

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.flows.model_promotion import model_promotion, move_alias
from prefect_wandb_public.tasks import link_artifact, promote_artifact
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DEMO_TEAM, DemoSeed, seed_demo

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[LocalWandbServer, WandbCredentials, DemoSeed]]:
    """The demo project in a team whose organization's `model` registry holds production."""
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "download-cache"))
    with LocalWandbServer(entity=DEMO_TEAM) as server:
        seed = seed_demo(server.store)
        block = WandbCredentials(
            api_key=SecretStr(server.api_key),
            base_url=server.url,
            entity=seed.entity,
            project=seed.project,
            retry_attempts=2,
        )
        yield server, block, seed


@flow
def in_a_flow(task: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one task inside a flow run, as users do."""
    return task(*args, **kwargs)


def _registry_state(server: LocalWandbServer, seed: DemoSeed) -> dict[str, object]:
    """Everything about the registry collection a promotion may change."""
    org = server.store.organization_by_name(seed.organization)
    assert org is not None
    portfolio = server.store.get_portfolio(
        org.entity, f"wandb-registry-{seed.registry}", seed.model
    )
    assert portfolio is not None
    return {
        "links": {m.version: m.artifact.version for m in portfolio.live_members()},
        "aliases": dict(portfolio.aliases),
        "next": portfolio.next_index,
    }


def test_the_seeded_registry_holds_the_production_model(
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    assert _registry_state(server, seed) == {
        "links": {"v0": "v0"},
        "aliases": {"latest": 0, "production": 0},
        "next": 1,
    }
    holder = block.get_client().artifact(f"{seed.registry_collection}:production")
    assert holder.is_link and holder.source_qualified_name == (
        f"{seed.entity}/{seed.project}/mnist-cnn:v0"
    )


def test_model_promotion_into_the_registry_links_and_moves_the_alias(
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
    asserting_events_worker: EventsWorker,  # noqa: F811 - pytest fixture
) -> None:
    server, block, seed = demo
    state = model_promotion(
        block, f"{seed.entity}/{seed.project}", registry=seed.registry_collection,
        return_state=True,
    )  # fmt: skip
    outcome = state.result()
    flow_run = f"prefect.flow-run.{state.state_details.flow_run_id}"
    assert outcome["promoted"] is True and outcome["collection"] == seed.registry_collection
    assert outcome["previous"].endswith("/wandb-registry-model/mnist-cnn:v0")
    candidate_version = outcome["candidate"].rsplit(":", 1)[1]
    assert _registry_state(server, seed) == {
        "links": {"v0": "v0", "v1": candidate_version},
        "aliases": {"latest": 1, "production": 1},
        "next": 2,
    }
    # The model's own collection is untouched: production stays on v0 there.
    proj = server.store.require_project(seed.entity, seed.project)
    assert proj.collections["mnist-cnn"].aliases["production"] == 0

    asserting_events_worker.drain()
    events = [
        e
        for client in AssertingEventsClient.all
        for e in client.events
        if e.event == "wandb.artifact.promoted" and flow_run in {r.id for r in e.related}
    ]
    assert len(events) == 1
    resource = events[0].resource
    assert resource.id == "wandb.artifact.mnist-lab-org/wandb-registry-model/mnist-cnn:v1"
    assert (resource["wandb.collection"], resource["wandb.alias"], resource["wandb.registry"]) == (
        "mnist-cnn",
        "production",
        "model",
    )
    assert events[0].payload["previous"] == "v0"
    related = {r.role: r.id for r in events[0].related}
    assert related["source"] == f"wandb.artifact.{outcome['candidate']}"
    assert related["run"].startswith(f"wandb.run.{seed.entity}/{seed.project}/run-")


def test_promoting_a_member_moves_the_alias_without_a_new_link(
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    v3 = f"{seed.entity}/{seed.project}/mnist-cnn:v3"
    linked = in_a_flow(link_artifact, block, v3, seed.registry_collection, aliases=["candidate"])
    assert linked["qualified_name"] == "mnist-lab-org/wandb-registry-model/mnist-cnn:v1"
    assert linked["is_link"] and linked["source"] == v3
    previous = in_a_flow(promote_artifact, block, v3, "production", target=seed.registry_collection)
    assert previous is not None and previous["version"] == "v0"
    assert _registry_state(server, seed)["aliases"] == {
        "latest": 1,
        "production": 1,
        "candidate": 1,
    }
    assert _registry_state(server, seed)["next"] == 2  # no second link of v3


@pytest.mark.parametrize("member", [False, True])
def test_rollback_leaves_the_registry_as_it_was(
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed], member: bool
) -> None:
    server, block, seed = demo
    v3 = f"{seed.entity}/{seed.project}/mnist-cnn:v3"
    if member:
        in_a_flow(link_artifact, block, v3, seed.registry_collection)
    before = _registry_state(server, seed)

    @flow
    def promote_then_fail() -> None:
        with transaction():
            move_alias(block, v3, "production", seed.registry_collection)
            assert _registry_state(server, seed)["aliases"]["production"] != 0
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError, match="a later step failed"):
        promote_then_fail()
    after = _registry_state(server, seed)
    if member:
        assert after == before
    else:
        # The link the promotion made is gone; only its number stays used.
        assert {k: v for k, v in after.items() if k != "next"} == {
            k: v for k, v in before.items() if k != "next"
        }
        assert after["next"] == before["next"] + 1  # type: ignore[operator]


def test_bad_promotion_targets_and_refused_links(
    demo: tuple[LocalWandbServer, WandbCredentials, DemoSeed],
) -> None:
    server, block, seed = demo
    v3 = f"{seed.entity}/{seed.project}/mnist-cnn:v3"
    for target in (f"{seed.entity}/{seed.project}/mnist-cnn", "wandb-registry-model/x:v1"):
        with pytest.raises(InvalidInputError, match="invalid promotion target"):
            in_a_flow(promote_artifact, block, v3, "production", target=target)
    before = _registry_state(server, seed)
    with pytest.raises(InvalidInputError, match="accepts artifact types \\['model'\\]"):
        in_a_flow(
            link_artifact, block, f"{seed.entity}/{seed.project}/mnist:v0", seed.registry_collection
        )
    assert _registry_state(server, seed) == before
