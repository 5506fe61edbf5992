"""Run history: sampled reads, full scans paged by step range, and a columnar DataFrame path.

A scan first asks for the run's bounds (last step, row count, first step) in one request, then
reads step-range pages [lo, hi): `history` rows as JSON strings, or with `keys` the
`sampledHistory` rows holding all of them (that field's maxStep is inclusive). A range never holds
more rows than steps, so asking for `hi - lo` samples returns every row. Pages are fetched ahead on
a bounded thread pool and handed over in step order; rows decode with one `json.loads` per page,
and the DataFrame path decodes a page with pyarrow's JSON reader instead of building dicts.
pandas and pyarrow are imported only when a table is asked for.

A scan left early stops its prefetch: closing it (`close()`, or leaving a `with` block) drops the
pages not started and joins the threads; after a bare `break` the pages already asked for (at
most 2 x max_workers) are fetched and the threads then exit, garbage collection or not.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prefect_wandb_public.api.progress import ProgressCallback, ProgressTracker
from prefect_wandb_public.api.queries.history import (
    HISTORY_PAGE_QUERY,
    RUN_FULL_HISTORY_QUERY,
    RUN_HISTORY_BOUNDS_QUERY,
    RUN_HISTORY_FIRST_ROW_QUERY,
    RUN_SAMPLED_HISTORY_QUERY,
    SAMPLED_HISTORY_PAGE_QUERY,
)
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from prefect_wandb_public.api.runs import Run, Runs

T = TypeVar("T")
P = ParamSpec("P")

STREAMS = ("default", "system")
HISTORIES_FORMATS = ("default", "pandas")
DEFAULT_PAGE_SIZE = 1000
DEFAULT_WORKERS = 4
MAX_WORKERS = 32
MAX_PAGE_SPAN = 10_000  # widest step range asked for at once when a run's steps are sparse
MAX_FIRST_STEP_CHECKS = 64


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


def _check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_samples(samples: Any) -> int:
    return _check_int(samples, "samples", minimum=1)


def check_stream(stream: Any) -> str:
    if stream not in STREAMS:
        raise InvalidInputError(f"stream must be one of {STREAMS}, got {stream!r}")
    return str(stream)


def check_workers(max_workers: Any) -> int:
    value = _check_int(max_workers, "max_workers", minimum=1)
    if value > MAX_WORKERS:
        raise InvalidInputError(f"max_workers must be <= {MAX_WORKERS}, got {value}")
    return value


def check_step_range(min_step: Any, max_step: Any) -> tuple[int | None, int | None]:
    """Optional integer bounds with min_step <= max_step."""
    low = None if min_step is None else _check_int(min_step, "min_step")
    high = None if max_step is None else _check_int(max_step, "max_step")
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


def _int_steps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """sampledHistory may send `_step` as a float; steps are integers."""
    for row in rows:
        step = row.get("_step")
        if isinstance(step, float) and step.is_integer():
            row["_step"] = int(step)
    return rows


def _in_range(rows: list[dict[str, Any]], lo: int, hi: int) -> list[dict[str, Any]]:
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


def _step_bounds_ok(table: pa.Table, lo: int, hi: int) -> bool:
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return True
    if "_step" not in table.column_names:
        return False
    bounds = pc.min_max(table.column("_step"))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return isinstance(low, int) and isinstance(high, int) and lo <= low and high < hi


def _concat_in_arrow(pages: Sequence[pa.Table | list[dict[str, Any]]]) -> pa.Table | None:
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


def _concat_in_pandas(pages: Sequence[pa.Table | list[dict[str, Any]]]) -> pd.DataFrame:
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
    table = _concat_in_arrow(parts)
    return table.to_pandas() if table is not None else _concat_in_pandas(parts)


# ---------------------------------------------------------------------------- prefetch
class PrefetchPool(Executor):
    """A thread pool whose threads exit as soon as nothing is queued, so a scan its consumer
    walked away from holds no thread once the pages in flight are fetched, collected or not."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self._max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix
        self._lock = threading.Lock()
        self._queue: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._threads: list[threading.Thread] = []  # started, maybe still running
        self._taking = 0  # threads that will still take queued calls
        self._started = 0
        self._shut_down = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.append((future, functools.partial(fn, *args, **kwargs)))
            if self._taking < self._max_workers:
                self._threads = [thread for thread in self._threads if thread.is_alive()]
                thread = threading.Thread(
                    target=self._work, name=f"{self._thread_name_prefix}_{self._started}"
                )
                self._threads.append(thread)
                self._started += 1
                self._taking += 1
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._taking -= 1
                    return
                future, call = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to the consumer, as ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submissions; with `cancel_futures` the queued calls are dropped, with `wait`
        every thread is joined (the calls already running finish)."""
        with self._lock:
            self._shut_down = True
            dropped = [future for future, _ in self._queue] if cancel_futures else []
            if cancel_futures:
                self._queue.clear()
            threads = list(self._threads)
        for future in dropped:
            future.cancel()
        if wait:
            for thread in threads:
                thread.join()


_API_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_stacklevel() -> int:
    """The `stacklevel` that makes a warning raised by this function's caller point at the
    first frame outside this package's api modules: the user's call."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_API_DIR):
        level, frame = level + 1, frame.f_back
    return level


