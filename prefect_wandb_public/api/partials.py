"""Temporary files on local disks: their names, who owns them, resuming them, sweeping them.

Every temporary file the client creates beside a target is named

    .prefect-wandb-<16 hex>.part            a partial: where one file's bytes accumulate
    .prefect-wandb-<16 hex>-<8 hex>.part    a placement: a link or copy about to be renamed

The length is fixed (36 or 45 bytes) whatever the target's name, so a target whose name is at the
file system's limit (255 bytes) still has room for its temporary sibling, and `is_temp_name`
recognises them (`Artifact.verify` ignores them, sweeps remove them).

A partial's name comes from the target's name and the digest it must have, so a run that
crashed (kill -9, power loss) and the next run of the same download meet at the same partial. Its
writer holds an exclusive `flock` on it for its whole life: the kernel releases the lock when the
process dies, so a lock that can be taken means no live process owns the partial, and the taker
resumes from its bytes (they are hashed again, so a wrong prefix costs a refetch, never a wrong
file). A writer that finds the lock taken waits for it: two processes fetching the same blob
into the cache fetch it once. A writer that fails for a reason that says nothing against its
bytes (`resumable_failure`: the network or the storage service gave out, or the process was
interrupted) may `release()` its partial instead of removing it, leaving it as a crash would:
unlocked, resumed by the next run. The downloader does so only where the partial is not at the
user's destination (in the download cache and the local staging area).

A placement lives for the instant between its creation and its rename, unlocked; it is stale once
it has not changed for `STALE_AFTER` seconds. `sweep(directory)` removes the stale temporary files
of a directory: placements that are old and unlocked, the `.<name>.<12 hex>.part` files of
earlier versions, and partials whose lock is free and whose last write (mtime) is older than
`keep_partials_for` seconds. Beside a user's targets that is 0: any partial no live process owns
goes (a leftover there is clutter in the user's directory). In the download cache and the staging
area it is `RESUMABLE_FOR`, so an unrelated download sweeping the same directory does not throw
away a multi-GB partial kept on purpose for the next call, yet leftovers nobody resumes do not
pile up. A locked partial is never touched: a live writer owns it. Where `fcntl` is missing
(Windows), partials get unique names, nothing is resumed, and sweeps go by age alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import IO, TypeVar

from prefect_wandb_public.errors import CommError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TEMP_PREFIX = ".prefect-wandb-"
STALE_AFTER = 60.0
# How long an unlocked partial in the download cache or the staging area is kept after its last
# write for a next call to resume. Resumable failures are retried within minutes (a dropped
# network, Ctrl-C and run again) to days (a storage outage, a daily or weekly scheduled flow's
# next run, a long weekend); a week covers those, and bounds the disk that partials nobody
# resumes hold to the downloads that failed in the last week.
RESUMABLE_FOR = 7 * 24 * 3600.0
_PARTIAL_RE = re.compile(r"^\.prefect-wandb-[0-9a-f]{16}\.part$")
_PLACEMENT_RE = re.compile(r"^\.prefect-wandb-[0-9a-f]{16}-[0-9a-f]{8}\.part$")
# What earlier versions named their temporary files (`.<name>.<12 hex>.part`).
_LEGACY_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")
_READ_CHUNK = 1 << 20
T = TypeVar("T")


def is_temp_name(name: str) -> bool:
    """Whether a file name (no directory) is one of this package's temporary files."""
    return bool(
        name.endswith(".part")
        and (_PARTIAL_RE.match(name) or _PLACEMENT_RE.match(name) or _LEGACY_RE.match(name))
    )


def _name_key(name: str, key: str) -> str:
    text = f"{name}\0{key}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()[:16]


def partial_name(name: str, key: str = "") -> str:
    """The partial of target file name `name` whose content has digest `key`."""
    if fcntl is None:  # pragma: no cover - without locks a shared name is unsafe
        return placement_name(name)
    return f"{TEMP_PREFIX}{_name_key(name, key)}.part"


def placement_name(name: str) -> str:
    """A unique temporary name for placing a finished file at target file name `name`."""
    return f"{TEMP_PREFIX}{_name_key(name, '')}-{secrets.token_hex(4)}.part"


def beside(path: str, temp_name: str, sep: str = os.sep) -> str:
    """`temp_name` in the directory of `path`."""
    parent, _, _ = path.rpartition(sep)
    return f"{parent}{sep}{temp_name}" if parent or path.startswith(sep) else temp_name


