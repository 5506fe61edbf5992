"""Promote the best run's model: verify it, gate it against the current holder, move the alias.

The alias moves in the model's own collection or, with `registry`, in that registry collection
(the candidate is linked there first if it is not yet a member). It moves inside a Prefect
transaction: if anything after the move fails, the rollback hook gives the alias back to the
previous holder and removes a link the promotion made (W&B itself is not transactional, so this
is a compensating action; the log says what remains). Nothing moves when verification or the
gate fails.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from typing import Any, Literal, cast

from prefect import flow, task
from prefect import serve as prefect_serve
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import RunnerDeployment
from prefect.logging import get_run_logger
from prefect.transactions import Transaction, get_transaction, transaction

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.credentials import load_credentials
from prefect_wandb_public.errors import NotFoundError
from prefect_wandb_public.flows.scripts import run_flow_script
from prefect_wandb_public.tasks import (
    TRANSIENT_RETRIES,
    best_run,
    download_artifact,
)
from prefect_wandb_public.tasks.artifacts import artifact_record, promote, restore_alias

DAILY_CRON = "30 6 * * *"


@task(name="Find the run's model artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def run_model(credentials: WandbCredentials, run_path: str, model: str) -> dict[str, Any]:
    """The newest version of collection `model` that the run logged."""
    run = credentials.get_client().run(run_path)
    versions = [a for a in run.logged_artifacts() if a.collection_name == model]
    if not versions:
        raise NotFoundError(f"run {run_path} logged no version of artifact {model!r}")
    newest = max(versions, key=lambda a: int(a.version[1:]))
    return artifact_record(newest)


@task(name="Read the current holder", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def current_holder(
    credentials: WandbCredentials, collection: str, alias: str, metric: str
) -> dict[str, Any] | None:
    """The version holding `alias` and its logging run's `metric`, or None."""
    api = credentials.get_client()
    try:
        artifact = api.artifact(f"{collection}:{alias}")
    except NotFoundError:
        return None
    run = artifact.logged_by()
    value = run.summary.get(metric) if run is not None else None
    return {**artifact_record(artifact), "metric_value": value}


@task(name="Move the alias", cache_policy=NO_CACHE)
def move_alias(
    credentials: WandbCredentials,
    name: str,
    alias: str,
    registry: str | None = None,
    metric: str | None = None,
) -> dict[str, Any] | None:
    """Promote `name` to `alias` (in `registry` when given), remembering the previous holder
    and any link it made for the rollback hook; the summary pictures the `metric` curves."""
    done = promote(credentials, name, alias, registry, metric)
    txn = get_transaction()
    if txn is not None:
        txn.set("credentials", credentials)
        txn.set("collection", done.collection)
        txn.set("alias", alias)
        txn.set("previous_version", done.previous["version"] if done.previous else None)
        txn.set("created_link", done.created_link)
    return done.previous


@move_alias.on_rollback
def _give_the_alias_back(txn: Transaction) -> None:
    remains = restore_alias(
        txn.get("credentials"),
        txn.get("collection"),
        txn.get("alias"),
        txn.get("previous_version"),
        unlink=txn.get("created_link"),
    )
    get_run_logger().warning("promotion rolled back: %s", remains)


