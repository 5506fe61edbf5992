"""Typed errors raised by the client.

Every error names the input it concerns (a path, a run id, a URL) and never carries the API key.

    WandbError                         every error of this package
    ├── InvalidInputError (ValueError) an argument is malformed; raised before any request
    │   ├── ArtifactNotLoggedError     needs a published version, this is a draft (+AttributeError)
    │   ├── ArtifactFinalizedError     a committed version's files cannot change (+AttributeError)
    │   └── DestinationExistsError     a download target exists and may not be replaced
    ├── ChecksumError                  bytes do not match the digest the server promised
    ├── IncompleteRunHistoryError      a run has history steps no parquet export holds yet
    ├── StorageError (OSError)         a file could not be written where it was going (disk
    │   │                              full, name too long, a file where a directory must be,
    │   │                              read-only); names the destination and the entry
    │   └── ExportError                a history export could not be written
    ├── WaitTimeoutError (TimeoutError) a wait for the server to finish something timed out
    └── CommError                      a request failed: connection, timeout, status, GraphQL
        ├── AuthenticationError        the key was refused (HTTP 401, `viewer` null)
        ├── PermissionDeniedError      the key may not do this (HTTP 403)
        ├── NotFoundError              the entity, project, run, artifact... does not exist
        ├── RateLimitError             HTTP 429 after the retry budget
        ├── ServerError                HTTP 5xx after the retry budget, or a 501
        └── UploadTooLargeError        one PUT over the storage's single-PUT limit

`CommError` covers anything that went wrong on the wire; its subclasses say what the server meant.
A `CommError` whose `retries_exhausted` is true was already retried by the client as its retry
policy allows: retrying the whole operation again (a Prefect task retry) would only multiply the
attempts, so the tasks of this package do not.
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


class IncompleteRunHistoryError(WandbError):
    """The run has history steps that are not in its parquet exports yet (it is still running,
    or the service has not compacted it): `download_history_exports(require_complete_history=
    True)` refuses to return a partial history. 0.31 raises an error of this name."""


class StorageError(WandbError, OSError):
    """A file could not be written at its destination (or in the download cache): disk full,
    a name too long, a file where a directory must be, a read-only file system, ...

    `destination` is the path or URL that could not be written, `entry` the file's name in the
    artifact or run (None when the failure is not about one file), `errno` the OS error number
    when there was one. Nothing partial is left at the destination. For a download of many files,
    `completed` and `incomplete` name the entries that did and did not land (empty otherwise).
    """

    def __init__(
        self,
        message: str,
        *,
        destination: str | None = None,
        entry: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message)
        self.destination = destination
        self.entry = entry
        # Set after __init__: OSError's own constructor would reformat the message.
        self.errno = errno
        self.completed: list[str] = []
        self.incomplete: list[str] = []


class ExportError(StorageError):
    """The destination could not be written; nothing was left behind there."""


class WaitTimeoutError(WandbError, TimeoutError):
    """A wait (`Run.wait_until_finished(timeout=...)`) ran out of time; nothing was changed."""


class CommError(WandbError):
    """A request failed: connection, timeout, HTTP status or GraphQL error.

    `status` is the HTTP status when there was a response, `url` the request's URL without
    credentials, `retryable` whether the failure is transient (the retry policy's verdict).
    `retry_after` (seconds the server asked to wait) and `attempt_limit` (a cap on the attempts
    this kind of failure deserves, e.g. 2 for a host name that does not resolve) steer the
    retry primitive (`api/retrying.py`). Once it gives up, `attempts` and `elapsed` say how many
    attempts were made in how many seconds, and `retries_exhausted` is true.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        attempt_limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = message
        self.message = message
        self.status = status
        self.url = url
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempt_limit = attempt_limit
        self.attempts: int | None = None
        self.elapsed: float | None = None

    @property
    def retries_exhausted(self) -> bool:
        """Whether the client already retried this failure as far as its policy allows."""
        return self.attempts is not None

    def gave_up(self, attempts: int, elapsed: float) -> None:
        """Record that the retry primitive stopped after `attempts` attempts in `elapsed` s."""
        self.attempts = attempts
        self.elapsed = elapsed
        self._compose()

    def prefix(self, context: str) -> None:
        """Say what was being done: the message becomes `<context>: <message>`."""
        self.detail = f"{context}: {self.detail}"
        self._compose()

    def _compose(self) -> None:
        message = self.detail
        if self.attempts is not None:
            plural = "s" if self.attempts != 1 else ""
            message += (
                f" (retries exhausted: gave up after {self.attempts} attempt{plural} in "
                f"{self.elapsed or 0.0:.1f} s)"
            )
        self.message = message
        self.args = (message,)


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


class UploadTooLargeError(CommError):
    """The storage refused one PUT as over its single-PUT limit (S3: 5 GiB, `EntityTooLarge`):
    the multipart threshold (`TransferSettings.multipart_upload_threshold`) is set above it."""


def amend_message(error: WandbError, suffix: str) -> None:
    """Append `suffix` to `error`'s message (what a multi-file operation completed, ...)."""
    if isinstance(error, CommError):
        error.detail += suffix
        error._compose()
    else:
        first = str(error.args[0]) if error.args else ""
        error.args = (first + suffix, *error.args[1:])


__all__ = [
    "ArtifactFinalizedError",
    "ArtifactNotLoggedError",
    "AuthenticationError",
    "ChecksumError",
    "CommError",
    "DestinationExistsError",
    "ExportError",
    "IncompleteRunHistoryError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "StorageError",
    "UploadTooLargeError",
    "WaitTimeoutError",
    "WandbError",
    "amend_message",
]
