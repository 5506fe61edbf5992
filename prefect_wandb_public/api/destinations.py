"""Where files land: nothing partial is ever visible at a destination.

One implementation for downloads, the download cache and history exports, chosen by the file
system of the target:

- local paths (plain, or `file://`): a locked partial beside the target (`api/partials.py`:
  fixed-length name, resumed after a crash), renamed over it with `os.replace` on success,
  removed otherwise;
- object stores whose files commit explicitly (S3, GCS, Azure: opened with `autocommit=False`):
  the bytes are written once and the upload is completed with `commit()` on success, aborted
  with `discard()` otherwise;
- any other fsspec file system (`memory://`, ...): a hidden temporary name beside the target,
  moved onto it on success, removed otherwise.

A plain local path never imports fsspec.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from prefect_wandb_public.api.partials import (
    Partial,
    beside,
    in_dir,
    placement_name,
    remove_quietly,
    resumable_failure,
    sweep,
)
from prefect_wandb_public.errors import InvalidInputError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

CHUNK_SIZE = 1 << 20
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
# Stores whose files upload on close unless opened with autocommit=False, then commit/discard.
DEFERRED_COMMIT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl"})
# Stores whose server-side copy creates the target object whole (no partial object is visible).
SERVER_COPY_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs"})
# Errors of os.link that mean "no hard link possible here", where a copy still works.
_NO_LINK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}
)


def is_plain_path(location: str) -> bool:
    """Whether `location` is a local path rather than a URL (`s3://...`, `simplecache::...`)."""
    return "://" not in location and "::" not in location


def resolve(
    location: str,
    storage_options: Mapping[str, Any] | None = None,
    *,
    what: str = "destination",
    fresh: bool = False,
) -> tuple[AbstractFileSystem, str]:
    """(fsspec file system, path) for a local path or URL; InvalidInputError naming `what`
    when no file system serves it. `fresh` skips fsspec's instance cache."""
    import fsspec

    options = dict(storage_options or {})
    if fresh:
        options["skip_instance_cache"] = True
    try:
        fs, path = fsspec.core.url_to_fs(location, **options)
    except (ValueError, ImportError, TypeError) as exc:
        raise InvalidInputError(f"cannot open {what} {location!r}: {exc}") from exc
    return fs, path


def is_local(fs: AbstractFileSystem | None) -> bool:
    """None (the OS directly) or fsspec's local file system."""
    if fs is None:
        return True
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _protocols(fs: AbstractFileSystem) -> set[str]:
    protocol = fs.protocol
    return {protocol} if isinstance(protocol, str) else set(protocol)


def temp_path(path: str, sep: str = "/") -> str:
    """A hidden, unique temporary name beside `path` (fixed length, see `api/partials.py`)."""
    return beside(path, placement_name(path.rpartition(sep)[2]), sep)


