"""The one byte mover for run files and artifact entries.

Every file is streamed in chunks (never whole in memory) to its target, md5-hashed while
streaming, checked against the expected digest and size, and only then made visible
(`api/destinations.py`: a temporary name renamed locally, an upload committed on object stores,
a temporary name moved elsewhere). A dropped connection resumes with `Range` from the bytes
already written; corrupt bytes are fetched again, then raise `ChecksumError` with nothing left at
the destination. Files move in parallel on a bounded thread pool. Waits between retries follow
the transport's retry policy and go through its sleep.

A content-addressed cache (`<cache>/md5/<hex[:2]>/<hex[2:]>`) serves repeats: a cached blob is
hard-linked into a local destination (copied only when linking is impossible), so a second
download of the same bytes moves none. Cached blobs are read-only, and so are the files linked to
them: editing one in place would corrupt the cache (pass `link=False` to get private copies).

Entry names must be relative paths inside the root; any other name (`../x`, `/etc/x`, `C:x`) is
refused with `InvalidInputError` before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import requests
import urllib3

from prefect_wandb_public.api.destinations import (
    CHUNK_SIZE,
    AtomicFile,
    DestinationRoot,
    atomic_file,
)
from prefect_wandb_public.api.names import check_entry_path
from prefect_wandb_public.api.progress import ProgressCallback, ProgressTracker
from prefect_wandb_public.errors import (
    ChecksumError,
    CommError,
    DestinationExistsError,
    InvalidInputError,
)

if TYPE_CHECKING:
    from prefect_wandb_public.api.transport import RetryPolicy, Transport

DEFAULT_WORKERS = 8
MAX_WORKERS = 64
CHECKSUM_ATTEMPTS = 3
# Above this size the md5 runs on a helper thread, overlapping the socket reads and disk writes.
PIPELINE_THRESHOLD = 16 << 20
_PIPELINE_DEPTH = 8
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError)


def default_cache_dir() -> str:
    """`$PREFECT_WANDB_CACHE_DIR`, else `~/.cache/prefect-wandb-public`."""
    return os.environ.get("PREFECT_WANDB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "prefect-wandb-public"
    )


def hex_md5(b64_md5: str) -> str:
    """The hex form of a base64 md5 (ChecksumError when it is not one)."""
    try:
        raw = base64.b64decode(b64_md5, validate=True)
    except ValueError as exc:
        raise ChecksumError(f"{b64_md5!r} is not a base64 md5 digest") from exc
    if len(raw) != 16:
        raise ChecksumError(f"{b64_md5!r} is not a base64 md5 digest")
    return raw.hex()


def b64_of(hasher: Any) -> str:
    return base64.b64encode(hasher.digest()).decode()


def b64_md5(data: bytes) -> str:
    """The base64 md5 of `data` (the form W&B digests and Content-MD5 headers take)."""
    return b64_of(hashlib.md5(data))


def md5_of_stream(handle: IO[bytes]) -> tuple[str, int]:
    """(base64 md5, size) of everything left in a binary file, read in chunks."""
    hasher = hashlib.md5()
    size = 0
    while chunk := handle.read(CHUNK_SIZE):
        hasher.update(chunk)
        size += len(chunk)
    return b64_of(hasher), size


def retry_delay(policy: RetryPolicy, attempt: int, started: float) -> float | None:
    """The wait before retrying after failed attempt number `attempt` (1-based) of work begun
    at `started` (monotonic), or None when the policy's attempts or time are spent."""
    delay = policy.backoff(attempt)
    if attempt >= policy.max_attempts or time.monotonic() - started + delay > policy.max_elapsed:
        return None
    return delay


@dataclass(frozen=True)
class DownloadItem:
    """One file to fetch: its name under the root, its URL, and the digest and size promised."""

    name: str
    url: str
    md5: str | None = None
    size: int | None = None


