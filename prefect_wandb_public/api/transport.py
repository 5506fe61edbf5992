"""The one seam between the client and the network.

`Transport` owns a `requests.Session`, the base URL, the API key, timeouts and the retry policy.
`graphql()` and `request()` are its two doors; both map failures to the typed errors in
`prefect_wandb_public.errors`, retried through the client's one retry primitive
(`api/retrying.py`, also offered to the other movers as `Transport.with_retries`). Credentials
are attached only to URLs under base_url, and the key never appears in a message. A failure names
what was being done: the GraphQL operation and its variables, or the method and URL.
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from prefect_wandb_public._version import __version__
from prefect_wandb_public.api.retrying import FAIL_FAST_ATTEMPTS, RetryPolicy, with_retries
from prefect_wandb_public.errors import (
    AuthenticationError,
    CommError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

USER_AGENT = f"prefect-wandb-public/{__version__} (W&B Public Client compatible)"
_OPERATION_RE = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(?:query|mutation)\s+(\w+)", re.M)
# Connecting waits at most this long, whatever the request timeout: a host that has not
# accepted a connection in 10 s is not going to, and a dead host should fail fast.
CONNECT_TIMEOUT_CAP = 10.0
T = TypeVar("T")


# Request bodies read from files (uploads) go out in pieces this big: urllib3's 16 KiB default
# costs a Python loop turn per 16 KiB, which a multi-GB upload on parallel threads notices.
SEND_BLOCK = 1 << 20


class _Adapter(HTTPAdapter):
    """requests' adapter with connections that send file bodies in `SEND_BLOCK` pieces."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=SEND_BLOCK, **kwargs)


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx except 501 are transient; every other status is final."""
    return status in (408, 429) or (500 <= status < 600 and status != 501)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or HTTP date); None if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def server_wait(response: requests.Response) -> float | None:
    """The seconds a failed response asks the client to wait before trying again: `Retry-After`,
    and on a 429 `RateLimit-Reset` (the W&B docs' rate-limit header); the longer when both are
    given, None when neither is."""
    waits = [parse_retry_after(response.headers.get("Retry-After"))]
    if response.status_code == 429:
        waits.append(parse_retry_after(response.headers.get("RateLimit-Reset")))
    given = [wait for wait in waits if wait is not None]
    return max(given) if given else None


def validate_base_url(base_url: str) -> str:
    """An http(s) URL with a host, trailing slash removed; InvalidInputError otherwise."""
    if not isinstance(base_url, str):
        raise InvalidInputError(f"base_url must be a string, got {type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base_url must not carry credentials; pass api_key instead")
    return base_url.strip().rstrip("/")


def check_timeout(timeout: Any) -> float:
    """Seconds per request: a finite number > 0; InvalidInputError naming the value otherwise."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidInputError(
            f"timeout must be a number of seconds, got {type(timeout).__name__} {timeout!r}"
        )
    if not math.isfinite(timeout) or timeout <= 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout}")
    return float(timeout)


def describe_variables(variables: Mapping[str, Any], limit: int = 6) -> str:
    """The scalar variables of a query as `key='value', ...` (long values cut), for messages."""
    parts: list[str] = []
    for key, value in variables.items():
        if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
            continue
        text = repr(value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "...")
        parts.append(f"{key}={text}")
        if len(parts) == limit:
            break
    return ", ".join(parts)


