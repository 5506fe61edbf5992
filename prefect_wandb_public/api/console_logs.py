"""`ConsoleLogs` (`Run.console_logs()`): a run's console output, line by line, lazily paged.

Each line is a `ConsoleLogLine` (number from 0, timestamp as an aware UTC datetime or None,
level `"error"` for stderr else `""`, the writer's label, and the text). `last=N` reads only the
newest N lines, in one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.queries.runs import CONSOLE_LOG_PAGE_QUERY, CONSOLE_LOG_TAIL_QUERY
from prefect_wandb_public.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api
    from prefect_wandb_public.api.runs import Run


@dataclass(frozen=True)
class ConsoleLogLine:
    """One line of a run's console output."""

    number: int
    timestamp: datetime | None
    level: str
    label: str
    content: str


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (no zone means UTC); None when unparsable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


class ConsoleLogs(Paginator[ConsoleLogLine]):
    """The console lines of one run, `per_page` at a time (or only the newest `last`)."""

    QUERY = CONSOLE_LOG_PAGE_QUERY
    CURSOR_VARIABLE = "after"
    SIZE_VARIABLE = "first"

    def __init__(self, client: Api, run: Run, per_page: int = 1000, last: int | None = None):
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise InvalidInputError(f"last must be a positive number of lines, got {last!r}")
        self.run = run
        self.last = last
        variables: dict[str, Any] = {
            "entity": run.entity,
            "project": run.project,
            "runName": run.id,
        }
        if last is not None:
            self.QUERY = CONSOLE_LOG_TAIL_QUERY
            variables["last"] = last
        super().__init__(client, variables, per_page)

    def _page_variables(self, cursor: str | None, size: int | None = None) -> dict[str, Any]:
        if self.last is not None:
            return dict(self.variables)
        return super()._page_variables(cursor, size)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node = (data.get("project") or {}).get("run")
        if node is None:
            raise NotFoundError(f"run {'/'.join(self.run.path)} not found")
        conn: Mapping[str, Any] | None = node.get("logLines")
        return conn

    def _advance(self, data: dict[str, Any]) -> list[Mapping[str, Any]]:
        """The next page starts after `endCursor`; a page the server cut short still has a
        successor while the last line's number is below `logLineCount`."""
        self.last_response = data
        conn = self.connection(data)
        edges = list((conn or {}).get("edges") or [])
        if conn is None or self.last is not None or not edges:
            self._more = False
            return edges
        info = conn.get("pageInfo") or {}
        end = info.get("endCursor") or None
        total = ((data.get("project") or {}).get("run") or {}).get("logLineCount")
        last_number = (edges[-1].get("node") or {}).get("number")
        cut_short = (
            isinstance(total, int) and isinstance(last_number, int) and last_number + 1 < total
        )
        self._cursor = end
        self._more = bool(end) and (bool(info.get("hasNextPage")) or cut_short)
        return edges

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> ConsoleLogLine:
        return ConsoleLogLine(
            number=int(node.get("number") or 0),
            timestamp=parse_timestamp(node.get("timestamp")),
            level=str(node.get("level") or ""),
            label=str(node.get("label") or ""),
            content=str(node.get("line") or ""),
        )

    def __repr__(self) -> str:
        return f"<ConsoleLogs {'/'.join(self.run.path)}>"


__all__ = ["ConsoleLogLine", "ConsoleLogs", "parse_timestamp"]
