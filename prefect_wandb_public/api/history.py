"""Run history: full scans (parquet exports first, then GraphQL pages), sampled reads, and the
histories of many runs.

A scan first asks for the run's plan in one request: its history keys and last step, the URLs
of its parquet exports and the steps logged since (`parquetHistory`, wandb-protocol-transfers.md
section 1). Steps below the first live step are read from the export files (fetched in parallel
through the download cache, `history_exports.py`); the live steps are read as step-range pages
[lo, hi): `history` rows as JSON strings, or with `keys` the `sampledHistory` rows holding all
of them (that field's maxStep is inclusive). A range never holds more rows than steps, so asking
for `hi - lo` samples returns every row. Pages are fetched ahead on a bounded thread pool (while
the exports download) and handed over in step order; the DataFrame path decodes pages with
pyarrow's JSON reader and export files as Arrow tables, never building dicts.

A run of more than LIVE_STEPS_INLINE rows is asked for its URLs alone first (a million live
steps are a million `liveData` rows): with exports, a second request brings its live steps;
without, none is needed. A run with no exports (or a server that knows none: no URLs and no live
steps for a run with history) is read with GraphQL pages alone, from the first step found by
`history(samples: 1)`.

Every `for` loop over a scan reads it again from `min_step`, as 0.31's `HistoryScan` does (the
plan is not asked for again; exported files come from the cache). A loop left early stops its
prefetch: closing it (`close()`, or leaving a `with` block) drops the pages not started and joins
the threads; after a bare `break` the pages already asked for (at most 2 x max_workers) are
fetched and the threads then exit, garbage collection or not.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_wandb_public.api.history_exports import (
    ExportReader,
    HistoryPlan,
    prefetch_exports,
    rows_from_table,
    table_for_frame,
)
from prefect_wandb_public.api.history_rows import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_WORKERS,
    HISTORIES_FORMATS,
    check_int,
    check_keys,
    check_samples,
    check_step_range,
    check_stream,
    check_workers,
    concat_in_arrow,
    concat_in_pandas,
    decode_rows,
    frame_from_parts,
    in_range,
    int_steps,
    numeric_keys,
    restore_non_finite,
    rows_to_table,
    spell_non_finite,
    spread,
    step_bounds_ok,
)
from prefect_wandb_public.api.prefetch import Prefetch
from prefect_wandb_public.api.progress import ProgressCallback, ProgressTracker
from prefect_wandb_public.api.queries.history import (
    HISTORY_PAGE_QUERY,
    HISTORY_PLAN_FIELDS,
    HISTORY_PLAN_URL_FIELDS,
    RUN_FULL_HISTORY_QUERY,
    RUN_HISTORY_FIRST_ROW_QUERY,
    RUN_HISTORY_PLAN_QUERY,
    RUN_HISTORY_PLAN_URLS_QUERY,
    RUN_HISTORY_PLANS_QUERY,
    RUN_PARQUET_HISTORY_QUERY,
    RUN_SAMPLED_HISTORY_QUERY,
    SAMPLED_HISTORY_PAGE_QUERY,
)
from prefect_wandb_public.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from prefect_wandb_public.api.runs import Run, Runs

T = TypeVar("T")

MAX_PAGE_SPAN = 10_000  # widest step range asked for at once when a run's steps are sparse
MAX_FIRST_STEP_CHECKS = 64
PLANS_PER_REQUEST = 100  # runs whose plans one RunHistoryPlans request asks for


_API_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_stacklevel() -> int:
    """The `stacklevel` that makes a warning raised by this function's caller point at the
    first frame outside this package's api modules: the user's call."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_API_DIR):
        level, frame = level + 1, frame.f_back
    return level


def _run_node(data: Mapping[str, Any], run: Run) -> dict[str, Any]:
    node = (data.get("project") or {}).get("run")
    if node is None:
        raise NotFoundError(f"run {'/'.join(run.path)} not found")
    return dict(node)


