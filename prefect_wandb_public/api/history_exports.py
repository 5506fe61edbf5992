"""Reading a run's parquet history exports: the plan, the files, and their rows.

A finished run's history is compacted by the service into parquet files behind signed storage
URLs (`parquetHistory { parquetUrls liveData }`, wandb-protocol-transfers.md section 1);
`liveData` lists the steps logged since, which only GraphQL pages serve. A `HistoryPlan` is that
answer with the run's history keys; an `ExportReader` fetches the files (in parallel, bounded,
through the download cache under a name made of the URL without its query string, since the
signature and the order of the URLs change from one answer to the next), checks that each one
is a readable parquet file (a bad one is evicted, never kept), asks GraphQL once for fresh URLs
when a fetch or a file fails, orders the files by step and yields Arrow batches of a step window
projected to the columns asked for.

Rows come out as the GraphQL path gives them: dotted columns nested again (`a.b` -> `{"a":
{"b": ...}}`), absent cells left out, JSON-text columns decoded, `_step` an int; with `keys`, the
rows holding every key, each as `{key: value, "_step": step}` (a key naming a parent of nested
keys gets the nested dict). One difference remains: a key logged both as ints and as floats is
one DOUBLE column in an export, so its ints come back as floats (equal values).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prefect_wandb_public.api.destinations import DestinationRoot
from prefect_wandb_public.api.download import Downloader, DownloadItem, display_url
from prefect_wandb_public.errors import CommError, InvalidInputError, WandbError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prefect_wandb_public.api.transport import Transport

logger = logging.getLogger(__name__)

BATCH_ROWS = 65_536  # rows per Arrow batch read from an export (0.31's reader uses the same)
DEFAULT_FILE_WORKERS = 8
PREFETCH_WORKERS = 16
PARQUET_MAGIC = b"PAR1"
_ABSENT = object()


# ---------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class HistoryPlan:
    """What GraphQL says about a run's history: its keys and last step, the URLs of its export
    files, and the steps logged since the last export (sorted; None when not asked for: a long
    run with no export is planned without them).

    `has_exports_info` is False when the server gave no URLs and no live steps for a run that
    has history: a server without exports, or a run never exported whose steps were not asked
    for; GraphQL pages alone serve it.
    """

    history_keys: Mapping[str, Any]
    line_count: int
    parquet_urls: tuple[str, ...]
    live_steps: Sequence[int] | None

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> HistoryPlan:
        info = node.get("historyKeys") or {}
        if isinstance(info, str):
            info = json.loads(info)
        parquet = node.get("parquetHistory") or {}
        steps = None
        if "liveData" in parquet:
            steps = sorted(_live_step(row) for row in parquet.get("liveData") or ())
        return cls(
            history_keys=dict(info),
            line_count=int(node.get("historyLineCount") or 0),
            parquet_urls=tuple(url for url in parquet.get("parquetUrls") or () if url),
            live_steps=steps,
        )

    def with_parquet_history(self, parquet: Mapping[str, Any]) -> HistoryPlan:
        """This plan with the URLs and live steps of a `parquetHistory` answer."""
        return HistoryPlan.from_node(
            {
                "historyKeys": self.history_keys,
                "historyLineCount": self.line_count,
                "parquetHistory": parquet,
            }
        )

    @property
    def last_step(self) -> int:
        last = self.history_keys.get("lastStep")
        return int(last) if last is not None else -1

    @property
    def has_exports_info(self) -> bool:
        return bool(self.parquet_urls or self.live_steps) or self.last_step < 0

    @property
    def has_live_data(self) -> bool:
        """Whether steps no export holds exist (a run not asked for its live steps has none
        exported, so any history it has is live)."""
        return bool(self.live_steps) if self.live_steps is not None else self.last_step >= 0

    @property
    def fully_exported(self) -> bool:
        return bool(self.parquet_urls) and self.live_steps is not None and not self.live_steps

    @property
    def boundary(self) -> float:
        """The first live step: export rows are below it, GraphQL pages serve the rest."""
        return self.live_steps[0] if self.live_steps else math.inf


def _live_step(row: Any) -> int:
    """A `liveData` row's `_step` (the service may send it as a float)."""
    step = row.get("_step") if isinstance(row, Mapping) else None
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
        raise CommError(f"parquetHistory liveData row without a numeric _step: {row!r}")
    return int(step)