# ---------------------------------------------------------------------------- scans
def _run_node(data: Mapping[str, Any], run: Run) -> dict[str, Any]:
    node = (data.get("project") or {}).get("run")
    if node is None:
        raise NotFoundError(f"run {'/'.join(run.path)} not found")
    return dict(node)


def _known_key(key: str, known: Mapping[str, Any]) -> bool:
    """A logged key, or the parent of nested logged keys (`d` for `d.x`)."""
    return key == "_step" or key in known or any(name.startswith(key + ".") for name in known)


def _row_count(page: object) -> int:
    """Rows in a decoded page (an Arrow table or a list of rows)."""
    rows = getattr(page, "num_rows", None)
    return int(rows) if rows is not None else len(page)  # type: ignore[arg-type]


class HistoryScan:
    """Every history row of a run in step order (with `keys`: the rows holding all of them).

    Built eagerly: one request reads the run's last step, row count and first step, so a run
    still being written is read consistently up to the last step it had at that moment. Iterate
    it for dicts (once), or call `to_pandas()` / `to_arrow()` for the columnar fast path. Pages
    of about `page_size` rows are fetched ahead by up to `max_workers` threads. To leave early,
    use it as a context manager or call `close()`: no further page is asked for and the threads
    are joined; after a bare `break` the pages already asked for are fetched, then the threads
    exit. `progress` receives a `Progress` (rows) per page; its total is the run's row count
    when the whole history is read, else unknown.
    """

    def __init__(
        self,
        run: Run,
        keys: Sequence[str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        min_step: int | None = None,
        max_step: int | None = None,
        *,
        max_workers: int = DEFAULT_WORKERS,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.keys = check_keys(keys)
        self.page_size = _check_int(page_size, "page_size", minimum=1)
        self.min_step, self.max_step = check_step_range(min_step, max_step)
        self.max_workers = check_workers(max_workers)
        self.run = run
        self._transport = run.client.transport
        self._base = {"entity": run.entity, "project": run.project, "run": run.id}
        self._rows: Generator[dict[str, Any], None, None] | None = None
        self.history_keys: dict[str, Any] = {}
        self.last_step = -1
        self.start = self.stop = 0
        self.page_span = self.page_size
        self.line_count: int | None = None
        self._load_bounds()
        # The row total is the server's line count when every row in the run is read.
        whole = self.keys is None and self.min_step is None and self.max_step is None
        self._progress = ProgressTracker(
            progress,
            "scan",
            "/".join(run.path),
            total=(self.line_count if self.start < self.stop else 0) if whole else None,
            unit="rows",
        )

    def __repr__(self) -> str:
        return f"<HistoryScan {'/'.join(self.run.path)} steps [{self.start}, {self.stop})>"

    # ------------------------------------------------------------------ bounds
    def _load_bounds(self) -> None:
        data = self._transport.graphql(
            RUN_HISTORY_BOUNDS_QUERY,
            {**self._base, "minStep": self.min_step, "maxStep": self.max_step},
        )
        node = _run_node(data, self.run)
        info = node.get("historyKeys") or {}
        if isinstance(info, str):
            info = json.loads(info)
        self.history_keys = dict(info)
        last = self.history_keys.get("lastStep")
        self.last_step = int(last) if last is not None else -1
        self.stop = self.last_step + 1
        if self.max_step is not None:
            self.stop = min(self.stop, self.max_step)
        if not self._keys_known():
            self.start = self.stop
            return
        first = self._first_step(node.get("firstRow") or [])
        if first is None or first >= self.stop:
            self.start = self.stop
            return
        self.start = first
        self.line_count = int(node.get("historyLineCount") or 0)
        count = max(1, self.line_count)
        steps_per_row = max(1, (self.stop - first) // count)
        self.page_span = min(self.page_size * steps_per_row, max(self.page_size, MAX_PAGE_SPAN))

    def _first_step(self, rows: Sequence[str]) -> int | None:
        """The first step at or above min_step, confirmed by asking for any row below it (a
        server may sample `samples: 1` differently)."""
        candidate = self._step_of(rows)
        floor = self.min_step if self.min_step is not None else 0
        for _ in range(MAX_FIRST_STEP_CHECKS):
            if candidate is None or candidate <= floor:
                return candidate
            data = self._transport.graphql(
                RUN_HISTORY_FIRST_ROW_QUERY,
                {**self._base, "minStep": self.min_step, "maxStep": candidate},
            )
            below = self._step_of(_run_node(data, self.run).get("history") or [])
            if below is None or below >= candidate:
                return candidate
            candidate = below
        return floor

    @staticmethod
    def _step_of(rows: Sequence[str]) -> int | None:
        if not rows:
            return None
        step = decode_rows(rows[:1])[0].get("_step")
        return int(step) if isinstance(step, (int, float)) else None

    def _keys_known(self) -> bool:
        if not self.keys:
            return True
        known = self.history_keys.get("keys") or {}
        missing = [key for key in self.keys if not _known_key(key, known)]
        if missing:
            warnings.warn(
                f"run {'/'.join(self.run.path)} has no history key(s) {missing}: the scan is empty",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
            return False
        return True

    # ------------------------------------------------------------------ pages
    def ranges(self) -> Iterator[tuple[int, int]]:
        """The step ranges [lo, hi) the scan reads, in order."""
        lo = self.start
        while lo < self.stop:
            hi = min(lo + self.page_span, self.stop)
            yield lo, hi
            lo = hi

    def fetch(self, lo: int, hi: int) -> list[Any]:
        """One page: row JSON strings, or with `keys` the row objects holding all of them."""
        if not self.keys:
            variables = {**self._base, "minStep": lo, "maxStep": hi, "pageSize": hi - lo}
            data = self._transport.graphql(HISTORY_PAGE_QUERY, variables)
            return list(_run_node(data, self.run).get("history") or [])
        wanted = self.keys if "_step" in self.keys else [*self.keys, "_step"]
        spec = {"keys": wanted, "minStep": lo, "maxStep": hi - 1, "samples": hi - lo}
        data = self._transport.graphql(
            SAMPLED_HISTORY_PAGE_QUERY, {**self._base, "spec": json.dumps(spec)}
        )
        pages = _run_node(data, self.run).get("sampledHistory") or [[]]
        return _int_steps([dict(row) for row in pages[0] or []])

    def pages(self, decode: Callable[[list[Any], int, int], T]) -> Generator[T, None, None]:
        """`decode(fetch(lo, hi), lo, hi)` for every range, run ahead on the thread pool and
        yielded in step order; at most 2 x max_workers pages are in flight or waiting. When the
        generator ends (done, closed, or a page failed), pages not started are dropped and those
        in flight are waited for, so nothing keeps running behind the caller's back; while it is
        suspended with every page of its window fetched, no thread is left (see PrefetchPool)."""
        ranges = self.ranges()
        first = next(ranges, None)
        self._progress.start()
        if first is None:
            self._progress.finish()
            return
        pool = PrefetchPool(self.max_workers, thread_name_prefix="wandb-history")

        def job(lo: int, hi: int) -> T:
            return decode(self.fetch(lo, hi), lo, hi)

        pending: deque[Future[T]] = deque([pool.submit(job, *first)])
        try:
            for lo, hi in ranges:
                pending.append(pool.submit(job, lo, hi))
                if len(pending) >= 2 * self.max_workers:
                    break
            while pending:
                page = pending.popleft().result()
                following = next(ranges, None)
                if following is not None:
                    pending.append(pool.submit(job, *following))
                self._progress.advance(_row_count(page))
                yield page
            self._progress.finish()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _decode_dicts(self, raw: list[Any], lo: int, hi: int) -> list[dict[str, Any]]:
        rows = raw if self.keys else decode_rows(raw, "/".join(self.run.path))
        return _in_range(rows, lo, hi)

    def _decode_table(self, raw: list[Any], lo: int, hi: int) -> pa.Table | list[dict[str, Any]]:
        import pyarrow as pa

        table: pa.Table | None = None
        if self.keys:
            try:
                table = pa.Table.from_pylist(raw)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                table = None
        else:
            table = rows_to_table(raw)
        if table is not None and _step_bounds_ok(table, lo, hi):
            return table
        return self._decode_dicts(raw, lo, hi)

    # ------------------------------------------------------------------ results
    def __iter__(self) -> HistoryScan:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._rows is None:
            self._rows = self._iter_rows()
        return next(self._rows)

    def _iter_rows(self) -> Generator[dict[str, Any], None, None]:
        pages = self.pages(self._decode_dicts)
        try:
            for page in pages:
                yield from page
        finally:
            pages.close()

    def close(self) -> None:
        """Stop iterating: pages not started are dropped, those in flight are waited for and
        dropped, the prefetch threads are joined; iterating afterwards yields nothing."""
        if self._rows is None:
            self._rows = self._iter_rows()
        self._rows.close()

    def __enter__(self) -> HistoryScan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def to_arrow(self) -> pa.Table:
        """Every row of the scan as one Arrow table (types promoted across pages)."""
        import pyarrow as pa

        parts = list(self.pages(self._decode_table))
        table = _concat_in_arrow(parts)
        if table is not None:
            return table
        if not any(len(part) for part in parts):
            return pa.table({})
        return pa.Table.from_pandas(_concat_in_pandas(parts), preserve_index=False)

    def to_pandas(self) -> pd.DataFrame:
        """Every row of the scan as a DataFrame, decoded page by page in Arrow (no dict rows)."""
        return frame_from_parts(list(self.pages(self._decode_table)))


# ---------------------------------------------------------------------------- sampled
def sampled_history(
    run: Run,
    samples: int = 500,
    keys: Sequence[str] | None = None,
    x_axis: str = "_step",
    pandas: bool = True,
    stream: str = "default",
) -> pd.DataFrame | list[dict[str, Any]]:
    """At most `samples` rows spread over the run; with `keys` only rows holding all of them
    (plus `x_axis`); `stream="system"` reads the system-metrics stream."""
    samples = check_samples(samples)
    stream = check_stream(stream)
    wanted = check_keys(keys)
    if not isinstance(x_axis, str) or not x_axis:
        raise InvalidInputError(f"x_axis must be a non-empty string, got {x_axis!r}")
    if wanted and stream != "default":
        raise InvalidInputError("keys can only be given with stream='default'")
    variables = {"project": run.project, "entity": run.entity, "name": run.id}
    transport = run.client.transport
    rows: list[dict[str, Any]]
    if wanted:
        spec = json.dumps({"keys": [x_axis, *wanted], "samples": samples})
        node = _run_node(
            transport.graphql(RUN_SAMPLED_HISTORY_QUERY, {**variables, "specs": [spec]}), run
        )
        lists = node.get("sampledHistory") or [[]]
        rows = _int_steps([dict(row) for row in lists[0] or []])
        info = node.get("historyKeys") or {}
        known = (json.loads(info) if isinstance(info, str) else info).get("keys") or {}
        missing = [key for key in [x_axis, *wanted] if not _known_key(key, known)]
        if missing:
            warnings.warn(
                f"run {'/'.join(run.path)} has no history key(s) {missing}", UserWarning, 3
            )
    else:
        field = "history" if stream == "default" else "events"
        data = transport.graphql(RUN_FULL_HISTORY_QUERY % field, {**variables, "samples": samples})
        rows = decode_rows(_run_node(data, run).get(field) or [], "/".join(run.path))
    if pandas:
        import pandas as pd

        return pd.DataFrame.from_records(rows)
    return rows


def runs_histories(
    runs: Runs,
    samples: int = 500,
    keys: Sequence[str] | None = None,
    x_axis: str = "_step",
    format: str = "default",
    stream: str = "default",
    *,
    max_workers: int = 8,
) -> pd.DataFrame | list[dict[str, Any]]:
    """Sampled history of every run in `runs` with a `run_id` column, fetched in parallel
    (at most `max_workers` runs at once): a list of dicts, or with `format="pandas"` one
    DataFrame with sorted columns."""
    if format not in HISTORIES_FORMATS:
        raise InvalidInputError(f"format must be one of {HISTORIES_FORMATS}, got {format!r}")
    check_samples(samples)
    check_stream(stream)
    wanted = check_keys(keys)
    workers = check_workers(max_workers)
    if wanted and stream != "default":
        raise InvalidInputError("keys can only be given with stream='default'")
    members = list(runs)

    def one(run: Run) -> list[dict[str, Any]]:
        rows = sampled_history(run, samples, wanted, x_axis, pandas=False, stream=stream)
        assert isinstance(rows, list)
        for row in rows:
            row["run_id"] = run.id
        return rows

    with ThreadPoolExecutor(min(workers, max(1, len(members)))) as pool:
        per_run = list(pool.map(one, members))
    if format == "default":
        return [row for rows in per_run for row in rows]
    import pandas as pd

    frames = [pd.DataFrame.from_records(rows) for rows in per_run if rows]
    if not frames:
        return pd.DataFrame()
    combined = pd.concat(frames, ignore_index=True, sort=False)
    return combined[sorted(combined.columns)]


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_WORKERS",
    "HISTORIES_FORMATS",
    "MAX_FIRST_STEP_CHECKS",
    "MAX_PAGE_SPAN",
    "MAX_WORKERS",
    "STREAMS",
    "HistoryScan",
    "PrefetchPool",
    "check_keys",
    "check_samples",
    "check_step_range",
    "check_stream",
    "check_workers",
    "decode_rows",
    "frame_from_parts",
    "rows_to_table",
    "runs_histories",
    "sampled_history",
]
