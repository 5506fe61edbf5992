"""Tasks over artifacts: download and verify, record use, and promote by moving an alias."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.events import emit_event
from prefect.logging import get_run_logger

from prefect_wandb_public.api import Artifact, default_artifact_root
from prefect_wandb_public.api.names import check_alias
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError, NotFoundError
from prefect_wandb_public.tasks._common import TRANSIENT_RETRIES, artifact_key, json_safe

PINNED_VERSION = re.compile(r":v\d+$")


class PinnedVersionOnly(CachePolicy):
    """Cache by inputs and task source, but only downloads of a pinned version (`...:v3`),
    which never changes, into a root that still exists. An alias or `latest` may point
    elsewhere tomorrow, so those reads always go to the server."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        name = inputs.get("name")
        if not isinstance(name, str) or not PINNED_VERSION.search(name):
            return None
        root = inputs.get("root") or default_artifact_root(name.rsplit("/", 1)[-1])
        if isinstance(root, str) and "://" not in root and not os.path.isdir(root):
            return None
        return (INPUTS + TASK_SOURCE).compute_key(task_ctx, inputs, flow_parameters, **kwargs)


def artifact_record(artifact: Artifact) -> dict[str, Any]:
    """An artifact as plain data, named by its version (`coll:vN`), whatever alias found it."""
    return {
        "id": artifact.id,
        "name": artifact.source_name,
        "qualified_name": f"{artifact.entity}/{artifact.project}/{artifact.source_name}",
        "entity": artifact.entity,
        "project": artifact.project,
        "type": artifact.type,
        "version": artifact.version,
        "aliases": list(artifact.aliases),
        "digest": artifact.digest,
        "size": artifact.size,
        "file_count": artifact.file_count,
        "metadata": json_safe(artifact.metadata),
        "url": artifact.url,
    }


def _resource_id(artifact: Artifact) -> str:
    return f"wandb.artifact.{artifact.entity}/{artifact.project}/{artifact.source_name}"