class AtomicFile:
    """A binary file that appears at `path` complete or not at all.

    Write with `write()` (or through `handle`), then `commit()` or `discard()`; `reset()` drops
    what was written so far and starts over. `fs` is None for a local path, else the fsspec file
    system of `path`. Local files are written to a locked partial (`api/partials.py`) named by
    the target and `key` (the expected digest): with `resume`, the bytes a crashed writer left
    there are kept (`resumed` counts them, `read_back()` yields them) and the writer continues
    after them. Local files may be `durable` (fsynced before the rename) or `read_only` (mode
    0444 once committed).
    """

    def __init__(
        self,
        fs: AbstractFileSystem | None,
        path: str,
        *,
        durable: bool = False,
        read_only: bool = False,
        key: str = "",
        resume: bool = False,
    ) -> None:
        self.local = is_local(fs)
        self.fs = fs
        self.path = os.path.abspath(path) if self.local else path
        self.deferred = not self.local and bool(_protocols(self.fs) & DEFERRED_COMMIT_PROTOCOLS)
        self._durable = durable
        self._read_only = read_only
        self._partial: Partial | None = None
        self._temp: str | None = None
        self.resumed = 0
        if self.local:
            self._partial = Partial(self.path, key=key, resume=resume)
            self.resumed = self._partial.resumed
            self.handle: IO[bytes] = self._partial.handle
        else:
            self._temp = None if self.deferred else temp_path(self.path, "/")
            self.handle = self._open_remote()

    @property
    def _fs(self) -> AbstractFileSystem:
        assert self.fs is not None
        return self.fs

    def _open_remote(self) -> IO[bytes]:
        if self.deferred:
            handle: IO[bytes] = self._fs.open(self.path, "wb", autocommit=False)
            return handle
        assert self._temp is not None
        parent = self._fs._parent(self._temp)
        if parent:
            self._fs.makedirs(parent, exist_ok=True)
        temp_handle: IO[bytes] = self._fs.open(self._temp, "wb")
        return temp_handle

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def read_back(self) -> Iterator[bytes]:
        """The `resumed` bytes kept from a crashed writer (none on remote file systems)."""
        if self._partial is not None:
            yield from self._partial.read_back()

    def reset(self) -> None:
        """Drop every byte written so far; the next write starts the file again."""
        self.resumed = 0
        if self._partial is not None:
            self._partial.reset()
            return
        self.discard()
        self.handle = self._open_remote()

    def commit(self) -> None:
        """Make the file appear at `path` (replacing what was there); on failure nothing does."""
        try:
            if self._partial is not None:
                self._partial.commit(durable=self._durable, read_only=self._read_only)
            elif self.deferred:
                self.handle.close()
                self.handle.commit()  # type: ignore[attr-defined]
            else:
                assert self._temp is not None
                self.handle.close()
                self._fs.mv(self._temp, self.path)
        except BaseException:
            self.discard()
            raise

    def abandon(self, error: BaseException) -> None:
        """Give up on the file after `error` without committing it: a local partial opened with
        `resume` keeps its bytes for the next run when `error` says nothing against them
        (`partials.resumable_failure`); otherwise, and on other file systems, `discard()`.
        Only for files not at a user's destination (the cache, the staging area): a kept
        partial is a hidden file beside `path`."""
        if self._partial is not None and resumable_failure(error):
            self._partial.release()
        else:
            self.discard()

    def discard(self) -> None:
        """Drop the file: nothing appears at `path`. Safe to call more than once."""
        if self._partial is not None:
            self._partial.discard()
            return
        with contextlib.suppress(Exception):
            self.handle.close()
        if self.deferred:
            with contextlib.suppress(Exception):
                self.handle.discard()  # type: ignore[attr-defined]
        else:
            with contextlib.suppress(Exception):
                if self._fs.exists(self._temp):
                    self._fs.rm(self._temp)


@contextlib.contextmanager
def atomic_file(
    fs: AbstractFileSystem | None,
    path: str,
    *,
    durable: bool = False,
    read_only: bool = False,
    key: str = "",
    resume: bool = False,
) -> Iterator[AtomicFile]:
    """An `AtomicFile` committed when the block succeeds and discarded when it raises."""
    file = AtomicFile(fs, path, durable=durable, read_only=read_only, key=key, resume=resume)
    try:
        yield file
    except BaseException:
        file.discard()
        raise
    file.commit()


def _replace_local(target: str, make: Callable[[str], object]) -> None:
    """`make(temp)` creates a file at a placement name beside `target`, renamed over it."""
    temp = temp_path(target, os.sep)
    try:
        in_dir(temp, lambda: make(temp))
        os.replace(temp, target)
    finally:
        remove_quietly(temp)


