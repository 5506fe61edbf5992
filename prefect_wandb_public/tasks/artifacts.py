"""Tasks over artifacts: download and verify, record use, publish, link into a registry, and
promote by moving an alias (in the artifact's own collection, or in a registry collection).
Each has an async variant (`a<name>`) for async flows."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.events import emit_event
from prefect.logging import get_run_logger

from prefect_wandb_public.api import Artifact, Run, default_artifact_root
from prefect_wandb_public.api.orgs import REGISTRY_PREFIX
from prefect_wandb_public.credentials import WandbCredentials
from prefect_wandb_public.errors import InvalidInputError, NotFoundError, WandbError
from prefect_wandb_public.operations import AliasMove, artifact_record, move_alias
from prefect_wandb_public.tasks._common import (
    TRANSIENT_RETRIES,
    ProgressArtifact,
    artifact_key,
    sync_prefect,
    task_with_async_variant,
)
from prefect_wandb_public.tasks.charts import line_chart_svg, svg_data_url

CURVE_SAMPLES = 200

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


def _resource_id(artifact: Artifact) -> str:
    name = f"{artifact.collection_name}:{artifact.version}"
    return f"wandb.artifact.{artifact.entity}/{artifact.project}/{name}"


@task_with_async_variant(
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
    """Download an artifact version (streamed, md5-checked, atomic) and verify it.

    A progress artifact follows the transfer and a link artifact points at the version in
    W&B. Downloads of a pinned version (`:vN`) are cached by inputs; alias and `latest`
    reads always go to the server.

    Args:
        credentials: The W&B credentials block.
        name: The version to download, `entity/project/collection:alias` or `...:v3`.
        root: Where to put the files: a local folder or any fsspec URL (default
            `./artifacts/<collection:vN>`).
        type: The artifact type the version must have (e.g. `model`); any type when empty.
        verify: Check every file against the manifest after the download.

    Returns:
        The artifact record (id, qualified_name, version, aliases, digest, size, file_count,
        metadata, url, ...) plus `root`, where the files are.

    Example:
        ```python
        from prefect import flow
        from prefect_wandb_public import WandbCredentials
        from prefect_wandb_public.tasks import download_artifact

        @flow
        def fetch_model() -> str:
            credentials = WandbCredentials.load("wandb")
            return download_artifact(credentials, "team/proj/model:production")["root"]
        ```
    """
    artifact = credentials.get_client().artifact(name, type=type)
    progress = ProgressArtifact(
        artifact_key("wandb-download", artifact.collection_name),
        f"Download of {artifact.qualified_name} ({artifact.file_count} files, "
        f"{artifact.size} bytes)",
    )
    path = artifact.download(root, progress=progress)
    progress.done()
    if verify:
        artifact.verify(path)
    get_run_logger().info(
        "downloaded %s (%d files) to %s", artifact.qualified_name, artifact.file_count, path
    )
    sync_prefect(
        create_link_artifact,
        artifact.url,
        link_text=artifact.qualified_name,
        key=artifact_key("wandb-artifact", artifact.collection_name),
        description=f"W&B artifact {artifact.qualified_name} downloaded to {path}",
    )
    return {**artifact_record(artifact), "root": str(path)}


adownload_artifact = download_artifact.aio


@task_with_async_variant(name="Use W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def use_artifact(
    credentials: WandbCredentials,
    run_path: str,
    name: str,
    use_as: str | None = None,
) -> dict[str, Any]:
    """Record an artifact version as an input of a run (lineage).

    Args:
        credentials: The W&B credentials block.
        run_path: The run that uses it, `entity/project/run_id`.
        name: The version used, `entity/project/collection:alias`.
        use_as: An optional name for the input inside the run.

    Returns:
        The record of the version used (its `vN` name, whatever alias found it).

    Example:
        ```python
        used = use_artifact(credentials, "team/proj/abc123", "team/proj/mnist:latest")
        print(used["qualified_name"])  # team/proj/mnist:v3
        ```
    """
    api = credentials.get_client()
    artifact = api.artifact(name)
    run = api.run(run_path)
    used = run.use_artifact(artifact, use_as=use_as)
    get_run_logger().info("run %s uses %s", run_path, artifact.qualified_name)
    return artifact_record(used)


ause_artifact = use_artifact.aio


@task_with_async_variant(name="Link W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def link_artifact(
    credentials: WandbCredentials,
    name: str,
    target: str,
    aliases: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Link an artifact version into a registry collection (created when missing).

    Args:
        credentials: The W&B credentials block.
        name: The version to link, `entity/project/collection:vN` (or an alias).
        target: `wandb-registry-<registry>/<collection>`,
            `<org>/wandb-registry-<registry>/<collection>` or `<team>/model-registry/<name>`.
        aliases: Aliases the link gets in the target collection (e.g. `staging`).

    Returns:
        The link's record (named by its version in the target collection).

    Example:
        ```python
        link = link_artifact(credentials, "team/proj/model:v7", "wandb-registry-model/model")
        print(link["qualified_name"])  # acme-org/wandb-registry-model/model:v0
        ```
    """
    api = credentials.get_client()
    linked = api.artifact(name).link(target, aliases=list(aliases or []))
    get_run_logger().info("linked %s as %s", linked.source_qualified_name, linked.qualified_name)
    return artifact_record(linked)


