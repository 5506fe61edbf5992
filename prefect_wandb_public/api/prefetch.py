"""Fetching pages ahead of their consumer, in order, with no thread left behind.

`PrefetchPool` is a thread pool whose threads exit as soon as nothing is queued; `Prefetch` runs
a sequence of jobs on one, at most `window` of them in flight or waiting, and hands the results
over in order. Work starts when the `Prefetch` is built (so it overlaps whatever the caller does
next); closing it drops the jobs not started and joins the threads, and a `Prefetch` its caller
walked away from holds no thread once the jobs in flight are done, collected or not.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, Generic, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


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


class Prefetch(Generic[T]):
    """The results of `jobs`, in order, computed ahead on up to `workers` threads.

    At most `window` jobs are in flight or waiting at any time. The first `window` are submitted
    at once; each result handed over lets one more start. A job's exception is raised when its
    result's turn comes. `close()` (also at the end, or on the first failure) drops the jobs
    not started and waits for those in flight, so nothing keeps running behind the caller.
    """

    def __init__(
        self, jobs: Iterable[Callable[[], T]], workers: int, window: int, thread_name: str
    ) -> None:
        self._jobs = iter(jobs)
        self._window = max(1, window)
        self._pool: PrefetchPool | None = None
        self._pending: deque[Future[T]] = deque()
        self._workers = workers
        self._thread_name = thread_name
        self._fill()

    def _fill(self) -> None:
        while len(self._pending) < self._window:
            job = next(self._jobs, None)
            if job is None:
                return
            if self._pool is None:
                self._pool = PrefetchPool(self._workers, thread_name_prefix=self._thread_name)
            self._pending.append(self._pool.submit(job))

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if not self._pending:
            self.close()
            raise StopIteration
        try:
            result = self._pending.popleft().result()
        except BaseException:
            self.close()
            raise
        self._fill()
        return result

    def close(self) -> None:
        """Drop the jobs not started, wait for those in flight, join the threads."""
        self._jobs = iter(())
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["Prefetch", "PrefetchPool"]