# ---------------------------------------------------------------------------- the files
def cache_name(url: str) -> str:
    """The download-cache name of an export file: its URL without the query string (where the
    signature and expiry are), so a fresh signature or another URL order finds it again. An
    export file is taken to never change under its path (the service writes new files when it
    exports again; not verified), so a cached copy stays valid."""
    parts = urlsplit(url)
    return f"history-export/{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass
class _ExportFile:
    url: str
    path: str
    file: pq.ParquetFile
    steps: pa.Array  # int64, this file's `_step` column

    @property
    def first(self) -> int:
        return int(self.steps[0].as_py()) if len(self.steps) else 0

    @property
    def last(self) -> int:
        return int(self.steps[-1].as_py()) if len(self.steps) else -1


class ExportReader:
    """The export files of one run, fetched on first use and read in step order.

    `refresh_urls()` asks GraphQL for the run's current URLs; it is called once at most, when a
    fetch fails (an expired or refused signature, a file gone) or a fetched file is unreadable.
    `use_cache=False` fetches every file again (the cache keeps the new copy).
    """

    def __init__(
        self,
        transport: Transport,
        run_path: str,
        urls: Sequence[str],
        refresh_urls: Callable[[], Sequence[str]],
        *,
        workers: int = DEFAULT_FILE_WORKERS,
        use_cache: bool = True,
    ) -> None:
        self.run_path = run_path
        self.urls = list(urls)
        self._refresh_urls = refresh_urls
        self._downloader = Downloader(transport, workers=max(1, min(workers, len(urls) or 1)))
        self._use_cache = use_cache
        self._files: list[_ExportFile] | None = None
        self._sorted = True

    def files(self) -> list[_ExportFile]:
        """Every export file, fetched and opened, in step order (fetched once per reader)."""
        if self._files is None:
            try:
                files = self._fetch(self.urls, refresh=not self._use_cache)
            except WandbError as first:
                logger.info("run %s: %s; asking for fresh export URLs", self.run_path, first)
                self.urls = list(self._refresh_urls())
                files = self._fetch(self.urls, refresh=True)
            files.sort(key=lambda f: (f.first, f.last))
            self._sorted = all(_strictly_increasing(f.steps) for f in files) and all(
                a.last < b.first for a, b in itertools.pairwise(files)
            )
            self._files = files
        return self._files

    def _fetch(self, urls: Sequence[str], *, refresh: bool) -> list[_ExportFile]:
        items = [DownloadItem(cache_name(url), url) for url in urls]
        paths = self._downloader.fetch_to_cache(items, refresh=refresh)
        return [
            open_export(self._downloader, self.run_path, url, path)
            for url, path in zip(urls, paths, strict=True)
        ]

    def batches(
        self, low: int | None, high: float, keys: Sequence[str] | None
    ) -> Iterator[pa.Table]:
        """The rows with `low <= _step < high`, in step order, projected to `_step` and the
        columns of `keys` (all columns when None), as Arrow tables of at most BATCH_ROWS rows."""
        files = self.files()
        if not self._sorted:
            yield from _sorted_batches(files, low, high, keys)
            return
        for export in files:
            if not len(export.steps) or (low is not None and export.last < low):
                continue
            if export.first >= high:
                break
            columns = _projection(export.file.schema_arrow.names, keys)
            offset = 0
            for batch in export.file.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                table = _in_window(_with_steps(batch, export.steps, offset), low, high)
                offset += batch.num_rows
                if table.num_rows:
                    yield table


