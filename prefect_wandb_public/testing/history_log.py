"""One run's history stream, stored lean for millions of rows (the local server's engine).

Steps sit in an int64 array (a step range is a bisect), each row's compact ASCII JSON in one byte
buffer with end offsets (no per-row string objects), and each row's key set as a shape id, so a
keys filter picks its rows without parsing any JSON.
"""

from __future__ import annotations

import bisect
import itertools
import json
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from prefect_wandb_public.testing.common import StoreError


class HistoryRows(Sequence[str]):
    """Read-only view of a `HistoryLog`'s row JSON strings (indexing and slicing decode lazily)."""

    def __init__(self, log: HistoryLog) -> None:
        self._log = log

    def __len__(self) -> int:
        return len(self._log.steps)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        count = len(self)
        if isinstance(index, slice):
            start, stop, stride = index.indices(count)
            if stride == 1:
                return self._log.rows_between(start, max(start, stop))
            return [self._log.row(i) for i in range(start, stop, stride)]
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("history row index out of range")
        return self._log.row(index)


class HistoryLog:
    """One run's history stream, lean and fast at millions of rows.

    Steps sit in an int64 array (a step range is a bisect), each row's compact ASCII JSON in one
    byte buffer with end offsets (no per-row string objects), and each row's key set as a shape
    id, so a keys filter picks its rows without parsing any JSON.

    History rows carry `_step`; system-event rows (`numbered=False`) do not, as the service
    stores them: their step is their line number.
    """

    def __init__(self, *, numbered: bool = True) -> None:
        self.numbered = numbered
        self.steps: array[int] = array("q")
        self.key_types: dict[str, dict[str, int]] = {}
        self.previous: dict[str, Any] = {}
        self._text = bytearray()
        self._ends: array[int] = array("q")
        self._row_shapes: array[int] = array("I")
        self._shapes: list[frozenset[str]] = []
        self._shape_ids: dict[frozenset[str], int] = {}
        self._flat_shape_ids: dict[tuple[str, ...], int] = {}

    def __repr__(self) -> str:
        return f"<HistoryLog rows={len(self.steps)} last_step={self.last_step}>"

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def rows(self) -> HistoryRows:
        """The rows as JSON strings, in step order."""
        return HistoryRows(self)

    def append(self, row: Mapping[str, Any], default_step: int) -> None:
        """Add one row; `_step` comes from the row, else `default_step`; steps must increase."""
        data = dict(row)
        step = data.get("_step", default_step) if self.numbered else len(self.steps)
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        if not isinstance(step, int) or isinstance(step, bool):
            raise StoreError(f"history _step must be an integer, got {step!r}")
        if self.steps and step <= self.steps[-1]:
            raise StoreError(f"history steps must increase: {step} after {self.steps[-1]}")
        if self.numbered:
            data["_step"] = step
        encoded = _ROW_ENCODER.encode(data).encode("ascii")  # ASCII: byte offsets = characters
        nested = not all(type(value) in _PLAIN_TYPE_NAMES for value in data.values()) and any(
            isinstance(value, Mapping) for value in data.values()
        )
        for key, value in (flatten_row(data) if nested else data).items():
            counts = self.key_types.get(key)
            if counts is None:
                counts = self.key_types[key] = {}
            type_name = _PLAIN_TYPE_NAMES.get(type(value)) or _history_type(value)
            counts[type_name] = counts.get(type_name, 0) + 1
            self.previous[key] = value
        self.steps.append(step)
        self._text += encoded
        self._ends.append(len(self._text))
        self._row_shapes.append(self._shape_of(data, nested))

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows, numbering those without `_step` after the last step."""
        for row in rows:
            self.append(row, self.steps[-1] + 1 if self.steps else 0)

    @property
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    def row(self, index: int) -> str:
        """The JSON text of row `index`."""
        start = self._ends[index - 1] if index > 0 else 0
        return self._text[start : self._ends[index]].decode("ascii")

    def rows_between(self, lo: int, hi: int) -> list[str]:
        """The JSON texts of rows lo..hi-1, decoded as one block and cut at the row ends."""
        if hi <= lo:
            return []
        base = self._ends[lo - 1] if lo > 0 else 0
        block = self._text[base : self._ends[hi - 1]].decode("ascii")
        starts = [0, *(end - base for end in self._ends[lo : hi - 1])]
        ends = [end - base for end in self._ends[lo:hi]]
        return [block[a:b] for a, b in zip(starts, ends, strict=True)]

    def index_range(self, min_step: int | None, max_step: int | None) -> tuple[int, int]:
        """Row indexes of steps in [min_step, max_step) (open ends when None)."""
        lo = 0 if min_step is None else bisect.bisect_left(self.steps, min_step)
        hi = len(self.steps) if max_step is None else bisect.bisect_left(self.steps, max_step)
        return lo, max(lo, hi)

    def indexes_with(self, keys: Iterable[str], lo: int, hi: int) -> Sequence[int]:
        """Indexes in lo..hi-1 of rows holding every key (top-level or dotted path)."""
        wanted = set(keys)
        eligible = {i for i, shape in enumerate(self._shapes) if wanted <= shape}
        if not eligible or hi <= lo:
            return range(0)
        if len(eligible) == len(self._shapes):
            return range(lo, hi)
        flags = map(eligible.__contains__, self._row_shapes[lo:hi])
        return list(itertools.compress(range(lo, hi), flags))

    @staticmethod
    def spread(indexes: Sequence[int], samples: int) -> Sequence[int]:
        """At most `samples` of `indexes`, evenly spread, first and last included."""
        count = len(indexes)
        if samples <= 0 or count == 0:
            return range(0)
        if count <= samples:
            return indexes
        if samples == 1:
            return indexes[:1]
        stride = (count - 1) / (samples - 1)
        return [indexes[round(i * stride)] for i in range(samples)]

    def sample(self, min_step: int | None, max_step: int | None, samples: int) -> list[str]:
        """At most `samples` row strings of the range, evenly spread, first and last included."""
        lo, hi = self.index_range(min_step, max_step)
        if 0 < hi - lo <= samples:
            return self.rows_between(lo, hi)
        return [self.row(i) for i in self.spread(range(lo, hi), samples)]

    def _shape_of(self, data: Mapping[str, Any], nested: bool) -> int:
        """The id of the row's key set (every key and dotted path into nested dicts)."""
        if not nested:
            names = tuple(data)
            found = self._flat_shape_ids.get(names)
            if found is None:
                found = self._flat_shape_ids[names] = self._shape_id(frozenset(names))
            return found
        return self._shape_id(frozenset(_key_paths(data)))

    def _shape_id(self, shape: frozenset[str]) -> int:
        found = self._shape_ids.get(shape)
        if found is None:
            found = self._shape_ids[shape] = len(self._shapes)
            self._shapes.append(shape)
        return found


def _key_paths(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key of a row and every dotted path into its nested dicts."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        yield name
        if isinstance(value, Mapping):
            yield from _key_paths(value, name + ".")


_ROW_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=True)  # as json_dumps, reused
_PLAIN_TYPE_NAMES: dict[type, str] = {
    float: "number",
    int: "number",
    str: "string",
    bool: "boolean",
    type(None): "nil",
    list: "list",
}


def _history_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "list"
    return "map"


def flatten_row(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "_type" not in value:
            out.update(flatten_row(value, name + "."))
        else:
            out[name] = value
    return out


def append_from(log: HistoryLog, offset: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append the rows of a chunk starting at line `offset`, skipping lines already stored."""
    for row in rows[max(0, len(log) - offset) :]:
        log.append(row, log.steps[-1] + 1 if log.steps else 0)


__all__ = ["HistoryLog", "HistoryRows", "append_from", "flatten_row"]