class _Hasher:
    """md5 of the streamed bytes, on a helper thread for big files so hashing overlaps I/O."""

    def __init__(self, threaded: bool) -> None:
        self.md5 = hashlib.md5()
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=_PIPELINE_DEPTH)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self.md5.update(chunk)

    def update(self, chunk: bytes) -> None:
        if self._queue is None:
            self.md5.update(chunk)
        else:
            self._queue.put(chunk)

    def finish(self) -> str:
        """Wait for the helper thread (if any) and return the base64 md5; safe to call twice."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
        return b64_of(self.md5)


class Downloader:
    """Moves files from URLs to a root (a local path or any fsspec URL), verified and atomic.

    `workers` bounds the parallel transfers; `cache_dir` holds the content-addressed cache
    (None: `default_cache_dir()`), and `skip_cache=True` bypasses the cache; `link` hard-links
    cached blobs into local destinations instead of copying them. Retries follow the
    transport's policy and wait through its sleep. `progress` receives a `Progress` snapshot
    (bytes and files, labelled `progress_label`) per chunk and per file placed.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        workers: int = DEFAULT_WORKERS,
        cache_dir: str | os.PathLike[str] | None = None,
        skip_cache: bool = False,
        link: bool = True,
        chunk_size: int = CHUNK_SIZE,
        checksum_attempts: int = CHECKSUM_ATTEMPTS,
        progress: ProgressCallback | None = None,
        progress_label: str = "",
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise InvalidInputError(f"workers must be an integer, got {workers!r}")
        if not 1 <= workers <= MAX_WORKERS:
            raise InvalidInputError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
        if chunk_size < 1024 or checksum_attempts < 1:
            raise InvalidInputError("chunk_size must be >= 1024 and checksum_attempts >= 1")
        self.transport = transport
        self.workers = workers
        self.cache_dir = None if skip_cache else os.fspath(cache_dir or default_cache_dir())
        self.link = link
        self.chunk_size = chunk_size
        self.checksum_attempts = checksum_attempts
        self.progress = progress
        self.progress_label = progress_label
        self._tracker = ProgressTracker(None, "download", progress_label, total=None)

    # ------------------------------------------------------------------ entry point
    def download(
        self,
        items: Sequence[DownloadItem],
        root: str | os.PathLike[str],
        *,
        existing: str = "replace",
    ) -> list[str]:
        """Fetch `items` under `root`; returns each item's destination (path or fsspec URL).

        Names are checked first (nothing is written if one is bad). A destination that exists
        is overwritten (`existing="replace"`), kept as it is (`"keep"`), or an error raised
        before any transfer (`"error"`: DestinationExistsError).
        """
        if existing not in ("replace", "keep", "error"):
            raise InvalidInputError(f"existing must be replace, keep or error, not {existing!r}")
        for item in items:
            check_entry_path(item.name)
        if len({item.name for item in items}) != len(items):
            raise InvalidInputError("two files share one name; refusing to download")
        place = DestinationRoot(root)
        targets = [place.target(item.name) for item in items]
        present = set() if existing == "replace" else {t for t in targets if place.exists(t)}
        if present and existing == "error":
            first = place.display(next(t for t in targets if t in present))
            raise DestinationExistsError(
                f"{first} already exists; pass existing='replace' to overwrite it or "
                "existing='keep' to keep it",
                first,
            )
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            if targets[index] in present:
                continue
            key = item.md5 or f"#{index}"
            groups.setdefault(key, []).append(index)
        jobs = [[(items[i], targets[i]) for i in group] for group in groups.values()]
        moved = [items[i] for group in groups.values() for i in group]
        sizes = [item.size for item in moved]
        self._tracker = ProgressTracker(
            self.progress,
            "download",
            self.progress_label,
            total=None if None in sizes else sum(s or 0 for s in sizes),
            files_total=len(moved),
        )
        self._tracker.start()
        self._run_all(jobs, place)
        self._tracker.finish()
        return [place.display(t) for t in targets]

    def _run_all(self, jobs: list[list[tuple[DownloadItem, str]]], place: DestinationRoot) -> None:
        if len(jobs) <= 1 or self.workers == 1:
            for job in jobs:
                self._fetch(job, place)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="wandb-download") as pool:
            futures: list[Future[None]] = [pool.submit(self._fetch, job, place) for job in jobs]
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in futures:
                error = None if future.cancelled() or not future.done() else future.exception()
                if error is not None:
                    raise error

    # ------------------------------------------------------------------ one blob
    def _fetch(self, job: list[tuple[DownloadItem, str]], place: DestinationRoot) -> None:
        """Fetch one blob (through the cache when possible) and place it at every target."""
        item, first_target = job[0]
        if self.cache_dir is not None and item.md5:
            blob = self._cached(item)
            for _, target in job:
                place.put_local_file(blob, target, link=self.link)
        else:
            place.write(first_target, lambda file: self._transfer(item, file))
            for _, target in job[1:]:
                place.copy(first_target, target)
        self._tracker.file_done(item.size, len(job))

    def _cached(self, item: DownloadItem) -> str:
        """The cache path of `item`'s bytes, fetched into the cache first if missing."""
        assert self.cache_dir is not None and item.md5
        digest = hex_md5(item.md5)
        path = os.path.join(self.cache_dir, "md5", digest[:2], digest[2:])
        try:
            cached_size: int | None = os.stat(path).st_size
        except FileNotFoundError:
            cached_size = None
        if cached_size is not None and item.size in (None, cached_size):
            return path
        with atomic_file(None, path, read_only=True) as file:
            self._transfer(item, file)
        return path

    def _transfer(self, item: DownloadItem, file: AtomicFile) -> None:
        """Stream `item` into `file` until digest and size match; ChecksumError after N tries."""
        got = ("", 0)
        for attempt in range(1, self.checksum_attempts + 1):
            if attempt > 1:
                file.reset()
                self._tracker.advance(-got[1])
            got = self._stream(item, file)
            if (item.md5 is None or got[0] == item.md5) and (
                item.size is None or got[1] == item.size
            ):
                return
        raise ChecksumError(
            f"{item.name}: downloaded bytes have md5 {got[0]} and size {got[1]}, expected md5 "
            f"{item.md5} and size {item.size} (tried {self.checksum_attempts} times from "
            f"{display_url(self.transport.absolute(item.url))})"
        )

    def _stream(self, item: DownloadItem, file: AtomicFile) -> tuple[str, int]:
        """One pass over the URL: resume with `Range` after a dropped connection, waiting as
        the transport's retry policy says, through its sleep.

        Returns (base64 md5, bytes written). A server that ignores `Range` restarts the pass.
        """
        transport = self.transport
        threaded = (item.size or 0) >= PIPELINE_THRESHOLD
        hasher = _Hasher(threaded)
        written = 0
        drops = 0
        started = time.monotonic()
        try:
            while True:
                headers = {"Range": f"bytes={written}-"} if written else None
                response = transport.request("GET", item.url, headers=headers, stream=True)
                try:
                    if written and not _resumes_at(response, written):
                        file.reset()
                        self._tracker.advance(-written)
                        hasher.finish()
                        hasher = _Hasher(threaded)
                        written = 0
                    for chunk in _chunks(response, self.chunk_size):
                        file.write(chunk)
                        hasher.update(chunk)
                        written += len(chunk)
                        self._tracker.advance(len(chunk))
                    return hasher.finish(), written
                except _Dropped as exc:
                    drops += 1
                    delay = retry_delay(transport.retry, drops, started)
                    if delay is None:
                        raise CommError(
                            f"{item.name}: the connection dropped {drops} times "
                            f"({written} bytes received): {exc.__cause__}",
                            url=display_url(transport.absolute(item.url)),
                            retryable=True,
                        ) from exc
                    transport._sleep(delay)
                finally:
                    response.close()
        except BaseException:
            hasher.finish()
            raise


