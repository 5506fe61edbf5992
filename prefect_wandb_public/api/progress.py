"""Progress of long work (downloads, uploads, history scans) reported to a callback.

The movers call a `ProgressTracker` at their natural boundaries (a chunk written, a file
placed, a page of rows decoded); the tracker keeps the counts, thread-safe, and hands every
change to the caller's callback as an immutable `Progress` snapshot. The command line draws
bars or log lines from it and the Prefect tasks update progress artifacts: one hook for both.
A callback runs on the mover's threads and should return quickly; an exception it raises
stops the work (a progress display that fails is not silently ignored).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Operation = Literal["download", "upload", "scan", "export"]


@dataclass(frozen=True)
class Progress:
    """A snapshot: `done` of `total` units (bytes for transfers, rows for scans, runs for
    exports of many runs; `total` is None when unknown), and for transfers `files_done` of
    `files_total` files. `label` names the work (an artifact, a run path)."""

    operation: Operation
    label: str
    done: int
    total: int | None
    unit: Literal["bytes", "rows", "runs"]
    files_done: int = 0
    files_total: int = 0
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """done / total in [0, 1], or None when the total is unknown (1.0 once finished)."""
        if self.finished:
            return 1.0
        if not self.total:
            return None if self.total is None else 1.0
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


class ProgressTracker:
    """Thread-safe counts behind one piece of work; every change calls the callback.

    Transfers count bytes per chunk (`advance`, negative to take back bytes of a pass that is
    restarted) and files as they land (`file_done(size)`: the file's bytes not streamed on
    this thread, e.g. served from the cache or copied, are credited then, so `done` reaches
    the total whichever way the bytes arrived).
    """

    def __init__(
        self,
        callback: ProgressCallback | None,
        operation: Operation,
        label: str,
        *,
        total: int | None,
        unit: Literal["bytes", "rows", "runs"] = "bytes",
        files_total: int = 0,
    ) -> None:
        self._callback = callback
        self._operation: Operation = operation
        self._label = label
        self._total = total
        self._unit: Literal["bytes", "rows", "runs"] = unit
        self._files_total = files_total
        self._done = 0
        self._files_done = 0
        self._lock = threading.Lock()
        self._streamed = threading.local()

    @property
    def active(self) -> bool:
        return self._callback is not None

    def _report(self, finished: bool = False) -> None:
        # Called with the lock held: callbacks see counts in the order they changed.
        assert self._callback is not None
        self._callback(
            Progress(
                self._operation,
                self._label,
                self._done,
                self._total,
                self._unit,
                self._files_done,
                self._files_total,
                finished,
            )
        )

    def start(self) -> None:
        """Report the empty start (so a display can show the totals at once)."""
        if self._callback is not None:
            with self._lock:
                self._report()

    def advance(self, amount: int) -> None:
        """`amount` more units done on this thread (negative: taken back)."""
        if self._callback is None or not amount:
            return
        self._streamed.count = getattr(self._streamed, "count", 0) + amount
        with self._lock:
            self._done += amount
            self._report()

    def file_done(self, size: int | None = None, count: int = 1) -> None:
        """`count` files landed, `size` bytes each: bytes this thread did not stream for them
        are credited now, and the thread's streamed count starts again from zero."""
        if self._callback is None:
            return
        streamed = getattr(self._streamed, "count", 0)
        self._streamed.count = 0
        with self._lock:
            if size is not None:
                self._done += max(0, size * count - streamed)
            self._files_done += count
            self._report()

    def finish(self) -> None:
        """The work is complete: one last report with `finished=True`."""
        if self._callback is not None:
            with self._lock:
                self._report(finished=True)


__all__ = ["Operation", "Progress", "ProgressCallback", "ProgressTracker"]
