"""Export a run's history to parquet or CSV at any fsspec URL, streamed and written atomically.

Columns are the run's history keys as `historyKeys` names them (nested dicts flattened to dotted
names), typed from their type counts: numbers as float64 (`_step` as int64), booleans, strings,
and anything else (media dicts, lists, mixed types) as JSON text. Pages stream from a
`HistoryScan` into the writer (parquet row groups / CSV batches), so memory stays bounded however
long the run is. Nothing appears at the destination unless the export succeeds: local files
and other file systems are written under a temporary name beside it and renamed; object stores
get an upload that is completed on success and aborted otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from prefect_wandb_public.api import destinations
from prefect_wandb_public.api.history import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_WORKERS,
    HistoryScan,
    decode_rows,
    rows_to_table,
)
from prefect_wandb_public.errors import ExportError, InvalidInputError, WandbError

if TYPE_CHECKING:
    import pyarrow as pa

    from prefect_wandb_public.api.progress import ProgressCallback
    from prefect_wandb_public.api.runs import Run

FORMATS = ("parquet", "csv")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
DEFAULT_ROW_GROUP_SIZE = 100_000


def export_format(destination: str, format: str | None) -> str:
    """The given format, else the one the destination's suffix names, else parquet."""
    if format is None:
        suffix = os.path.splitext(destination.rstrip("/"))[1].lower()
        return _SUFFIXES.get(suffix, "parquet")
    if format not in FORMATS:
        raise InvalidInputError(f"format must be one of {FORMATS}, got {format!r}")
    return format


