"""The local server's HTTP layer: routing, auth, the fault middleware and the request log.

A threaded stdlib HTTP/1.1 server (keep-alive, no Nagle delay). Routes map a method and a path
prefix to a handler returning a `Response`; faults from the plan are applied while sending, so a
reset or a truncation cuts the real body mid-stream. Each route has a kind (`graphql`, `storage`,
`api`) that the network shaper (`profiles.py`) charges: a GraphQL rate limit before the handler,
waits before the answer, and a per-connection bandwidth on storage bodies.

Safe to share: a request is judged on its request line and headers before its body is read.
A route needs the API key (compared in constant time), a signed URL (`urls.py`), or nothing; a
request that fails that check, or declares a body over `max_body` bytes (413), is answered at
once and its body is read in small pieces and thrown away (for a few seconds at most, so the
client sees the answer instead of a reset), never buffered.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prefect_wandb_public.testing.common import (
    Blob,
    PartsBlob,
    StoreConflict,
    StoreError,
    StoreNotFound,
)
from prefect_wandb_public.testing.faults import Fault, FaultPlan, RequestLog, RequestRecord
from prefect_wandb_public.testing.profiles import ROUTE_KINDS, NetworkShaper
from prefect_wandb_public.testing.urls import SignatureError

_CHUNK = 1 << 20
# Request bodies are buffered whole for the handlers; larger declared bodies are answered 413.
DEFAULT_MAX_BODY = 1 << 30
# A refused request's body is read and dropped in pieces this big, for at most this long.
_DISCARD_CHUNK = 64 << 10
_DISCARD_SECONDS = 5.0
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Request:
    """One parsed request as handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    authenticated: bool
    operation: str | None = None
    parsed_json: Any = None