class _Dropped(Exception):
    """The body stopped before its end (reset, timeout, short read)."""


def _chunks(response: requests.Response, size: int) -> Iterator[bytes]:
    """The body in chunks; a network failure mid-body becomes `_Dropped`."""
    stream = response.iter_content(size)
    while True:
        try:
            chunk = next(stream)
        except StopIteration:
            return
        except _NETWORK_ERRORS as exc:
            raise _Dropped(str(exc)) from exc
        yield chunk


def _resumes_at(response: requests.Response, offset: int) -> bool:
    """Whether a response to `Range: bytes=<offset>-` really continues at `offset`."""
    content_range = response.headers.get("Content-Range", "")
    return response.status_code == 206 and content_range.startswith(f"bytes {offset}-")


def display_url(url: str) -> str:
    """A URL without its query string (presigned URLs carry credentials there)."""
    return url.split("?", 1)[0]


__all__ = [
    "CHECKSUM_ATTEMPTS",
    "DEFAULT_WORKERS",
    "MAX_WORKERS",
    "PIPELINE_THRESHOLD",
    "DownloadItem",
    "Downloader",
    "b64_md5",
    "b64_of",
    "default_cache_dir",
    "display_url",
    "hex_md5",
    "md5_of_stream",
    "retry_delay",
]
