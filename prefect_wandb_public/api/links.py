"""Links: a committed version seen through a portfolio (a registry collection, or a legacy
`<team>/model-registry` registered model), and linking, unlinking and listing links
(registry notes §1.3-§1.6, §1.9).

A linked `Artifact` is the source version read through the portfolio: `entity`, `project`,
`name`, `version` and `aliases` are the link's, `id` and the files are the source's, and the
`source_*` members name the source. `Artifact` keeps a `LinkInfo` for that and asks this
module for everything links do; this module builds new `Artifact`s through the class of the
one it is given, so it never imports `artifacts.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from prefect_wandb_public.api.names import check_aliases, check_artifact_name, is_version
from prefect_wandb_public.api.orgs import (
    LEGACY_REGISTRY_PROJECT,
    REGISTRY_PREFIX,
    is_registry_project,
    org_info_from_entity,
    resolve_org_info,
)
from prefect_wandb_public.api.paths import check_segment, split_path
from prefect_wandb_public.api.queries.registry import (
    LINK_ARTIFACT_MUTATION,
    LINKED_ARTIFACTS_QUERY,
    UNLINK_ARTIFACT_MUTATION,
)
from prefect_wandb_public.errors import (
    ArtifactNotLoggedError,
    CommError,
    InvalidInputError,
    NotFoundError,
)

if TYPE_CHECKING:
    from prefect_wandb_public.api.artifacts import Artifact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkInfo:
    """Where a linked version is read through: portfolio `entity/project/collection`, its
    version there, and when it was linked."""

    entity: str
    project: str
    collection: str
    version_index: int
    linked_at: str | None

    @property
    def version(self) -> str:
        return f"v{self.version_index}"


def link_of(membership: Mapping[str, Any], requested_project: str | None = None) -> LinkInfo | None:
    """The link a membership node describes; None when it is the version's own sequence. A
    legacy `model-registry` path answered from a registry is followed with the 0.31 warning."""
    coll = membership.get("artifactCollection") or {}
    sequence = (membership.get("artifact") or {}).get("artifactSequence") or {}
    if not coll or membership.get("versionIndex") is None:
        return None
    where = _where(coll)
    if where == _where(sequence) and coll.get("__typename") != "ArtifactPortfolio":
        return None
    if requested_project == LEGACY_REGISTRY_PROJECT and is_registry_project(where[1]):
        logger.warning(
            "This model registry has been migrated and will be discontinued. Your request was "
            "redirected to the corresponding artifact %r in the new registry. Please update "
            "your paths to point to the migrated registry directly, '%s/%s'.",
            where[2],
            where[1],
            where[2],
        )
    return LinkInfo(
        where[0], where[1], where[2], int(membership["versionIndex"]), membership.get("createdAt")
    )


def _where(coll: Mapping[str, Any]) -> tuple[str, str, str]:
    proj = coll.get("project") or {}
    return ((proj.get("entity") or {}).get("name", ""), proj.get("name", ""), coll.get("name", ""))


def parse_link_target(target_path: str, default_project: str) -> tuple[str | None, str, str]:
    """`[prefix/]project/collection` (or a bare collection in the default project) ->
    (prefix or None, project, collection). A link target names a collection, never a version."""
    if isinstance(target_path, str) and ":" in target_path:
        raise InvalidInputError(
            f"invalid link target {target_path!r}: name a collection "
            "('wandb-registry-<registry>/<collection>' or '<entity>/<project>/<collection>'), "
            "not a version or alias"
        )
    parts = split_path(target_path, "link target")
    *head, name = parts
    try:
        check_artifact_name(name)
    except InvalidInputError as exc:
        raise InvalidInputError(f"invalid link target {target_path!r}: {exc}") from exc
    if head and not is_registry_project(head[-1]):  # an org's display name may have spaces
        for part, what in zip(head[::-1], ("project", "entity"), strict=False):
            check_segment(part, what, target_path)
    if len(parts) == 3:
        return parts[0], parts[1], name
    if len(parts) == 2:
        return None, parts[0], name
    return None, default_project, name


def link(artifact: Artifact, target_path: str, aliases: Iterable[str] | None = None) -> Artifact:
    """`Artifact.link`: link the source version into `target_path`'s portfolio (created when
    missing) with `aliases`; returns the link. A registry path's organization is resolved from
    the source entity (and checked against the path's first part, when it has one)."""
    if artifact.is_draft():
        raise ArtifactNotLoggedError(
            f"'Artifact.link' used prior to logging artifact {artifact.name!r}: publish it with "
            "Api.log_artifact or Run.log_artifact first, then link the returned version"
        )
    client = artifact.client
    prefix, project, collection = parse_link_target(target_path, client.default_project)
    names = check_aliases(list(aliases) if aliases is not None else None)
    if artifact.is_link:
        logger.warning(
            "Linking to a link artifact will result in directly linking to the source artifact "
            "of that link artifact."
        )
    if is_registry_project(project):
        organization = prefix or client.settings.get("organization") or None
        entity = resolve_org_info(client, artifact.source_entity, organization).entity_name
    else:
        entity = prefix or artifact.source_entity
    target = f"{entity}/{project}/{collection}"
    variables = {
        "input": {
            "artifactID": artifact.id,
            "artifactPortfolioName": collection,
            "entityName": entity,
            "projectName": project,
            "aliases": [{"artifactCollectionName": collection, "alias": a} for a in names],
        }
    }
    try:
        data = client.transport.graphql(LINK_ARTIFACT_MUTATION, variables)
    except CommError as exc:
        if type(exc) is CommError and exc.status == 200:  # the server refused this link
            raise InvalidInputError(
                f"cannot link {artifact.source_qualified_name} to {target} "
                f"(from {target_path!r}): {exc.message}"
            ) from exc
        raise
    result = data.get("linkArtifact") or {}
    membership = result.get("artifactMembership")
    info = link_of(membership) if membership else None
    if membership and info is not None:
        return type(artifact)._from_attrs(client, membership["artifact"], None, info)
    if result.get("versionIndex") is None:
        raise CommError(f"linking to {target}: unable to parse linked artifact version")
    return client.artifact(f"{target}:v{result['versionIndex']}")


def unlink(artifact: Artifact) -> None:
    """`Artifact.unlink`: remove this link from its portfolio (the source stays)."""
    if not artifact.is_link:
        raise InvalidInputError(
            f"Artifact {artifact.qualified_name!r} is not a linked artifact and cannot be "
            "unlinked.  To delete it, use 'delete' instead."
        )
    client = artifact.client
    portfolio_id = artifact.collection.id
    data = client.transport.graphql(
        UNLINK_ARTIFACT_MUTATION,
        {"input": {"artifactID": artifact.id, "artifactPortfolioID": portfolio_id}},
    )
    if not (data.get("unlinkArtifact") or {}).get("success"):
        raise CommError(f"the server did not unlink {artifact.qualified_name}")


def linked_artifacts(artifact: Artifact) -> list[Artifact]:
    """The links of a source version, one `Artifact` per portfolio it is linked to (a link
    itself has none). At most the 500 the server returns."""
    if artifact.is_link:
        return []
    client = artifact.client
    data = client.transport.graphql(LINKED_ARTIFACTS_QUERY, {"artifactID": artifact.id})
    edges = (((data.get("artifact") or {}).get("artifactMemberships")) or {}).get("edges")
    if not edges:
        raise NotFoundError(
            f"Unable to find any artifact memberships for {artifact.qualified_name}"
        )
    links = []
    for edge in edges:
        node = edge.get("node") or {}
        coll = node.get("artifactCollection") or {}
        if coll.get("__typename") != "ArtifactPortfolio" or node.get("versionIndex") is None:
            continue
        entity, project, name = _where(coll)
        info = LinkInfo(entity, project, name, int(node["versionIndex"]), node.get("createdAt"))
        linked = type(artifact)._from_attrs(client, artifact._attrs, None, info)
        # This object's fields may predate the link: its aliases are the membership's.
        names = [a["alias"] for a in node.get("aliases") or []]
        linked.aliases = [a for a in dict.fromkeys(names) if not is_version(a)]
        linked._saved_aliases = list(linked.aliases)
        links.append(linked)
    return links


def link_url(artifact: Artifact, app_url: str) -> str:
    """The web page of a link: the registry's page for registry links, the model registry's
    for legacy ones (and for linked `model` artifacts), else the artifact page."""
    selection = quote(f"{artifact.entity}/{artifact.project}/{artifact.collection_name}", safe="")
    query = f"selectionPath={selection}&view=membership&version={artifact.version}"
    if is_registry_project(artifact.project):
        node = org_info_from_entity(artifact.client, artifact.entity) or {}
        org = (node.get("organization") or {}).get("name")
        if not org:
            return ""
        return f"{app_url}/orgs/{org}/registry/{artifact.project[len(REGISTRY_PREFIX) :]}?{query}"
    if artifact.type == "model" or artifact.project == LEGACY_REGISTRY_PROJECT:
        return f"{app_url}/{artifact.entity}/registry/model?{query}"
    return (
        f"{app_url}/{artifact.entity}/{artifact.project}/artifacts/{quote(artifact.type)}/"
        f"{quote(artifact.collection_name)}/{artifact.version}"
    )


__all__ = [
    "LinkInfo",
    "link",
    "link_of",
    "link_url",
    "linked_artifacts",
    "parse_link_target",
    "unlink",
]