@task(name="Check the promotion", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def check_promotion(
    credentials: WandbCredentials, collection: str, alias: str, expected_digest: str
) -> None:
    """The alias must now resolve to the promoted bytes."""
    holder = credentials.get_client().artifact(f"{collection}:{alias}")
    if holder.digest != expected_digest:
        raise RuntimeError(
            f"{collection}:{alias} resolves to digest {holder.digest}, expected {expected_digest}"
        )


def _better(value: Any, than: Any, goal: str) -> bool:
    if not isinstance(than, (int, float)):
        return True
    return value < than if goal == "minimize" else value > than


@flow(name="wandb-model-promotion")
def model_promotion(
    credentials: WandbCredentials | str = "wandb",
    project_path: str | None = None,
    model: str = "mnist-cnn",
    metric: str | None = "val_loss",
    goal: Literal["minimize", "maximize"] = "minimize",
    sweep: str | None = None,
    alias: str = "production",
    gate: bool = True,
    registry: str | None = None,
) -> dict[str, Any]:
    """Promote the best run's model to an alias if it beats the current holder.

    Best run (by `metric` and `goal`, or the `sweep`'s own metric) → its newest `model`
    version → download and verify → gate against the current `alias` holder → move the alias
    (in the model's collection, or in the `registry` collection, linking the candidate there
    first) inside a transaction whose rollback gives it back. The promotion summary shows both
    versions' metric curves.

    Args:
        credentials: A WandbCredentials block, or the name of a saved one.
        project_path: The project, `entity/project` (default: the block's project).
        model: The model artifact collection the runs log.
        metric: The summary metric to rank runs by (None: the sweep's metric).
        goal: `minimize` or `maximize` the metric.
        sweep: A sweep id: only its runs compete.
        alias: The alias to move, e.g. `production`.
        gate: Promote only when the candidate beats the current holder's metric.
        registry: A registry collection to promote into,
            `wandb-registry-<registry>/<collection>` (None: the model's own collection).

    Returns:
        `best_run`, `metric`, `value`, `candidate`, `alias`, `previous`, `promoted` and the
        `reason`.

    Example:
        ```python
        from prefect_wandb_public.flows import model_promotion

        outcome = model_promotion("wandb", "team/proj", model="my-model", metric="val_loss")
        ```
    """
    logger = get_run_logger()
    block = load_credentials(credentials)
    best = best_run(block, project_path, metric=metric, goal=goal, sweep=sweep)
    metric, value = best["metric"], best["value"]
    candidate = run_model(block, best["path"], model)
    collection = registry or f"{candidate['entity']}/{candidate['project']}/{model}"
    with tempfile.TemporaryDirectory(prefix="wandb-promotion-") as root:
        download_artifact(block, candidate["qualified_name"], root=root, verify=True)
    holder = current_holder(block, collection, alias, metric)
    outcome = {
        "best_run": best["path"],
        "metric": metric,
        "value": value,
        "candidate": candidate["qualified_name"],
        "alias": alias,
        "collection": collection,
        "previous": holder["qualified_name"] if holder else None,
    }
    if holder is not None and holder["id"] == candidate["id"]:
        logger.info("%s already holds %r", candidate["qualified_name"], alias)
        return {**outcome, "promoted": False, "reason": "already holds the alias"}
    if gate and holder is not None and not _better(value, holder["metric_value"], goal):
        logger.info(
            "gate: %s=%s does not beat the current %s's %s",
            metric,
            value,
            alias,
            holder["metric_value"],
        )
        return {**outcome, "promoted": False, "reason": "gate: not better than the current holder"}
    with transaction():
        move_alias(block, candidate["qualified_name"], alias, registry, metric)
        check_promotion(block, collection, alias, candidate["digest"])
    return {**outcome, "promoted": True, "reason": "better than the current holder"}


SERVED_NAME = "daily-model-promotion-served"


def served_deployment() -> RunnerDeployment:
    """What `--serve` serves: the daily schedule under a name of its own, so serving never
    replaces the work-pool deployment `daily-model-promotion` of flows/prefect.yaml."""
    return cast(
        RunnerDeployment,
        model_promotion.to_deployment(
            name=SERVED_NAME, cron=DAILY_CRON, parameters={"credentials": "wandb"}
        ),
    )


def serve() -> None:
    prefect_serve(served_deployment())


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-path", help="entity/project (default: the block's)")
    parser.add_argument("--model", default="mnist-cnn", help="model artifact collection")
    parser.add_argument("--metric", default="val_loss")
    parser.add_argument("--goal", default="minimize", choices=["minimize", "maximize"])
    parser.add_argument("--alias", default="production")
    parser.add_argument("--registry", help="registry collection, wandb-registry-<name>/<coll>")


def main(argv: Sequence[str] | None = None) -> Any:
    """The command line of `flows/model_promotion.py`: run once, or `--serve` the deployment."""
    return run_flow_script(
        __doc__.splitlines()[0],
        lambda block, project, args: model_promotion(
            block,
            args.project_path or project,
            model=args.model,
            metric=args.metric,
            goal=args.goal,
            alias=args.alias,
            registry=args.registry,
        ),
        serve,
        _arguments,
        argv,
    )


__all__ = [
    "DAILY_CRON",
    "SERVED_NAME",
    "check_promotion",
    "current_holder",
    "main",
    "model_promotion",
    "move_alias",
    "run_model",
    "serve",
    "served_deployment",
]