def open_export(downloader: Downloader, run_path: str, url: str, path: str) -> _ExportFile:
    """Open a fetched export file and read its steps; an unreadable file leaves the cache."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        with open(path, "rb") as handle:
            if handle.read(4) != PARQUET_MAGIC:  # the reader checks only the footer's copy
                raise ValueError("it does not start with the parquet magic bytes")
        file = pq.ParquetFile(path, memory_map=True)
        if "_step" in file.schema_arrow.names:
            steps = file.read(columns=["_step"]).column("_step").combine_chunks()
            steps = pc.cast(steps, pa.int64())
        elif file.metadata.num_rows == 0:
            steps = pa.array([], type=pa.int64())
        else:
            raise ValueError("it has rows but no _step column")
    except (OSError, ValueError, pa.ArrowException) as exc:
        downloader.evict(cache_name(url))
        raise CommError(
            f"run {run_path}: history export {display_url(url)} is not a readable parquet "
            f"file: {exc}",
            url=display_url(url),
        ) from exc
    return _ExportFile(url, path, file, steps)


def _sorted_batches(
    files: list[_ExportFile], low: int | None, high: float, keys: Sequence[str] | None
) -> Iterator[pa.Table]:
    """Files that overlap or are out of order: read whole, concatenated, sorted by step, a
    repeated step kept once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tables = []
    for export in files:
        if len(export.steps):
            columns = _projection(export.file.schema_arrow.names, keys)
            table = _with_steps(export.file.read(columns=columns), export.steps, 0)
            tables.append(_in_window(table, low, high))
    if not tables:
        return
    table = pa.concat_tables(tables, promote_options="permissive").sort_by("_step")
    steps = table.column("_step").combine_chunks()
    if len(steps) > 1:
        keep = pc.not_equal(steps[1:], steps[:-1])
        table = table.filter(pa.concat_arrays([pa.array([True]), keep]))
    for start in range(0, table.num_rows, BATCH_ROWS):
        yield table.slice(start, BATCH_ROWS)


def _strictly_increasing(steps: pa.Array) -> bool:
    import pyarrow.compute as pc

    return len(steps) < 2 or bool(pc.all(pc.greater(steps[1:], steps[:-1])).as_py())


def _projection(names: Sequence[str], keys: Sequence[str] | None) -> list[str]:
    """The columns a scan with `keys` reads: `_step` and each key's column or the columns of
    the keys nested under it."""
    if keys is None:
        return list(names)
    return [
        name
        for name in names
        if name == "_step" or any(name == key or name.startswith(key + ".") for key in keys)
    ]


def _with_steps(batch: Any, steps: pa.Array, offset: int) -> pa.Table:
    """A batch as a table whose `_step` column is the int64 steps of those rows."""
    import pyarrow as pa

    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    own = steps.slice(offset, table.num_rows)
    if "_step" in table.column_names:
        return table.set_column(table.column_names.index("_step"), "_step", own)
    return table.add_column(0, "_step", own)


def _in_window(table: pa.Table, low: int | None, high: float) -> pa.Table:
    import pyarrow.compute as pc

    steps = table.column("_step")
    if not table.num_rows:
        return table
    first, last = steps[0].as_py(), steps[-1].as_py()
    if (low is None or first >= low) and last < high:
        return table
    mask = pc.less(steps, high) if math.isfinite(high) else None
    if low is not None:
        above = pc.greater_equal(steps, low)
        mask = above if mask is None else pc.and_(mask, above)
    return table.filter(mask) if mask is not None else table


def prefetch_exports(
    transport: Transport, plans: Sequence[HistoryPlan], workers: int = PREFETCH_WORKERS
) -> int:
    """Fetch the export files of many runs into the download cache at once, on up to `workers`
    connections (object stores cap each stream, parallel streams add up), before their runs
    are read one by one; returns how many files are cached. A failure here only logs: the run's
    own read fetches the file again (with fresh URLs) and reports it."""
    urls = [url for plan in plans for url in plan.parquet_urls]
    if not urls:
        return 0
    downloader = Downloader(transport, workers=max(1, min(workers, len(urls))))
    try:
        downloader.fetch_to_cache([DownloadItem(cache_name(url), url) for url in urls])
    except (WandbError, OSError) as exc:
        logger.info("prefetching %d history exports stopped: %s", len(urls), exc)
    return sum(os.path.exists(downloader.named_cache_path(cache_name(url))) for url in urls)


