"""The naming rules of artifacts, aliases, tags and file paths, each defined once.

Every check raises `InvalidInputError` naming the bad value, before any request is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prefect_wandb_public.errors import InvalidInputError

NAME_MAXLEN = 128
# Types the service keeps for itself: any type starting with `wandb-`, and these name prefixes.
RESERVED_TYPE_PREFIX = "wandb-"
RESERVED_NAME_PREFIX_BY_TYPE = {"job": "", "run_table": "run-", "code": "source-"}

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_ALIAS_RE = re.compile(r"^[^/:]+$")
_VERSION_RE = re.compile(r"^v\d+$")
_TAG_RE = re.compile(r"^[-\w]+( +[-\w]+)*$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_NAME_RE.match(value)) and len(value) <= NAME_MAXLEN


def check_artifact_name(name: Any) -> str:
    """Artifact (collection) names: 1-128 ASCII letters, digits, `-`, `_` and `.`."""
    if not _is_name(name):
        raise InvalidInputError(
            f"invalid artifact name {name!r}: 1-{NAME_MAXLEN} letters, digits, '-', '_' or '.'"
        )
    return str(name)


def check_artifact_type(type_name: Any, name: str) -> str:
    """Artifact types: the same characters as names; `wandb-*` types (and some names of the
    types `job`, `run_table` and `code`) are reserved for the service."""
    if not _is_name(type_name):
        raise InvalidInputError(
            f"invalid artifact type {type_name!r}: 1-{NAME_MAXLEN} letters, digits, '-', '_' or '.'"
        )
    reserved_prefix = RESERVED_NAME_PREFIX_BY_TYPE.get(type_name)
    if type_name.startswith(RESERVED_TYPE_PREFIX) or (
        reserved_prefix is not None and name.startswith(reserved_prefix)
    ):
        raise InvalidInputError(
            f"artifact type {type_name!r} is reserved for internal use (artifact {name!r})"
        )
    return str(type_name)


def is_version(alias: str) -> bool:
    """Whether `alias` names a version (`v0`, `v12`) rather than being an alias."""
    return bool(_VERSION_RE.match(alias))


def check_alias(alias: Any) -> str:
    """Aliases are 1-128 characters without `/` or `:`; `vN` names a version, not an alias."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias) or len(alias) > NAME_MAXLEN:
        raise InvalidInputError(
            f"invalid alias {alias!r}: 1-{NAME_MAXLEN} characters, no '/' or ':'"
        )
    if is_version(alias):
        raise InvalidInputError(f"invalid alias {alias!r}: 'vN' is reserved for versions")
    return alias


def _string_list(what: str, values: Sequence[str] | None) -> Sequence[str]:
    """`values` or (); a bare string is refused: it would be read as its characters."""
    if isinstance(values, str):
        raise InvalidInputError(f"{what} must be a list of strings, not the string {values!r}")
    return values or ()


def check_aliases(aliases: Sequence[str] | None) -> list[str]:
    """Each alias checked, each kept once, in order."""
    return list(dict.fromkeys(check_alias(a) for a in _string_list("aliases", aliases)))


def check_tags(tags: Sequence[str] | None) -> list[str]:
    """Tags are words of letters, digits, `-` and `_`, separated by spaces; each kept once."""
    checked = _string_list("tags", tags)
    for tag in checked:
        if not isinstance(tag, str) or not _TAG_RE.match(tag):
            raise InvalidInputError(
                f"invalid tag {tag!r}: words of letters, digits, '-' or '_' separated by spaces"
            )
    return list(dict.fromkeys(checked))


def parse_artifact_name(name: Any) -> tuple[str, str]:
    """`coll:alias`, `coll:vN` or `coll` -> (collection, alias or "latest"); the collection
    follows `check_artifact_name`'s rule."""
    if not isinstance(name, str):
        raise InvalidInputError(f"artifact name must be a string, got {type(name).__name__}")
    collection, sep, alias = name.partition(":")
    if not _is_name(collection) or (sep and not _ALIAS_RE.match(alias)):
        raise InvalidInputError(f"invalid artifact name {name!r}: expected 'collection[:alias]'")
    return collection, alias or "latest"


def check_entry_path(name: Any) -> str:
    """A file's path inside an artifact, run or download root: `/`-separated and relative, with
    no empty, `.` or `..` parts, no backslash, NUL or drive letter."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or _DRIVE_RE.match(name)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidInputError(
            f"refusing file name {name!r}: names must be relative paths with no empty, "
            "'.' or '..' parts"
        )
    return str(name)


__all__ = [
    "NAME_MAXLEN",
    "RESERVED_NAME_PREFIX_BY_TYPE",
    "RESERVED_TYPE_PREFIX",
    "check_alias",
    "check_aliases",
    "check_artifact_name",
    "check_artifact_type",
    "check_entry_path",
    "check_tags",
    "is_version",
    "parse_artifact_name",
]
