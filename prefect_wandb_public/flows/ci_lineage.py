"""An ML-CI lineage step: use the input dataset, publish a model built from local files, link it.

    python flows/ci_lineage.py                           # embedded demo server
    python flows/ci_lineage.py --credentials my-wandb --project-path team/proj \
        --dataset mnist:v3 --model my-model --model-dir ./build/model
    python flows/ci_lineage.py --serve                   # the deployment (on every merge/night)

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
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
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
    """Use `dataset`, publish `model` from `model_paths` (built from the dataset when absent)
    as an output of a new CI run, and link the result."""
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


def serve() -> None:
    ci_lineage.serve(
        name="nightly-ci-lineage", cron=NIGHTLY_CRON, parameters={"credentials": "wandb"}
    )


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
    "build_model_files",
    "ci_lineage",
    "main",
    "serve",
    "start_ci_run",
]
