"""What every command of the command line shares: the common options, the client (from the
environment or a saved block), output as text, tables or JSON, progress display, exit codes.

Exit codes: 0 success, 2 usage or invalid input, 3 authentication (key refused or not allowed),
4 not found, 1 anything else. Every failure is one line on stderr, never a traceback.

Progress goes to stderr, so stdout carries only results (a path, a version, JSON): a bar when
stdout is a terminal, else a plain line every `PREFECT_WANDB_PROGRESS_INTERVAL` seconds
(default 10) plus the first and the last, which is what CI logs keep well.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from prefect_wandb_public.api import Api, Progress
from prefect_wandb_public.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
DEFAULT_PROGRESS_INTERVAL = 10.0

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts).")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the result: no progress, no notes.")
]
BlockOption = Annotated[
    str | None,
    typer.Option(
        "--block",
        help="Use a saved WandbCredentials block instead of WANDB_API_KEY / WANDB_BASE_URL / "
        "netrc.",
        metavar="NAME",
    ),
]


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of a failure."""
    if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, (InvalidInputError, ValueError)):
        return EXIT_USAGE
    return EXIT_FAILURE


def one_line(exc: BaseException) -> str:
    """An error as one line: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def parse_json_option(text: str | None, option: str) -> Any:
    """The value of a JSON option (`--filters '{"state": "finished"}'`); None when absent."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"{option} is not valid JSON: {exc}") from None


def _make_client(block: str | None) -> Api:
    if block is None:
        return Api()
    from prefect_wandb_public.credentials import load_credentials

    try:
        return load_credentials(block).get_client()
    except ValueError as exc:  # Prefect: "Unable to find block document named ..."
        if "Unable to find block document" in str(exc):
            raise NotFoundError(f"no saved WandbCredentials block named {block!r}") from None
        raise


@dataclass
class Session:
    """One command's settings: output mode and where the client comes from."""

    json: bool = False
    quiet: bool = False
    block: str | None = None
    _client: Api | None = field(default=None, repr=False)

    @property
    def client(self) -> Api:
        if self._client is None:
            self._client = _make_client(self.block)
        return self._client

    # ------------------------------------------------------------------ output
    def emit(self, text: str, payload: Any) -> None:
        """The command's result: `payload` as JSON with --json, else `text`."""
        if self.json:
            sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Rows as JSON with --json, a table on a terminal, tab-separated lines otherwise."""
        if self.json:
            self.emit("", [dict(row) for row in rows])
            return
        cells = [[_cell(row.get(column)) for column in columns] for row in rows]
        if sys.stdout.isatty():
            from rich.console import Console
            from rich.table import Table

            table = Table(*columns, box=None, header_style="bold")
            for line in cells:
                table.add_row(*line)
            Console().print(table)
            return
        sys.stdout.write("\t".join(columns) + "\n")
        for line in cells:
            sys.stdout.write("\t".join(line) + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A remark for the person at the terminal (stderr; silent with --quiet)."""
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    @contextmanager
    def progress(self, description: str) -> Iterator[ProgressDisplay]:
        """A progress display for the work inside the block (nothing with --quiet)."""
        display = ProgressDisplay(description, enabled=not self.quiet)
        try:
            yield display
        finally:
            display.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def describe(progress: Progress) -> str:
    """A snapshot as plain text: `3.0/12.0 MiB, 2/5 files`, `1200/5000 rows`."""
    if progress.unit == "bytes":
        total = _size(progress.total) if progress.total is not None else "?"
        text = f"{_size(progress.done)}/{total}"
        if progress.files_total:
            text += f", {progress.files_done}/{progress.files_total} files"
        return text
    total_text = str(progress.total) if progress.total is not None else "?"
    return f"{progress.done}/{total_text} {progress.unit}"


class ProgressDisplay:
    """Turns `Progress` snapshots into a rich bar (stdout a terminal) or periodic log lines.

    Callable: pass it as `progress=` to the client. Thread-safe (the movers call it from
    their worker threads)."""

    def __init__(self, description: str, *, enabled: bool = True) -> None:
        self.description = description
        self.enabled = enabled
        self.interactive = enabled and sys.stdout.isatty()
        self.interval = float(
            os.environ.get("PREFECT_WANDB_PROGRESS_INTERVAL") or DEFAULT_PROGRESS_INTERVAL
        )
        self._lock = threading.Lock()
        self._last_line = float("-inf")
        self._last: Progress | None = None
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._last = progress
            if self.interactive:
                self._draw(progress)
                return
            now = time.monotonic()
            if progress.finished or now - self._last_line >= self.interval:
                self._last_line = now
                state = "done" if progress.finished else "progress"
                print(
                    f"{self.description}: {state} {describe(progress)}",
                    file=sys.stderr,
                    flush=True,
                )

    def _draw(self, progress: Progress) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        if self._bar is None:
            counter = DownloadColumn() if progress.unit == "bytes" else MofNCompleteColumn()
            columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), counter]
            if progress.unit == "bytes":
                columns.append(TransferSpeedColumn())
            columns.append(TimeRemainingColumn())
            self._bar = Bar(*columns, console=Console(stderr=True), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=progress.total)
        files = (
            f" ({progress.files_done}/{progress.files_total} files)" if progress.files_total else ""
        )
        self._bar.update(
            self._task,
            completed=progress.done,
            total=progress.total,
            description=f"{self.description}{files}",
        )

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None


__all__ = [
    "DEFAULT_PROGRESS_INTERVAL",
    "EXIT_AUTH",
    "EXIT_FAILURE",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "BlockOption",
    "JsonOption",
    "ProgressDisplay",
    "QuietOption",
    "Session",
    "describe",
    "exit_code_for",
    "one_line",
    "parse_json_option",
]