# ---------------------------------------------------------------------------- rows
def rows_from_table(
    table: pa.Table, keys: Sequence[str] | None, *, with_step: bool = True
) -> list[dict[str, Any]]:
    """Export rows as the GraphQL path gives them (see the module docstring); with `keys`,
    `with_step=False` leaves `_step` out unless it is one of them (as `history(keys=...)`)."""
    names = table.column_names
    columns = [_cells(table.column(name)) for name in names]
    if keys is not None:
        return _rows_with_keys(names, columns, keys, with_step)
    paths = [tuple(name.split(".")) if "." in name else None for name in names]
    nested = any(path is not None for path in paths)
    dense = not any(_ABSENT in column for column in columns) if not nested else False
    if dense:
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    rows = []
    for values in zip(*columns, strict=True):
        row: dict[str, Any] = {}
        for name, path, value in zip(names, paths, values, strict=True):
            if value is _ABSENT:
                continue
            if path is None:
                row[name] = value
            else:
                _place(row, path, value)
        rows.append(row)
    return rows


def _place(row: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = row
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def _rows_with_keys(
    names: list[str], columns: list[list[Any]], keys: Sequence[str], with_step: bool
) -> list[dict[str, Any]]:
    """Rows holding every key: `{key: value, "_step": step}`, as `sampledHistory` answers."""
    index = {name: i for i, name in enumerate(names)}
    steps = columns[index["_step"]]
    sources = []
    for key in keys:
        nested = [
            (tuple(name[len(key) + 1 :].split(".")), columns[i])
            for name, i in index.items()
            if name.startswith(key + ".")
        ]
        exact = columns[index[key]] if key in index else None
        sources.append((key, exact, nested))
    rows = []
    for position, step in enumerate(steps):
        row: dict[str, Any] = {}
        for key, exact, nested in sources:
            value = exact[position] if exact is not None else _ABSENT
            if value is _ABSENT and nested:
                built: dict[str, Any] = {}
                for path, column in nested:
                    if column[position] is not _ABSENT:
                        _place(built, path, column[position])
                value = built if built else _ABSENT
            if value is _ABSENT:
                break
            row[key] = value
        else:
            if with_step:
                row["_step"] = step
            rows.append(row)
    return rows


def _cells(column: pa.ChunkedArray) -> list[Any]:
    """A column's values, `_ABSENT` for nulls; JSON text (binary) decoded, `_step` as ints."""
    import pyarrow as pa

    values = column.to_pylist()
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        return [_ABSENT if v is None else json.loads(v) for v in values]
    if column.null_count:
        return [_ABSENT if v is None else v for v in values]
    return values


def table_for_frame(table: pa.Table, keys: Sequence[str] | None) -> pa.Table | list[dict[str, Any]]:
    """An export batch shaped as the GraphQL path's page tables (nested dicts as struct
    columns), or its rows when Arrow cannot say it the same way (JSON-text columns, a name
    that is both a value and a parent, `keys`)."""
    import pyarrow as pa

    names = table.column_names
    binary = any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in table.schema.types)
    parents = {name.rsplit(".", n)[0] for name in names for n in range(1, name.count(".") + 1)}
    if keys is not None or binary or parents & set(names):
        return rows_from_table(table, keys)
    if not parents:
        return table
    tree: dict[str, Any] = {}
    for name in names:
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = table.column(name).combine_chunks()
    try:
        arrays = {name: _struct(node) for name, node in tree.items()}
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return rows_from_table(table, keys)
    return pa.table(arrays)


