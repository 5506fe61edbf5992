"""Helpers shared by the benchmark scripts: a server in its own process, timing, memory, tables.

The server runs in a child process (`_server.py`) so it does not share the GIL with the client
being measured; it listens on 127.0.0.1 only and is always stopped when the `with` block ends.
Its stderr is kept aside and summarised in one line at the end, so tables stay readable.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
SERVER_SCRIPT = BENCH_DIR / "_server.py"
SERVER_START_TIMEOUT = 300.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    """A running `_server.py` child: its URL, key, what the scenario seeded, and the process."""

    url: str
    api_key: str
    info: dict[str, Any]
    process: subprocess.Popen[str]
    stderr: IO[bytes] | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Close its stdin (its signal to stop), then terminate, then kill if it lingers; then
        summarise what it wrote to stderr in one line."""
        proc = self.process
        for step in (self._close_stdin, proc.terminate, proc.kill):
            if proc.poll() is not None:
                break
            step()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        self._report_stderr()

    def _report_stderr(self) -> None:
        if self.stderr is None or self.stderr.closed:
            return
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").splitlines()
        self.stderr.close()
        telling = [line.strip() for line in lines if line.strip().strip("-")]
        if telling:
            print(f"[server stderr: {len(lines)} lines; last: {telling[-1]}]", file=sys.stderr)

    def command(self, line: str) -> dict[str, Any]:
        """Send one command to the server (`_server.py`'s docstring) and read its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"benchmark server gave no answer to {line!r}")
        return dict(json.loads(answer))

    def _close_stdin(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()


def start_server_process(scenario: str, **params: Any) -> ServerProcess:
    """Start `_server.py <scenario> <params>` and wait for its JSON announcement line."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - ServerProcess.stop closes it
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), scenario, json.dumps(params)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
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
        ServerProcess("", "", {}, proc, stderr).stop()
        raise RuntimeError(f"benchmark server for {scenario!r} did not start (exit {proc.poll()})")
    announced = json.loads(line)
    url, api_key = announced.pop("url"), announced.pop("api_key")
    return ServerProcess(url, api_key, announced, proc, stderr)


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
    """Wall-clock seconds of each repeat, the best and the median, and counter deltas."""

    seconds: list[float] = field(default_factory=list)
    counters: dict[str, list[float]] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def median_of(self, counter: str) -> float:
        return statistics.median(self.counters[counter])


@dataclass(frozen=True)
class Case:
    """One contender of `compare`: what to time, and untimed preparation before each call."""

    fn: Callable[[], Any]
    setup: Callable[[], Any] | None = None


def compare(
    cases: Mapping[str, Case],
    repeat: int = 3,
    counters: Mapping[str, Callable[[], float]] | None = None,
) -> dict[str, Timing]:
    """Time every case `repeat` times in interleaved rounds (A B C, A B C, ...), so load from
    elsewhere on a shared machine falls on all contenders alike."""
    timings = {name: Timing() for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            _time_once(case, counters or {}, timings[name])
    return timings


def _time_once(case: Case, counters: Mapping[str, Callable[[], float]], timing: Timing) -> None:
    if case.setup is not None:
        case.setup()
    before = {name: probe() for name, probe in counters.items()}
    started = time.perf_counter()
    case.fn()
    timing.seconds.append(time.perf_counter() - started)
    for name, probe in counters.items():
        timing.counters.setdefault(name, []).append(probe() - before[name])


def peak_rss_mb(children: bool = False, *, pid: int | None = None) -> float:
    """Peak resident memory in MiB: of this process, of its waited-for children, or of the
    live process `pid` (its VmHWM, which, unlike ru_maxrss, does not carry over an exec)."""
    if pid is None:
        who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        return resource.getrusage(who).ru_maxrss / 1024.0
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process `pid` (all its threads) has used so far; None where
    `/proc` does not tell (not Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_in_child(
    script: str, spec: Mapping[str, Any], *, prefix: str, timeout: float
) -> dict[str, Any]:
    """Run `script --child <spec as JSON>` in a fresh work directory (passed as `workdir`,
    removed afterwards) and return the JSON report its last stdout line holds."""
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        done = subprocess.run(
            [sys.executable, script, "--child", json.dumps({**spec, "workdir": work})],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{spec['client']} child failed:\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(root: int, exclude: Iterable[int] = ()) -> float:
    """CPU seconds used so far by `root` and its live descendants, skipping `exclude` subtrees.

    The official SDK does its HTTP in a `wandb-core` child process, so a client's cost is its
    whole process tree, not just the Python process.
    """
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = stat
    skipped = set(exclude)
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        if pid in skipped:
            continue
        total += cpu.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


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


def filesystem_of(path: str | os.PathLike[str]) -> str:
    """The file-system type (`tmpfs`, `ext4`, ...) holding `path`, from /proc/mounts."""
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    with open("/proc/mounts") as handle:
        for line in handle:
            _, mount_point, fs_type, *_ = line.split()
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, kind = mount_point, fs_type
    return kind


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
