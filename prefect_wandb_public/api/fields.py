"""Attributes read straight from the GraphQL node a public object was built from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _WireField:
    """Descriptor: `obj.<name>` is `convert(obj._attrs.get(key))`, read-only."""

    def __init__(self, key: str, convert: Callable[[Any], Any] | None) -> None:
        self.key = key
        self.convert = convert

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj._attrs.get(self.key)
        return value if self.convert is None else self.convert(value)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{self.key!r} is read from the server and cannot be set")


def wire_field(key: str, convert: Callable[[Any], Any] | None = None) -> Any:
    """Declare an attribute taken from the node's `key` (camelCase on the wire), optionally
    converted; annotate it with the type `convert` returns (or the raw value's type)."""
    return _WireField(key, convert)


def text(value: Any) -> str:
    """Missing text is an empty string."""
    return str(value or "")


def count(value: Any) -> int:
    """Missing counts are zero."""
    return int(value or 0)


def optional_int(value: Any) -> int | None:
    """Integer-like ids (`internalId`, `projectId`) arrive as strings."""
    return None if value is None else int(value)


__all__ = [
    "count",
    "optional_int",
    "text",
    "wire_field",
]