@task(
    name="Download W&B artifact",
    cache_policy=PinnedVersionOnly(),
    persist_result=True,
    timeout_seconds=3600,
    **TRANSIENT_RETRIES,
)
def download_artifact(
    credentials: WandbCredentials,
    name: str,
    root: str | None = None,
    type: str | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """Download `entity/project/name:alias` (streamed, md5-checked, atomic) to `root` (any
    fsspec URL) and, by default, verify the whole tree against the manifest.

    Returns the artifact record plus `root`. Downloads of a pinned version (`:vN`) are cached
    by inputs; alias and `latest` reads always go to the server.
    """
    artifact = credentials.get_client().artifact(name, type=type)
    path = artifact.download(root)
    if verify:
        artifact.verify(path)
    get_run_logger().info(
        "downloaded %s (%d files) to %s", artifact.qualified_name, artifact.file_count, path
    )
    create_link_artifact(
        artifact.url,
        link_text=artifact.qualified_name,
        key=artifact_key("wandb-artifact", artifact.collection_name),
        description=f"W&B artifact {artifact.qualified_name} downloaded to {path}",
    )
    return {**artifact_record(artifact), "root": str(path)}


@task(name="Use W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def use_artifact(
    credentials: WandbCredentials,
    run_path: str,
    name: str,
    use_as: str | None = None,
) -> dict[str, Any]:
    """Record artifact `name` as an input of the run at `run_path` (lineage)."""
    api = credentials.get_client()
    artifact = api.artifact(name)
    run = api.run(run_path)
    used = run.use_artifact(artifact, use_as=use_as)
    get_run_logger().info("run %s uses %s", run_path, artifact.qualified_name)
    return artifact_record(used)


@task(name="Promote W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def promote_artifact(
    credentials: WandbCredentials,
    name: str,
    alias: str = "production",
) -> dict[str, Any] | None:
    """Move `alias` to the version `name` resolves to; returns the previous holder's record
    (None when no version held it). Emits `wandb.artifact.promoted` and a markdown summary."""
    if check_alias(alias) == "latest":
        raise InvalidInputError("cannot promote to 'latest': the server moves it on every commit")
    api = credentials.get_client()
    artifact = api.artifact(name)
    collection = f"{artifact.entity}/{artifact.project}/{artifact.collection_name}"
    try:
        previous: Artifact | None = api.artifact(f"{collection}:{alias}")
    except NotFoundError:
        previous = None
    previous_record = artifact_record(previous) if previous is not None else None
    if previous is not None and previous.id == artifact.id:
        get_run_logger().info("%s already holds %r", artifact.qualified_name, alias)
        return previous_record
    artifact.aliases.append(alias)
    artifact.save()
    logged_by = artifact.logged_by()
    related = []
    if logged_by is not None:
        related.append(
            {
                "prefect.resource.id": f"wandb.run.{'/'.join(logged_by.path)}",
                "prefect.resource.role": "run",
                "prefect.resource.name": logged_by.name,
            }
        )
    emit_event(
        event="wandb.artifact.promoted",
        resource={
            "prefect.resource.id": _resource_id(artifact),
            "prefect.resource.name": artifact.qualified_name,
        },
        related=related,
        payload={
            "alias": alias,
            "version": artifact.version,
            "previous": previous.version if previous is not None else None,
            "url": artifact.url,
        },
    )
    before = previous.version if previous is not None else "nobody"
    create_markdown_artifact(
        f"### Promoted `{collection}:{artifact.version}` to `{alias}`\n\n"
        f"| | version | digest |\n|---|---|---|\n"
        f"| before | {before} | {previous.digest if previous is not None else '-'} |\n"
        f"| after | {artifact.version} | {artifact.digest} |\n\n"
        f"Logged by run: {'/'.join(logged_by.path) if logged_by else 'unknown'} — "
        f"[open in W&B]({artifact.url})\n",
        key=artifact_key("wandb-promotion", artifact.collection_name, alias),
        description=f"Alias {alias} moved from {before} to {artifact.version}",
    )
    get_run_logger().info(
        "moved %r of %s from %s to %s", alias, collection, before, artifact.version
    )
    return previous_record


def restore_alias(
    credentials: WandbCredentials, collection: str, alias: str, version: str | None
) -> None:
    """Compensating action for a promotion: give `alias` back to `version` (or remove it)."""
    api = credentials.get_client()
    try:
        holder: Artifact | None = api.artifact(f"{collection}:{alias}")
    except NotFoundError:
        holder = None
    if version is None:
        if holder is not None:
            holder.aliases.remove(alias)
            holder.save()
        return
    target = api.artifact(f"{collection}:{version}")
    if alias not in target.aliases:
        target.aliases.append(alias)
        target.save()


@task(name="Publish W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def publish_artifact(
    credentials: WandbCredentials,
    name: str,
    type: str,
    paths: Sequence[str],
    project_path: str | None = None,
    run_path: str | None = None,
    aliases: Sequence[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a version of artifact `name` from local files and directories (`paths`), as an
    output of the run at `run_path` (lineage) or, without a run, in `project_path`.

    Identical content returns the existing version and uploads nothing, so a retried or
    re-run publish is idempotent.
    """
    if isinstance(paths, str) or not paths:
        raise InvalidInputError(
            f"paths must be a non-empty list of files or directories: {paths!r}"
        )
    api = credentials.get_client()
    draft = Artifact(name, type, description=description, metadata=dict(metadata or {}))
    for path in paths:  # published right away: no staged copies (a changed file is refused)
        if os.path.isdir(path):
            draft.add_dir(path, policy="immutable")
        else:
            draft.add_file(path, policy="immutable")
    if run_path is not None:
        published = api.run(run_path).log_artifact(draft, aliases=list(aliases or []))
    else:
        parts = project_path.split("/") if project_path else []
        if len(parts) > 2:
            raise InvalidInputError(f"project_path must be 'entity/project': {project_path!r}")
        entity = parts[0] if len(parts) == 2 else None
        project = parts[-1] if parts else None
        published = api.log_artifact(
            draft, project=project, entity=entity, aliases=list(aliases or [])
        )
    get_run_logger().info("published %s (%d files)", published.qualified_name, published.file_count)
    create_link_artifact(
        published.url,
        link_text=published.qualified_name,
        key=artifact_key("wandb-published", published.collection_name),
        description=f"W&B artifact {published.qualified_name}",
    )
    return artifact_record(published)


__all__ = [
    "PINNED_VERSION",
    "PinnedVersionOnly",
    "artifact_record",
    "download_artifact",
    "promote_artifact",
    "publish_artifact",
    "restore_alias",
    "use_artifact",
]
