"""Attributes read straight from the GraphQL node a public object was built from."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_UPPER_AFTER_UNDERSCORE = re.compile(r"_([a-z0-9])")


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


def snake_to_camel(name: str) -> str:
    """`created_at` -> `createdAt`, as the official client maps attribute names to fields."""
    return _UPPER_AFTER_UNDERSCORE.sub(lambda m: m.group(1).upper(), name)


class NodeAttributes:
    """Any other field of the node an object was built from, by its snake_case or camelCase
    name (`file.size_bytes`, `run.createdAt`), as the official client's objects offer them;
    an unknown name is an AttributeError."""

    _attrs: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attrs = self.__dict__.get("_attrs") or {}
        for key in (snake_to_camel(name), name):
            if key in attrs:
                return attrs[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


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
    "NodeAttributes",
    "count",
    "optional_int",
    "snake_to_camel",
    "text",
    "wire_field",
]
