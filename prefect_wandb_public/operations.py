"""Client operations the Prefect tasks and the command line share, with no Prefect import (so
the command line starts fast): plain-data records of runs and artifacts, moving an alias, and
exporting the histories of many runs in parallel."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from prefect_wandb_public.api import Api, Artifact, Run, export_history, fetch_history_plans
from prefect_wandb_public.api.names import check_alias
from prefect_wandb_public.api.orgs import (
    LEGACY_REGISTRY_PROJECT,
    is_registry_project,
    resolve_org_info,
)
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError

EXPORT_FORMATS = ("parquet", "csv")


def json_safe(value: Any) -> Any:
    """NaN/Infinity become None so records survive JSON (Prefect results, table artifacts)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def run_record(run: Run, *, full: bool = True) -> dict[str, Any]:
    """A run as plain data (what tasks return instead of live client objects)."""
    record: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "path": "/".join(run.path),
        "state": run.state,
        "url": run.url,
        "created_at": run.created_at,
        "tags": list(run.tags),
        "group": run.group,
        "job_type": run.job_type,
        "sweep": run.sweep_name,
    }
    if full:
        record["config"] = json_safe(run.config)
        record["summary"] = json_safe(run.summary_metrics)  # a plain dict, not the live mapping
    return record


def run_field(record: Mapping[str, Any], field: str) -> Any:
    """A field of a run record by dotted name: `id`, `summary.acc`, `config.optimizer.lr`.
    A summary or config key that the run lacks is None."""
    head, _, rest = field.partition(".")
    if head in ("summary", "summary_metrics") and rest:
        return _dig(record.get("summary") or {}, rest)
    if head == "config" and rest:
        return _dig(record.get("config") or {}, rest)
    if field not in record:
        raise InvalidInputError(
            f"unknown run field {field!r}: use one of {', '.join(sorted(record))}, "
            "summary.<key> or config.<key>"
        )
    return record[field]


def _dig(mapping: Mapping[str, Any], dotted: str) -> Any:
    if dotted in mapping:  # a key with dots of its own
        return mapping[dotted]
    value: Any = mapping
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


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


@dataclass(frozen=True)
class AliasMove:
    """The outcome of `move_alias`: the version that now holds the alias (a link, in a registry
    collection), the one that held it before (None: nobody), the collection the alias lives in
    (`entity/project/collection`), whether anything changed, and the `vN` of a link the move
    created (None when the version was already a member, or outside a registry)."""

    artifact: Artifact
    previous: Artifact | None
    alias: str
    collection: str
    moved: bool
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


def move_alias(api: Api, name: str, alias: str, target: str | None = None) -> AliasMove:
    """Give `alias` to the version `name` resolves to, in its own collection or, with a
    `target` (see `registry_collection`), in that registry collection: the version is linked
    there first when it is not a member (one request links it and moves the alias). The server
    takes the alias from the previous holder; nothing is written when the version already
    holds it. `latest` is refused: the server moves it on every commit."""
    if check_alias(alias) == "latest":
        raise InvalidInputError("cannot promote to 'latest': the server moves it on every commit")
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
    if previous is not None and previous.id == candidate.id:
        return AliasMove(previous, previous, alias, collection, moved=False)
    member: Artifact | None = candidate
    if target is not None:
        member = next(
            (
                link
                for link in source.linked_artifacts
                if f"{link.entity}/{link.project}/{link.collection_name}" == collection
            ),
            None,
        )
    if member is None:  # not yet in the registry collection: linking moves the alias too
        linked = source.link(collection, aliases=[alias])
        return AliasMove(
            linked, previous, alias, collection, moved=True, created_link=linked.version
        )
    member.aliases.append(alias)
    member.save()
    return AliasMove(member, previous, alias, collection, moved=True)


def verify_credentials(api: Api) -> dict[str, Any]:
    """Ask the server who the key belongs to: `{"base_url", "username", "entity", ...}`.

    AuthenticationError when the key is refused. A `base_url` that answers but is no W&B
    server (no GraphQL endpoint, or not JSON: another service on that port, a path too many)
    is an InvalidInputError saying so, rather than a bare HTTP 404."""
    try:
        viewer = api.viewer
    except CommError as exc:
        status = exc.status
        answered = status is not None and (status in (404, 405) or status < 300)
        if status is not None and answered and (exc.url or "").endswith("/graphql"):
            what = (
                f"POST /graphql answered HTTP {status}"
                if status >= 300
                else "POST /graphql did not answer JSON"
            )
            raise InvalidInputError(
                f"{api.base_url} is not a W&B server ({what}); set WANDB_BASE_URL or the "
                "block's base_url to the W&B API (https://api.wandb.ai or your server's URL)"
            ) from exc
        raise
    return {
        "base_url": api.base_url,
        "username": viewer.username,
        "entity": viewer.entity,
        "email": getattr(viewer, "email", None),
        "teams": list(viewer.teams),
    }


def check_export_options(format: str, max_workers: int) -> None:
    """InvalidInputError unless `format` is parquet or csv and `max_workers` is >= 1."""
    if format not in EXPORT_FORMATS:
        raise InvalidInputError(f"format must be 'parquet' or 'csv', got {format!r}")
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidInputError(f"max_workers must be an integer >= 1, got {max_workers!r}")


def export_runs(
    runs: Sequence[Run],
    destination_dir: str,
    format: str = "parquet",
    keys: Sequence[str] | None = None,
    *,
    max_workers: int = 4,
    storage_options: Mapping[str, Any] | None = None,
    on_done: Callable[[dict[str, Any], int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Export each run's history to `<destination_dir>/<run_id>.<format>`, `max_workers` runs
    at once; `on_done(result, done, total)` hears of each run as it finishes. The first failure
    stops the runs not yet started. Returns `{"run", "destination", "rows"}` per run, by path.

    The runs' history plans are asked for 100 runs per GraphQL request and the export files
    of all of them fetched into the download cache first, 16 at a time
    (`fetch_history_plans`), so a fully exported run costs no GraphQL request of its own."""
    check_export_options(format, max_workers)
    plans = fetch_history_plans(runs, prefetch=True)

    def export_one(run: Run) -> dict[str, Any]:
        target = posixpath.join(destination_dir.rstrip("/"), f"{run.id}.{format}")
        rows = export_history(
            run,
            target,
            format,
            keys=list(keys) if keys else None,
            storage_options=storage_options,
            plan=plans[run.id],
        )
        return {"run": "/".join(run.path), "destination": target, "rows": rows}

    results: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wandb-export")
    try:
        futures = [pool.submit(export_one, run) for run in runs]
        for done, future in enumerate(as_completed(futures), start=1):
            results.append(future.result())  # the first failure stops the rest (finally)
            if on_done is not None:
                on_done(results[-1], done, len(futures))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    results.sort(key=lambda r: r["run"])
    return results


__all__ = [
    "EXPORT_FORMATS",
    "AliasMove",
    "artifact_record",
    "check_export_options",
    "export_runs",
    "json_safe",
    "move_alias",
    "registry_collection",
    "run_field",
    "run_record",
    "verify_credentials",
]
