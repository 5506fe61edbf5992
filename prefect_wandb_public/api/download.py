"""The one byte mover for run files and artifact entries.

Every file is streamed in chunks (never whole in memory) to a temporary name beside its target,
md5-hashed while streaming, checked against the expected digest and size, and only then renamed
(local) or moved into place (any other fsspec filesystem: `memory://`, `s3://`, ...). A dropped
connection resumes with `Range` from the bytes already written; corrupt bytes are fetched again,
then raise `ChecksumError` with nothing left at the destination. Files move in parallel on a
bounded thread pool.

A content-addressed cache (`<cache>/md5/<hex[:2]>/<hex[2:]>`) serves repeats: a cached blob is
hard-linked into a local destination (copied only when linking is impossible), so a second
download of the same bytes moves none. Cached blobs are read-only, and so are the files linked to
them: editing one in place would corrupt the cache (pass `link=False` to get private copies).

Entry names must be relative paths inside the root; any other name (`../x`, `/etc/x`, `C:x`) is
refused with `InvalidInputError` before anything is written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import queue
import re
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

import requests
import urllib3

from prefect_wandb_public.errors import ChecksumError, CommError, InvalidInputError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from prefect_wandb_public.api.transport import Transport

CHUNK_SIZE = 1 << 20
DEFAULT_WORKERS = 8
MAX_WORKERS = 64
CHECKSUM_ATTEMPTS = 3
# Above this size the md5 runs on a helper thread, overlapping the socket reads and disk writes.
PIPELINE_THRESHOLD = 16 << 20
_PIPELINE_DEPTH = 8
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
T = TypeVar("T")


def default_cache_dir() -> str:
    """`$PREFECT_WANDB_CACHE_DIR`, else `~/.cache/prefect-wandb-public`."""
    return os.environ.get("PREFECT_WANDB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "prefect-wandb-public"
    )


def check_entry_name(name: str) -> str:
    """A `/`-separated relative path with no empty, `.` or `..` parts; InvalidInputError else."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or _DRIVE_RE.match(name)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidInputError(
            f"refusing file name {name!r}: names must be relative paths inside the download root"
        )
    return name


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


@dataclass(frozen=True)
class DownloadItem:
    """One file to fetch: its name under the root, its URL, and the digest and size promised."""

    name: str
    url: str
    md5: str | None = None
    size: int | None = None


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def reset(self) -> None: ...


class _FileSink:
    """A local temporary file being written; `reset` empties it for a fresh attempt."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def reset(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()


class _FsSink:
    """A temporary file on an fsspec filesystem; `reset` starts it over (no seeking there)."""

    def __init__(self, fs: AbstractFileSystem, path: str) -> None:
        self.fs = fs
        self.path = path
        self.handle = fs.open(path, "wb")

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def reset(self) -> None:
        self.handle.close()
        self.handle = self.fs.open(self.path, "wb")

    def close(self) -> None:
        self.handle.close()


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

    `workers` bounds the parallel transfers; `cache_dir` (default `default_cache_dir()`) holds
    the content-addressed cache, `None` or `skip_cache=True` bypasses it; `link` hard-links
    cached blobs into local destinations instead of copying them.
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
        before any transfer (`"error"`).
        """
        if existing not in ("replace", "keep", "error"):
            raise InvalidInputError(f"existing must be replace, keep or error, not {existing!r}")
        for item in items:
            check_entry_name(item.name)
        if len({item.name for item in items}) != len(items):
            raise InvalidInputError("two files share one name; refusing to download")
        place = _Destination(root)
        targets = [place.target(item.name) for item in items]
        present = set() if existing == "replace" else {t for t in targets if place.exists(t)}
        if present and existing == "error":
            first = next(t for t in targets if t in present)
            raise InvalidInputError(
                f"{place.display(first)} already exists; pass replace=True to overwrite it"
            )
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            if targets[index] in present:
                continue
            key = item.md5 or f"#{index}"
            groups.setdefault(key, []).append(index)
        jobs = [[(items[i], targets[i]) for i in group] for group in groups.values()]
        self._run_all(jobs, place)
        return [place.display(t) for t in targets]

    def _run_all(self, jobs: list[list[tuple[DownloadItem, str]]], place: _Destination) -> None:
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
    def _fetch(self, job: list[tuple[DownloadItem, str]], place: _Destination) -> None:
        """Fetch one blob (through the cache when possible) and place it at every target."""
        item, first_target = job[0]
        if self.cache_dir is not None and item.md5:
            blob = self._cached(item)
            for _, target in job:
                place.put_blob(blob, target, link=self.link)
            return
        place.write(first_target, lambda sink: self._transfer(item, sink))
        for _, target in job[1:]:
            place.copy(first_target, target)

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
        temp = f"{path}.{uuid.uuid4().hex}.part"
        try:
            # Created read-only; the descriptor opened here may still write it.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            fd = _in_dir(temp, lambda: os.open(temp, flags, _READ_ONLY))
            with open(fd, "wb") as handle:
                self._transfer(item, _FileSink(handle))
            os.replace(temp, path)
        finally:
            _remove_quietly(temp)
        return path

    def _transfer(self, item: DownloadItem, sink: _Sink) -> None:
        """Stream `item` into `sink` until digest and size match; ChecksumError after N tries."""
        got = ("", 0)
        for attempt in range(1, self.checksum_attempts + 1):
            if attempt > 1:
                sink.reset()
            got = self._stream(item, sink)
            if (item.md5 is None or got[0] == item.md5) and (
                item.size is None or got[1] == item.size
            ):
                return
        raise ChecksumError(
            f"{item.name}: downloaded bytes have md5 {got[0]} and size {got[1]}, expected md5 "
            f"{item.md5} and size {item.size} (tried {self.checksum_attempts} times from "
            f"{display_url(self.transport.absolute(item.url))})"
        )

    def _stream(self, item: DownloadItem, sink: _Sink) -> tuple[str, int]:
        """One pass over the URL: resume with `Range` after a dropped connection.

        Returns (base64 md5, bytes written). A server that ignores `Range` restarts the pass.
        """
        policy = self.transport.retry
        hasher = _Hasher(threaded=(item.size or 0) >= PIPELINE_THRESHOLD)
        written = 0
        drops = 0
        try:
            while True:
                headers = {"Range": f"bytes={written}-"} if written else None
                response = self.transport.request("GET", item.url, headers=headers, stream=True)
                try:
                    if written and not _resumes_at(response, written):
                        sink.reset()
                        hasher.finish()
                        hasher = _Hasher(threaded=(item.size or 0) >= PIPELINE_THRESHOLD)
                        written = 0
                    for chunk in _chunks(response, self.chunk_size):
                        sink.write(chunk)
                        hasher.update(chunk)
                        written += len(chunk)
                    return hasher.finish(), written
                except _Dropped as exc:
                    drops += 1
                    if drops >= policy.max_attempts:
                        raise CommError(
                            f"{item.name}: the connection dropped {drops} times "
                            f"({written} bytes received): {exc.__cause__}",
                            url=display_url(self.transport.absolute(item.url)),
                            retryable=True,
                        ) from exc
                    time.sleep(policy.backoff(drops))
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