def _struct(node: Any) -> pa.Array:
    """A struct array of a tree of columns, null where every leaf under it is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(node, dict):
        return node
    children = {name: _struct(child) for name, child in node.items()}
    valid = None
    for child in children.values():
        present = pc.is_valid(child)
        valid = present if valid is None else pc.or_(valid, present)
    assert valid is not None
    return pa.StructArray.from_arrays(
        list(children.values()), names=list(children), mask=pc.invert(valid)
    )


# ---------------------------------------------------------------------------- downloads
@dataclass(frozen=True)
class DownloadHistoryResult:
    """What `Run.download_history_exports` did: the files written (in the server's order), whether
    the run has steps no export holds yet, and the files that failed with their error."""

    paths: list[Path]
    contains_live_data: bool
    errors: dict[Path, str] | None = None


def download_exports(
    transport: Transport,
    run_path: Sequence[str],
    plan: HistoryPlan,
    download_dir: str | os.PathLike[str],
    refresh_urls: Callable[[], Sequence[str]],
) -> DownloadHistoryResult:
    """Copy the run's export files into `download_dir` as `{entity}_{project}_{run}_{i}.
    runhistory.parquet` (0.31's names; `i` is the file's place in the server's list), fetched in
    parallel through the download cache. Files that fail are fetched again once under fresh
    URLs (matched by path), then reported in `errors`, as 0.31 reports them, with a warning."""
    if not isinstance(download_dir, (str, os.PathLike)) or not os.fspath(download_dir):
        raise InvalidInputError(f"download_dir must be a directory path, got {download_dir!r}")
    if "://" in os.fspath(download_dir):
        raise InvalidInputError(f"download_dir must be a local directory, got {download_dir!r}")
    root = Path(os.fspath(download_dir))
    root.mkdir(parents=True, exist_ok=True)
    shown = "/".join(run_path)
    urls = list(plan.parquet_urls)
    targets = [root / f"{'_'.join(run_path)}_{i}.runhistory.parquet" for i in range(len(urls))]
    downloader = Downloader(transport, workers=max(1, min(DEFAULT_FILE_WORKERS, len(urls) or 1)))

    def fetch(index: int, url: str, refresh: bool) -> str | None:
        """The error of fetching file `index`, or None once it is at its target."""
        try:
            item = DownloadItem(cache_name(url), url)
            [path] = downloader.fetch_to_cache([item], refresh=refresh)
            open_export(downloader, shown, url, path)
            _copy_file(path, targets[index])
        except (WandbError, OSError) as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(downloader.workers, thread_name_prefix="wandb-download") as pool:
        first = list(pool.map(lambda i: fetch(i, urls[i], False), range(len(urls))))
        failed = [i for i, error in enumerate(first) if error is not None]
        errors = {targets[i]: str(first[i]) for i in failed}
        if failed:
            fresh = {cache_name(url): url for url in refresh_urls()}
            again = [(i, fresh.get(cache_name(urls[i]))) for i in failed]
            retried = pool.map(lambda job: fetch(job[0], job[1], True) if job[1] else "gone", again)
            for (i, _), error in zip(again, retried, strict=True):
                if error is None:
                    errors.pop(targets[i])
                elif error != "gone":
                    errors[targets[i]] = error
    for target, message in errors.items():
        logger.warning("run %s: history export %s failed: %s", shown, target.name, message)
    return DownloadHistoryResult(
        paths=[target for target in targets if target not in errors],
        contains_live_data=plan.has_live_data,
        errors=errors,
    )


def _copy_file(source: str, target: Path) -> None:
    """Copy a cached file to `target` under a temporary name, then rename (never half there)."""
    DestinationRoot(os.fspath(target.parent)).put_local_file(source, str(target), link=False)


__all__ = [
    "BATCH_ROWS",
    "DEFAULT_FILE_WORKERS",
    "PREFETCH_WORKERS",
    "DownloadHistoryResult",
    "ExportReader",
    "HistoryPlan",
    "cache_name",
    "download_exports",
    "open_export",
    "prefetch_exports",
    "rows_from_table",
    "table_for_frame",
]
