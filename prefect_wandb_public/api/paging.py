"""A generic lazy paginator over Relay connections, as the public API's list objects are."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from prefect_wandb_public.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

T = TypeVar("T")
MAX_PER_PAGE = 10_000


def check_start(start: str | None) -> str | None:
    """A resume cursor is a paginator's saved `cursor` (a string) or None."""
    if start is not None and not isinstance(start, str):
        raise InvalidInputError(f"start must be a saved cursor string or None, got {start!r}")
    return start


def check_per_page(per_page: int, name: str = "per_page") -> int:
    """Page sizes must be whole numbers in 1..10000."""
    if isinstance(per_page, bool) or not isinstance(per_page, int):
        raise InvalidInputError(f"{name} must be an integer, got {per_page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInputError(f"{name} must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    return per_page


def project_connection(
    data: Mapping[str, Any], entity: str, project: str, field: str
) -> Mapping[str, Any] | None:
    """The connection `field` of the response's project; a project the server does not know is
    a NotFoundError naming it (the same rule for every project-scoped listing)."""
    node = data.get("project")
    if node is None:
        raise NotFoundError(f"project {entity}/{project} not found")
    conn: Mapping[str, Any] | None = node.get(field)
    return conn


class Paginator(Generic[T]):
    """Iterable, indexable and lazily loaded list of public objects, and an iterator as the
    official client's paginators are: `next(p)` / `p.next()` return the object after `index`
    (loading pages as needed), and `iter(p)` restarts at the first one (loaded objects are
    replayed without requests).

    Subclasses set `QUERY`, say where the connection sits in the response (`connection`), how to
    turn a node into an object (`convert`), and optionally a total (`length`). The cursor is the
    last edge's `cursor`, as the official client reads it; a saved `cursor` given back as
    `start` resumes a listing after it, as 0.31's `start=` does.
    """

    QUERY: str = ""
    CURSOR_VARIABLE = "cursor"
    SIZE_VARIABLE = "perPage"
    # Iterating, pages after the first double in size up to this many objects (None: every
    # page holds `per_page`): far from the service each page is a round trip.
    grow_pages_to: int | None = None
    # Asked before each retry of a page (`Transport.with_retries`): True when the listing is no
    # longer wanted (a concurrent step it ran beside failed), so a failing page is not retried.
    should_stop: Callable[[], bool] | None = None

    def __init__(
        self,
        client: Api,
        variables: Mapping[str, Any],
        per_page: int = 50,
        *,
        start: str | None = None,
    ) -> None:
        self.client = client
        self.per_page = check_per_page(per_page)
        self.variables = dict(variables)
        self.objects: list[T] = []
        self.index = -1
        self.last_response: dict[str, Any] | None = None
        self._cursor: str | None = check_start(start)
        self._more = True

    # -- subclass hooks
    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        raise NotImplementedError

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> T:
        raise NotImplementedError

    @property
    def length(self) -> int | None:
        """Total count when the server reports one; None otherwise."""
        return None

    # -- paging
    @property
    def more(self) -> bool:
        return self._more

    @property
    def cursor(self) -> str | None:
        return self._cursor

    def update_variables(self) -> None:
        """Point the query variables at the page after the current cursor."""
        self.variables.update(self._page_variables(self._cursor))

    def _page_variables(self, cursor: str | None, size: int | None = None) -> dict[str, Any]:
        return {
            **self.variables,
            self.CURSOR_VARIABLE: cursor,
            self.SIZE_VARIABLE: size or self.per_page,
        }

    def _request_page(self, cursor: str | None, size: int | None = None) -> dict[str, Any]:
        """Send the query for the page after `cursor` (of `size` objects, default `per_page`);
        returns the raw response. Touches no shared state, so it can run on the prefetch
        thread."""
        return self.client.transport.graphql(
            self.QUERY, self._page_variables(cursor, size), should_stop=self.should_stop
        )

    def _prefetch(
        self, cursor: str | None, started: threading.Event, size: int | None
    ) -> dict[str, Any]:
        started.set()
        return self._request_page(cursor, size)

    def _next_size(self, size: int) -> int:
        if self.grow_pages_to is None:
            return self.per_page
        return max(self.per_page, min(self.grow_pages_to, size * 2))

    def _advance(self, data: dict[str, Any]) -> list[Mapping[str, Any]]:
        """Record a page's response and move the cursor past it; returns its edges."""
        self.last_response = data
        conn = self.connection(data)
        if conn is None:
            self._more = False
            return []
        edges = conn.get("edges") or []
        info = conn.get("pageInfo") or {}
        self._cursor = edges[-1].get("cursor") if edges else info.get("endCursor")
        self._more = bool(info.get("hasNextPage")) and bool(edges)
        return list(edges)

    def _convert_edges(self, edges: list[Mapping[str, Any]]) -> list[T]:
        page = [self.convert(edge["node"], edge) for edge in edges if edge.get("node") is not None]
        self.objects.extend(page)
        return page

    def convert_objects(self) -> list[T]:
        """The objects of the last page loaded (converted again; not appended)."""
        if self.last_response is None:
            return []
        conn = self.connection(self.last_response) or {}
        edges = conn.get("edges") or []
        return [self.convert(e["node"], e) for e in edges if e.get("node") is not None]

    def __next__(self) -> T:
        self.index += 1
        self._load_until(self.index + 1)
        if self.index >= len(self.objects):
            raise StopIteration
        return self.objects[self.index]

    next = __next__

    def next_page(self) -> list[T]:
        """Fetch and append the next page; returns its objects."""
        self.update_variables()
        return self._convert_edges(self._advance(self._request_page(self._cursor)))

    def __iter__(self) -> Iterator[T]:
        """Every object from the first, `index` following along; while one page is converted
        and consumed, the next is fetched in the background (one page ahead at most), so
        server time and client work overlap. With `grow_pages_to`, each page asked for while
        iterating is twice the last, up to it."""
        self.index = -1
        return self._iterate()

    def _iterate(self) -> Iterator[T]:
        """A prefetched page is used only if nothing else moved the cursor meanwhile."""
        index = 0
        size = self.per_page
        ahead: tuple[str | None, Future[dict[str, Any]]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wandb-page") as pool:
            while True:
                while index < len(self.objects):
                    self.index = index
                    yield self.objects[index]
                    index += 1
                if not self._more:
                    self.index = index  # past the end, as after 0.31's last `next()`
                    return
                if ahead is not None and ahead[0] == self._cursor:
                    data = ahead[1].result()
                else:
                    data = self._request_page(self._cursor, size)
                edges = self._advance(data)
                ahead = None
                if self._more:
                    started = threading.Event()
                    size = self._next_size(size)
                    job = pool.submit(self._prefetch, self._cursor, started, size)
                    ahead = (self._cursor, job)
                    # Let the prefetch thread put its request on the wire before this thread
                    # converts the page: it keeps the GIL until the request blocks on the socket.
                    started.wait()
                self._convert_edges(edges)

    def _load_until(self, count: int | None) -> None:
        while self._more and (count is None or len(self.objects) < count):
            self.next_page()

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            if (index.start or 0) < 0 or (index.stop or 0) < 0 or index.stop is None:
                self._load_until(None)
            else:
                self._load_until(index.stop)
            return self.objects[index]
        if index < 0:
            self._load_until(None)
        else:
            self._load_until(index + 1)
        return self.objects[index]

    def __len__(self) -> int:
        total = self.length
        if total is None:
            self._load_until(None)
            return len(self.objects)
        return total

    def __bool__(self) -> bool:
        self._load_until(1)
        return bool(self.objects)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} loaded={len(self.objects)} more={self._more}>"


__all__ = ["MAX_PER_PAGE", "Paginator", "check_per_page", "project_connection"]
