"""Ranged parallel downloads: one file fetched as `Range` parts into one temporary file.

Part of the one byte mover (`download.py` decides when: a known size of at least
`TransferSettings.ranged_download_threshold`, a local temporary file). The parts
(`download_part_ranges`: small first parts growing to `download_part_size`, so the md5 can
start early) are fetched on a bounded pool (`part_workers` threads shared by every file of one
download call), each read from its socket into the thread's one reused buffer (`body_into`),
and written at their offsets with `pwrite`. The md5 is computed in order while they arrive: it
follows the first part not yet hashed as its bytes land, reading them in place from the
temporary file (`_LandedBytes`), so hashing overlaps the transfer from its first bytes, memory
stays bounded whatever the file's size (a chunk buffer per part thread, one mapped 16 MiB
window of page cache per file), and nothing unverified becomes visible (the caller compares
the md5 and size and only then renames the file into place).

- Near storage (`near_first_byte`: its first answer comes that fast, as on the same host) gets
  the parts in order on one part thread (`_InOrder`), hashed as they land: on one machine
  parallel connections add no bandwidth, only threads that take the md5's CPU (a GiB on
  loopback, `bench_transfers.py`: 1.80 s in order, 1.95 s as one stream, 2.2-2.5 s in 16
  parallel parts). Where the first answer comes later, or once the md5 has waited for bytes
  more than `STARVE_SHARE` of the time (from `STARVE_AFTER` on: one connection slower than the
  md5, or a host too busy to run the part thread), the parts not taken yet fan out. Each part
  is still its own request, so retries, refreshes, the trailer and resuming are the same
  either way.
- A part that drops or fails is retried alone, from the bytes it already has, through the
  client's one retry primitive; the first part that fails for good cancels the others.
- A file whose md5 does not match is fetched again whole (`download.py`): the manifest gives
  only the whole file's md5 and storage sends no digest of a range (S3 leaves checksums off
  ranged GETs, GCS's `x-goog-hash` and an S3 multipart ETag cover the whole object, and the
  upload's part boundaries are not the download's), so a mismatch cannot name its part.
- A response that is not `206` with the part's `Content-Range` (a storage that ignores `Range`)
  makes `fetch_ranged` return None: the caller fetches the file as one stream instead (0.31
  writes such answers at every part's offset and corrupts the file).
- A 401/403 from storage (an expired presigned URL) asks the item's `refresh` for a new URL (a
  GraphQL query; once per stale URL, shared by the parts) and retries the part.
- Progress: each part reports its bytes as they arrive (`progress`, called on the part
  threads; the parts a crashed run left complete count at once); bytes of a file that falls
  back to one stream are taken back.
- Resuming: the temporary file carries a trailer after the data (`_MAGIC`, first and full
  part sizes, file size, one byte per part set once the part is written), cut off before the
  rename. A run that crashed leaves its partial locked by no one (`api/partials.py`), and so
  does one that failed (a part failing for good, an interrupt) where the partial is not at the
  user's destination (`download.py`); the next run finds the trailer and fetches only the
  parts not marked complete. The whole file is hashed again, so a part marked complete but
  never written to disk costs a refetch, never a wrong file. A failure stops the parts in
  flight at their next chunk.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import http.client
import mmap
import os
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import requests
import urllib3

from prefect_wandb_public.api.digests import b64_of
from prefect_wandb_public.api.transfers import download_part_ranges
from prefect_wandb_public.errors import CommError

if TYPE_CHECKING:
    from prefect_wandb_public.api.destinations import AtomicFile
    from prefect_wandb_public.api.transport import Transport

# Parts are written at their offsets with `os.pwrite`, which Windows lacks: there a file of any
# size comes as one stream (`download.py`).
SUPPORTED = hasattr(os, "pwrite")
_MAGIC = b"PWRANGE2"  # 2: the first part's size is in the header too (ramped first parts)
_HEADER = struct.Struct(">8sQQQ")  # magic, first part size, part size, file size
NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)
REFRESH_LIMIT = 3  # new URLs asked for one file before a 401/403 is final


def lower_thread_priority(steps: int) -> None:
    """Run the calling thread `steps` nice steps below its current CPU priority (Linux, where
    each thread has its own; elsewhere, or where the system refuses, it stays as it is). A
    pool `initializer` for part threads (`TransferSettings.part_nice`)."""
    if not steps or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + steps))
    except OSError:
        pass  # a sandbox that forbids it: the parts run at the caller's priority


class Dropped(Exception):
    """The body stopped before its end (reset, timeout, short read)."""


def body_chunks(response: requests.Response, size: int) -> Iterator[bytes]:
    """The body in chunks; a network failure mid-body becomes `Dropped`."""
    stream = response.iter_content(size)
    while True:
        try:
            chunk = next(stream)
        except StopIteration:
            return
        except NETWORK_ERRORS as exc:
            raise Dropped(str(exc)) from exc
        yield chunk


_buffers = threading.local()  # each part thread's chunk buffer, reused for every chunk


def _chunk_buffer(size: int) -> memoryview:
    """This thread's reusable buffer of `size` bytes."""
    buffer: memoryview | None = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) != size:
        buffer = _buffers.buffer = memoryview(bytearray(size))
    return buffer


