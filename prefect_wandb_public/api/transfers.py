"""When a file moves in parts, and how big the parts are: `TransferSettings`, shared by the byte
mover (`download.py` -> `ranged.py`) and the publish pipeline (`publish.py` -> `multipart.py`).

A download of a file of at least `ranged_download_threshold` bytes fetches `Range` parts of
`download_part_size` bytes in parallel (`part_workers` at a time, shared by every file of one
download call) into one temporary file at their offsets. A published file of at least
`multipart_upload_threshold` bytes goes up in parts of `upload_part_size` bytes through the
service's multipart protocol. One stream per connection is capped by the object store's
per-connection throughput, so parts in parallel add up; below the thresholds one stream costs
less (one first-byte wait, no part hashing).

A ranged download's part threads run `part_nice` steps below the caller's CPU priority (Linux;
0 keeps them equal; it lowers them against all CPU work on the host, not only the md5). They
mostly wait on the network; when they wake to copy bytes they would otherwise preempt the
file's md5, the one step that cannot run in parallel and so sets the pace (a GiB under `wan`:
the md5 lost ~0.5 s to them, and 10 steps took 0.2-0.3 s off). Its first parts are smaller
(`first_download_part`, growing to `download_part_size`; `download_part_ranges`) so its
in-order md5 starts early.

Near storage (the first part's answer within `near_storage_first_byte` seconds: the same host
or network) gets the parts one after another on one connection; they fan out once the md5 has
spent a quarter of its time waiting for bytes, counted from 0.25 s on (one connection slower
than the md5, or a host too busy to run the part thread: then slower, never wrong). On one
machine parallel connections add no bandwidth, only threads that take the md5's CPU (a GiB on
loopback, `bench_transfers.py`: 1.80 s in order, 1.95 s as one stream, 2.2-2.5 s in 16 parallel
parts). Far storage pays this wait once before its other parts go out (5 ms against a 145 ms
first byte under `wan`); 0 turns near storage off (always fan out).

The defaults come from `benchmarks/bench_transfers.py` (figures in the issue-13 notes): 64 MiB
and 16 MiB parts down, 64 MiB and 32 MiB parts up, 16 part workers (under the `wan` profile,
256 MiB came in 1.7 s with 8 workers and 1.4 s with 16; 64 MiB parts cost a round of first-byte
waits more than they save). S3 refuses parts under
5 MiB (but the last) and single PUTs over 5 GiB, and takes at most 10,000 parts; a file that
would need more gets bigger parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect_wandb_public.errors import InvalidInputError

MIB = 1 << 20
MIN_UPLOAD_PART = 5 * MIB  # S3's smallest part but the last
MIN_DOWNLOAD_PART = 1 * MIB
MAX_PARTS = 10_000
MAX_PART_WORKERS = 64
MAX_PART_NICE = 19
FIRST_DOWNLOAD_PART = 2 * MIB  # a ranged download's first part; the next ones grow by RAMP
RAMP = 1.25
NEAR_STORAGE_FIRST_BYTE = 0.005  # seconds; storage that answers this fast may get parts in order
MAX_NEAR_STORAGE_FIRST_BYTE = 1.0


@dataclass(frozen=True)
class TransferSettings:
    """Thresholds and part sizes of parallel transfers (see the module doc); `Api(transfers=)`."""

    ranged_download_threshold: int = 64 * MIB
    download_part_size: int = 16 * MIB
    first_download_part: int = FIRST_DOWNLOAD_PART
    multipart_upload_threshold: int = 64 * MIB
    upload_part_size: int = 32 * MIB
    part_workers: int = 16
    part_nice: int = 10
    near_storage_first_byte: float = NEAR_STORAGE_FIRST_BYTE

    def __post_init__(self) -> None:
        for name in (
            "ranged_download_threshold",
            "download_part_size",
            "first_download_part",
            "multipart_upload_threshold",
            "upload_part_size",
            "part_workers",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
        for name in ("download_part_size", "first_download_part"):
            if getattr(self, name) < MIN_DOWNLOAD_PART:
                raise InvalidInputError(
                    f"{name} must be at least {MIN_DOWNLOAD_PART} bytes, got {getattr(self, name)}"
                )
        if self.upload_part_size < MIN_UPLOAD_PART:
            raise InvalidInputError(
                f"upload_part_size must be at least {MIN_UPLOAD_PART} bytes (S3's smallest "
                f"part), got {self.upload_part_size}"
            )
        if isinstance(self.part_nice, bool) or not isinstance(self.part_nice, int):
            raise InvalidInputError(f"part_nice must be an integer, got {self.part_nice!r}")
        if not 0 <= self.part_nice <= MAX_PART_NICE:
            raise InvalidInputError(
                f"part_nice must be between 0 and {MAX_PART_NICE}, got {self.part_nice}"
            )
        near = self.near_storage_first_byte
        if isinstance(near, bool) or not isinstance(near, (int, float)):
            raise InvalidInputError(
                f"near_storage_first_byte must be a number of seconds, got {near!r}"
            )
        if not 0 <= near <= MAX_NEAR_STORAGE_FIRST_BYTE:
            raise InvalidInputError(
                f"near_storage_first_byte must be between 0 and {MAX_NEAR_STORAGE_FIRST_BYTE} "
                f"seconds, got {near}"
            )
        if self.part_workers > MAX_PART_WORKERS:
            raise InvalidInputError(
                f"part_workers must be at most {MAX_PART_WORKERS}, got {self.part_workers}"
            )


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """`[start, stop)` byte ranges covering `size` bytes in parts of `part_size` (the last the
    remainder); parts grow (in 4 KiB steps) when `MAX_PARTS` would not cover the file."""
    if size <= 0:
        return [(0, 0)]
    part_size = _covering_part_size(size, part_size)
    return [(start, min(size, start + part_size)) for start in range(0, size, part_size)]


def download_part_ranges(size: int, part_size: int, first: int) -> list[tuple[int, int]]:
    """`part_ranges` for a ranged download, its first parts ramped up: `first` bytes, then each
    `RAMP` times the one before (in 4 KiB steps) until `part_size` (no ramp when `first` is at
    least `part_size`).

    The md5 runs in file order, so it can only start on the first part's bytes: with every part
    as big as `part_size`, it waits for the whole first part at one connection's speed (16 MiB
    at 50 MB/s is 0.34 s under the `wan` profile) while the other parts pile up. Small first
    parts complete first and in order, so hashing starts within one first-byte wait and stays
    busy; the full-size parts after them keep the number of requests (each paying a first-byte
    wait) low. The ramp puts about ten small parts first (six parts more than uniform ones at
    the defaults); a file whose parts grew for `MAX_PARTS` may get a few parts more than that
    limit, which binds uploads only."""
    if size <= 0:
        return [(0, 0)]
    part_size = _covering_part_size(size, part_size)
    ranges: list[tuple[int, int]] = []
    start, step = 0, min(first, part_size)
    while start < size and step < part_size:
        stop = min(size, start + step)
        ranges.append((start, stop))
        start = stop
        step = int(step * RAMP) // 4096 * 4096
    return ranges + [(s, min(size, s + part_size)) for s in range(start, size, part_size)]


def _covering_part_size(size: int, part_size: int) -> int:
    """`part_size`, unless `MAX_PARTS` parts of it would not cover `size` bytes: then the
    smallest size (in 4 KiB steps) that does."""
    if -(-size // part_size) > MAX_PARTS:
        part_size = -(-size // MAX_PARTS)
        part_size += -part_size % 4096
    return part_size


__all__ = [
    "FIRST_DOWNLOAD_PART",
    "MAX_NEAR_STORAGE_FIRST_BYTE",
    "MAX_PARTS",
    "MAX_PART_NICE",
    "MIB",
    "MIN_DOWNLOAD_PART",
    "MIN_UPLOAD_PART",
    "NEAR_STORAGE_FIRST_BYTE",
    "RAMP",
    "TransferSettings",
    "download_part_ranges",
    "part_ranges",
]