alink_artifact = link_artifact.aio


@dataclass(frozen=True)
class Promotion:
    """What a promotion did: the previous holder, the collection the alias moved in, and the
    link it created there (None when the version was already linked, or for a promotion in the
    version's own collection). The rollback hook undoes exactly this."""

    previous: dict[str, Any] | None
    collection: str
    alias: str
    created_link: str | None = None


def _curve(run: Run | None, metric: str) -> list[tuple[float, float]]:
    """(step, value) samples of `metric` in the run's history (empty when it logged none)."""
    if run is None:
        return []
    rows = run.history(samples=CURVE_SAMPLES, keys=[metric], pandas=False)
    assert isinstance(rows, list)
    return [
        (float(row["_step"]), float(row[metric]))
        for row in rows
        if isinstance(row.get(metric), (int, float)) and isinstance(row.get("_step"), int)
    ]


def _curves_picture(
    metric: str, candidate: tuple[str, Run | None], holder: tuple[str, Run | None] | None
) -> str:
    """A markdown image of the metric curves of the candidate and the current holder."""
    series = {candidate[0]: _curve(candidate[1], metric)}
    if holder is not None:
        series[holder[0]] = _curve(holder[1], metric)
    svg = line_chart_svg(series, title=f"{metric} by step")
    return f"![{metric} curves of {' and '.join(series)}]({svg_data_url(svg)})\n\n"


def promote(
    credentials: WandbCredentials,
    name: str,
    alias: str = "production",
    target: str | None = None,
    metric: str | None = None,
) -> Promotion:
    """What `promote_artifact` does (see there), returning what the rollback hook needs to
    undo it."""
    move = move_alias(credentials.get_client(), name, alias, target)
    previous_record = artifact_record(move.previous) if move.previous is not None else None
    if not move.moved:
        get_run_logger().info("%s already holds %r", move.artifact.qualified_name, alias)
    else:
        _tell_prefect(move, metric, registry=target is not None)
    return Promotion(previous_record, move.collection, alias, move.created_link)


