"""Parquet exports of run history, as the service compacts a run's history into storage.

A run's `HistoryExports` is a list of export files over its `HistoryLog`: each file holds the
rows logged since the previous export (so a run exported twice has two files), and the steps
after the last export stay live (`parquetHistory.liveData`). File bytes are written on first
read and kept, so seeding thousands of finished runs costs nothing until a client reads them.

The file layout follows `wandb-protocol-transfers.md` section 1.2; what is established and what
is inferred:
- Established: `_step` is stored as a DOUBLE; rows are sorted by step; a run may have more than
  one file (readers concatenate them and sort by `_step`); an empty export has zero columns and
  zero rows (the `core/tests/files/empty.parquet` fixture, with key/value metadata
  `wandb-compacted: true`, as every file here has); NaN and +/-Infinity are IEEE values.
- Inferred (not verified against the service): nested dicts become dotted column names
  (`a.b.c`, as `historyKeys` names them); a key whose every value is an int is an INT64 column,
  a key mixing ints and floats a DOUBLE column; booleans and strings get their own types; lists
  and `_type` objects (media, histograms) become the list or struct column pyarrow infers when
  it holds every value exactly; anything else (mixed types, a logged `None`, an empty dict,
  numbers beyond int64) is JSON text in a BINARY column (legacy weave read binary columns as
  JSON), so a logged `None` stays distinct from an absent key; row groups of 10,000 rows (the
  service's size is unknown); snappy compression.
"""

from __future__ import annotations

import io
import json
import math
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from prefect_wandb_public.testing.history_log import HistoryLog

ROW_GROUP_SIZE = 10_000
EXPORT_METADATA = {b"wandb-compacted": b"true"}
ABSENT = object()  # `lookup`'s answer for a key a row does not hold; a cell with no value


@dataclass
class ExportFile:
    """One parquet file of an export: rows [first_row, end_row) of the run's history log."""

    export_id: str
    index: int
    first_row: int
    end_row: int
    data: bytes | None = None  # written on first read

    @property
    def rows(self) -> int:
        return self.end_row - self.first_row


@dataclass
class HistoryExports:
    """The export files of one run and how many of its history rows they hold."""

    files: list[ExportFile] = field(default_factory=list)
    exported_rows: int = 0

    def export(self, log: HistoryLog) -> ExportFile | None:
        """Export the rows logged since the last export as one new file; None when there are
        none, except that a run with no export at all gets an empty one."""
        end = len(log)
        if end == self.exported_rows and self.files:
            return None
        file = ExportFile(secrets.token_hex(8), len(self.files), self.exported_rows, end)
        self.files.append(file)
        self.exported_rows = end
        return file

    def live_indexes(self, log: HistoryLog) -> range:
        """The row indexes of the log not in any export."""
        return range(self.exported_rows, len(log))

    def data(self, log: HistoryLog, file: ExportFile) -> bytes:
        """The file's parquet bytes (written now on first read)."""
        if file.data is None:
            rows = [json.loads(text) for text in log.rows_between(file.first_row, file.end_row)]
            file.data = write_parquet(rows)
        return file.data

    def file_by_id(self, export_id: str, index: int) -> ExportFile | None:
        for file in self.files:
            if file.export_id == export_id and file.index == index:
                return file
        return None


# ---------------------------------------------------------------------------- the layout
def flatten_for_export(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested plain dicts become dotted names; `_type` objects and empty dicts stay values."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and "_type" not in value:
            out.update(flatten_for_export(value, name + "."))
        else:
            out[name] = value
    return out


def write_parquet(rows: Sequence[Mapping[str, Any]], row_group_size: int = ROW_GROUP_SIZE) -> bytes:
    """The export file of `rows` (in step order, each with an integer `_step`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = [flatten_for_export(row) for row in rows]
    names = list(dict.fromkeys(name for row in flat for name in row))  # first-appearance order
    columns = [column_array(name, [row.get(name, ABSENT) for row in flat]) for name in names]
    table = pa.Table.from_arrays(columns, names=names) if names else pa.table({})
    buffer = io.BytesIO()
    # No ARROW:schema entry: the service's files come from a Go writer (parquet-go).
    with pq.ParquetWriter(buffer, table.schema, compression="snappy", store_schema=False) as out:
        out.write_table(table, row_group_size=row_group_size)
        out.add_key_value_metadata(EXPORT_METADATA)
    return buffer.getvalue()


def column_array(name: str, values: list[Any]) -> pa.Array:
    """One column: the narrowest Arrow type that holds every present value exactly (see the
    module docstring), absent values as nulls."""
    import pyarrow as pa

    present = [v for v in values if v is not ABSENT]
    cells = [None if v is ABSENT else v for v in values]
    if name == "_step":
        return pa.array(cells, type=pa.float64())
    kinds = {_kind(v) for v in present}
    typed = {"bool": pa.bool_(), "int": pa.int64(), "str": pa.string()}
    try:
        if len(kinds) == 1 and (kind := next(iter(kinds))) in typed:
            return pa.array(cells, type=typed[kind])
        if kinds <= {"int", "float"}:
            return pa.array(cells, type=pa.float64())
        if kinds <= {"list", "object"}:
            inferred = pa.array(cells)
            if all(_same(a, b) for a, b in zip(inferred.to_pylist(), cells, strict=True)):
                return inferred
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    texts = [None if v is ABSENT else json.dumps(v, allow_nan=True).encode() for v in values]
    return pa.array(texts, type=pa.binary())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "big"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping) and value:
        return "object"
    return "other"  # None, an empty dict: JSON text


def _same(a: Any, b: Any) -> bool:
    """Exact equality, types included, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def live_rows(log: HistoryLog, indexes: range, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The `liveData` row of each live index: `_step` alone from the step index (what the SDK
    asks for) without parsing any row, other keys (dotted paths too) from the row."""
    if set(keys) <= {"_step"}:
        want_step = "_step" in keys
        for index in indexes:
            yield {"_step": log.steps[index]} if want_step else {}
        return
    for index in indexes:
        row = json.loads(log.row(index))
        picked = {}
        for key in keys:
            value = lookup(row, key)
            if value is not ABSENT:
                picked[key] = value
        yield picked


def lookup(row: Mapping[str, Any], key: str) -> Any:
    """A history key, top-level or a dotted path into nested dicts; `ABSENT` when missing."""
    if key in row:
        return row[key]
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


__all__ = [
    "ABSENT",
    "EXPORT_METADATA",
    "ROW_GROUP_SIZE",
    "ExportFile",
    "HistoryExports",
    "column_array",
    "flatten_for_export",
    "live_rows",
    "lookup",
    "write_parquet",
]
