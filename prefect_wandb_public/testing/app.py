"""The local server's HTTP layer: routing, auth, the fault middleware and the request log.

A threaded stdlib HTTP/1.1 server (keep-alive, no Nagle delay). Routes map a method and a path
prefix to a handler returning a `Response`; faults from the plan are applied while sending, so a
reset or a truncation cuts the real body mid-stream. Each route has a kind (`graphql`, `storage`,
`api`) that the network shaper (`profiles.py`) charges: a GraphQL rate limit before the handler,
waits before the answer, and a per-connection bandwidth on storage bodies.
"""

from __future__ import annotations

import base64
import binascii
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

from prefect_wandb_public.testing.common import StoreConflict, StoreError, StoreNotFound
from prefect_wandb_public.testing.faults import Fault, FaultPlan, RequestLog, RequestRecord
from prefect_wandb_public.testing.profiles import ROUTE_KINDS, NetworkShaper

_CHUNK = 1 << 20
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
    def blob(cls, data: bytes, request: Request, content_type: str) -> Response:
        """Serve bytes, honouring a single `Range: bytes=a-b` request header."""
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
        view = memoryview(data)[start:stop]
        chunks = (view[i : i + _CHUNK] for i in range(0, len(view), _CHUNK))
        return cls(status, chunks, headers, length=len(view))


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    prefix: str
    handler: Handler
    auth: bool = True
    kind: str = "api"  # what the network profile charges: graphql, storage or api


class WandbHTTPApp:
    """Routes plus the key check, shared by every connection of one server."""

    def __init__(self, api_key: str, faults: FaultPlan, log: RequestLog) -> None:
        self.api_key = api_key
        self.faults = faults
        self.log = log
        self.routes: list[Route] = []
        self.operation_of: Callable[[Request], str | None] = lambda request: None
        self.shaper = NetworkShaper()

    def add_route(
        self, method: str, prefix: str, handler: Handler, *, auth: bool = True, kind: str = "api"
    ) -> None:
        if kind not in ROUTE_KINDS:
            raise ValueError(f"route kind must be one of {ROUTE_KINDS}, got {kind!r}")
        self.routes.append(Route(method, prefix, handler, auth, kind))

    def check_auth(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == "api" and key == self.api_key

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
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            method=method,
            path=split.path,
            query=parse_qs(split.query),
            headers=headers,
            body=body,
            authenticated=app.check_auth(headers.get("authorization")),
        )
        route = app.route("GET" if method == "HEAD" else method, request.path)
        if route is not None and route.prefix == "/graphql":
            request.operation = app.operation_of(request)
        fault = app.faults.take(method, request.path, request.operation)
        kind = route.kind if route is not None else "api"
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
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
        elif route is None:
            response = Response.error(404, f"no route for {method} {request.path}")
        elif route.auth and not request.authenticated:
            response = Response.error(401, "authentication required: invalid or missing API key")
        else:
            response = _call(route.handler, request)
        if admission is not None:
            response.headers.update(admission.headers)
        fault_name = fault.kind if fault is not None else None
        app.log.append(
            RequestRecord(
                method,
                request.path,
                request.operation,
                response.status,
                fault_name,
                sent_auth="authorization" in headers,
                user_agent=headers.get("user-agent", ""),
                range=headers.get("range"),
            )
        )
        uploaded = len(body) if kind == "storage" and method == "PUT" else 0
        app.shaper.wait_before_answer(kind, method, response.cost, uploaded)
        try:
            self._send(
                response, fault if fault is not None and fault.kind != "status" else None, kind
            )
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): no one to answer

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
    "Handler",
    "Request",
    "Response",
    "Route",
    "WandbHTTPApp",
    "http_date",
    "make_http_server",
]
