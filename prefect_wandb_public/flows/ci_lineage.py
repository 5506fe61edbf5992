"""An ML-CI lineage step: use the input dataset, publish a model built from local files, link it.

The step records a W&B run for itself, declares the dataset version it consumed, publishes the
model files as a new version (identical content reuses the existing version, so a retried step
is idempotent), and reports the lineage to Prefect as `wandb://` assets.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from prefect import flow, task
from prefect import serve as prefect_serve
from prefect.artifacts import create_link_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import RunnerDeployment
from prefect.logging import get_run_logger

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.credentials import load_credentials
from prefect_wandb_public.flows.scripts import run_flow_script
from prefect_wandb_public.tasks import (
    TRANSIENT_RETRIES,
    artifact_key,
    publish_artifact,
    use_artifact,
)

NIGHTLY_CRON = "0 2 * * *"


@task(name="Start the CI run", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def start_ci_run(
    credentials: WandbCredentials, project_path: str, run_id: str | None = None
) -> str:
    """Create the W&B run that stands for this CI step; returns its path."""
    entity, project = project_path.split("/")
    run = credentials.get_client().create_run(run_id=run_id, project=project, entity=entity)
    run.job_type = "ci"
    run.tags = ["ci"]
    run.update()
    return "/".join(run.path)


def build_model_files(dataset: dict[str, Any], directory: Path) -> list[str]:
    """Stand-in for a training step: write model files derived from the dataset version."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.json").write_text(
        json.dumps({"trained_on": dataset["qualified_name"], "digest": dataset["digest"]})
    )
    (directory / "weights.bin").write_bytes(bytes.fromhex(dataset["digest"]) * 64)
    return [str(directory)]


@flow(name="wandb-ci-lineage")
def ci_lineage(
    credentials: WandbCredentials | str = "wandb",
    project_path: str | None = None,
    dataset: str = "mnist:latest",
    model: str = "mnist-cnn",
    model_paths: Sequence[str] | None = None,
    aliases: Sequence[str] = ("candidate",),
    run_id: str | None = None,
) -> dict[str, Any]:
    """A CI step with lineage: use the dataset, publish the model, link it.

    A new W&B run stands for the step; it declares the dataset version it used and publishes
    the model files as a new version of `model` (identical content reuses the version, so a
    retried step is idempotent). Prefect sees `wandb://` assets and a link artifact.

    Args:
        credentials: A WandbCredentials block, or the name of a saved one.
        project_path: The project, `entity/project` (default: the block's project).
        dataset: The input dataset version, `name:alias` in the project.
        model: The model artifact (collection) to publish.
        model_paths: Local model files or folders (default: built from the dataset, a demo
            stand-in for training).
        aliases: Aliases for the new model version besides `latest`.
        run_id: The W&B run id for the step (default: a new one).

    Returns:
        `run` (the step's run path), `dataset` and `artifact` (the versions used and
        published) and the artifact's `url`.

    Example:
        ```python
        from prefect_wandb_public.flows import ci_lineage

        ci_lineage("wandb", "team/proj", dataset="mnist:v3", model="my-model",
                   model_paths=["./build/model"])
        ```
    """
    logger = get_run_logger()
    block = load_credentials(credentials)
    api = block.get_client()
    project_path = project_path or f"{api.default_entity}/{api.default_project}"
    run_path = start_ci_run(block, project_path, run_id)
    used = use_artifact(block, run_path, f"{project_path}/{dataset}")
    model_asset = Asset(
        key=f"wandb://{project_path}/{model}",
        properties=AssetProperties(name=model, url=f"{api.app_url}/{project_path}/artifacts"),
    )
    dataset_key = f"wandb://{project_path}/{used['name'].split(':')[0]}"

    @materialize(model_asset, asset_deps=[dataset_key], cache_policy=NO_CACHE)
    def publish(paths: list[str]) -> dict[str, Any]:
        record = publish_artifact.fn(
            block, model, "model", paths, run_path=run_path, aliases=list(aliases)
        )
        add_asset_metadata(model_asset, {"version": record["version"], "digest": record["digest"]})
        return record

    with tempfile.TemporaryDirectory(prefix="wandb-ci-model-") as scratch:
        paths = list(model_paths) if model_paths else build_model_files(used, Path(scratch))
        published = publish(paths)
    create_link_artifact(
        published["url"],
        link_text=published["qualified_name"],
        key=artifact_key("wandb-ci-lineage", model),
        description=f"{published['qualified_name']} published by {run_path} from {used['name']}",
    )
    logger.info("published %s: %s", published["qualified_name"], published["url"])
    print(f"published {published['qualified_name']}: {published['url']}")
    return {
        "run": run_path,
        "dataset": used["qualified_name"],
        "artifact": published["qualified_name"],
        "url": published["url"],
    }


SERVED_NAME = "nightly-ci-lineage-served"


def served_deployment() -> RunnerDeployment:
    """What `--serve` serves: the nightly schedule under a name of its own, so serving never
    replaces the work-pool deployment `nightly-ci-lineage` of flows/prefect.yaml."""
    return cast(
        RunnerDeployment,
        ci_lineage.to_deployment(
            name=SERVED_NAME, cron=NIGHTLY_CRON, parameters={"credentials": "wandb"}
        ),
    )


def serve() -> None:
    prefect_serve(served_deployment())


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-path", help="entity/project (default: the block's)")
    parser.add_argument("--dataset", default="mnist:latest", help="input dataset artifact")
    parser.add_argument("--model", default="mnist-cnn", help="model artifact to publish")
    parser.add_argument("--model-dir", help="local model files (default: built from the dataset)")


def main(argv: Sequence[str] | None = None) -> Any:
    """The command line of `flows/ci_lineage.py`: run once, or `--serve` the deployment."""
    return run_flow_script(
        __doc__.splitlines()[0],
        lambda block, project, args: ci_lineage(
            block,
            args.project_path or project,
            dataset=args.dataset,
            model=args.model,
            model_paths=[args.model_dir] if args.model_dir else None,
        ),
        serve,
        _arguments,
        argv,
    )


__all__ = [
    "NIGHTLY_CRON",
    "SERVED_NAME",
    "build_model_files",
    "ci_lineage",
    "main",
    "serve",
    "served_deployment",
    "start_ci_run",
]
