"""What every part of the local server's state shares: its errors, ids, formats and name rules.

`StoreError` and its subclasses carry the message the server answers; the HTTP app turns them into
wire errors in one place (`app.py`), the GraphQL layer into GraphQL errors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any


class PartsBlob:
    """A stored file made of a multipart upload's parts, in order, kept as they arrived: a
    multi-GB file is never copied into one buffer (on a small machine that copy costs as much
    as hashing it). It has a length, serves byte ranges (`views`) and compares equal to the
    bytes it holds; `bytes(blob)` joins it."""

    def __init__(self, parts: Sequence[bytes]) -> None:
        self.parts = list(parts)
        self._size = sum(len(part) for part in self.parts)

    def __len__(self) -> int:
        return self._size

    def views(self, start: int, stop: int) -> Iterator[memoryview]:
        """Bytes `[start, stop)` as views of the parts."""
        offset = 0
        for part in self.parts:
            end = offset + len(part)
            if end > start and offset < stop:
                yield memoryview(part)[max(start - offset, 0) : min(stop, end) - offset]
            offset = end

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartsBlob):
            return self.parts == other.parts or bytes(self) == bytes(other)
        if isinstance(other, (bytes, bytearray, memoryview)):
            return len(other) == self._size and bytes(self) == bytes(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


Blob = bytes | PartsBlob


_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class StoreError(Exception):
    """A request the service would refuse; the message is what the server answers (HTTP 400)."""


class StoreNotFound(StoreError):
    """The named object does not exist (HTTP 404)."""


class StoreConflict(StoreError):
    """The object is not in a state that allows this (HTTP 409), e.g. a committed version."""


def encode_id(kind: str, *parts: object) -> str:
    """Opaque base64 id in the service's style, e.g. `Run:v1:<run>:<project>:<entity>`."""
    text = ":".join([kind, *(str(p) for p in parts)])
    return base64.b64encode(text.encode()).decode()


def decode_id(value: str) -> list[str]:
    """Split an id made by `encode_id` back into its parts; StoreNotFound when it is not one."""
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreNotFound(f"invalid id {value!r}") from exc


def iso(ts: datetime) -> str:
    """The service's DateTime format: ISO-8601, seconds precision, no zone."""
    return ts.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def json_dumps(value: Any) -> str:
    """Compact JSON that keeps NaN/Infinity, as the service's JSONString fields do."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def b64_md5(data: bytes) -> str:
    """The manifest digest of a file: base64 of its md5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def check_name(kind: str, value: str) -> str:
    """Entity, project, run, artifact and type names: letters, digits, `-`, `_` and `.`."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise StoreError(f"invalid {kind} name {value!r}")
    return value


def check_file_name(name: str) -> str:
    """Run file names are relative paths: no leading `/`, no `.`/`..` or empty parts."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if not name or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"invalid file name {name!r}")
    return name


def check_alias(alias: str) -> str:
    """Aliases may not contain `/` or `:`, and `vN` is reserved for versions."""
    if not isinstance(alias, str) or not alias or "/" in alias or ":" in alias:
        raise StoreError(f"invalid alias {alias!r}")
    if re.fullmatch(r"v\d+", alias):
        raise StoreError(f"alias {alias!r} is reserved for versions")
    return alias


_TAG_RE = re.compile(r"^[-\w]+( +[-\w]+)*$")


def check_tag(tag: str) -> str:
    """Tags: words of letters, digits, `-` and `_`, separated by spaces."""
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise StoreError(f"invalid tag {tag!r}")
    return tag


def wrap_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Store plain config values the way the service does: `{key: {"value": v, "desc": None}}`."""
    return {key: {"value": value, "desc": None} for key, value in config.items()}


_MIMETYPES = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
    ".csv": "text/csv",
    ".png": "image/png",
    ".md": "text/markdown",
    ".py": "text/x-python",
}


def mimetype_of(name: str) -> str:
    for suffix, mimetype in _MIMETYPES.items():
        if name.endswith(suffix):
            return mimetype
    return "application/octet-stream"


__all__ = [
    "Blob",
    "PartsBlob",
    "StoreConflict",
    "StoreError",
    "StoreNotFound",
    "b64_md5",
    "check_alias",
    "check_file_name",
    "check_name",
    "check_tag",
    "decode_id",
    "encode_id",
    "iso",
    "json_dumps",
    "mimetype_of",
    "wrap_config",
]