class DestinationRoot:
    """A directory (local path or fsspec URL) that files are placed under, each atomically."""

    def __init__(self, root: str | os.PathLike[str], *, what: str = "download root") -> None:
        text = os.fspath(root)
        if not text:
            raise InvalidInputError(f"{what} must not be empty")
        self.fs: AbstractFileSystem | None = None
        if is_plain_path(text):
            self.root = os.path.abspath(text)
            return
        fs, path = resolve(text, what=what)
        if is_local(fs):
            self.root = os.path.abspath(path)
        else:
            self.fs = fs
            self.root = path.rstrip("/")

    def target(self, name: str) -> str:
        """Where the file `name` (a checked `/`-separated relative path) lands."""
        if self.fs is None:
            return os.path.join(self.root, *name.split("/"))
        return f"{self.root}/{name}"

    def display(self, target: str) -> str:
        """`target` as the caller named it: a local path, or a URL with its protocol."""
        return target if self.fs is None else str(self.fs.unstrip_protocol(target))

    def exists(self, target: str) -> bool:
        return os.path.lexists(target) if self.fs is None else bool(self.fs.exists(target))

    def write(
        self,
        target: str,
        fill: Callable[[AtomicFile], None],
        *,
        key: str = "",
        resume: bool = False,
    ) -> None:
        """`fill` writes the file's bytes; they appear at `target` only if it returns. With
        `resume`, on a local root, the partial of (`target`, `key`) a crashed run left is kept:
        `fill` finds its bytes in `AtomicFile.resumed` / `read_back()`."""
        with atomic_file(self.fs, target, key=key, resume=resume) as file:
            fill(file)

    def put_local_file(self, source: str, target: str, *, link: bool) -> None:
        """Place a local file at `target`: on a local root a hard link when `link` and
        possible, else a copy; on other file systems an upload (once, committed on success)."""
        if self.fs is None:
            if link:
                try:
                    in_dir(target, lambda: os.link(source, target))  # complete at once
                    return
                except FileExistsError:
                    pass  # replace it (below: link beside it, then rename over it)
                except OSError as exc:
                    if exc.errno not in _NO_LINK_ERRNOS:
                        raise
                    link = False  # another device, or no hard links there: copy instead
            with contextlib.suppress(OSError):
                if os.path.samefile(source, target):
                    return

            def place(temp: str) -> None:
                if link:
                    try:
                        os.link(source, temp)
                        return
                    except OSError as exc:
                        if exc.errno not in _NO_LINK_ERRNOS:
                            raise
                shutil.copyfile(source, temp)

            _replace_local(target, place)
            return
        with open(source, "rb") as handle:
            self.write(target, lambda file: copy_stream(handle, file.write))

    def copy(self, source: str, target: str) -> None:
        """Copy a file already under this root to `target` (a server-side copy on object
        stores whose copies create the object whole)."""
        if self.fs is None:
            _replace_local(target, lambda temp: shutil.copyfile(source, temp))
        elif _protocols(self.fs) & SERVER_COPY_PROTOCOLS:
            self.fs.copy(source, target)
        else:
            with self.fs.open(source, "rb") as handle:
                self.write(target, lambda file: copy_stream(handle, file.write))


def sweep_directories(targets: list[str]) -> None:
    """Remove stale temporary files (`api/partials.py`) from the local directories of
    `targets`: a crashed run's leftovers that no live process owns."""
    for directory in sorted({os.path.dirname(t) for t in targets}):
        sweep(directory)


def copy_stream(source: IO[bytes], write: Callable[[bytes], object]) -> None:
    """Every chunk of `source`, in order, to `write`."""
    while chunk := source.read(CHUNK_SIZE):
        write(chunk)


__all__ = [
    "CHUNK_SIZE",
    "DEFERRED_COMMIT_PROTOCOLS",
    "READ_ONLY",
    "SERVER_COPY_PROTOCOLS",
    "AtomicFile",
    "DestinationRoot",
    "atomic_file",
    "copy_stream",
    "in_dir",
    "is_local",
    "is_plain_path",
    "remove_quietly",
    "resolve",
    "sweep_directories",
    "temp_path",
]