def in_dir(path: str, create: Callable[[], T]) -> T:
    """Run `create` (which makes `path`), making `path`'s directory first only if it is missing:
    the common case costs no extra system call."""
    try:
        return create()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return create()


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _same_file(fd: int, path: str) -> bool:
    """Whether `path` still names the file open as `fd` (not renamed or removed meanwhile)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev)


class Partial:
    """The locked partial file of `target`: `handle` writes at its end, `resumed` is the number
    of bytes a previous (crashed) writer left, `read_back()` yields them. With `resume=False`
    those bytes are dropped. Waits while another live writer holds the partial.

    `commit()` renames it over `target` (made read-only first when `read_only`), `discard()`
    removes it; both release the lock. `release()` keeps the bytes for the next writer.
    """

    def __init__(self, target: str, *, key: str = "", resume: bool = True) -> None:
        self.target = target
        self.path = beside(target, partial_name(os.path.basename(target), key))
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
        while True:
            fd = in_dir(self.path, lambda: os.open(self.path, flags, 0o666))
            if fcntl is None:  # pragma: no cover
                break
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, self.path):
                break
            os.close(fd)  # committed or swept while we waited for the lock: open it afresh
        size = os.fstat(fd).st_size
        if size and not resume:
            os.ftruncate(fd, 0)
            size = 0
        self.resumed = size
        self._resume = resume
        self.handle: IO[bytes] = open(fd, "r+b")  # noqa: SIM115 (closed by commit/discard)
        self.handle.seek(size)

    def read_back(self) -> Iterator[bytes]:
        """The bytes kept from before, in chunks (read before anything new is written)."""
        fd = self.handle.fileno()
        offset = 0
        while offset < self.resumed:
            chunk = os.pread(fd, min(_READ_CHUNK, self.resumed - offset), offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def reset(self) -> None:
        """Drop every byte; the next write starts the file again."""
        self.handle.seek(0)
        self.handle.truncate()
        self.resumed = 0

    def commit(self, *, durable: bool = False, read_only: bool = False) -> None:
        self.handle.flush()
        if durable:
            os.fsync(self.handle.fileno())
        if read_only:
            os.chmod(self.path, 0o444)
        os.replace(self.path, self.target)
        self.handle.close()

    def release(self) -> None:
        """Release the lock and keep the bytes for the next writer to resume, as a crash would
        leave them; a partial opened with `resume=False` (bytes no digest will check), empty,
        or unique to this writer (no `fcntl`: no one would resume it) is removed instead. Safe
        to call after `commit()` or `discard()`."""
        if self.handle.closed:
            return
        try:
            keep = fcntl is not None and self._resume and os.fstat(self.handle.fileno()).st_size > 0
            if keep:
                self.handle.close()  # flushes what is buffered, then the kernel drops the lock
                return
        except OSError:
            pass
        self.discard()

    def discard(self) -> None:
        """Remove the partial (if it is still ours) and release it; safe to call twice."""
        if not self.handle.closed:
            with contextlib.suppress(OSError):
                if _same_file(self.handle.fileno(), self.path):
                    os.unlink(self.path)
            with contextlib.suppress(OSError):
                self.handle.close()


def resumable_failure(error: BaseException) -> bool:
    """Whether a download that failed with `error` leaves bytes worth resuming: a request that
    failed (`CommError`: the network or the storage service gave out, past its retries) or an
    interrupt (any BaseException that is no Exception: Ctrl-C, SystemExit, a cancellation
    signal). Not a ChecksumError (those bytes are known bad), nor a file-system error (a full
    disk needs the space back), nor anything else unforeseen."""
    return not isinstance(error, Exception) or isinstance(error, CommError)


def sweep(directory: str, *, keep_partials_for: float = 0.0) -> None:
    """Remove the stale temporary files of this package in `directory` (see the module doc):
    one listing, then one open and lock attempt per temporary file found. Unlocked partials
    last written more than `keep_partials_for` seconds ago go (0: every unlocked partial);
    files a live process holds are left alone. Never raises."""
    try:
        with os.scandir(directory) as entries:
            names = [entry.name for entry in entries if is_temp_name(entry.name)]
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            _remove_if_stale(os.path.join(directory, name), name, keep_partials_for)


def _remove_if_stale(path: str, name: str, keep_partials_for: float) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a live writer holds it
            if not _same_file(fd, path):
                return
        st = os.fstat(fd)
        now = time.time()
        if fcntl is not None and _PARTIAL_RE.match(name):
            # Its writers write it, so its mtime is its last progress (a link or a chmod moves
            # only the ctime). Nothing here makes a partial a blob: it is only kept or removed.
            stale = keep_partials_for <= 0 or now - st.st_mtime > keep_partials_for
        else:
            # A placement may be a fresh hard link to an old file: its ctime says when.
            stale = now - max(st.st_mtime, st.st_ctime) > STALE_AFTER
        if stale:
            os.unlink(path)
    finally:
        os.close(fd)


__all__ = [
    "RESUMABLE_FOR",
    "STALE_AFTER",
    "TEMP_PREFIX",
    "Partial",
    "beside",
    "in_dir",
    "is_temp_name",
    "partial_name",
    "placement_name",
    "remove_quietly",
    "resumable_failure",
    "sweep",
]