# ---------------------------------------------------------------------------- schema
def _column_type(name: str, type_counts: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, holds JSON text) for one history key from its `typeCounts`."""
    import pyarrow as pa

    if name == "_step":
        return pa.int64(), False
    names = {
        str(entry.get("type")) for entry in type_counts or [] if isinstance(entry, Mapping)
    } - {"nil"}
    if names == {"number"}:
        return pa.float64(), False
    if names == {"boolean"}:
        return pa.bool_(), False
    if names == {"string"}:
        return pa.string(), False
    return pa.string(), True


def export_schema(
    history_keys: Mapping[str, Any], keys: Sequence[str] | None
) -> tuple[pa.Schema, frozenset[str]]:
    """The export's schema (`_step` first, then the keys in the run's order, or the given keys)
    and the names of the columns that hold JSON text."""
    import pyarrow as pa

    known = history_keys.get("keys") or {}
    names = [key for key in (keys if keys else known) if key != "_step"]
    fields, json_columns = [], set()
    for name in ["_step", *names]:
        info = known.get(name)
        arrow_type, as_json = _column_type(name, info.get("typeCounts") if info else None)
        fields.append(pa.field(name, arrow_type))
        if as_json:
            json_columns.add(name)
    return pa.schema(fields), frozenset(json_columns)


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted names, as `historyKeys` names them (media dicts stay whole)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "_type" not in value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


class PageConverter:
    """Turns scan pages into tables of one fixed schema (run in the scan's worker threads)."""

    def __init__(self, schema: pa.Schema, json_columns: frozenset[str], *, flat: bool) -> None:
        self.schema = schema
        self.json_columns = json_columns
        self.flat = flat

    def __call__(self, raw: list[Any], lo: int, hi: int) -> pa.Table:
        if not self.flat and not self.json_columns:
            table = self._from_arrow(raw)
            if table is not None:
                return table
        rows = raw if self.flat else decode_rows(raw)
        return self._from_rows([r if self.flat else _flatten(r) for r in rows])

    def _from_arrow(self, texts: list[str]) -> pa.Table | None:
        """Fast path: pyarrow's JSON reader, structs flattened, cast to the schema; None when
        the page does not fit (then the row path decides)."""
        import pyarrow as pa

        table = rows_to_table(texts)
        if table is None:
            return None
        while any(pa.types.is_struct(f.type) for f in table.schema):
            table = table.flatten()
        if not set(table.column_names) <= set(self.schema.names):
            return None
        columns = []
        try:
            for field in self.schema:
                if field.name in table.column_names:
                    columns.append(table.column(field.name).cast(field.type))
                else:
                    columns.append(pa.nulls(table.num_rows, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _from_rows(self, rows: list[dict[str, Any]]) -> pa.Table:
        import pyarrow as pa

        extra = {name for row in rows for name in row} - set(self.schema.names)
        if extra:
            raise WandbError(
                f"history rows hold keys the run's historyKeys does not list: {sorted(extra)}"
            )
        columns = []
        for field in self.schema:
            values = [row.get(field.name) for row in rows]
            if field.name in self.json_columns:
                values = [None if v is None else json.dumps(v, allow_nan=True) for v in values]
            try:
                columns.append(pa.array(values, type=field.type, from_pandas=False))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise WandbError(
                    f"history key {field.name!r} holds a value that is not {field.type}: {exc}"
                ) from exc
        return pa.Table.from_arrays(columns, schema=self.schema)


# ---------------------------------------------------------------------------- destinations
def resolve_destination(
    destination: str, storage_options: Mapping[str, Any] | None = None
) -> tuple[Any, str]:
    """(fsspec file system, path) for a local path or URL, from a fresh file system instance
    built with `storage_options`; InvalidInputError when unusable."""
    return destinations.resolve(destination, storage_options, what="destination", fresh=True)


@contextlib.contextmanager
def atomic_output(fs: Any, path: str, destination: str) -> Iterator[IO[bytes]]:
    """A binary file that appears at `path` on `fs` only if the block succeeds (see
    `api/destinations.py`; local files are fsynced before the rename). Failures to write are
    raised as ExportError naming `destination`."""
    try:
        with destinations.atomic_file(fs, path, durable=True) as file:
            yield file.handle
    except OSError as exc:
        if isinstance(exc, WandbError):
            raise
        raise _export_error(destination, exc) from exc


def _export_error(destination: str, exc: BaseException) -> ExportError:
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ExportError(f"cannot write history export to {destination}: {detail or exc!r}")


# ---------------------------------------------------------------------------- export
def export_history(
    run: Run,
    destination: str | os.PathLike[str],
    format: str | None = None,
    keys: Sequence[str] | None = None,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    min_step: int | None = None,
    max_step: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    max_workers: int = DEFAULT_WORKERS,
    progress: ProgressCallback | None = None,
) -> int:
    """Write `run`'s history (every row in [min_step, max_step), or with `keys` the rows holding
    all of them) to `destination` as parquet or CSV; returns the number of rows written.

    `destination` is a local path or any fsspec URL (`s3://bucket/key.parquet`, `memory://...`);
    `storage_options` go to the file system (credentials, `client_kwargs`, ...). The format
    defaults to the destination's suffix (`.csv`, `.parquet`), else parquet. `progress` is
    called with a `Progress` (rows) per page read.
    """
    if not isinstance(destination, (str, os.PathLike)) or not os.fspath(destination):
        raise InvalidInputError(f"destination must be a path or URL, got {destination!r}")
    target = os.fspath(destination)
    chosen = export_format(target, format)
    if isinstance(row_group_size, bool) or not isinstance(row_group_size, int):
        raise InvalidInputError(f"row_group_size must be an integer, got {row_group_size!r}")
    if row_group_size < 1:
        raise InvalidInputError(f"row_group_size must be >= 1, got {row_group_size}")
    fs, path = resolve_destination(target, storage_options)
    scan = HistoryScan(
        run, keys, page_size, min_step, max_step, max_workers=max_workers, progress=progress
    )
    schema, json_columns = export_schema(scan.history_keys, scan.keys)
    convert = PageConverter(schema, json_columns, flat=bool(scan.keys))
    with (
        atomic_output(fs, path, target) as handle,
        contextlib.closing(scan.pages(convert)) as pages,  # a failed write stops the prefetch
    ):
        if chosen == "parquet":
            return _write_parquet(pages, handle, schema, row_group_size)
        return _write_csv(pages, handle, schema)


def _write_parquet(
    tables: Iterator[pa.Table], handle: IO[bytes], schema: pa.Schema, row_group_size: int
) -> int:
    """Pages buffered and written as row groups of exactly `row_group_size` rows (the last one
    holds the rest)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = 0
    buffered: list[pa.Table] = []
    count = 0
    with pq.ParquetWriter(handle, schema) as writer:
        for table in tables:
            buffered.append(table)
            count += table.num_rows
            if count >= row_group_size:
                combined = pa.concat_tables(buffered)
                full = count - count % row_group_size
                writer.write_table(combined.slice(0, full), row_group_size=row_group_size)
                written += full
                buffered, count = [combined.slice(full)], count - full
        if count:
            writer.write_table(pa.concat_tables(buffered), row_group_size=row_group_size)
            written += count
    return written


def _write_csv(tables: Iterator[pa.Table], handle: IO[bytes], schema: pa.Schema) -> int:
    import pyarrow.csv as pa_csv

    written = 0
    with pa_csv.CSVWriter(handle, schema) as writer:
        for table in tables:
            writer.write_table(table)
            written += table.num_rows
    return written


__all__ = [
    "DEFAULT_ROW_GROUP_SIZE",
    "FORMATS",
    "PageConverter",
    "atomic_output",
    "export_format",
    "export_history",
    "export_schema",
    "resolve_destination",
]
