"""Tasks over artifacts: download and verify, record use, link into a registry, and promote by
moving an alias (in the artifact's own collection, or in a registry collection)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.events import emit_event
from prefect.logging import get_run_logger

from prefect_wandb_public.api import Api, Artifact, default_artifact_root
from prefect_wandb_public.api.names import check_alias
from prefect_wandb_public.api.orgs import (
    LEGACY_REGISTRY_PROJECT,
    REGISTRY_PREFIX,
    is_registry_project,
    resolve_org_info,
)
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
    """An artifact as plain data, named by its version (`coll:vN`), whatever alias found it;
    a link is named by its version in the collection it was read through."""
    name = f"{artifact.collection_name}:{artifact.version}"
    return {
        "id": artifact.id,
        "name": name,
        "qualified_name": f"{artifact.entity}/{artifact.project}/{name}",
        "source": artifact.source_qualified_name,
        "is_link": artifact.is_link,
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
    name = f"{artifact.collection_name}:{artifact.version}"
    return f"wandb.artifact.{artifact.entity}/{artifact.project}/{name}"


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


@task(name="Link W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def link_artifact(
    credentials: WandbCredentials,
    name: str,
    target: str,
    aliases: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Link version `name` into `target` (`wandb-registry-<registry>/<collection>`,
    `<org>/wandb-registry-<registry>/<collection>` or `<team>/model-registry/<name>`) with
    `aliases`; the collection is created when missing. Returns the link's record."""
    api = credentials.get_client()
    linked = api.artifact(name).link(target, aliases=list(aliases or []))
    get_run_logger().info("linked %s as %s", linked.source_qualified_name, linked.qualified_name)
    return artifact_record(linked)


@dataclass(frozen=True)
class Promotion:
    """What a promotion did: the previous holder, the collection the alias moved in, and the
    link it created there (None when the version was already linked, or for a promotion in the
    version's own collection). The rollback hook undoes exactly this."""

    previous: dict[str, Any] | None
    collection: str
    alias: str
    created_link: str | None = None


def registry_collection(api: Api, target: str, entity: str) -> str:
    """`entity/project/collection` of a link target: a registry path (its organization
    resolved from `entity`, as linking does) or a legacy `<team>/model-registry/<name>`."""
    parts = target.split("/") if isinstance(target, str) else []
    registry = len(parts) in (2, 3) and is_registry_project(parts[-2])
    legacy = len(parts) == 3 and parts[1] == LEGACY_REGISTRY_PROJECT
    if not (registry or legacy) or ":" in target or not all(parts):
        raise InvalidInputError(
            f"invalid promotion target {target!r}: expected 'wandb-registry-<registry>/"
            "<collection>', '<org>/wandb-registry-<registry>/<collection>' or "
            "'<team>/model-registry/<name>'"
        )
    if legacy:
        return target
    org = resolve_org_info(api, entity, parts[0] if len(parts) == 3 else None)
    return f"{org.entity_name}/{parts[-2]}/{parts[-1]}"


def promote(
    credentials: WandbCredentials,
    name: str,
    alias: str = "production",
    target: str | None = None,
) -> Promotion:
    """Move `alias` to the version `name` resolves to, in its own collection or, with a
    `target`, in that registry collection (linking the version first when it is not a member:
    one request links it and moves the alias). Emits `wandb.artifact.promoted` and a markdown
    summary. What `promote_artifact` does, with what the rollback hook needs to undo it."""
    if check_alias(alias) == "latest":
        raise InvalidInputError("cannot promote to 'latest': the server moves it on every commit")
    api = credentials.get_client()
    candidate = api.artifact(name)
    source = candidate.source_artifact
    if target is None:
        collection = f"{candidate.entity}/{candidate.project}/{candidate.collection_name}"
    else:
        collection = registry_collection(api, target, source.source_entity)
    try:
        previous: Artifact | None = api.artifact(f"{collection}:{alias}")
    except NotFoundError:
        previous = None
    previous_record = artifact_record(previous) if previous is not None else None
    if previous is not None and previous.id == candidate.id:
        get_run_logger().info("%s already holds %r", previous.qualified_name, alias)
        return Promotion(previous_record, collection, alias)
    created = None
    if target is None:
        promoted = candidate
        promoted.aliases.append(alias)
        promoted.save()
    else:
        member = next(
            (
                link
                for link in source.linked_artifacts
                if f"{link.entity}/{link.project}/{link.collection_name}" == collection
            ),
            None,
        )
        if member is None:
            promoted = source.link(collection, aliases=[alias])
            created = promoted.version
        else:
            promoted = member
            promoted.aliases.append(alias)
            promoted.save()
    _tell_prefect(promoted, collection, alias, previous, registry=target is not None)
    return Promotion(previous_record, collection, alias, created)


def _tell_prefect(
    promoted: Artifact, collection: str, alias: str, previous: Artifact | None, *, registry: bool
) -> None:
    """The `wandb.artifact.promoted` event and the markdown summary of one promotion."""
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
    resource = {
        "prefect.resource.id": _resource_id(promoted),
        "prefect.resource.name": promoted.qualified_name,
        "wandb.collection": promoted.collection_name,
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
    create_markdown_artifact(
        f"### Promoted `{collection}:{promoted.version}` to `{alias}`\n\n"
        f"| | version | digest |\n|---|---|---|\n"
        f"| before | {before} | {previous.digest if previous is not None else '-'} |\n"
        f"| after | {promoted.version} | {promoted.digest} |\n\n"
        f"Logged by run: {'/'.join(logged_by.path) if logged_by else 'unknown'} — "
        f"[open in W&B]({promoted.url})\n",
        key=artifact_key("wandb-promotion", promoted.collection_name, alias),
        description=f"Alias {alias} moved from {before} to {promoted.version}",
    )
    get_run_logger().info(
        "moved %r of %s from %s to %s", alias, collection, before, promoted.version
    )


@task(name="Promote W&B artifact", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def promote_artifact(
    credentials: WandbCredentials,
    name: str,
    alias: str = "production",
    target: str | None = None,
) -> dict[str, Any] | None:
    """Move `alias` to the version `name` resolves to; returns the previous holder's record
    (None when no version held it). With `target` (`wandb-registry-<registry>/<collection>`,
    `<org>/wandb-registry-...` or `<team>/model-registry/<name>`) the alias moves in that
    collection, the version linked there first if it is not yet a member. Emits
    `wandb.artifact.promoted` and a markdown summary."""
    return promote(credentials, name, alias, target).previous


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
    for path in paths:
        if os.path.isdir(path):
            draft.add_dir(path)
        else:
            draft.add_file(path)
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
    "Promotion",
    "artifact_record",
    "download_artifact",
    "link_artifact",
    "promote",
    "promote_artifact",
    "publish_artifact",
    "registry_collection",
    "restore_alias",
    "use_artifact",
]