def _row_count(page: object) -> int:
    """Rows in a decoded part (an Arrow table or a list of rows)."""
    rows = getattr(page, "num_rows", None)
    return int(rows) if rows is not None else len(page)  # type: ignore[arg-type]


def _known_key(key: str, known: Mapping[str, Any]) -> bool:
    """A logged key, or the parent of nested logged keys (`d` for `d.x`)."""
    return key == "_step" or key in known or any(name.startswith(key + ".") for name in known)


# ---------------------------------------------------------------------------- plans
LIVE_STEPS_INLINE = 10_000  # runs up to this many rows are asked for their live steps at once


def _plan_fields(run: Run) -> str:
    """A short run is asked for everything in one request; a long one for its URLs alone (a
    long run without exports needs no list of its live steps, one with exports asks again)."""
    return (
        HISTORY_PLAN_FIELDS
        if run.history_line_count <= LIVE_STEPS_INLINE
        else (HISTORY_PLAN_URL_FIELDS)
    )


def load_plan(run: Run) -> HistoryPlan:
    """The run's history plan: keys, last step, export URLs and, when it has exports, the live
    steps (one request, or two for a long run with exports)."""
    variables = {"entity": run.entity, "project": run.project, "run": run.id}
    query = (
        RUN_HISTORY_PLAN_QUERY
        if _plan_fields(run) is HISTORY_PLAN_FIELDS
        else (RUN_HISTORY_PLAN_URLS_QUERY)
    )
    data = run.client.transport.graphql(query, variables)
    return _completed(run, HistoryPlan.from_node(_run_node(data, run)))


def _completed(run: Run, plan: HistoryPlan) -> HistoryPlan:
    """A plan with exports but no live steps yet gets them (a second request)."""
    if plan.live_steps is None and plan.parquet_urls:
        return plan.with_parquet_history(_parquet_history(run))
    return plan


def _parquet_history(run: Run) -> dict[str, Any]:
    variables = {
        "entity": run.entity,
        "project": run.project,
        "runName": run.id,
        "liveKeys": ["_step"],
    }
    node = _run_node(run.client.transport.graphql(RUN_PARQUET_HISTORY_QUERY, variables), run)
    return dict(node.get("parquetHistory") or {})


def fresh_export_urls(run: Run) -> list[str]:
    """The run's export URLs asked for again (signatures expire), as 0.31 asks for them."""
    return [url for url in _parquet_history(run).get("parquetUrls") or () if url]


def fetch_history_plans(runs: Sequence[Run], *, prefetch: bool = False) -> dict[str, HistoryPlan]:
    """The history plans of runs of one project, PLANS_PER_REQUEST per GraphQL request (a
    project export asks for few requests: under a rate limit, requests are what time is made
    of); keyed by run id. Long runs with exports need one more request each (`load_plan`).
    With `prefetch`, their export files are then fetched into the download cache on many
    connections at once (`prefetch_exports`)."""
    plans: dict[str, HistoryPlan] = {}
    if not runs:
        return plans
    first = runs[0]
    if any((run.entity, run.project) != (first.entity, first.project) for run in runs):
        raise InvalidInputError("fetch_history_plans takes runs of one project")
    for start in range(0, len(runs), PLANS_PER_REQUEST):
        batch = runs[start : start + PLANS_PER_REQUEST]
        declarations = ", ".join(f"$r{i}: String!" for i in range(len(batch)))
        fields = " ".join(
            f"r{i}: run(name: $r{i}) {{ name {_plan_fields(run)} }}" for i, run in enumerate(batch)
        )
        variables: dict[str, Any] = {"entity": first.entity, "project": first.project}
        variables.update({f"r{i}": run.id for i, run in enumerate(batch)})
        data = first.client.transport.graphql(
            RUN_HISTORY_PLANS_QUERY % (declarations, fields), variables
        )
        project = data.get("project") or {}
        for i, run in enumerate(batch):
            node = project.get(f"r{i}")
            if node is None:
                raise NotFoundError(f"run {'/'.join(run.path)} not found")
            plans[run.id] = _completed(run, HistoryPlan.from_node(node))
    if prefetch:
        prefetch_exports(first.client.transport, list(plans.values()))
    return plans


