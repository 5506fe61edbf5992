"""Nightly export of every finished run's history in a project to parquet at an fsspec URL.

Runs already exported are skipped (idempotent), the rest are exported in parallel, and a table
artifact summarises the night's work. Runs unchanged under any task runner (threads, Dask).
"""

from __future__ import annotations

import argparse
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, cast

import fsspec
from prefect import flow, unmapped
from prefect import serve as prefect_serve
from prefect.artifacts import create_table_artifact
from prefect.deployments.runner import RunnerDeployment
from prefect.logging import get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.credentials import load_credentials
from prefect_wandb_public.flows.scripts import run_flow_script
from prefect_wandb_public.tasks import artifact_key, export_run_history, query_runs

NIGHTLY_CRON = "0 3 * * *"


# Typed `Any`: Prefect declares the flow decorator's runner type invariantly.
_RUNNER: Any = ThreadPoolTaskRunner(max_workers=4)


@flow(name="wandb-history-export", task_runner=_RUNNER)
def history_export(
    credentials: WandbCredentials | str = "wandb",
    project_path: str | None = None,
    destination: str = "./wandb-history",
    format: str = "parquet",
    filters: Mapping[str, Any] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Export the history of every finished run of a project, skipping runs already exported.

    Each run lands at `<destination>/<run_id>.<format>`; runs whose file exists are skipped
    (idempotent), the rest are exported in parallel, and a table artifact lists the night's
    work.

    Args:
        credentials: A WandbCredentials block, or the name of a saved one.
        project_path: The project, `entity/project` (default: the block's project).
        destination: A local folder or any fsspec URL (`s3://bucket/wandb-history`).
        format: `parquet` or `csv`.
        filters: More MongoDB-style run filters (besides `state: finished`).
        storage_options: Options for the destination's file system (credentials, ...).

    Returns:
        One row per run: `run`, `destination`, `rows` (None when skipped) and `status`.

    Example:
        ```python
        from prefect_wandb_public.flows import history_export

        history_export("wandb", "team/proj", destination="s3://bucket/wandb-history")
        ```
    """
    logger = get_run_logger()
    block = load_credentials(credentials)
    if project_path is None:
        api = block.get_client()
        project_path = f"{api.default_entity}/{api.default_project}"
    runs = cast(
        "list[dict[str, Any]]",
        query_runs(block, project_path, filters={"state": "finished", **dict(filters or {})}),
    )
    fs, root = fsspec.core.url_to_fs(destination, **dict(storage_options or {}))
    todo: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for run in runs:
        target = posixpath.join(destination.rstrip("/"), f"{run['id']}.{format}")
        local = posixpath.join(root.rstrip("/"), f"{run['id']}.{format}")
        (skipped if fs.exists(local) else todo).append((run["path"], target))
    logger.info("%d runs to export, %d already exported", len(todo), len(skipped))
    futures = export_run_history.map(
        unmapped(block),
        [path for path, _ in todo],
        [target for _, target in todo],
        unmapped(format),
        storage_options=unmapped(storage_options),
    )
    exported = [future.result() for future in futures]
    summary = [{**row, "status": "exported"} for row in exported] + [
        {"run": path, "destination": target, "rows": None, "status": "skipped (exists)"}
        for path, target in skipped
    ]
    create_table_artifact(
        summary,
        key=artifact_key("wandb-history-export", project_path),
        description=f"History export of {project_path} to {destination}",
    )
    return summary


SERVED_NAME = "nightly-history-export-served"


def served_deployment() -> RunnerDeployment:
    """What `--serve` serves: the nightly schedule under a name of its own, so serving never
    replaces the work-pool deployment `nightly-history-export` of flows/prefect.yaml."""
    return cast(
        RunnerDeployment,
        history_export.to_deployment(
            name=SERVED_NAME,
            cron=NIGHTLY_CRON,
            parameters={"credentials": "wandb", "destination": "./wandb-history"},
        ),
    )


def serve() -> None:
    prefect_serve(served_deployment())


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-path", help="entity/project (default: the block's)")
    parser.add_argument("--destination", default="./wandb-history", help="path or fsspec URL")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])


def main(argv: Sequence[str] | None = None) -> Any:
    """The command line of `flows/history_export.py`: run once, or `--serve` the deployment."""
    return run_flow_script(
        __doc__.splitlines()[0],
        lambda block, project, args: history_export(
            block, args.project_path or project, args.destination, args.format
        ),
        serve,
        _arguments,
        argv,
    )


__all__ = [
    "NIGHTLY_CRON",
    "SERVED_NAME",
    "history_export",
    "main",
    "serve",
    "served_deployment",
]
