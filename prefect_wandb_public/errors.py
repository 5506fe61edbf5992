"""Typed errors raised by the client.

Every error names the input it concerns (a path, a run id, a URL) and never carries the API key.

    WandbError                         every error of this package
    ├── InvalidInputError (ValueError) an argument is malformed; raised before any request
    │   ├── ArtifactNotLoggedError     needs a published version, this is a draft (+AttributeError)
    │   ├── ArtifactFinalizedError     a committed version's files cannot change (+AttributeError)
    │   └── DestinationExistsError     a download target exists and may not be replaced
    ├── ChecksumError                  bytes do not match the digest the server promised
    ├── ExportError (OSError)          a history export could not be written
    ├── WaitTimeoutError (TimeoutError) a wait for the server to finish something timed out
    └── CommError                      a request failed: connection, timeout, status, GraphQL
        ├── AuthenticationError        the key was refused (HTTP 401, `viewer` null)
        ├── PermissionDeniedError      the key may not do this (HTTP 403)
        ├── NotFoundError              the entity, project, run, artifact... does not exist
        ├── RateLimitError             HTTP 429 after the retry budget
        └── ServerError                HTTP 5xx after the retry budget, or a 501

`CommError` covers anything that went wrong on the wire; its subclasses say what the server meant.
"""

from __future__ import annotations


class WandbError(Exception):
    """Base class of every error this package raises."""


class InvalidInputError(WandbError, ValueError):
    """An argument is malformed; raised before any request is sent."""


class ArtifactNotLoggedError(InvalidInputError, AttributeError):
    """The attribute or method needs a published version, and this artifact is still a draft.
    An AttributeError too, as in 0.31 (`getattr(draft, "id", None)` is None)."""


class ArtifactFinalizedError(InvalidInputError, AttributeError):
    """A committed version's files cannot change; build a new draft instead (an
    AttributeError too, as in 0.31)."""


class DestinationExistsError(InvalidInputError):
    """A file is already where a download would put it (and existing files are errors)."""

    def __init__(self, message: str, destination: str) -> None:
        super().__init__(message)
        self.destination = destination


class ChecksumError(WandbError):
    """Bytes on disk or on the wire do not match the digest the server promised."""


class ExportError(WandbError, OSError):
    """The destination could not be written; nothing was left behind there."""


class WaitTimeoutError(WandbError, TimeoutError):
    """A wait (`Run.wait_until_finished(timeout=...)`) ran out of time; nothing was changed."""


class CommError(WandbError):
    """A request failed: connection, timeout, HTTP status or GraphQL error.

    `status` is the HTTP status when there was a response, `url` the request's URL without
    credentials, `retryable` whether the failure is transient (the retry policy's verdict).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.retryable = retryable


class AuthenticationError(CommError):
    """The server refused the API key (HTTP 401, or `viewer` is null)."""


class PermissionDeniedError(CommError):
    """The key is valid but may not do this (HTTP 403)."""


class NotFoundError(CommError):
    """The entity, project, run, sweep, artifact or file does not exist."""


class RateLimitError(CommError):
    """HTTP 429 after the retry budget was spent."""


class ServerError(CommError):
    """HTTP 5xx after the retry budget was spent, or a 501."""


__all__ = [
    "ArtifactFinalizedError",
    "ArtifactNotLoggedError",
    "AuthenticationError",
    "ChecksumError",
    "CommError",
    "DestinationExistsError",
    "ExportError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "WaitTimeoutError",
    "WandbError",
]