def json_of(what: str) -> Callable[[requests.Response], Any]:
    """An `accept` for `Transport.request`: the body decoded as JSON; a body that does not decode
    (cut or garbled on the way) is a retryable CommError naming `what`."""

    def decode(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise CommError(
                f"{what}: {response.request.method} {_display(response.url)} returned a body "
                "that is not JSON",
                status=response.status_code,
                url=_display(response.url),
                retryable=True,
            ) from exc

    return decode


def _connect_failure(exc: BaseException) -> str | None:
    """ "name" when `exc` (a requests ConnectionError) is a host name that did not resolve,
    "refused" when the connection was refused, else None."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "name"
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        todo.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return None


def _display(url: str) -> str:
    """The URL as shown in messages: no query string (presigned URLs carry tokens there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@lru_cache(maxsize=256)
def operation_name(query: str) -> str:
    """The operation name written in a query document ("" when anonymous)."""
    match = _OPERATION_RE.search(query)
    return match.group(1) if match else ""


class Transport:
    """HTTP + GraphQL + auth + retries + error mapping for one base URL and key.

    `timeout` is seconds per request (connecting waits at most `CONNECT_TIMEOUT_CAP`, 10 s, of
    it); `retry` is the retry policy; `sleep` is how retries wait (tests pass a recorder).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 32,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self.timeout = check_timeout(timeout)
        self.retry = retry or RetryPolicy()
        self._auth_header = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()
        self._secret = api_key
        self._sleep = sleep
        # Hosts (scheme://host:port) that have answered this transport at least once: a refused
        # connection there is a restart worth waiting for, elsewhere a dead address.
        self._answered: set[str] = set()
        self._graphql_url = f"{self.base_url}/graphql"
        self._count_lock = threading.Lock()
        self._graphql_requests = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.auth = _no_netrc
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    @property
    def graphql_requests(self) -> int:
        """GraphQL requests sent so far, retries included: what a rate limit counts."""
        return self._graphql_requests

    def is_under_base(self, url: str) -> bool:
        """Whether `url` shares base_url's scheme, host, port and path prefix (gets the key)."""
        return url == self.base_url or url.startswith(self.base_url + "/")

    def absolute(self, url: str) -> str:
        """Resolve a server-relative URL (`/storage?...`) against base_url."""
        return self.base_url + url if url.startswith("/") else url

    def scrub(self, text: str, url: str | None = None) -> str:
        """Remove the key (and its Basic form) from any text that may reach a user, and the
        query string of `url` (presigned URLs carry their signature there)."""
        text = text.replace(self._secret, "***").replace(self._auth_header, "Basic ***")
        query = urlsplit(url).query if url else ""
        return text.replace(query, "<redacted>") if query else text

    # ------------------------------------------------------------------ doors
    def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """POST one GraphQL document; returns `data`. A 200 carrying `errors` raises. Failures
        name the operation and its variables (`GraphQL Run(entity='e', name='r1')`).
        `should_stop` is `with_retries`'s: no retry once it says the answer is not wanted."""
        name = operation_name(query)
        values = dict(variables or {})
        what = self.scrub(f"GraphQL {name or 'query'}({describe_variables(values)})")
        url = f"{self.base_url}/graphql"
        body = {"query": query, "variables": values, "operationName": name}
        payload = self.request(
            "POST", url, json_body=body, accept=json_of(what), what=what, should_stop=should_stop
        )
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            raise self._graphql_error(what, errors)
        data = payload.get("data") if isinstance(payload, dict) else None
        return data if isinstance(data, dict) else {}

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retry: RetryPolicy | None = None,
        accept: Callable[[requests.Response], Any] | None = None,
        what: str | None = None,
        once: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> Any:
        """Send with retries; returns the 2xx/3xx response (or `accept(response)`), else raises.

        `accept` turns a successful response into the result and may raise a retryable
        CommError (a body that fails to decode, see `json_of`). With `stream=True` the body is
        left unread; a failure while reading it is the caller's to handle (downloads resume
        with Range). `data` must be re-sendable (bytes) to be retried. `what` names the
        operation in error messages. `once=True` sends a single attempt and raises its failure
        unretried, for callers that retry a larger step themselves through `with_retries`;
        `should_stop` ends the retries early (see `with_retries`).
        """
        url = self.absolute(url)
        send_headers = dict(headers or {})
        if self.is_under_base(url):
            send_headers["Authorization"] = self._auth_header
        body = data
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=True).encode()
            send_headers.setdefault("Content-Type", "application/json")

        def attempt() -> Any:
            return self._send(method, url, body, send_headers, stream, accept, what)

        if once:
            return attempt()
        return self.with_retries(attempt, policy=retry, should_stop=should_stop)

    def with_retries(
        self,
        attempt: Callable[[], T],
        *,
        policy: RetryPolicy | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> T:
        """`attempt()` retried on retryable CommErrors by the client's one retry primitive,
        with this transport's policy (or `policy`) and sleep."""
        return with_retries(
            attempt, policy=policy or self.retry, sleep=self._sleep, should_stop=should_stop
        )

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        headers: dict[str, str],
        stream: bool,
        accept: Callable[[requests.Response], Any] | None,
        what: str | None,
    ) -> Any:
        """One attempt; failures raise CommErrors classified for the retry primitive."""
        where = f"{method} {_display(url)}"
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        if url == self._graphql_url:
            with self._count_lock:
                self._graphql_requests += 1
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers=headers,
                stream=stream,
                timeout=(min(self.timeout, CONNECT_TIMEOUT_CAP), self.timeout),
            )
        except requests.RequestException as exc:
            kind = _connect_failure(exc) if isinstance(exc, requests.ConnectionError) else None
            limit = None
            reason = f"{type(exc).__name__}: {self.scrub(str(exc), url)}"
            if kind == "name":
                limit = FAIL_FAST_ATTEMPTS
                host = urlsplit(url).hostname
                reason = f"the host name {host!r} does not resolve ({reason})"
            elif kind == "refused" and origin not in self._answered:
                limit = FAIL_FAST_ATTEMPTS
                reason = f"connection refused, and {origin} never answered ({reason})"
            failure = CommError(
                f"{where} failed: {reason}",
                url=_display(url),
                retryable=True,
                attempt_limit=limit,
            )
            if what:
                failure.prefix(what)
            raise failure from exc
        self._answered.add(origin)
        if response.status_code >= 400:
            error = self._status_error(method, url, response)
            response.close()
            if what:
                error.prefix(what)
            raise error
        if accept is None:
            return response
        return accept(response)

    # ------------------------------------------------------------------ errors
    def _status_error(self, method: str, url: str, response: requests.Response) -> CommError:
        status = response.status_code
        detail = self.scrub(_error_message(response), url)
        where = f"{method} {_display(url)}"
        message = f"{where} returned HTTP {status}" + (f": {detail}" if detail else "")
        kwargs: dict[str, Any] = {
            "status": status,
            "url": _display(url),
            "retry_after": server_wait(response),
        }
        if status == 401:
            if not self.is_under_base(url):
                return AuthenticationError(
                    f"{where} returned HTTP 401 (credentials go only to {self.base_url})",
                    **kwargs,
                )
            return AuthenticationError(
                f"the API key was rejected by {self.base_url} (HTTP 401)", **kwargs
            )
        if status == 403:
            return PermissionDeniedError(message, **kwargs)
        if status == 404:
            return NotFoundError(message, **kwargs)
        if status == 429:
            return RateLimitError(message, retryable=True, **kwargs)
        if status >= 500:
            return ServerError(message, retryable=is_retryable_status(status), **kwargs)
        return CommError(message, retryable=is_retryable_status(status), **kwargs)

    def _graphql_error(self, what: str, errors: Any) -> CommError:
        messages = [self.scrub(str(e.get("message") if isinstance(e, dict) else e)) for e in errors]
        text = messages[0] if len(messages) == 1 else "[" + "; ".join(messages) + "]"
        message = f"{what} failed: {text}"
        lowered = text.lower()
        url = f"{self.base_url}/graphql"
        if "not found" in lowered or "does not exist" in lowered:
            return NotFoundError(message, status=200, url=url)
        if "permission" in lowered or "not authorized" in lowered:
            return PermissionDeniedError(message, status=200, url=url)
        return CommError(message, status=200, url=url)


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Session auth that adds nothing: with no auth set, requests reads ~/.netrc and its entry
    would replace the key given to the client (and reach hosts outside base_url)."""
    return request


def _error_message(response: requests.Response) -> str:
    """The server's error text: `{"errors":[{"message"}]}`, `{"error": ...}` or the raw body
    ("" when the body cannot be read: the status says enough)."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200].strip()
    except requests.RequestException:
        return ""
    if isinstance(payload, dict):
        found = payload.get("errors") or payload.get("error")
        items = found if isinstance(found, list) else [found]
        texts = [str(i.get("message") if isinstance(i, dict) else i) for i in items if i]
        return "; ".join(texts)
    return str(payload)[:200]


__all__ = [
    "CONNECT_TIMEOUT_CAP",
    "USER_AGENT",
    "RetryPolicy",
    "Transport",
    "check_timeout",
    "describe_variables",
    "is_retryable_status",
    "json_of",
    "operation_name",
    "parse_retry_after",
    "server_wait",
    "validate_base_url",
]