def _in_dir(path: str, create: Callable[[], T]) -> T:
    """Run `create` (which makes `path`), making `path`'s directory first only if it is missing:
    the common case costs no extra system call."""
    try:
        return create()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return create()


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class _Destination:
    """Where files land: a local directory (rename, hard links) or any fsspec filesystem (move)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        if not text:
            raise InvalidInputError("download root must not be empty")
        self.local = "://" not in text and "::" not in text
        if self.local:  # a plain path: no need to import fsspec
            self.root = os.path.abspath(text)
            return
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        try:
            fs, path = fsspec.core.url_to_fs(text)
        except (ValueError, ImportError) as exc:
            raise InvalidInputError(f"cannot open download root {text!r}: {exc}") from exc
        self._fs: AbstractFileSystem = fs
        self.local = isinstance(fs, LocalFileSystem)
        self.root = os.path.abspath(path) if self.local else path.rstrip("/")

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem of a non-local root."""
        return self._fs

    def target(self, name: str) -> str:
        if self.local:
            return os.path.join(self.root, *name.split("/"))
        return f"{self.root}/{name}"

    def display(self, target: str) -> str:
        return target if self.local else str(self.fs.unstrip_protocol(target))

    def exists(self, target: str) -> bool:
        return os.path.lexists(target) if self.local else bool(self.fs.exists(target))

    def _temp(self, target: str) -> str:
        head, _, tail = target.rpartition("/" if not self.local else os.sep)
        return f"{head}{'/' if not self.local else os.sep}.{tail}.{uuid.uuid4().hex[:12]}.part"

    def write(self, target: str, fill: Callable[[_Sink], None]) -> None:
        """Write a temp file beside `target` with `fill(sink)`, then rename/move it into place."""
        temp = self._temp(target)
        if self.local:
            try:
                with _in_dir(temp, lambda: open(temp, "wb")) as handle:
                    fill(_FileSink(handle))
                os.replace(temp, target)
            finally:
                _remove_quietly(temp)
            return
        self.fs.makedirs(self.fs._parent(target), exist_ok=True)
        try:
            sink = _FsSink(self.fs, temp)
            try:
                fill(sink)
            finally:
                sink.close()
            self.fs.mv(temp, target)
        finally:
            self._remove_remote(temp)

    def put_blob(self, blob: str, target: str, *, link: bool) -> None:
        """Place a cached blob at `target`: a hard link when possible, else a copy."""
        if not self.local:
            self.fs.makedirs(self.fs._parent(target), exist_ok=True)
            temp = self._temp(target)
            try:
                self.fs.put_file(blob, temp)
                self.fs.mv(temp, target)
            finally:
                self._remove_remote(temp)
            return
        try:
            if os.path.samefile(blob, target):
                return
        except OSError:
            pass
        temp = self._temp(target)
        try:
            if link:
                try:
                    _in_dir(temp, lambda: os.link(blob, temp))
                except OSError:
                    _in_dir(temp, lambda: shutil.copyfile(blob, temp))
            else:
                _in_dir(temp, lambda: shutil.copyfile(blob, temp))
            os.replace(temp, target)
        finally:
            _remove_quietly(temp)

    def copy(self, source: str, target: str) -> None:
        if self.local:
            self.write(target, lambda sink: _copy_into(source, sink))
        else:
            temp = self._temp(target)
            try:
                self.fs.copy(source, temp)
                self.fs.mv(temp, target)
            finally:
                self._remove_remote(temp)

    def _remove_remote(self, temp: str) -> None:
        try:
            if self.fs.exists(temp):
                self.fs.rm(temp)
        except OSError:
            pass


def _copy_into(source: str, sink: _Sink) -> None:
    with open(source, "rb") as src:
        while chunk := src.read(CHUNK_SIZE):
            sink.write(chunk)