def live_ranges(steps: Sequence[int], page_size: int, stop: int) -> list[tuple[int, int]]:
    """Step ranges [lo, hi) holding `page_size` live steps each, from the first live step to
    `stop` without holes, except that a gap wider than MAX_PAGE_SPAN after a range's first step
    (which the live steps say holds no row) is skipped, so no page spans more steps than that."""
    ranges: list[tuple[int, int]] = []
    index = 0
    while index < len(steps):
        lo = steps[index]
        end = min(index + page_size, len(steps))
        end = bisect.bisect_left(steps, lo + MAX_PAGE_SPAN, index + 1, end) if end > index else end
        following = steps[end] if end < len(steps) else stop
        ranges.append((lo, min(following, lo + MAX_PAGE_SPAN, stop)))
        index = end
    return ranges


# ---------------------------------------------------------------------------- scans
class _Parts(Iterator[T]):
    """A scan's decoded parts in step order: the export batches, then the live pages; each
    part's rows reported to `progress` as it is handed over."""

    def __init__(
        self, exported: Iterator[T] | None, live: Prefetch[T], progress: ProgressTracker
    ) -> None:
        self._exported = exported
        self._live = live
        self._progress = progress
        self._started = False

    def __next__(self) -> T:
        if not self._started:
            self._started = True
            self._progress.start()
        part = self._next_part()
        self._progress.advance(_row_count(part))
        return part

    def _next_part(self) -> T:
        if self._exported is not None:
            try:
                return next(self._exported)
            except StopIteration:
                self._exported = None
            except BaseException:
                self.close()
                raise
        try:
            return next(self._live)
        except StopIteration:
            self._progress.finish()
            raise

    def close(self) -> None:
        """Stop reading the exports and the live pages; join the prefetch threads."""
        if isinstance(self._exported, Generator):
            self._exported.close()
        self._exported = None
        self._live.close()


