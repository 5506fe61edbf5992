"""History rows and pages: argument checks, decoding GraphQL pages into dicts or Arrow tables,
and putting page tables together into one DataFrame.

pandas and pyarrow are imported only when a table is asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.errors import CommError, InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

HISTORIES_FORMATS = ("default", "pandas")
DEFAULT_PAGE_SIZE = 1000
DEFAULT_WORKERS = 4
MAX_WORKERS = 32


# ---------------------------------------------------------------------------- input checks
def check_keys(keys: Any) -> list[str] | None:
    """None, or a list of non-empty strings (duplicates dropped, order kept)."""
    if keys is None:
        return None
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise InvalidInputError(f"keys must be a list of strings, got {keys!r}")
    if not all(isinstance(key, str) and key for key in keys):
        raise InvalidInputError(f"keys must be non-empty strings, got {list(keys)!r}")
    return list(dict.fromkeys(keys))


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_samples(samples: Any) -> int:
    return check_int(samples, "samples", minimum=1)


def check_stream(stream: Any) -> str:
    """A stream name: "default" is the run's history; any other (0.31 documents "system", the
    W&B docs use "events") is its system-events stream."""
    if not isinstance(stream, str) or not stream:
        raise InvalidInputError(f"stream must be a non-empty string, got {stream!r}")
    return stream


def check_workers(max_workers: Any) -> int:
    value = check_int(max_workers, "max_workers", minimum=1)
    if value > MAX_WORKERS:
        raise InvalidInputError(f"max_workers must be <= {MAX_WORKERS}, got {value}")
    return value


def check_step_range(min_step: Any, max_step: Any) -> tuple[int | None, int | None]:
    """Optional integer bounds with min_step <= max_step."""
    low = None if min_step is None else check_int(min_step, "min_step")
    high = None if max_step is None else check_int(max_step, "max_step")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"min_step ({low}) must not be greater than max_step ({high})")
    return low, high


# ---------------------------------------------------------------------------- decoding
def decode_rows(texts: Sequence[str], where: str = "history") -> list[dict[str, Any]]:
    """Parse a page of row JSON strings with one `json.loads` (NaN/Infinity allowed)."""
    if not texts:
        return []
    try:
        rows = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        rows = []
        for text in texts:
            try:
                rows.append(json.loads(text))
            except ValueError as exc:
                raise CommError(f"{where}: a history row is not valid JSON: {exc}") from exc
    if not all(isinstance(row, dict) for row in rows):
        raise CommError(f"{where}: history rows must be JSON objects")
    return rows


def int_steps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """sampledHistory may send `_step` as a float; steps are integers."""
    for row in rows:
        step = row.get("_step")
        if isinstance(step, float) and step.is_integer():
            row["_step"] = int(step)
    return rows


def in_range(rows: list[dict[str, Any]], lo: int, hi: int) -> list[dict[str, Any]]:
    """Rows whose step lies in [lo, hi): a guard against a server answering beyond the page."""
    if not rows:
        return rows
    first, last = rows[0].get("_step"), rows[-1].get("_step")
    if isinstance(first, int) and isinstance(last, int) and lo <= first and last < hi:
        return rows
    return [r for r in rows if isinstance(r.get("_step"), int) and lo <= r["_step"] < hi]


def rows_to_table(texts: Sequence[str]) -> pa.Table | None:
    """A page of row JSON strings as an Arrow table via pyarrow's JSON reader (None when the
    reader cannot type it: NaN/Infinity, or a key whose type changes within the page)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    if not texts:
        return pa.table({})
    data = "\n".join(texts).encode()
    options = pa_json.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 16))
    try:
        return pa_json.read_json(pa.py_buffer(data), read_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def step_bounds_ok(table: pa.Table, lo: int, hi: int) -> bool:
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return True
    if "_step" not in table.column_names:
        return False
    bounds = pc.min_max(table.column("_step"))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return isinstance(low, int) and isinstance(high, int) and lo <= low and high < hi


def concat_in_arrow(pages: Sequence[pa.Table | list[dict[str, Any]]]) -> pa.Table | None:
    """The non-empty pages as one Arrow table (types promoted); None when there are none, when
    one is a list of dicts, or when a key's type differs between pages."""
    import pyarrow as pa

    filled = [page for page in pages if len(page)]
    if not filled or not all(isinstance(page, pa.Table) for page in filled):
        return None
    try:
        return pa.concat_tables(filled, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def concat_in_pandas(pages: Sequence[pa.Table | list[dict[str, Any]]]) -> pd.DataFrame:
    """The pages as one DataFrame via pandas, which holds a key of changing type as objects."""
    import pandas as pd
    import pyarrow as pa

    frames = [
        page.to_pandas() if isinstance(page, pa.Table) else pd.DataFrame.from_records(page)
        for page in pages
        if len(page)
    ]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True, sort=False)


def frame_from_parts(parts: Sequence[pa.Table | list[dict[str, Any]]]) -> pd.DataFrame:
    """One DataFrame from page tables (concatenated in Arrow, types promoted) and dict pages."""
    table = concat_in_arrow(parts)
    return table.to_pandas() if table is not None else concat_in_pandas(parts)


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def numeric_keys(history_keys: Mapping[str, Any]) -> frozenset[str]:
    """The (dotted) history keys the run logged only as numbers or nulls, by their type counts."""
    numeric = set()
    for key, info in (history_keys.get("keys") or {}).items():
        counts = (info or {}).get("typeCounts") or []
        types = {entry.get("type") for entry in counts if isinstance(entry, Mapping)} - {"nil"}
        if types == {"number"}:
            numeric.add(key)
    return frozenset(numeric)


def restore_non_finite(
    rows: list[dict[str, Any]], keys: Sequence[str], numeric: frozenset[str]
) -> list[dict[str, Any]]:
    """`sampledHistory` is a JSON (not JSONString) field, so the service spells NaN and the
    infinities as the strings "NaN", "Infinity", "-Infinity"; under keys logged only as numbers
    (`numeric`, dotted names; nested dicts of a parent key included) those strings can only be
    such floats, and become them again."""

    def restored(value: Any, name: str) -> Any:
        if isinstance(value, str) and value in _NON_FINITE and name in numeric:
            return _NON_FINITE[value]
        if isinstance(value, dict):
            return {k: restored(v, f"{name}.{k}") for k, v in value.items()}
        return value

    if numeric:
        for row in rows:
            for key in keys:
                if key in row:
                    row[key] = restored(row[key], key)
    return rows


def spread(count: int, samples: int) -> list[int]:
    """At most `samples` of the indexes 0..count-1, evenly spread with both ends kept: how the
    local server samples `history(samples:)`, applied to rows read from exports."""
    if samples <= 0 or count == 0:
        return []
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [0]
    stride = (count - 1) / (samples - 1)
    return [round(i * stride) for i in range(samples)]


def spell_non_finite(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with NaN and the infinities as the strings a JSON field carries (what
    `sampledHistory` answers), for rows read from exports that stand in for that answer."""
    names = {math.inf: "Infinity", -math.inf: "-Infinity"}

    def spelled(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN" if math.isnan(value) else names[value]
        if isinstance(value, dict):
            return {k: spelled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [spelled(v) for v in value]
        return value

    return [spelled(row) for row in rows]


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_WORKERS",
    "HISTORIES_FORMATS",
    "MAX_WORKERS",
    "check_int",
    "check_keys",
    "check_samples",
    "check_step_range",
    "check_stream",
    "check_workers",
    "concat_in_arrow",
    "concat_in_pandas",
    "decode_rows",
    "frame_from_parts",
    "in_range",
    "int_steps",
    "numeric_keys",
    "restore_non_finite",
    "rows_to_table",
    "spell_non_finite",
    "spread",
    "step_bounds_ok",
]