def body_into(response: requests.Response, buffer: memoryview) -> Iterator[memoryview | bytes]:
    """The body in chunks of up to `len(buffer)` bytes; a network failure mid-body becomes
    `Dropped`. A body that is not content-encoded (storage's never is) is read from the socket
    straight into `buffer` (`http.client`'s `readinto`, under urllib3, which would copy) and
    each chunk is a view of it, valid until the next one: no new bytes object and no urllib3
    or requests layers per chunk (~0.2 CPU-s less per GiB on the part threads here, and a
    smaller peak RSS). A content-encoded body comes decoded through `iter_content` instead.
    A body read to its end gives its connection back to the pool for the next part."""
    raw = getattr(response.raw, "_fp", None)  # urllib3 reads its body from this
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if not isinstance(raw, http.client.HTTPResponse) or encoding not in ("", "identity"):
        yield from body_chunks(response, len(buffer))
        return
    while True:
        try:
            count = raw.readinto(buffer)
        except (*NETWORK_ERRORS, OSError, http.client.HTTPException) as exc:
            raise Dropped(str(exc)) from exc
        if not count:
            break
        yield buffer[:count]
    if raw.length == 0:  # its whole Content-Length read: nothing left on the connection
        response.raw.release_conn()


def resumes_at(response: requests.Response, offset: int) -> bool:
    """Whether a response to `Range: bytes=<offset>-...` really continues at `offset`."""
    content_range = response.headers.get("Content-Range", "")
    return response.status_code == 206 and content_range.startswith(f"bytes {offset}-")


def display_url(url: str) -> str:
    """A URL without its query string (presigned URLs carry credentials there)."""
    return url.split("?", 1)[0]


class _NotRanged(Exception):
    """The storage answered a ranged request with something other than that range."""


class _Stopped(Exception):
    """A part not fetched because another part failed first."""


class UrlSource:
    """The URL of one file, renewed through `refresh` (a GraphQL query) when storage refuses it
    as expired; parts that saw the same stale URL share one renewal."""

    def __init__(self, url: str, refresh: Callable[[], str] | None) -> None:
        self.url = url
        self._refresh = refresh
        self._lock = threading.Lock()
        self.refreshes = 0

    def renew(self, stale: str) -> bool:
        """A new URL unless another part already got one; False when none can be had."""
        with self._lock:
            if self.url != stale:
                return True
            if self._refresh is None or self.refreshes >= REFRESH_LIMIT:
                return False
            self.refreshes += 1
            self.url = self._refresh()
            return True