class HistoryScan:
    """Every history row of a run in step order (with `keys`: the rows holding all of them).

    Built eagerly: one request reads the run's plan, so a run still being written is read
    consistently up to the last step it had at that moment. Iterate it for dicts (each `for`
    loop starts again at `min_step`), or call `to_pandas()` / `to_arrow()` for the columnar fast
    path. Exported steps come from the run's parquet files (`use_cache=False` fetches them
    again); live steps from GraphQL pages of about `page_size` rows, fetched ahead by up to
    `max_workers` threads. To leave a loop early, use the scan as a context manager or call
    `close()`: no further page is asked for and the threads are joined; after a bare `break`
    the pages already asked for are fetched, then the threads exit.

    `start` and `stop` bound the step window read; `ranges()` are the live GraphQL pages.
    `progress` receives a `Progress` (rows) per export batch and page of each pass; its total
    is the run's row count when the whole history is read, else unknown.
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
        use_cache: bool = True,
        plan: HistoryPlan | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.keys = check_keys(keys)
        self.page_size = check_int(page_size, "page_size", minimum=1)
        self.min_step, self.max_step = check_step_range(min_step, max_step)
        self.max_workers = check_workers(max_workers)
        self.use_cache = bool(use_cache)
        self.run = run
        self._progress = progress
        self._transport = run.client.transport
        self._base = {"entity": run.entity, "project": run.project, "run": run.id}
        self._rows: Iterator[dict[str, Any]] | None = None
        self._exports: ExportReader | None = None
        self._export_stop: float = 0
        self._ranges: list[tuple[int, int]] = []
        self._numeric_keys: frozenset[str] = frozenset()
        self.plan = plan if plan is not None else load_plan(run)
        self.history_keys: dict[str, Any] = dict(self.plan.history_keys)
        self.last_step = self.plan.last_step
        self.stop = self.last_step + 1
        if self.max_step is not None:
            self.stop = min(self.stop, self.max_step)
        self.start = self.stop
        if self._keys_known():
            self._plan_reads()

    def __repr__(self) -> str:
        return f"<HistoryScan {'/'.join(self.run.path)} steps [{self.start}, {self.stop})>"

    # ------------------------------------------------------------------ planning
    def _plan_reads(self) -> None:
        plan, low = self.plan, self.min_step
        if self.keys:
            self._numeric_keys = numeric_keys(self.history_keys)
        if not plan.has_exports_info:
            self._plan_pages_without_exports()
            return
        export_stop = min(plan.boundary, self.stop)
        if plan.parquet_urls and (low is None or low < export_stop):
            self._exports = ExportReader(
                self._transport,
                "/".join(self.run.path),
                plan.parquet_urls,
                lambda: fresh_export_urls(self.run),
                workers=max(self.max_workers, 2),
                use_cache=self.use_cache,
            )
            self._export_stop = export_stop
        steps = plan.live_steps or []
        first = bisect.bisect_left(steps, low) if low is not None else 0
        window = steps[first : bisect.bisect_left(steps, self.stop, first)]
        self._ranges = live_ranges(window, self.page_size, self.stop)
        if self._exports is not None:
            self.start = low if low is not None else 0
        elif window:
            self.start = window[0]

    def _plan_pages_without_exports(self) -> None:
        """A server with no exports: pages from the first step, wide as the rows are sparse."""
        first = self._first_step()
        if first is None or first >= self.stop:
            return
        self.start = first
        count = max(1, self.plan.line_count)
        steps_per_row = max(1, (self.stop - first) // count)
        span = min(self.page_size * steps_per_row, max(self.page_size, MAX_PAGE_SPAN))
        lo = first
        while lo < self.stop:
            self._ranges.append((lo, min(lo + span, self.stop)))
            lo += span

    def _first_step(self) -> int | None:
        """The first step at or above min_step, confirmed by asking for any row below it (a
        server may sample `samples: 1` differently)."""
        floor = self.min_step if self.min_step is not None else 0
        candidate: int | None = None
        upper = self.stop
        for _ in range(MAX_FIRST_STEP_CHECKS):
            data = self._transport.graphql(
                RUN_HISTORY_FIRST_ROW_QUERY,
                {**self._base, "minStep": self.min_step, "maxStep": upper},
            )
            below = self._step_of(_run_node(data, self.run).get("history") or [])
            if below is None or (candidate is not None and below >= candidate):
                return candidate
            candidate = upper = below
            if candidate <= floor:
                return candidate
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
        """The step ranges [lo, hi) of the live GraphQL pages the scan reads, in order."""
        return iter(self._ranges)

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
        rows = int_steps([dict(row) for row in pages[0] or []])
        return restore_non_finite(rows, self.keys, self._numeric_keys)

    def parts(
        self,
        decode_live: Callable[[list[Any], int, int], T],
        decode_export: Callable[[pa.Table], T],
    ) -> _Parts[T]:
        """The scan's parts in step order: `decode_export(table)` of every export batch, then
        `decode_live(fetch(lo, hi), lo, hi)` of every live page. The live pages start now, on
        the thread pool, while the exports download (at most 2 x max_workers pages in flight
        or waiting). Closing the parts (or their end, or a failure) drops what is not started
        and waits for what is in flight, so nothing keeps running behind the caller's back."""

        def job(lo: int, hi: int) -> Callable[[], T]:
            return lambda: decode_live(self.fetch(lo, hi), lo, hi)

        live = Prefetch(
            (job(lo, hi) for lo, hi in self._ranges),
            workers=self.max_workers,
            window=2 * self.max_workers,
            thread_name="wandb-history",
        )
        exported = None
        if self._exports is not None:
            batches = self._exports.batches(self.min_step, self._export_stop, self.keys)
            exported = (decode_export(table) for table in batches)
        # The row total is the server's line count when every row of the run is read.
        whole = self.keys is None and self.min_step is None and self.max_step is None
        progress = ProgressTracker(
            self._progress,
            "scan",
            "/".join(self.run.path),
            total=(self.plan.line_count if self.start < self.stop else 0) if whole else None,
            unit="rows",
        )
        return _Parts(exported, live, progress)

    def _decode_dicts(self, raw: list[Any], lo: int, hi: int) -> list[dict[str, Any]]:
        rows = raw if self.keys else decode_rows(raw, "/".join(self.run.path))
        return in_range(rows, lo, hi)

    def _export_dicts(self, table: pa.Table) -> list[dict[str, Any]]:
        return rows_from_table(table, self.keys)

    def _decode_table(self, raw: list[Any], lo: int, hi: int) -> pa.Table | list[dict[str, Any]]:
        table = _table_of_dicts(raw) if self.keys else rows_to_table(raw)
        if table is not None and step_bounds_ok(table, lo, hi):
            return table
        return self._decode_dicts(raw, lo, hi)

    def _export_table(self, table: pa.Table) -> pa.Table | list[dict[str, Any]]:
        part = table_for_frame(table, self.keys)
        if isinstance(part, list) and self.keys:
            return _table_of_dicts(part) or part
        return part

    # ------------------------------------------------------------------ results
    def __iter__(self) -> HistoryScan:
        """Start reading again at `min_step` (0.31's `HistoryScan` resets in `__iter__`)."""
        self._stop_reading()
        self._rows = self._iter_rows()
        return self

    def __next__(self) -> dict[str, Any]:
        if self._rows is None:
            self._rows = self._iter_rows()
        return next(self._rows)

    def _iter_rows(self) -> Generator[dict[str, Any], None, None]:
        parts = self.parts(self._decode_dicts, self._export_dicts)
        try:
            for part in parts:
                yield from part
        finally:
            parts.close()

    def _stop_reading(self) -> None:
        if isinstance(self._rows, Generator):
            self._rows.close()

    def close(self) -> None:
        """Stop this pass: pages not started are dropped, those in flight are waited for and
        dropped, the prefetch threads are joined; `next()` then raises StopIteration, and a
        new `for` loop reads the scan again from the start."""
        self._stop_reading()
        self._rows = iter(())

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

        parts = list(self.parts(self._decode_table, self._export_table))
        table = concat_in_arrow(parts)
        if table is not None:
            return table
        if not any(len(part) for part in parts):
            return pa.table({})
        return pa.Table.from_pandas(concat_in_pandas(parts), preserve_index=False)

    def to_pandas(self) -> pd.DataFrame:
        """Every row of the scan as a DataFrame, decoded columnar (no dict rows)."""
        return frame_from_parts(list(self.parts(self._decode_table, self._export_table)))


