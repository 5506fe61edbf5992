"""Wire shapes shared by every resolver and route: Relay connections and cursors, JSONString
arguments, JSON values with NaN and infinities as the service spells them, manifest JSON, md5s.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from prefect_wandb_public.testing.artifact_store import Artifact
from prefect_wandb_public.testing.common import StoreError

MAX_PAGE_SIZE = 10_000


# ---------------------------------------------------------------------------- paging
@lru_cache(maxsize=65536)
def encode_cursor(offset: int) -> str:
    """The opaque cursor of the item at `offset` (cached: every listing page needs them)."""
    return base64.b64encode(f"cursor:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Offset just after the item the cursor names (0 for no cursor)."""
    if not cursor:
        return 0
    try:
        kind, offset = base64.b64decode(cursor.encode()).decode().split(":")
        if kind != "cursor":
            raise ValueError(kind)
        return int(offset) + 1
    except ValueError as exc:
        raise StoreError(f"invalid cursor {cursor!r}") from exc


def connection(
    items: Sequence[Any],
    first: int | None,
    after: str | None,
    node: Callable[[Any], Any],
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Relay connection over a stable sequence: edges with offset cursors and pageInfo."""
    if first is not None and (first < 0 or first > MAX_PAGE_SIZE):
        raise StoreError(f"first must be between 0 and {MAX_PAGE_SIZE}, got {first}")
    start = decode_cursor(after)
    stop = len(items) if first is None else min(len(items), start + first)
    edges = [
        {"node": node(items[i]), "cursor": encode_cursor(i)} for i in range(start, max(start, stop))
    ]
    return {
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": stop < len(items),
            "hasPreviousPage": start > 0,
        },
        "totalCount": len(items),
        **(extra or {}),
    }


def json_arg(value: Any, name: str) -> Any:
    """Decode a JSONString argument (clients send JSON text)."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise StoreError(f"{name} is not valid JSON: {exc}") from exc


_NON_FINITE_NAMES = {math.inf: "Infinity", -math.inf: "-Infinity"}


def json_safe(value: Any) -> Any:
    """`value` for a JSON (not JSONString) field: NaN and infinities become the strings "NaN",
    "Infinity" and "-Infinity", as the service sends them (strict JSON; Go clients reject the
    bare tokens)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else _NON_FINITE_NAMES[value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def manifest_json(artifact: Artifact) -> dict[str, Any]:
    """Manifest JSON v1: `contents` keyed by path with digest (base64 md5), size, and the birth
    id of a stored file or the URI (`ref`) and `extra` of a reference."""
    contents: dict[str, Any] = {}
    for path, entry in artifact.entries.items():
        item: dict[str, Any] = {"digest": entry.digest, "size": entry.size}
        if entry.ref is None:
            item["birthArtifactID"] = entry.birth_artifact_id
        else:
            item["ref"] = entry.ref
        if entry.extra:
            item["extra"] = dict(entry.extra)
        contents[path] = item
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": contents,
    }


def check_b64_md5(value: object) -> bool:
    """Whether `value` is a base64 md5 digest (24 characters, 16 bytes)."""
    if not isinstance(value, str) or len(value) != 24:
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


__all__ = [
    "MAX_PAGE_SIZE",
    "check_b64_md5",
    "connection",
    "decode_cursor",
    "encode_cursor",
    "json_arg",
    "json_safe",
    "manifest_json",
]
