"""Watch W&B and turn its changes into Prefect events that deployments' triggers act on.

Each run compares W&B with what the previous run saw (its state is in Prefect Variables named
after `state_name`) and emits one event per change: `wandb.artifact.version.created`,
`wandb.artifact.linked`, `wandb.artifact.alias.moved` / `.removed`, `wandb.run.finished` /
`failed` / `crashed` / `killed` (see `prefect_wandb_public.tasks.watch`). The first run records
a baseline and emits nothing unless `emit_baseline`. The state is saved only after every event
was sent, so a run that fails misses nothing; a target that cannot be read fails the run
before anything is saved. Run one watcher per state name at a time (the deployment's
concurrency limit is 1): two at once could both report a change.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, cast

from prefect import flow, task
from prefect import serve as prefect_serve
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import RunnerDeployment

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.credentials import load_credentials
from prefect_wandb_public.flows.scripts import run_flow_script
from prefect_wandb_public.tasks.watch import (
    DEFAULT_ALIASES,
    detect_wandb_changes,
    emit_wandb_events,
)
from prefect_wandb_public.tasks.watch_state import (
    check_state_name,
    load_watch_state,
    save_watch_state,
)

EVERY_FIVE_MINUTES = 300
SERVED_NAME = "wandb-watcher-served"


@task(name="Load the watch state", cache_policy=NO_CACHE)
def load_state(state_name: str) -> dict[str, Any] | None:
    return load_watch_state(state_name)


@task(name="Save the watch state", cache_policy=NO_CACHE)
def save_state(state_name: str, state: dict[str, Any]) -> int:
    return save_watch_state(state_name, state)


@flow(name="wandb-watch")
def watch_wandb(
    credentials: WandbCredentials | str = "wandb",
    projects: list[str] | None = None,
    registries: list[str] | None = None,
    aliases: list[str] | None = None,
    state_name: str = "wandb-watch",
    emit_baseline: bool = False,
) -> dict[str, Any]:
    """Emit a Prefect event for every W&B change since the last run.

    New committed versions, links into registry collections, moves of the watched aliases and
    runs reaching a terminal state; the state between runs lives in Prefect Variables named
    after `state_name`, saved only once every event was sent.

    Args:
        credentials: A WandbCredentials block, or the name of a saved one.
        projects: Projects to watch, `entity/project` or `entity/project/collection`.
        registries: Registry collections to watch, `[org/]wandb-registry-<name>[/<collection>]`.
        aliases: The aliases whose moves are reported (default: production and staging).
        state_name: The Prefect Variable (prefix) holding the state between runs.
        emit_baseline: On a target's first run, report what it already holds.

    Returns:
        `events` (one line per event sent), the `baselined` targets and the state's
        `generation`.

    Example:
        ```python
        from prefect_wandb_public.flows import watch_wandb

        watch_wandb("wandb", projects=["team/proj"], registries=["wandb-registry-model/cnn"])
        ```
    """
    check_state_name(state_name)
    block = load_credentials(credentials)
    state = load_state(state_name)
    found = detect_wandb_changes(
        block,
        list(projects or []),
        list(registries or []),
        list(DEFAULT_ALIASES if aliases is None else aliases),
        state,
        emit_baseline,
    )
    emitted = emit_wandb_events(found["changes"])
    save_state(state_name, found["state"])
    return {
        "events": emitted,
        "baselined": found["baselined"],
        "generation": found["state"]["generation"],
    }


def served_deployment() -> RunnerDeployment:
    """What `--serve` serves: every five minutes under a name of its own, so serving never
    replaces the work-pool deployment `wandb-watcher` of flows/prefect.yaml."""
    return cast(
        RunnerDeployment,
        watch_wandb.to_deployment(
            name=SERVED_NAME,
            interval=EVERY_FIVE_MINUTES,
            parameters={"credentials": "wandb"},
            concurrency_limit=1,
        ),
    )


def serve() -> None:
    prefect_serve(served_deployment())


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", action="append", help="entity/project[/collection]")
    parser.add_argument("--registry", action="append", help="[org/]wandb-registry-<r>[/<c>]")
    parser.add_argument("--state-name", default="wandb-watch")


def main(argv: Sequence[str] | None = None) -> Any:
    """The command line of `flows/watch_wandb.py`: run once, or `--serve` the deployment."""
    return run_flow_script(
        __doc__.splitlines()[0],
        lambda block, project, args: watch_wandb(
            block,
            args.project or ([project] if project else None),
            args.registry,
            state_name=args.state_name,
        ),
        serve,
        _arguments,
        argv,
    )


__all__ = [
    "EVERY_FIVE_MINUTES",
    "SERVED_NAME",
    "load_state",
    "main",
    "save_state",
    "serve",
    "served_deployment",
    "watch_wandb",
]
