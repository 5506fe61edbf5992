"""The download cache: content-addressed blobs that are never served unless they match their digest.

How downloads use the cache is drawn in `api/download.py`'s docstring; this module keeps the blobs
honest and the temporary files in check. The layout:

    <cache>/                                    PREFECT_WANDB_CACHE_DIR
    ├── md5/
    │   ├── 3f/                                 a shard: the first two hex digits of the md5
    │   │   ├── 9a1c0e...e2                     a blob: the bytes of md5 3f9a1c0e...e2, 0444
    │   │   ├── 9a1c0e...e2.seal                its identity when last verified (below)
    │   │   └── .prefect-wandb-<16 hex>.part    a partial: a blob being fetched (locked by its
    │   │                                       writer), or one kept to resume (unlocked)
    │   └── b7/ ...                             (256 shards)
    ├── named/
    │   └── c4/                                 the first two hex digits of sha256(name)
    │       ├── 1d07...  and  1d07....seal      an object with no digest (`fill_named`)
    │       └── .prefect-wandb-<16 hex>.part    one being fetched (never resumed)
    └── staging/                                ranged parts bound for a non-local destination
        └── .prefect-wandb-<16 hex>.part        (`Downloader._staged`; with no cache the same
                                                under $TMPDIR/prefect-wandb-public/staging)

What is swept, and when (`partials.sweep`: one directory listing, then a lock attempt per
partial; a partial whose lock is taken belongs to a live writer and is never touched):

- an `md5/` shard, the first time a `BlobCache` fills a blob there: unlocked partials not written
  for `partials.RESUMABLE_FOR` (a week, by mtime). A failed or interrupted download leaves its
  partial unlocked on purpose (`AtomicFile.abandon`) and so does a crash; either is resumed by
  the next call for that blob, however many other blobs of its shard are filled meanwhile, and
  goes once nobody has come back for it in a week;
- a `named/` shard, the first time a `BlobCache` fills an object there: every unlocked partial
  (nothing resumes one: with no digest, left-over bytes cannot be trusted);
- `staging/`, when a staged download starts: by the `md5/` rule.

Blobs and seals are never swept; a blob goes only when it no longer matches its digest. Nothing
makes a partial count as a blob: a blob is served only under its own name and seal, and a
resumed partial's bytes are hashed again before it is renamed into place.

Why seals: downloads are hard links to the blobs (a warm repeat moves no bytes), and the
read-only mode of a blob does not stop root or `chmod`, so a user who edits a downloaded file in
place edits the blob. Hashing every blob before every use would cost a warm repeat as much as
reading every byte; trusting the size (what earlier versions did) serves edited bytes. So when a
blob is written and whenever it is verified, its identity is written beside it, the *seal*:

    <size> <mtime_ns> <ctime_ns> <inode>

Any write through any link changes the shared inode's mtime and ctime (and `utime` cannot put
the ctime back), truncation changes the size, a replacement changes the inode. On use the blob is
stat'ed and compared with its seal: a match is served at the cost of one `stat` and one small
read; any difference, or no seal, makes it hashed again: a blob that still matches its digest is
resealed and served, one that does not is removed (its inode lives on in the user's edited copies,
which stay theirs) and fetched again. Creating or removing a hard link also changes the ctime, so
the downloader reseals a blob after linking it, and a blob whose download directory was deleted is
hashed once on its next use. Copy-on-write clones would avoid shared inodes altogether, but the
common file systems (ext4, tmpfs) have none, and the seal covers blobs corrupted in the cache
directly too.

A seal that cannot be written (a read-only cache) only means the blob is hashed on every use.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable

from prefect_wandb_public.api.destinations import AtomicFile
from prefect_wandb_public.api.digests import hex_md5, md5_of_stream
from prefect_wandb_public.api.partials import RESUMABLE_FOR, remove_quietly, sweep

SEAL_SUFFIX = ".seal"
# Seals have one width and are rewritten in place: truncating a file (O_TRUNC) makes ext4 flush
# it on close (its auto_da_alloc rule), which would cost a warm repeat milliseconds per file.
_SEAL_WIDTH = 95


def _identity(st: os.stat_result) -> str:
    text = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
    return text.ljust(_SEAL_WIDTH) + "\n"


class BlobCache:
    """Blobs under `<root>/md5/<hex[:2]>/<hex[2:]>`, each with its seal beside it."""

    def __init__(self, root: str) -> None:
        self.root = root
        # The seal last read or written per blob path, so resealing needs no read.
        self._sealed: dict[str, str] = {}
        self._swept: set[str] = set()  # shard directories already swept by this cache

    def path(self, b64_md5: str) -> str:
        """Where the blob of a base64 md5 lives (ChecksumError when it is not an md5)."""
        digest = hex_md5(b64_md5)
        return os.path.join(self.root, "md5", digest[:2], digest[2:])

    def lookup(self, b64_md5: str, size: int | None) -> str | None:
        """The blob of `b64_md5` if it is present and still has that digest (and `size`), else
        None; a blob that no longer matches is removed first."""
        path = self.path(b64_md5)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if size is not None and st.st_size != size:
            self._evict(path)
            return None
        identity = _identity(st)
        if self._read_seal(path) == identity:
            self._sealed[path] = identity
            return path
        # Unsealed, or changed since it was sealed: trust only its bytes.
        try:
            with open(path, "rb") as handle:
                digest, _ = md5_of_stream(handle)
        except FileNotFoundError:
            return None
        if digest != b64_md5:
            self._evict(path)
            return None
        self.seal(path)
        return path

    def fill(self, b64_md5: str, size: int | None, transfer: Callable[[AtomicFile], None]) -> str:
        """Fetch a blob into the cache with `transfer` (which streams and checks the bytes into
        the file it is given) and seal it; returns its path. A partial a crashed run left is
        handed to `transfer` to resume; while another live process fetches the same blob this
        waits for it, then uses its blob. A transfer that fails for a reason that says nothing
        against the bytes received (the network, the storage, an interrupt) leaves the partial
        for the next call to resume, as a crash does (`AtomicFile.abandon`); the cache is no
        user's destination. The shard's sweep keeps such partials for `RESUMABLE_FOR`."""
        path = self.path(b64_md5)
        file = AtomicFile(None, path, read_only=True, resume=True)
        try:
            ready = self.lookup(b64_md5, size)
            if ready is not None:
                file.discard()
                return ready
            transfer(file)
        except BaseException as error:
            file.abandon(error)
            raise
        file.commit()
        self.seal(path)
        self._sweep_once(os.path.dirname(path), keep_partials_for=RESUMABLE_FOR)
        return path

    def _sweep_once(self, directory: str, *, keep_partials_for: float) -> None:
        """Sweep a shard's stale temporary files the first time this cache fills a file there
        (listing the shard after every fill made a cold download of N files cost N² entries);
        unlocked partials go once unwritten for `keep_partials_for` seconds (module doc)."""
        if directory not in self._swept:
            self._swept.add(directory)
            sweep(directory, keep_partials_for=keep_partials_for)

    # ------------------------------------------------------------------ named objects
    def named_path(self, name: str) -> str:
        """Where the object cached under the stable `name` lives (objects that come with no
        digest, such as parquet history exports behind signed URLs: the caller names them by
        their identity, never by a signed URL's query string)."""
        digest = hashlib.sha256(name.encode()).hexdigest()
        return os.path.join(self.root, "named", digest[:2], digest[2:])

    def lookup_named(self, name: str) -> str | None:
        """The object cached under `name` while its seal holds, else None. With no digest to
        hash it again, an object whose identity changed since it was sealed (edited, truncated,
        replaced) or that has no seal is removed, so the caller fetches it again."""
        path = self.named_path(name)
        try:
            identity = _identity(os.stat(path))
        except FileNotFoundError:
            return None
        if self._read_seal(path) == identity:
            self._sealed[path] = identity
            return path
        self._evict(path)
        return None

    def fill_named(self, name: str, transfer: Callable[[AtomicFile], None]) -> str:
        """Fetch the object named `name` into the cache with `transfer` (replacing any copy) and
        seal it; returns its path. Nothing is resumed: without a digest, left-over bytes cannot
        be trusted."""
        path = self.named_path(name)
        file = AtomicFile(None, path, read_only=True)
        try:
            transfer(file)
        except BaseException:
            file.discard()
            raise
        file.commit()
        self.seal(path)
        self._sweep_once(os.path.dirname(path), keep_partials_for=0.0)  # nothing resumes them
        return path

    def evict_named(self, name: str) -> None:
        """Remove the object cached under `name` and its seal (a file found unreadable)."""
        self._evict(self.named_path(name))

    def seal(self, path: str) -> None:
        """Record the blob's identity as it is now (after writing, verifying or linking it)."""
        with contextlib.suppress(OSError):
            identity = _identity(os.stat(path))
            known = self._sealed.get(path)
            if (known if known is not None else self._read_seal(path)) == identity:
                return
            fd = os.open(path + SEAL_SUFFIX, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, identity.encode(), 0)
            finally:
                os.close(fd)
            self._sealed[path] = identity

    @staticmethod
    def _read_seal(path: str) -> str | None:
        try:
            fd = os.open(path + SEAL_SUFFIX, os.O_RDONLY)
        except OSError:
            return None
        try:
            return os.read(fd, _SEAL_WIDTH + 2).decode("ascii", "replace")
        except OSError:
            return None
        finally:
            os.close(fd)

    def _evict(self, path: str) -> None:
        self._sealed.pop(path, None)
        remove_quietly(path)
        remove_quietly(path + SEAL_SUFFIX)


__all__ = ["SEAL_SUFFIX", "BlobCache"]
