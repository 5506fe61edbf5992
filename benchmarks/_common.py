"""Helpers shared by the benchmark scripts: a server in its own process, timing, memory, tables.

The server runs in a child process (`_server.py`) so it does not share the GIL with the client
being measured; it listens on 127.0.0.1 only and is always stopped when the `with` block ends.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SERVER_SCRIPT = BENCH_DIR / "_server.py"
SERVER_START_TIMEOUT = 300.0


@dataclass
class ServerProcess:
    """A running `_server.py` child: its URL, key, what the scenario seeded, and the process."""

    url: str
    api_key: str
    info: dict[str, Any]
    process: subprocess.Popen[str]

    def stop(self, timeout: float = 10.0) -> None:
        """Close its stdin (its signal to stop), then terminate, then kill if it lingers."""
        proc = self.process
        if proc.poll() is not None:
            return
        for step in (self._close_stdin, proc.terminate, proc.kill):
            step()
            try:
                proc.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def _close_stdin(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()


def start_server_process(scenario: str, **params: Any) -> ServerProcess:
    """Start `_server.py <scenario> <params>` and wait for its JSON announcement line."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), scenario, json.dumps(params)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=BENCH_DIR.parent,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    line = ""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not line:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                break
            if selector.select(timeout=min(remaining, 1.0)):
                line = proc.stdout.readline()
                if not line:
                    break
    if not line:
        ServerProcess("", "", {}, proc).stop()
        raise RuntimeError(f"benchmark server for {scenario!r} did not start (exit {proc.poll()})")
    announced = json.loads(line)
    url, api_key = announced.pop("url"), announced.pop("api_key")
    return ServerProcess(url, api_key, announced, proc)


@contextmanager
def served(scenario: str, **params: Any) -> Iterator[ServerProcess]:
    """`start_server_process` as a context manager that always stops the server."""
    server = start_server_process(scenario, **params)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Timing:
    """Wall-clock seconds of each repeat, with the best and the median."""

    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timeit(
    fn: Callable[[], Any], repeat: int = 3, setup: Callable[[], Any] | None = None
) -> Timing:
    """Time `fn()` `repeat` times (running `setup()` untimed before each)."""
    timing = Timing()
    for _ in range(repeat):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        timing.seconds.append(time.perf_counter() - started)
    return timing


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory in MiB of this process, or of its waited-for children."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def io_counters() -> dict[str, int]:
    """This process's /proc/self/io counters (`wchar`, `write_bytes`, `syscw`, ...)."""
    counters: dict[str, int] = {}
    with open("/proc/self/io") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            counters[key.strip()] = int(value)
    return counters


def snapshot_files(roots: Iterable[str | os.PathLike[str]]) -> set[str]:
    """Every file and directory path under `roots` (missing roots count as empty)."""
    found: set[str] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            found.update(os.path.join(dirpath, name) for name in (*dirnames, *filenames))
    return found


def load_note() -> str:
    """The machine's load averages and core count, to read the figures against."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows under headers: numbers right-aligned, text left-aligned."""
    values = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in values]
    numeric = [
        bool(values) and all(_is_number(row[i]) or row[i] in ("", "-") for row in values)
        for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def fmt(line: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(line, widths, numeric, strict=True)
        ).rstrip()

    print(fmt(list(headers)))
    print(fmt(["-" * w for w in widths]))
    for row in cells:
        print(fmt(row))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
