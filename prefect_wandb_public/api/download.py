"""The one byte mover for run files and artifact entries.

Every file is streamed in chunks (never whole in memory) to its target, md5-hashed while
streaming, checked against the expected digest and size, and only then made visible
(`api/destinations.py`: a locked partial renamed locally, an upload committed on object stores,
a temporary name moved elsewhere). A dropped connection resumes with `Range` from the bytes
already written, and so does the next run after a crash: the partial it left is found again and
its bytes hashed again (`api/partials.py`). A download that fails (the network or the storage
gives out past the retries, Ctrl-C) leaves the same resumable partial where it is no user's
destination (in the cache, in the staging area of non-local destinations), and removes it where
it sits beside the user's target (`skip_cache=True`). Corrupt bytes are fetched again, then raise
`ChecksumError` with nothing left at the destination. Files move in parallel on a bounded thread
pool. Retries (a dropped body, a 5xx, a refused connection) share one budget per file and go
through the client's one retry primitive (`Transport.with_retries`).

The download cache (`PREFECT_WANDB_CACHE_DIR`, default `~/.cache/prefect-wandb-public`) is
content-addressed, and a blob is served only while it matches its digest (`api/cache.py` says
how and why: seals of size, mtime, ctime and inode, hashed again on any change; it draws the
whole cache, `named/` and `staging/` too, and says what is swept when):

    <cache>/
    └── md5/
        ├── 3f/                                  first two hex digits of the md5
        │   ├── 9a1c0e...e2                      a blob: the bytes of md5 3f9a1c0e...e2, 0444
        │   ├── 9a1c0e...e2.seal                 its identity when last verified
        │   └── .prefect-wandb-<16 hex>.part     a blob being fetched, or kept to resume
        └── b7/ ...

    <root>/                                      a download (any local path or fsspec URL)
    ├── model.bin   -> hard link to md5/3f/9a1c0e...e2 (or a copy: other device, link=False)
    └── cfg/a.json  -> hard link to md5/b7/...

Downloads are hard links to the blobs, so a repeat moves no bytes. Editing a download in place
edits the blob too: the next use sees the seal broken, hashes the blob, and fetches it again if
it changed (the edited copy stays the user's: blobs are replaced by rename, never rewritten).
`link=False` gives private copies.

File-system failures (disk full, a name too long, a file where a directory must be, a read-only
destination) raise `StorageError` naming the destination and the entry, with no partial file
left; a failed download of many files says which entries completed and which did not.

Objects that come with no digest (parquet history exports behind signed URLs) are cached by a
stable name instead (`fetch_to_cache`: `<cache>/named/<sha256(name)[:2]>/<rest>`, sealed as the
blobs are), which the caller derives from the object's identity, never from a signed URL's query
string. With no digest to check again, a named object whose seal no longer holds is fetched
again.

Entry names must be relative paths inside the root; any other name (`../x`, `/etc/x`, `C:x`) is
refused with `InvalidInputError` before anything is written.

The seams: `Downloader.download` plans (names, clashes, existing files, identical digests
fetched once), `_fetch` moves one blob to its targets, `_cached_blob` gets a verified blob into
the cache, `_transfer`/`_stream` fetch a blob into a temporary file (where ranged parallel parts
would go), and `DestinationRoot.put_local_file` places a verified blob at a target.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from prefect_wandb_public.api import ranged as ranged_parts
from prefect_wandb_public.api.cache import BlobCache
from prefect_wandb_public.api.destinations import (
    CHUNK_SIZE,
    AtomicFile,
    DestinationRoot,
    copy_stream,
    sweep_directories,
)
from prefect_wandb_public.api.digests import b64_md5, b64_of, hex_md5, md5_of_stream
from prefect_wandb_public.api.names import check_entry_path
from prefect_wandb_public.api.partials import RESUMABLE_FOR, sweep
from prefect_wandb_public.api.progress import ProgressCallback, ProgressTracker
from prefect_wandb_public.api.ranged import (
    Dropped,
    UrlSource,
    body_chunks,
    display_url,
    fetch_ranged,
    lower_thread_priority,
    resumes_at,
)
from prefect_wandb_public.api.transfers import TransferSettings
from prefect_wandb_public.errors import (
    ChecksumError,
    CommError,
    DestinationExistsError,
    InvalidInputError,
    StorageError,
    WandbError,
    amend_message,
)

if TYPE_CHECKING:
    from prefect_wandb_public.api.transport import Transport

# Files in flight at once. Far from the service a small file costs its first-byte latency more
# than its bytes (~145 ms vs ~20 ms for 1 MiB), so many in flight decide the time (0.31 uses 32).
DEFAULT_WORKERS = 32
MAX_WORKERS = 64
CHECKSUM_ATTEMPTS = 3
# Above this size the md5 runs on a helper thread, overlapping the socket reads and disk writes.
PIPELINE_THRESHOLD = 16 << 20
_PIPELINE_DEPTH = 8
_LISTED = 5  # entries named in a message, per list


def default_cache_dir() -> str:
    """`$PREFECT_WANDB_CACHE_DIR`, else `~/.cache/prefect-wandb-public`."""
    return os.environ.get("PREFECT_WANDB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "prefect-wandb-public"
    )


def storage_error(exc: OSError, entry: str | None, destination: str) -> StorageError:
    """`exc` (an OSError writing `entry` at `destination`) as a StorageError naming both."""
    if isinstance(exc, StorageError):
        return exc
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno or 0)
    what = f"{entry!r} to {destination}" if entry else destination
    hint = _HINTS.get(exc.errno or 0, "")
    return StorageError(
        f"cannot write {what}: {reason}" + (f" ({code})" if code else "") + hint,
        destination=destination,
        entry=entry,
        errno=exc.errno,
    )


_HINTS = {
    errno.ENOSPC: "; free some space there or download somewhere else",
    errno.EDQUOT: "; the disk quota is spent",
    errno.EROFS: "; the file system is read-only",
    errno.ENAMETOOLONG: "; the file system's name limit is shorter than this entry's name",
    errno.ENOTDIR: "; a file is in the way of a directory this entry needs",
    errno.EISDIR: "; a directory is where this entry's file must go",
}


@dataclass(frozen=True)
class DownloadItem:
    """One file to fetch: its name under the root, its URL, and the digest and size promised;
    `refresh` renews an expired presigned URL (a GraphQL query)."""

    name: str
    url: str
    md5: str | None = None
    size: int | None = None
    # Asked for a new URL when storage refuses this one as expired (401/403); None: no renewal.
    refresh: Callable[[], str] | None = field(default=None, compare=False)


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
    cached blobs into local destinations instead of copying them. Retries go through the
    transport's retry primitive, one budget per file. `progress` receives a `Progress` snapshot
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
        transfers: TransferSettings | None = None,
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
        self.cache = None if self.cache_dir is None else BlobCache(self.cache_dir)
        self.link = link
        self.chunk_size = chunk_size
        self.checksum_attempts = checksum_attempts
        self.progress = progress
        self.progress_label = progress_label
        self._tracker = ProgressTracker(None, "download", progress_label, total=None)
        self.transfers = transfers or TransferSettings()
        self._part_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # ------------------------------------------------------------------ entry point
    def download(
        self,
        items: Sequence[DownloadItem],
        root: str | os.PathLike[str],
        *,
        existing: str = "replace",
    ) -> list[str]:
        """Fetch `items` under `root`; returns each item's destination (path or fsspec URL).

        Names are checked first (nothing is written if one is bad, clashes with another, or is
        longer than the local file system allows). A destination that exists is overwritten
        (`existing="replace"`), kept as it is (`"keep"`), or an error raised before any transfer
        (`"error"`: DestinationExistsError).
        """
        if existing not in ("replace", "keep", "error"):
            raise InvalidInputError(f"existing must be replace, keep or error, not {existing!r}")
        for item in items:
            check_entry_path(item.name)
        if len({item.name for item in items}) != len(items):
            raise InvalidInputError("two files share one name; refusing to download")
        place = DestinationRoot(root)
        _check_clashes(items, place)
        targets = [place.target(item.name) for item in items]
        if place.fs is None:
            _check_name_lengths(items, targets, place)
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
        try:
            self._run_all(jobs, place)
        finally:
            self._close_part_pool()
        if place.fs is None:
            sweep_directories(targets)
        self._tracker.finish()
        return [place.display(t) for t in targets]

    def _run_all(self, jobs: list[list[tuple[DownloadItem, str]]], place: DestinationRoot) -> None:
        """Run every job; on a failure the jobs not started are cancelled, and the error of a
        download of many files says which entries completed and which did not."""
        done: list[int] = []
        try:
            self._parallel([functools.partial(self._fetch, job, place) for job in jobs], done)
        except WandbError as error:
            if sum(len(job) for job in jobs) > 1:
                _report_progress(error, jobs, set(done))
            raise

    def _parallel(self, calls: Sequence[Callable[[], None]], done: list[int] | None = None) -> None:
        """Run `calls` on up to `workers` threads; the first failure cancels those not started
        and is raised once the running ones end. `done` gets the index of each call that
        completed."""
        finished = done if done is not None else []
        if len(calls) <= 1 or self.workers == 1:
            for index, call in enumerate(calls):
                call()
                finished.append(index)
            return
        with ThreadPoolExecutor(min(self.workers, len(calls)), "wandb-download") as pool:
            futures: list[Future[None]] = [pool.submit(call) for call in calls]
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            first: BaseException | None = None
            for index, future in enumerate(futures):
                error = None if future.cancelled() or not future.done() else future.exception()
                if error is None and future.done() and not future.cancelled():
                    finished.append(index)
                elif error is not None and first is None:
                    first = error
            if first is not None:
                raise first

    # ------------------------------------------------------------------ named objects
    def named_cache_path(self, name: str) -> str:
        """Where `fetch_to_cache` keeps the object cached under `name`."""
        return self._named_cache().named_path(name)

    def _named_cache(self) -> BlobCache:
        if self.cache is None:
            raise InvalidInputError("this Downloader has no cache (skip_cache=True)")
        return self.cache

    def fetch_to_cache(self, items: Sequence[DownloadItem], *, refresh: bool = False) -> list[str]:
        """Fetch objects that come with no digest into the cache, each under the stable name
        `item.name` (from the object's identity, e.g. its URL without the query string), in
        parallel on `workers` threads; returns each item's cache path. A name already cached is
        used while its seal holds (`BlobCache.lookup_named`: a changed file is fetched again)
        unless `refresh`; a file appears in the cache complete or not at all. The first failure
        stops the others and is raised."""
        cache = self._named_cache()
        paths = [cache.named_path(item.name) for item in items]

        def fetch(item: DownloadItem) -> None:
            if refresh or cache.lookup_named(item.name) is None:
                with _writing(item.name, cache.named_path(item.name)):
                    cache.fill_named(item.name, lambda file: self._transfer(item, file))

        try:
            self._parallel([functools.partial(fetch, item) for item in items])
        finally:
            self._close_part_pool()
        return paths

    def evict(self, name: str) -> None:
        """Drop the object cached under `name` (a file found unreadable), if there is one."""
        self._named_cache().evict_named(name)

    # ------------------------------------------------------------------ one blob
    def _fetch(self, job: list[tuple[DownloadItem, str]], place: DestinationRoot) -> None:
        """Fetch one blob (through the cache when possible) and place it at every target."""
        item, first_target = job[0]
        if self.cache is not None and item.md5:
            blob = self._cached_blob(item)
            for entry, target in job:
                with _writing(entry.name, place.display(target)):
                    place.put_local_file(blob, target, link=self.link)
            self.cache.seal(blob)  # a new hard link changed the blob's ctime
            self._tracker.file_done(item.size, len(job))
            return
        with _writing(item.name, place.display(first_target)):
            # Only bytes that a digest will check may be resumed from a crashed run's partial.
            place.write(
                first_target,
                lambda file: self._transfer(item, file),
                key=item.md5 or "",
                resume=bool(item.md5),
            )
        for entry, target in job[1:]:
            with _writing(entry.name, place.display(target)):
                place.copy(first_target, target)
        self._tracker.file_done(item.size, len(job))

    def _cached_blob(self, item: DownloadItem) -> str:
        """The cache path of `item`'s bytes, verified, fetched into the cache first if missing
        or no longer matching its digest."""
        assert self.cache is not None and item.md5
        blob = self.cache.lookup(item.md5, item.size)
        if blob is not None:
            return blob
        with _writing(item.name, self.cache.path(item.md5)):
            return self.cache.fill(item.md5, item.size, lambda file: self._transfer(item, file))

    def _transfer(self, item: DownloadItem, file: AtomicFile) -> None:
        """Fetch `item` into `file` until digest and size match; ChecksumError after N tries.
        Bytes a crashed run left in `file` are kept and continued for the first try. Files of
        a known size from the ranged threshold on come in parallel parts (`api/ranged.py`),
        as one stream when the storage does not serve ranges; for a destination on another
        file system (`s3://`, `memory://`) the parts are assembled and verified in a local
        staging file first, then streamed to it."""
        got = ("", 0)
        ranged = (
            ranged_parts.SUPPORTED
            and item.size is not None
            and item.size >= self.transfers.ranged_download_threshold
        )
        if ranged and not file.local:
            self._staged(item, file)
            return
        source = UrlSource(item.url, item.refresh)
        for attempt in range(1, self.checksum_attempts + 1):
            if attempt > 1 or (not ranged and item.size is not None and file.resumed > item.size):
                file.reset()
                self._tracker.advance(-got[1])
            result = None
            if ranged:
                assert item.size is not None
                result = fetch_ranged(
                    self.transport,
                    item.name,
                    source,
                    item.size,
                    file,
                    part_size=self.transfers.download_part_size,
                    first_part=self.transfers.first_download_part,
                    pool=self._parts(),
                    chunk_size=self.chunk_size,
                    near_first_byte=self.transfers.near_storage_first_byte,
                    progress=self._tracker.credit,
                )
                ranged = result is not None
                if result is not None:
                    # The parts credited their bytes as they arrived, on the part threads;
                    # they belong to the file this thread lands.
                    self._tracker.adopt(result[1])
            got = result if result is not None else self._stream(item, file)
            if (item.md5 is None or got[0] == item.md5) and (
                item.size is None or got[1] == item.size
            ):
                return
        raise ChecksumError(
            f"{item.name}: downloaded bytes have md5 {got[0]} and size {got[1]}, expected md5 "
            f"{item.md5} and size {item.size} (tried {self.checksum_attempts} times from "
            f"{display_url(self.transport.absolute(item.url))})"
        )

    def _staged(self, item: DownloadItem, file: AtomicFile) -> None:
        """Fetch `item` in ranged parts into a local staging partial (under the cache, else the
        system's temporary directory; resumable like any partial), verified, then copy it into
        the non-local `file` in chunks. The staging file is removed once copied, and when the
        download fails, unless the failure says nothing against its bytes (the network, the
        storage, an interrupt: `AtomicFile.abandon`) and a digest will check them: then the
        next call resumes its parts. Starting sweeps the staging area (`api/cache.py`: partials
        unlocked and unwritten for `RESUMABLE_FOR` go)."""
        where = self.cache_dir or os.path.join(tempfile.gettempdir(), "prefect-wandb-public")
        name = hashlib.sha256(f"{item.name}\0{item.md5}".encode()).hexdigest()
        sweep(os.path.join(where, "staging"), keep_partials_for=RESUMABLE_FOR)
        staging = AtomicFile(
            None, os.path.join(where, "staging", name), key=item.md5 or "", resume=bool(item.md5)
        )
        try:
            self._transfer(item, staging)
            staging.handle.flush()
            staging.handle.seek(0)
            copy_stream(staging.handle, file.write)
        except BaseException as error:
            staging.abandon(error)
            raise
        staging.discard()

    def _parts(self) -> ThreadPoolExecutor:
        """The pool of ranged parts, shared by every file of one download call."""
        with self._pool_lock:
            if self._part_pool is None:
                self._part_pool = ThreadPoolExecutor(
                    self.transfers.part_workers,
                    thread_name_prefix="wandb-part",
                    initializer=lower_thread_priority,
                    initargs=(self.transfers.part_nice,),
                )
            return self._part_pool

    def _close_part_pool(self) -> None:
        with self._pool_lock:
            pool, self._part_pool = self._part_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _stream(self, item: DownloadItem, file: AtomicFile) -> tuple[str, int]:
        """Stream the URL into `file` after the bytes it already holds, resuming with `Range`
        after a dropped connection; one retry budget for the file (`Transport.with_retries`).

        Returns (base64 md5, size) of the whole file. A server that ignores `Range` (or cannot
        serve it) restarts the file from its first byte.
        """
        transport = self.transport
        threaded = (item.size or 0) >= PIPELINE_THRESHOLD
        hasher = _Hasher(threaded)
        written = 0
        for chunk in file.read_back():
            hasher.update(chunk)
            written += len(chunk)
        self._tracker.advance(written)  # a crashed run's bytes count as received
        drops = 0
        url = display_url(transport.absolute(item.url))
        what = f"downloading {item.name!r}"

        def restart() -> None:
            nonlocal hasher, written
            file.reset()
            self._tracker.advance(-written)
            hasher.finish()
            hasher = _Hasher(threaded)
            written = 0

        def attempt() -> tuple[str, int]:
            nonlocal written, drops
            if written and item.size is not None and written == item.size:
                return hasher.finish(), written  # a crashed run left every byte
            headers = {"Range": f"bytes={written}-"} if written else None
            try:
                response = transport.request(
                    "GET", item.url, headers=headers, stream=True, once=True, what=what
                )
            except CommError as exc:
                if not written or exc.status != 416:
                    raise
                restart()  # the kept bytes do not fit this file: fetch it whole
                response = transport.request("GET", item.url, stream=True, once=True, what=what)
            try:
                if written and not resumes_at(response, written):
                    restart()
                for chunk in body_chunks(response, self.chunk_size):
                    file.write(chunk)
                    hasher.update(chunk)
                    written += len(chunk)
                    self._tracker.advance(len(chunk))
                return hasher.finish(), written
            except Dropped as exc:
                drops += 1
                raise CommError(
                    f"{item.name}: the connection dropped {drops} time{'s' if drops > 1 else ''} "
                    f"({written} bytes received): {exc.__cause__}",
                    url=url,
                    retryable=True,
                ) from exc
            finally:
                response.close()

        try:
            return transport.with_retries(attempt)
        finally:
            hasher.finish()


@contextlib.contextmanager
def _writing(entry: str, destination: str) -> Iterator[None]:
    """File-system errors of the block as StorageErrors naming `entry` and `destination`
    (requests' errors are OSErrors too, but never the file system's)."""
    try:
        yield
    except requests.RequestException:
        raise
    except OSError as exc:
        raise storage_error(exc, entry, destination) from exc


def _check_clashes(items: Sequence[DownloadItem], place: DestinationRoot) -> None:
    """StorageError before any write when one entry's name is a directory of another's
    (`a` and `a/b`): both cannot exist under one root."""
    names = {item.name for item in items}
    for item in items:
        parts = item.name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in names:
                raise StorageError(
                    f"cannot write {item.name!r} to {place.display(place.target(item.name))}: "
                    f"entry {parent!r} is a file there, and {item.name!r} needs it to be a "
                    "directory (ENOTDIR); nothing was written",
                    destination=place.display(place.root),
                    entry=item.name,
                    errno=errno.ENOTDIR,
                )


def _check_name_lengths(
    items: Sequence[DownloadItem], targets: Sequence[str], place: DestinationRoot
) -> None:
    """StorageError before any write when an entry's name is longer than the local file system
    takes (a component over NAME_MAX bytes, or the whole path over PATH_MAX)."""
    probe = place.root
    while not os.path.isdir(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        name_max = os.pathconf(probe, "PC_NAME_MAX")
        path_max = os.pathconf(probe, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        return
    for item, target in zip(items, targets, strict=True):
        longest = max(len(os.fsencode(part)) for part in item.name.split("/"))
        if longest > name_max or len(os.fsencode(target)) >= path_max:
            limit = f"{name_max} bytes a name" if longest > name_max else f"{path_max} a path"
            raise StorageError(
                f"cannot write {item.name!r} to {target}: the name is too long for the file "
                f"system there ({limit}; ENAMETOOLONG); nothing was written",
                destination=target,
                entry=item.name,
                errno=errno.ENAMETOOLONG,
            )


def _report_progress(
    error: WandbError, jobs: list[list[tuple[DownloadItem, str]]], done: set[int]
) -> None:
    """Say in `error` which entries of a download of many files completed and which did not."""
    completed = [item.name for i in sorted(done) for item, _ in jobs[i]]
    incomplete = [item.name for i, job in enumerate(jobs) if i not in done for item, _ in job]

    def listed(names: list[str]) -> str:
        more = f", and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
        return ", ".join(repr(n) for n in names[:_LISTED]) + more

    amend_message(
        error,
        f" [{len(completed)} of {len(completed) + len(incomplete)} entries completed"
        + (f": {listed(completed)}" if completed else "")
        + f"; not completed: {listed(incomplete)}]",
    )
    if isinstance(error, StorageError):
        error.completed = completed
        error.incomplete = incomplete


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
    "storage_error",
]