def _tell_prefect(move: AliasMove, metric: str | None, *, registry: bool) -> None:
    """The `wandb.artifact.promoted` event and the markdown summary of one promotion."""
    promoted, previous, alias, collection = (
        move.artifact,
        move.previous,
        move.alias,
        move.collection,
    )
    logged_by = promoted.logged_by()
    related = []
    if logged_by is not None:
        related.append(
            {
                "prefect.resource.id": f"wandb.run.{'/'.join(logged_by.path)}",
                "prefect.resource.role": "run",
                "prefect.resource.name": logged_by.name,
            }
        )
    if promoted.is_link:
        related.append(
            {
                "prefect.resource.id": f"wandb.artifact.{promoted.source_qualified_name}",
                "prefect.resource.role": "source",
            }
        )
    # The labels the watcher's events carry too, so one automation matches either.
    resource = {
        "prefect.resource.id": _resource_id(promoted),
        "prefect.resource.name": promoted.qualified_name,
        "wandb.entity": promoted.entity,
        "wandb.project": promoted.project,
        "wandb.collection": promoted.collection_name,
        "wandb.type": promoted.type,
        "wandb.alias": alias,
    }
    if registry and promoted.project.startswith(REGISTRY_PREFIX):
        resource["wandb.registry"] = promoted.project[len(REGISTRY_PREFIX) :]
    emit_event(
        event="wandb.artifact.promoted",
        resource=resource,
        related=related,
        payload={
            "alias": alias,
            "version": promoted.version,
            "previous": previous.version if previous is not None else None,
            "collection": collection,
            "source": promoted.source_qualified_name,
            "url": promoted.url,
        },
    )
    before = previous.version if previous is not None else "nobody"
    picture = ""
    if metric:
        holder = None
        if previous is not None:
            holder = (f"{previous.version} (before)", previous.logged_by())
        try:
            picture = _curves_picture(metric, (f"{promoted.version} (promoted)", logged_by), holder)
        except WandbError as exc:  # the alias has moved; a missing picture is said, not hidden
            picture = f"_No {metric} curves: {exc}_\n\n"
    sync_prefect(
        create_markdown_artifact,
        f"### Promoted `{collection}:{promoted.version}` to `{alias}`\n\n"
        f"| | version | digest |\n|---|---|---|\n"
        f"| before | {before} | {previous.digest if previous is not None else '-'} |\n"
        f"| after | {promoted.version} | {promoted.digest} |\n\n"
        f"{picture}"
        f"Logged by run: {'/'.join(logged_by.path) if logged_by else 'unknown'} — "
        f"[open in W&B]({promoted.url})\n",
        key=artifact_key("wandb-promotion", promoted.collection_name, alias),
        description=f"Alias {alias} moved from {before} to {promoted.version}",
    )
    get_run_logger().info(
        "moved %r of %s from %s to %s", alias, collection, before, promoted.version
    )


@task_with_async_variant(name="Promote W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def promote_artifact(
    credentials: WandbCredentials,
    name: str,
    alias: str = "production",
    metric: str | None = None,
    target: str | None = None,
) -> dict[str, Any] | None:
    """Move an alias to an artifact version (the server takes it from the previous holder).

    In the version's own collection, or with `target` in a registry collection (the version
    linked there first when it is not yet a member: one request links it and moves the alias).
    Emits a `wandb.artifact.promoted` event whose resource carries the entity, project,
    collection, type and alias (and `wandb.registry`) as labels, so an automation can match on
    them, and a markdown summary: before and after, and with `metric` the metric curves of the
    new and the previous holder's runs as a picture.

    Args:
        credentials: The W&B credentials block.
        name: The version to promote, `entity/project/collection:vN` (or an alias).
        alias: The alias to move; `latest` is refused (the server moves it on every commit).
        metric: A history key (e.g. `val_loss`) whose curves the summary shows.
        target: A registry collection, `wandb-registry-<registry>/<collection>`,
            `<org>/wandb-registry-<registry>/<collection>` or `<team>/model-registry/<name>`.

    Returns:
        The previous holder's record, or None when no version held the alias.

    Example:
        ```python
        previous = promote_artifact(credentials, "team/proj/model:v7", alias="production")
        promote_artifact(credentials, "team/proj/model:v7", target="wandb-registry-model/model")
        ```
    """
    return promote(credentials, name, alias, target, metric).previous


