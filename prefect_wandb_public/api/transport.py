"""The one seam between the client and the network.

`Transport` owns a `requests.Session`, the base URL, the API key, timeouts and the retry policy.
`graphql()` and `request()` are its two doors; both map failures to the typed errors in
`prefect_wandb_public.errors`. Credentials are attached only to URLs under base_url, and the key
never appears in a message.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from prefect_wandb_public._version import __version__
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


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry transient failures (connection, timeout, 429, 5xx but 501).

    Defaults: up to 6 attempts within 60 s, waits of 0.5 s doubling to at most 8 s with +0-25%
    jitter; a `Retry-After` header (seconds or HTTP date) replaces the computed wait, and so does
    a 429's `RateLimit-Reset` (seconds until the service's rate-limit window ends; the longer of
    the two when both are sent).
    """

    max_attempts: int = 6
    max_elapsed: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_elapsed < 0 or self.initial_backoff < 0 or self.max_backoff < 0:
            raise InvalidInputError("retry times must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Wait before retry number `attempt` (1-based) when the server gave no Retry-After."""
        base = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return base * (1 + self.jitter * random.random())


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


@lru_cache(maxsize=256)
def operation_name(query: str) -> str:
    """The operation name written in a query document ("" when anonymous)."""
    match = _OPERATION_RE.search(query)
    return match.group(1) if match else ""


class Transport:
    """HTTP + GraphQL + auth + retries + error mapping for one base URL and key."""

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
        if timeout <= 0:
            raise InvalidInputError(f"timeout must be > 0 seconds, got {timeout}")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._auth_header = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()
        self._secret = api_key
        self._sleep = sleep
        self._graphql_url = f"{self.base_url}/graphql"
        self._count_lock = threading.Lock()
        self._graphql_requests = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.auth = _no_netrc
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
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
    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one GraphQL document; returns `data`. A 200 carrying `errors` raises."""
        name = operation_name(query)
        url = f"{self.base_url}/graphql"
        body = {"query": query, "variables": dict(variables or {}), "operationName": name}

        def decode(response: requests.Response) -> Any:
            try:
                return response.json()
            except ValueError as exc:  # a cut or garbled body is transient: retry it
                raise CommError(
                    f"{url} returned a body that is not JSON for {name or 'query'}",
                    status=response.status_code,
                    url=url,
                    retryable=True,
                ) from exc

        payload = self.request("POST", url, json_body=body, accept=decode)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            raise self._graphql_error(name, errors)
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
    ) -> Any:
        """Send with retries; returns the 2xx/3xx response (or `accept(response)`), else raises.

        `accept` turns a successful response into the result and may raise a retryable
        CommError (a body that fails to decode). With `stream=True` the body is left unread; a
        failure while reading it is the caller's to handle (downloads resume with Range).
        `data` must be re-sendable (bytes) to be retried.
        """
        url = self.absolute(url)
        policy = retry or self.retry
        send_headers = dict(headers or {})
        if self.is_under_base(url):
            send_headers["Authorization"] = self._auth_header
        encoded = None
        if json_body is not None:
            encoded = json.dumps(json_body, allow_nan=True).encode()
            send_headers.setdefault("Content-Type", "application/json")
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            failure: CommError
            if url == self._graphql_url:
                with self._count_lock:
                    self._graphql_requests += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    data=encoded if encoded is not None else data,
                    headers=send_headers,
                    stream=stream,
                    timeout=(min(self.timeout, 10.0), self.timeout),
                )
            except requests.RequestException as exc:
                failure = CommError(
                    f"{method} {self._display(url)} failed: {type(exc).__name__}: "
                    f"{self.scrub(str(exc), url)}",
                    url=self._display(url),
                    retryable=True,
                )
                wait = None
            else:
                wait = None
                if response.status_code < 400:
                    if accept is None:
                        return response
                    try:
                        return accept(response)
                    except CommError as exc:
                        if not exc.retryable:
                            raise
                        failure = exc
                else:
                    failure = self._status_error(method, url, response)
                    wait = server_wait(response)
                    response.close()
                    if not failure.retryable:
                        raise failure
            elapsed = time.monotonic() - started
            delay = wait if wait is not None else policy.backoff(attempt)
            if attempt >= policy.max_attempts or elapsed + delay > policy.max_elapsed:
                failure.message = (
                    f"{failure.message} (gave up after {attempt} attempt"
                    f"{'s' if attempt > 1 else ''} in {elapsed:.1f} s)"
                )
                failure.args = (failure.message,)
                raise failure
            self._sleep(delay)

    # ------------------------------------------------------------------ errors
    def _display(self, url: str) -> str:
        """The URL as shown in messages: no query string (presigned URLs carry tokens there)."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def _status_error(self, method: str, url: str, response: requests.Response) -> CommError:
        status = response.status_code
        detail = self.scrub(_error_message(response), url)
        where = f"{method} {self._display(url)}"
        message = f"{where} returned HTTP {status}" + (f": {detail}" if detail else "")
        kwargs: dict[str, Any] = {"status": status, "url": self._display(url)}
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

    def _graphql_error(self, name: str, errors: Any) -> CommError:
        messages = [self.scrub(str(e.get("message") if isinstance(e, dict) else e)) for e in errors]
        text = messages[0] if len(messages) == 1 else "[" + "; ".join(messages) + "]"
        message = f"GraphQL {name or 'query'} failed: {text}"
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
    """The server's error text: `{"errors":[{"message"}]}`, `{"error": ...}` or the raw body."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(payload, dict):
        found = payload.get("errors") or payload.get("error")
        items = found if isinstance(found, list) else [found]
        texts = [str(i.get("message") if isinstance(i, dict) else i) for i in items if i]
        return "; ".join(texts)
    return str(payload)[:200]


__all__ = [
    "USER_AGENT",
    "RetryPolicy",
    "Transport",
    "is_retryable_status",
    "operation_name",
    "parse_retry_after",
    "server_wait",
    "validate_base_url",
]
