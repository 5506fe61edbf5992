"""Parsing of the path strings users pass (`entity/project/run_id`, `project/name:alias`, ...)."""

from __future__ import annotations

import re
from collections.abc import Callable

from prefect_wandb_public.errors import InvalidInputError

# A default entity or project: a value, or a callable asked only when the path lacks that part
# (the default entity may cost a `viewer` query).
Default = str | Callable[[], "str | None"] | None

_SEGMENT_RE = re.compile(r"^[^\s/:]+$")


def check_segment(value: str, what: str, path: str) -> str:
    """A path part must be non-empty with no spaces, slashes or colons."""
    if not _SEGMENT_RE.match(value):
        raise InvalidInputError(f"invalid {what} {value!r} in path {path!r}")
    return value


def split_path(path: str, what: str, *, max_parts: int = 3) -> list[str]:
    """Split a `/`-separated path into checked parts; reject empty parts and too many parts."""
    if not isinstance(path, str):
        raise InvalidInputError(f"{what} path must be a string, got {type(path).__name__}")
    if not path or path != path.strip():
        raise InvalidInputError(f"invalid {what} path {path!r}: empty or padded with spaces")
    parts = path.split("/")
    if len(parts) > max_parts or any(not p for p in parts):
        raise InvalidInputError(
            f"invalid {what} path {path!r}: expected at most {max_parts} non-empty parts "
            "separated by '/'"
        )
    return parts


def parse_run_path(path: str, entity: Default, project: Default) -> tuple[str, str, str]:
    """`entity/project/runs/id`, `entity/project/id`, `entity/project:id`, `project/id`,
    `project:id` or `id` -> (entity, project, run_id), filling gaps from the defaults given."""
    if isinstance(path, str) and path.count("/") == 3:
        parts = split_path(path, "run", max_parts=4)
        if parts[2] != "runs":
            raise InvalidInputError(f"invalid run path {path!r}: expected entity/project/runs/id")
        parts = [parts[0], parts[1], parts[3]]
    else:
        parts = split_path(path, "run")
        if ":" in parts[-1] and len(parts) <= 2:
            head, _, run_id = parts[-1].partition(":")
            parts = [*parts[:-1], head, run_id]
    return _fill(parts, entity, project, "run", path)


def parse_object_path(
    path: str, what: str, entity: Default, project: Default
) -> tuple[str, str, str]:
    """`entity/project/name`, `project/name` or `name` (sweeps, artifacts) -> the triple."""
    return _fill(split_path(path, what), entity, project, what, path)


def parse_project_path(path: str | None, entity: Default, project: Default) -> tuple[str, str]:
    """`entity/project`, `project` or None (the defaults) -> (entity, project)."""
    if path is None:
        return _need(entity, "entity", ""), _need(project, "project", "")
    parts = split_path(path, "project", max_parts=2)
    if len(parts) == 2:
        return check_segment(parts[0], "entity", path), check_segment(parts[1], "project", path)
    name = check_segment(parts[0], "project", path)
    return _need(entity, "entity", path), name


def _fill(
    parts: list[str], entity: Default, project: Default, what: str, path: str
) -> tuple[str, str, str]:
    """Check the parts given before asking for defaults (the default entity costs a query)."""
    kinds = ("entity", "project", what)[3 - len(parts) :]
    for part, kind in zip(parts, kinds, strict=True):
        if kind != "artifact":
            check_segment(part, kind, path)
    if len(parts) == 3:
        ent, proj, name = parts
    elif len(parts) == 2:
        ent, proj, name = _need(entity, "entity", path), parts[0], parts[1]
    else:
        ent, proj, name = _need(entity, "entity", path), _need(project, "project", path), parts[0]
    return check_segment(ent, "entity", path), check_segment(proj, "project", path), name


def _need(value: Default, what: str, path: str) -> str:
    if callable(value):
        value = value()
    if not value:
        raise InvalidInputError(f"path {path!r} names no {what} and no default {what} is set")
    return value


__all__ = [
    "Default",
    "check_segment",
    "parse_object_path",
    "parse_project_path",
    "parse_run_path",
    "split_path",
]