apromote_artifact = promote_artifact.aio


def restore_alias(
    credentials: WandbCredentials,
    collection: str,
    alias: str,
    version: str | None,
    unlink: str | None = None,
) -> str:
    """Compensating action for a promotion: remove the link `unlink` (`vN`) the promotion
    created, then give `alias` back to `version` (or leave it nowhere). Returns what remains
    changed, for the log: a removed link's number is never reused, and a collection the
    promotion created stays, empty."""
    api = credentials.get_client()
    remains = []
    if unlink is not None:
        api.artifact(f"{collection}:{unlink}").unlink()
        remains.append(f"link {collection}:{unlink} removed (its number is not reused)")
        if not api.artifact_exists(f"{collection}:latest"):
            remains.append(f"collection {collection} remains, with no versions")
    try:
        holder: Artifact | None = api.artifact(f"{collection}:{alias}")
    except NotFoundError:
        holder = None
    if version is None:
        if holder is not None:
            holder.aliases.remove(alias)
            holder.save()
    elif holder is None or holder.version != version:
        target = api.artifact(f"{collection}:{version}")
        target.aliases.append(alias)
        target.save()
    summary = f"{alias!r} of {collection} is back on {version or 'no version'}"
    return "; ".join([summary, *remains])


@task_with_async_variant(name="Publish W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
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
    """Publish local files and folders as a new version of an artifact.

    The version is an output of the run at `run_path` (lineage) or, without a run, lives in
    `project_path`. Identical content returns the existing version and uploads nothing, so a
    retried or re-run publish is idempotent. A progress artifact follows the upload and a link
    artifact points at the version.

    Args:
        credentials: The W&B credentials block.
        name: The artifact (collection) name, e.g. `mnist-cnn`.
        type: The artifact type, e.g. `model` or `dataset`.
        paths: Local files and folders to include (folders keep their relative layout).
        project_path: `entity/project` to publish to when there is no run (default: the
            block's project).
        run_path: `entity/project/run_id` of the run that produced the files.
        aliases: Aliases for the new version besides `latest` (e.g. `candidate`).
        description: A description of the version.
        metadata: JSON-able metadata stored with the version.

    Returns:
        The published version's record (qualified_name, version, digest, url, ...).

    Example:
        ```python
        record = publish_artifact(
            credentials, "mnist-cnn", "model", ["./build/model"], run_path="team/proj/abc123"
        )
        print(record["qualified_name"], record["url"])
        ```
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
    progress = ProgressArtifact(
        artifact_key("wandb-upload", name), f"Upload of artifact {name} ({type})"
    )
    if run_path is not None:
        published = api.run(run_path).log_artifact(
            draft, aliases=list(aliases or []), progress=progress
        )
    else:
        parts = project_path.split("/") if project_path else []
        if len(parts) > 2:
            raise InvalidInputError(f"project_path must be 'entity/project': {project_path!r}")
        entity = parts[0] if len(parts) == 2 else None
        project = parts[-1] if parts else None
        published = api.log_artifact(
            draft, project=project, entity=entity, aliases=list(aliases or []), progress=progress
        )
    progress.done()
    get_run_logger().info("published %s (%d files)", published.qualified_name, published.file_count)
    sync_prefect(
        create_link_artifact,
        published.url,
        link_text=published.qualified_name,
        key=artifact_key("wandb-published", published.collection_name),
        description=f"W&B artifact {published.qualified_name}",
    )
    return artifact_record(published)


apublish_artifact = publish_artifact.aio


__all__ = [
    "PINNED_VERSION",
    "PinnedVersionOnly",
    "Promotion",
    "adownload_artifact",
    "alink_artifact",
    "apromote_artifact",
    "apublish_artifact",
    "artifact_record",
    "ause_artifact",
    "download_artifact",
    "link_artifact",
    "promote",
    "promote_artifact",
    "publish_artifact",
    "restore_alias",
    "use_artifact",
]