class _Parts:
    """The parts of one file and which of them are on disk (mirrored in the trailer)."""

    def __init__(
        self,
        fd: int,
        size: int,
        part_sizes: tuple[int, int],
        progress: Callable[[int], None] | None,
    ) -> None:
        self.fd = fd
        self.size = size
        self.part_sizes = part_sizes  # (first part, full part): `download_part_ranges`
        self.ranges = download_part_ranges(size, part_sizes[1], part_sizes[0])
        self.done = [threading.Event() for _ in self.ranges]
        self.failed = threading.Event()
        # How far each part's bytes are on disk without a gap (an offset in the file): the md5
        # follows the first part not yet hashed as its bytes land, not once it is complete.
        self.landed = [start for start, _ in self.ranges]
        self._landing = threading.Condition()
        self._awaited = -1  # the part the md5 waits for (only its landings wake it)
        self._progress = progress

    def credit(self, amount: int) -> None:
        """Report `amount` bytes newly on disk to the progress callback (every byte reported is
        one `landed` counts)."""
        if self._progress is not None and amount:
            self._progress(amount)

    def take_back(self) -> None:
        """Take back every byte reported (the file is fetched again another way); only once
        no part thread writes any more."""
        landings = zip(self.landed, self.ranges, strict=True)
        credited = sum(landed - start for landed, (start, _) in landings)
        if self._progress is not None and credited:
            self._progress(-credited)

    @property
    def trailer_size(self) -> int:
        return _HEADER.size + len(self.ranges)

    def load(self, resumed: int) -> None:
        """Mark the parts a crashed run left complete: from its trailer, or the whole parts of a
        prefix written by a one-stream download; anything else is dropped."""
        complete: list[bool] = [False] * len(self.ranges)
        if resumed == self.size + self.trailer_size:
            header = os.pread(self.fd, _HEADER.size, self.size)
            if header == _HEADER.pack(_MAGIC, *self.part_sizes, self.size):
                flags = os.pread(self.fd, len(self.ranges), self.size + _HEADER.size)
                complete = [flag == 1 for flag in flags]
        elif 0 < resumed <= self.size:
            complete = [stop <= resumed for _, stop in self.ranges]
        os.ftruncate(self.fd, self.size)
        trailer = _HEADER.pack(_MAGIC, *self.part_sizes, self.size) + bytes(complete)
        os.pwrite(self.fd, trailer, self.size)
        for index, (flag, (start, stop)) in enumerate(zip(complete, self.ranges, strict=True)):
            if flag:
                self.landed[index] = stop
                self.done[index].set()
                self.credit(stop - start)

    def landed_to(self, index: int, offset: int) -> None:
        """Part `index` has its bytes on disk up to `offset` (its own thread calls this)."""
        with self._landing:
            self.landed[index] = offset
            if index == self._awaited:
                self._landing.notify_all()

    def mark(self, index: int) -> None:
        os.pwrite(self.fd, b"\x01", self.size + _HEADER.size + index)
        self.done[index].set()

    def wait_beyond(self, index: int, offset: int, timeout: float | None = None) -> int | None:
        """Wait until part `index` has bytes on disk beyond `offset` (or `timeout` seconds
        passed) and return how far they go, or None once some part failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._landing:
            self._awaited = index
            while self.landed[index] <= offset:
                if self.failed.is_set():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._landing.wait(0.05)
            return self.landed[index]

    def fail(self) -> None:
        self.failed.set()
        with self._landing:
            self._landing.notify_all()


def fetch_ranged(
    transport: Transport,
    name: str,
    source: UrlSource,
    size: int,
    file: AtomicFile,
    *,
    part_size: int,
    first_part: int,
    pool: ThreadPoolExecutor,
    chunk_size: int,
    near_first_byte: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, int] | None:
    """Fetch `size` bytes into the local `file` in parts (`download_part_ranges` of
    `part_size`, ramped from `first_part`); returns (base64 md5, size) of what is on disk, or
    None when the storage does not serve ranges (the file is then reset). The first part that
    fails for good is raised once the others have stopped. `progress` hears every chunk
    written (on the part threads). With `near_first_byte` (seconds) the parts first go in order
    on one part thread, and fan out unless the first answer comes that fast, or once the md5
    waits for bytes too much (`_InOrder`)."""
    file.handle.flush()
    fd = file.handle.fileno()
    parts = _Parts(fd, size, (first_part, part_size), progress)
    parts.load(file.resumed)
    missing = [index for index in range(len(parts.ranges)) if not parts.done[index].is_set()]
    fetch = functools.partial(_fetch_part, transport, name, source, parts, chunk_size=chunk_size)
    futures: list[Future[None]] = []

    def fan_out(indices: list[int]) -> None:
        for index in indices:
            if parts.failed.is_set():
                return
            futures.append(pool.submit(fetch, index))

    hasher = hashlib.md5()
    landed_bytes = _LandedBytes(fd, chunk_size)
    md5_waited: Callable[[float], None] | None = None
    try:
        if near_first_byte > 0 and len(missing) > 1:
            in_order = _InOrder(missing)
            futures.append(pool.submit(_fetch_in_order, fetch, parts, in_order))
            if not in_order.answered.wait(near_first_byte):
                fan_out(in_order.take_rest())  # far storage: the first answer came too late
            else:

                def md5_waited(seconds: float) -> None:
                    fan_out(in_order.starving(seconds))

        else:
            fan_out(missing)
        _hash_parts(parts, landed_bytes, hasher, md5_waited)
    except BaseException:
        parts.fail()  # an interrupt (Ctrl-C) here stops the parts at their next chunk
        raise
    finally:
        landed_bytes.close()
        if parts.failed.is_set():
            for future in futures:
                future.cancel()
        errors = [f.exception() for f in futures if not f.cancelled()]
    failure = next(
        (e for e in errors if e is not None and not isinstance(e, (_NotRanged, _Stopped))), None
    )
    if failure is not None:
        raise failure
    if any(isinstance(e, _NotRanged) for e in errors):
        file.reset()
        parts.take_back()
        return None
    os.ftruncate(fd, size)
    return b64_of(hasher), size


STARVE_AFTER = 0.25  # seconds of parts in order before the md5's waits may fan out the rest
STARVE_SHARE = 0.25  # the share of that time the md5 may wait for bytes


class _InOrder:
    """Parts fetched one after another on one part thread (`_fetch_in_order`), which takes the
    next one only when it finished the last. `answered` is set once the first answer came (how
    near the storage is). The parts not taken yet go to the caller when it asks (`take_rest`):
    the first answer came too late, or the md5 waited for bytes more than `STARVE_SHARE` of the
    time since the start (`starving`, from `STARVE_AFTER` on: one connection is slower than
    the md5)."""

    def __init__(self, indices: list[int]) -> None:
        self._queue = collections.deque(indices)
        self._lock = threading.Lock()
        self.answered = threading.Event()
        self._started = time.perf_counter()
        self._waited = 0.0

    def next(self) -> int | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def take_rest(self) -> list[int]:
        with self._lock:
            rest = list(self._queue)
            self._queue.clear()
            return rest

    def starving(self, waited: float) -> list[int]:
        """Count `waited` seconds of the md5 waiting for bytes; the parts not taken yet once it
        waited too much, else none."""
        self._waited += waited
        elapsed = time.perf_counter() - self._started
        if elapsed < STARVE_AFTER or self._waited <= STARVE_SHARE * elapsed:
            return []
        return self.take_rest()


HASH_WINDOW = 16 << 20  # bytes of the file mapped at a time for hashing (bounds its RSS share)


class _LandedBytes:
    """Read access to the temporary file's landed bytes for the md5: through a read-only map of
    one `HASH_WINDOW` at a time, so the hasher reads the page cache in place (no copy; a
    `pread` of every byte costs ~0.3 CPU-s a GiB on the one thread a file's md5 runs on), or
    through `pread` where the file system cannot map the file. Only bytes a part already
    wrote are read, so a mapped page always exists; the map is closed before the file is
    cut to its size. (A disk error under a mapped page would be SIGBUS, not OSError: local
    partials only, which a failing disk would fail anyway.)"""

    def __init__(self, fd: int, chunk_size: int) -> None:
        self._fd = fd
        self._chunk_size = chunk_size
        self._map: mmap.mmap | None = None
        self._map_start = 0
        self._mappable = True

    def feed(self, hasher: Any, start: int, stop: int) -> None:
        """Feed `hasher` the bytes `[start, stop)`."""
        while start < stop:
            if self._mappable and self._covers(start):
                assert self._map is not None
                end = min(stop, self._map_start + len(self._map))
                with memoryview(self._map) as view:
                    hasher.update(view[start - self._map_start : end - self._map_start])
            else:
                end = min(stop, start + self._chunk_size)
                chunk = os.pread(self._fd, end - start, start)
                if not chunk:
                    raise OSError(f"the temporary file ends at {start}, before {stop}")
                end = start + len(chunk)
                hasher.update(chunk)
            start = end

    def _covers(self, offset: int) -> bool:
        """Whether the current map holds `offset`, mapping the window around it if not; False
        once mapping failed (the file system does not support it)."""
        if self._map is not None and offset < self._map_start + len(self._map):
            return True
        self.close()
        self._map_start = offset - offset % HASH_WINDOW
        try:
            size = os.fstat(self._fd).st_size
            self._map = mmap.mmap(
                self._fd,
                min(HASH_WINDOW, size - self._map_start),
                prot=mmap.PROT_READ,
                offset=self._map_start,
            )
        except (OSError, ValueError):
            self._mappable = False
            return False
        return offset < self._map_start + len(self._map)  # else pread says the file is short

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


WAIT_REPORT = 0.05  # seconds: how often a long wait for bytes is reported (`_hash_parts`)


def _hash_parts(
    parts: _Parts,
    landed_bytes: _LandedBytes,
    hasher: Any,
    waited: Callable[[float], None] | None,
) -> None:
    """Feed `hasher` the file's bytes in order, read from the file as they land (following the
    first part not yet hashed); stops early once a part failed. `waited`, if given, hears how
    long each wait for bytes took, every `WAIT_REPORT` seconds while a wait goes on (a part
    stalled on its first byte or a retry's backoff counts as it happens)."""
    timeout = None if waited is None else WAIT_REPORT
    for index, (start, stop) in enumerate(parts.ranges):
        offset = start
        while offset < stop:
            began = time.perf_counter()
            landed = parts.wait_beyond(index, offset, timeout)
            if landed is None:
                return
            if waited is not None:
                waited(time.perf_counter() - began)
            if landed > offset:
                landed_bytes.feed(hasher, offset, landed)
                offset = landed


def _fetch_in_order(fetch: Callable[..., None], parts: _Parts, in_order: _InOrder) -> None:
    """`fetch` the parts of `in_order` one after another on this thread (its pooled connection
    serves each request in turn) until none is left to take; stops before the next part once
    another part failed."""
    while (index := in_order.next()) is not None:
        if parts.failed.is_set():
            raise _Stopped(f"part {index + 1} of {len(parts.ranges)}")
        fetch(index, answered=in_order.answered)


def _fetch_part(
    transport: Transport,
    name: str,
    source: UrlSource,
    parts: _Parts,
    index: int,
    *,
    chunk_size: int,
    answered: threading.Event | None = None,
) -> None:
    """Fetch one part into its place, retried alone from the bytes it already has; `answered`
    is set once the storage answered (`_InOrder`)."""
    start, stop = parts.ranges[index]
    offset = start
    drops = 0
    what = f"downloading part {index + 1} of {len(parts.ranges)} of {name!r}"

    def attempt() -> None:
        nonlocal offset, drops
        if parts.failed.is_set():
            raise _Stopped(what)
        url = source.url
        headers = {"Range": f"bytes={offset}-{stop - 1}"}
        try:
            response = transport.request(
                "GET", url, headers=headers, stream=True, once=True, what=what
            )
        except CommError as exc:
            if exc.status in (401, 403) and source.renew(url):
                raise CommError(
                    f"{what}: the storage refused the URL (HTTP {exc.status}, expired); "
                    "asked for a new one",
                    url=exc.url,
                    retryable=True,
                    retry_after=0.0,
                ) from exc
            raise
        if answered is not None:
            answered.set()
        try:
            if not resumes_at(response, offset):
                raise _NotRanged(f"HTTP {response.status_code} to a Range request")
            for chunk in body_into(response, _chunk_buffer(chunk_size)):
                if parts.failed.is_set():
                    raise _Stopped(what)
                if offset + len(chunk) > stop:
                    raise _NotRanged("the storage sent more than the range asked for")
                os.pwrite(parts.fd, chunk, offset)
                offset += len(chunk)
                parts.landed_to(index, offset)
                parts.credit(len(chunk))
            if offset < stop:
                raise Dropped(f"the body ended {stop - offset} bytes early")
        except Dropped as exc:
            drops += 1
            raise CommError(
                f"{what}: the connection dropped {drops} time{'s' if drops > 1 else ''} "
                f"({offset - start} of {stop - start} bytes received): {exc}",
                url=display_url(url),
                retryable=True,
            ) from exc
        finally:
            response.close()

    try:
        transport.with_retries(attempt, should_stop=parts.failed.is_set)
    except BaseException:
        parts.fail()
        raise
    parts.mark(index)


__all__ = [
    "NETWORK_ERRORS",
    "REFRESH_LIMIT",
    "SUPPORTED",
    "Dropped",
    "UrlSource",
    "body_chunks",
    "body_into",
    "display_url",
    "fetch_ranged",
    "lower_thread_priority",
    "resumes_at",
]