def _table_of_dicts(rows: list[dict[str, Any]]) -> pa.Table | None:
    import pyarrow as pa

    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


# ---------------------------------------------------------------------------- sampled
def _keys_with_stream(keys: list[str] | None, stream: str, run_path: str) -> bool:
    """Whether a sampled read may go on: 0.31 answers keys with a stream other than "default"
    with an error message and `[]`; this says so in a warning."""
    if keys and stream != "default":
        warnings.warn(
            f"run {run_path}: keys can only be read from stream='default', not {stream!r}; "
            "returning []",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
        return False
    return True


def sampled_history(
    run: Run,
    samples: int = 500,
    keys: Sequence[str] | None = None,
    x_axis: str = "_step",
    pandas: bool = True,
    stream: str = "default",
) -> pd.DataFrame | list[dict[str, Any]]:
    """At most `samples` rows spread over the run; with `keys` only rows holding all of them
    (plus `x_axis`); any `stream` but "default" reads the system-events stream. Keys with such
    a stream return `[]` (even with `pandas=True`) and a warning, as 0.31 does."""
    samples = check_samples(samples)
    stream = check_stream(stream)
    wanted = check_keys(keys)
    if not isinstance(x_axis, str) or not x_axis:
        raise InvalidInputError(f"x_axis must be a non-empty string, got {x_axis!r}")
    if not _keys_with_stream(wanted, stream, "/".join(run.path)):
        return []
    rows = _sampled_rows(run, samples, wanted, x_axis, stream)
    if pandas:
        import pandas as pd

        return pd.DataFrame.from_records(rows)
    return rows


def _sampled_rows(
    run: Run, samples: int, keys: list[str] | None, x_axis: str, stream: str
) -> list[dict[str, Any]]:
    variables = {"project": run.project, "entity": run.entity, "name": run.id}
    transport = run.client.transport
    if keys:
        spec = json.dumps({"keys": [x_axis, *keys], "samples": samples})
        node = _run_node(
            transport.graphql(RUN_SAMPLED_HISTORY_QUERY, {**variables, "specs": [spec]}), run
        )
        lists = node.get("sampledHistory") or [[]]
        rows = int_steps([dict(row) for row in lists[0] or []])
        info = node.get("historyKeys") or {}
        known = (json.loads(info) if isinstance(info, str) else info).get("keys") or {}
        missing = [key for key in [x_axis, *keys] if not _known_key(key, known)]
        if missing:
            warnings.warn(
                f"run {'/'.join(run.path)} has no history key(s) {missing}",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        return rows
    field = "history" if stream == "default" else "events"
    data = transport.graphql(RUN_FULL_HISTORY_QUERY % field, {**variables, "samples": samples})
    return decode_rows(_run_node(data, run).get(field) or [], "/".join(run.path))


def _sampled_from_exports(
    run: Run, plan: HistoryPlan, samples: int, keys: list[str] | None, x_axis: str
) -> list[dict[str, Any]]:
    """What `history(samples, keys, x_axis)` answers, read from a fully exported run's files:
    every row (with keys: holding x_axis and every key), sampled as the local server samples
    (evenly, both ends kept; the service does not document its sampler)."""
    wanted = [x_axis, *keys] if keys else None
    reader = ExportReader(
        run.client.transport, "/".join(run.path), plan.parquet_urls, lambda: fresh_export_urls(run)
    )
    rows = [
        row
        for table in reader.batches(None, float("inf"), wanted)
        for row in rows_from_table(table, wanted, with_step=False)
    ]
    picked = [rows[i] for i in spread(len(rows), samples)]
    return spell_non_finite(picked) if wanted is not None else picked


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
    DataFrame with sorted columns. Fully exported runs are read from their parquet files (their
    plans asked for PLANS_PER_REQUEST runs per request), the others with one GraphQL request
    each."""
    if format not in HISTORIES_FORMATS:
        raise InvalidInputError(f"format must be one of {HISTORIES_FORMATS}, got {format!r}")
    samples = check_samples(samples)
    stream = check_stream(stream)
    wanted = check_keys(keys)
    workers = check_workers(max_workers)
    if not isinstance(x_axis, str) or not x_axis:
        raise InvalidInputError(f"x_axis must be a non-empty string, got {x_axis!r}")
    members = list(runs)
    if not _keys_with_stream(wanted, stream, f"{runs.entity}/{runs.project}"):
        members = []
    plans = fetch_history_plans(members, prefetch=True) if stream == "default" else {}

    def one(run: Run) -> list[dict[str, Any]]:
        plan = plans.get(run.id)
        if plan is not None and plan.fully_exported:
            rows = _sampled_from_exports(run, plan, samples, wanted, x_axis)
        else:
            rows = _sampled_rows(run, samples, wanted, x_axis, stream)
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
    "LIVE_STEPS_INLINE",
    "MAX_FIRST_STEP_CHECKS",
    "MAX_PAGE_SPAN",
    "PLANS_PER_REQUEST",
    "HistoryScan",
    "fetch_history_plans",
    "fresh_export_urls",
    "live_ranges",
    "load_plan",
    "runs_histories",
    "sampled_history",
]