@dataclass
class Response:
    """Status, headers and a body given as bytes or as chunks with a known total length;
    `cost` is the seconds of service work the answer represents (history rows), waited before
    it is sent when the server's network profile charges for them."""

    status: int
    body: bytes | Iterable[bytes | memoryview] = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    cost: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json"})

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json({"errors": [{"message": message}]}, status)

    @classmethod
    def blob(cls, data: Blob, request: Request, content_type: str) -> Response:
        """Serve bytes (a `PartsBlob` from its parts), honouring a single `Range: bytes=a-b`
        request header."""
        size = len(data)
        headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
        wanted = request.headers.get("range")
        start, stop = 0, size
        status = 200
        if wanted:
            match = _RANGE_RE.match(wanted.strip())
            if not match or (not match.group(1) and not match.group(2)):
                return cls.error(416, f"invalid range {wanted!r}")
            if match.group(1):
                start = int(match.group(1))
                stop = min(size, int(match.group(2)) + 1) if match.group(2) else size
            else:
                start = max(0, size - int(match.group(2)))
            if start >= size or start >= stop:
                return cls(416, b"", {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        views: Iterable[memoryview] = (
            data.views(start, stop)
            if isinstance(data, PartsBlob)
            else [memoryview(data)[start:stop]]
        )
        chunks = (view[i : i + _CHUNK] for view in views for i in range(0, len(view), _CHUNK))
        return cls(status, chunks, headers, length=stop - start)


Handler = Callable[[Request], Response]


# What a route asks of a request before its body is read.
KEY = "key"  # the API key (HTTP Basic, user "api")
SIGNED = "signed"  # a signed URL (`ServerUrls.verify`), no key
OPEN = "open"  # nothing
_GUARDS = (KEY, SIGNED, OPEN)


@dataclass
class Route:
    method: str
    prefix: str
    handler: Handler
    guard: str = KEY
    kind: str = "api"  # what the network profile charges: graphql, storage or api
    # A refusal judged on the request line and headers alone (a declared body too large for
    # this route), after the guard and before the body is read; None accepts.
    precheck: Callable[[Request], Response | None] | None = None


class WandbHTTPApp:
    """Routes plus the key and signature checks, shared by every connection of one server.

    `verify_url(path, query, method=...)` checks a signed URL (raising `SignatureError`);
    `max_body` is the largest request body accepted, in bytes.
    """

    def __init__(
        self,
        api_key: str,
        faults: FaultPlan,
        log: RequestLog,
        *,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.api_key = api_key
        self.faults = faults
        self.log = log
        self.max_body = max_body
        self.routes: list[Route] = []
        self.operation_of: Callable[[Request], str | None] = lambda request: None
        self.verify_url: Callable[..., None] | None = None
        self._key = api_key.encode()
        self.shaper = NetworkShaper()

    def add_route(
        self,
        method: str,
        prefix: str,
        handler: Handler,
        *,
        guard: str = KEY,
        kind: str = "api",
        precheck: Callable[[Request], Response | None] | None = None,
    ) -> None:
        if guard not in _GUARDS:
            raise ValueError(f"guard must be one of {_GUARDS}, got {guard!r}")
        if kind not in ROUTE_KINDS:
            raise ValueError(f"route kind must be one of {ROUTE_KINDS}, got {kind!r}")
        self.routes.append(Route(method, prefix, handler, guard, kind, precheck))

    def check_auth(self, header: str | None) -> bool:
        """Whether an Authorization header carries this server's key (constant-time compare)."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, key = base64.b64decode(header[6:]).partition(b":")
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(key, self._key) and user == b"api"

    def refusal(self, route: Route, request: Request) -> Response | None:
        """The answer to a request its route's guard refuses (judged without its body)."""
        if route.guard == KEY and not request.authenticated:
            return Response.error(401, "authentication required: invalid or missing API key")
        if route.guard == SIGNED:
            if self.verify_url is None:
                return Response.error(403, "this server signs no URLs")
            try:
                self.verify_url(request.path, request.query, method=request.method)
            except SignatureError as exc:
                return Response.error(403, str(exc))
        return None

    def route(self, method: str, path: str) -> Route | None:
        matches = [r for r in self.routes if r.method == method and path.startswith(r.prefix)]
        return max(matches, key=lambda r: len(r.prefix), default=None)


def make_http_server(app: WandbHTTPApp, host: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP/1.1 server for `app`, bound (not yet serving) on host:port."""

    class _Handler(_WandbRequestHandler):
        application = app

    server = _QuietServer((host, port), _Handler)
    server.daemon_threads = True
    return server


class _QuietServer(ThreadingHTTPServer):
    """A client dropping a keep-alive connection (wandb-core exiting) is not a server error.
    The listen backlog takes a burst of new connections (30 client threads at once) without
    dropping SYNs, which would cost each late connection a one-second retransmit."""

    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _WandbRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    application: WandbHTTPApp

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log; the RequestLog is the record."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        self.application.log.begin()
        try:
            self._handle_logged(method)
        finally:
            self.application.log.end()

    def _handle_logged(self, method: str) -> None:
        app = self.application
        received = time.monotonic()
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            method=method,
            path=split.path,
            query=parse_qs(split.query),
            headers=headers,
            body=b"",
            authenticated=app.check_auth(headers.get("authorization")),
        )
        route = app.route("GET" if method == "HEAD" else method, request.path)
        # Judged before the body is read: its declared size, then (unless an injected fault
        # stands in front of the server, as a proxy would) its route and the route's guard.
        refused = self._size_refusal(request)
        fault = None
        if refused is None:
            fault = app.faults.take(method, request.path, None)
            if fault is None:
                refused = self._guard_refusal(route, request)
            if refused is None and route is not None and route.precheck is not None:
                refused = route.precheck(request)
        if refused is not None:
            record = self._record(request, refused, None, received)
            self._refuse(refused)
            record.answered = time.monotonic()
            return
        guarded = fault is None  # the route exists and its guard let the request in
        # The profile's cost runs from here: receiving the body is part of it (an upload's
        # modelled transfer time covers what loopback takes to deliver it).
        arrived = app.shaper.clock()
        length = int(headers.get("content-length") or 0)
        request.body = self.rfile.read(length) if length else b""
        if route is not None and route.prefix == "/graphql":
            request.operation = app.operation_of(request)
        if fault is None:
            fault = app.faults.take(method, request.path, request.operation)
        kind = route.kind if route is not None else "api"
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
            arrived += fault.delay  # an injected delay comes on top of the profile's cost
        if fault is not None and fault.kind == "ignore_range":  # the log keeps what was sent
            request.headers = {k: v for k, v in headers.items() if k != "range"}
        admission = None if fault is not None and fault.kind == "status" else app.shaper.admit(kind)
        if fault is not None and fault.kind == "status":
            response = Response.error(fault.status, f"injected fault: HTTP {fault.status}")
            if fault.retry_after is not None:
                response.headers["Retry-After"] = _retry_after(fault.retry_after)
            response.headers.update(fault.headers)
        elif admission is not None and not admission.allowed:
            response = Response.json({"error": "rate limit exceeded"}, 429)
        elif not guarded and (refused := self._guard_refusal(route, request)) is not None:
            response = refused
        else:
            assert route is not None  # guarded, or _guard_refusal answered 404
            response = _call(route.handler, request)
        if admission is not None:
            response.headers.update(admission.headers)
        record = self._record(request, response, fault, received)
        uploaded = len(request.body) if kind == "storage" and method == "PUT" else 0
        app.shaper.wait_before_answer(kind, method, response.cost, uploaded, arrived)
        try:
            self._send(
                response, fault if fault is not None and fault.kind != "status" else None, kind
            )
            record.answered = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): no one to answer

    def _size_refusal(self, request: Request) -> Response | None:
        """400 for a Content-Length that is not a number, 413 for one over the limit."""
        declared = request.headers.get("content-length")
        if declared is None:
            return None
        if not declared.strip().isdigit():
            return Response.error(400, f"invalid Content-Length {declared!r}")
        limit = self.application.max_body
        if int(declared) > limit:
            return Response.error(
                413,
                f"request body of {int(declared)} bytes is over this server's limit of "
                f"{limit} bytes",
            )
        return None

    def _guard_refusal(self, route: Route | None, request: Request) -> Response | None:
        """404 for no route, else what the route's guard says (401, 403) or None."""
        if route is None:
            return Response.error(404, f"no route for {request.method} {request.path}")
        return self.application.refusal(route, request)

    def _record(
        self, request: Request, response: Response, fault: Fault | None, received: float
    ) -> RequestRecord:
        """Log the request as answered with `response`; `answered` is the caller's to set."""
        record = RequestRecord(
            request.method,
            request.path,
            request.operation,
            response.status,
            fault.kind if fault is not None else None,
            sent_auth="authorization" in request.headers,
            user_agent=request.headers.get("user-agent", ""),
            range=self.headers.get("Range"),  # as sent (an ignore_range fault drops it)
            received=received,
        )
        self.application.log.append(record)
        return record

    def _refuse(self, response: Response) -> None:
        """Answer without reading the body, then drop what the client still sends (in small
        pieces, for a few seconds at most) so it reads the answer rather than a reset."""
        declared = (self.headers.get("Content-Length") or "0").strip()
        remaining = int(declared) if declared.isdigit() else 0
        if remaining:
            self.close_connection = True
            response.headers["Connection"] = "close"
        try:
            self._send(response, None)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        deadline = time.monotonic() + _DISCARD_SECONDS
        try:
            self.connection.settimeout(_DISCARD_SECONDS)
            while remaining > 0 and time.monotonic() < deadline:
                piece = self.rfile.read1(min(_DISCARD_CHUNK, remaining))
                if not piece:
                    break
                remaining -= len(piece)
        except OSError:
            pass  # the client stopped sending or went away: nothing more to drop

    def _send(self, response: Response, fault: Fault | None, kind: str = "api") -> None:
        body = response.body
        chunks: Iterable[bytes | memoryview]
        if isinstance(body, bytes):
            total = len(body)
            chunks = (body,)
        else:
            total = response.length or 0
            chunks = body
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(total))
        self.end_headers()
        if self.command == "HEAD":
            return
        chunks = self.application.shaper.throttle(kind, chunks)
        if fault is not None and fault.kind in ("reset", "truncate"):
            self._send_partial(chunks, max(1, total // 2), reset=fault.kind == "reset")
            return
        corrupt = fault is not None and fault.kind == "corrupt"
        for chunk in chunks:
            if corrupt and len(chunk):
                chunk = _flip_first_byte(chunk)
                corrupt = False
            self.wfile.write(chunk)

    def _send_partial(self, chunks: Iterable[bytes | memoryview], limit: int, reset: bool) -> None:
        sent = 0
        for chunk in chunks:
            piece = chunk[: limit - sent]
            self.wfile.write(piece)
            sent += len(piece)
            if sent >= limit:
                break
        self.wfile.flush()
        if reset:
            # Abort now: closing with a zero linger sends RST. Closing a detached copy skips the
            # server's shutdown(SHUT_WR), whose FIN would otherwise reach the client first and
            # make the reset look like a clean truncation.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            socket.socket(fileno=self.connection.detach()).close()
        self.close_connection = True


# Store errors as HTTP statuses, most specific first (moto's `call_action` does this once too).
_STORE_ERROR_STATUS: tuple[tuple[type[StoreError], int], ...] = (
    (SignatureError, 403),
    (StoreNotFound, 404),
    (StoreConflict, 409),
    (StoreError, 400),
)


def _call(handler: Handler, request: Request) -> Response:
    """Run a route handler; the store's errors become their HTTP status with the message, and
    any other exception a 500 (a handler bug must answer, not kill the connection)."""
    try:
        return handler(request)
    except StoreError as exc:
        status = next(code for kind, code in _STORE_ERROR_STATUS if isinstance(exc, kind))
        return Response.error(status, str(exc))
    except Exception as exc:
        return Response.error(500, f"internal error: {type(exc).__name__}: {exc}")


def _flip_first_byte(chunk: bytes | memoryview) -> bytes:
    data = bytearray(chunk)
    data[0] ^= 0xFF
    return bytes(data)


def _retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def http_date(seconds_from_now: float) -> str:
    """An RFC 1123 date for `Retry-After`, as some servers send it."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


__all__ = [
    "DEFAULT_MAX_BODY",
    "KEY",
    "OPEN",
    "SIGNED",
    "Handler",
    "Request",
    "Response",
    "Route",
    "WandbHTTPApp",
    "http_date",
    "make_http_server",
]
