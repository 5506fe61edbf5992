"""Every URL the local server hands out, and the signatures of those that skip the API key.

The route prefixes are written here once; resolvers build URLs with `ServerUrls` and `server.py`
registers the routes under the same prefixes:

- `/files/<entity>/<project>/<run>/<name>` (API key): a run file, the `File.url` the SDK reads;
  `PUT` there is the authenticated upload; `.../file_stream` takes a live run's stream.
- `/storage/blobs/<hex md5>?expires=...&signature=...` (no key, signed, `Range`): stored bytes,
  the `directUrl` of run and artifact files; a URL signed for `PUT` uploads an artifact file.
- `/storage/manifests/<artifact id>?...` (no key, signed): an artifact's manifest JSON; a URL
  signed for `PUT` uploads it.
- `/storage/run-files/<entity>/<project>/<run>/<name>?...` (no key, signed for `PUT`): the
  presigned run-file upload URL `createRunFiles` hands out.
- `/artifactsV2/.../<hex md5>/<name>` and `/artifacts/<entity>/<hex md5>` (API key): the SDK's
  fallback when a direct URL fails.
- `/<entity>/<project>/runs/<id>` and `/<entity>/<project>/artifacts/<type>/<name>/<version>`
  (no key, GET): read-only HTML pages for the web links `Run.url` and `Artifact.url` print.

Signed URLs behave like the real service's presigned storage URLs: whoever holds one may do that
one method on that one path until it expires (`DEFAULT_URL_TTL`, an hour), and nothing else. A
new route that hands out keyless URLs signs them with `ServerUrls.sign` / `signed_url` and is
registered as signed in `server.py`'s route table (the HTTP app then checks them with `verify`
before reading the request body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote

from prefect_wandb_public.testing.common import StoreError

RUN_FILES_PREFIX = "/files/"
FILE_STREAM_NAME = "file_stream"
BLOBS_PREFIX = "/storage/blobs/"
MANIFESTS_PREFIX = "/storage/manifests/"
RUN_UPLOADS_PREFIX = "/storage/run-files/"
ARTIFACT_FILES_PREFIX = "/artifactsV2/"
LEGACY_ARTIFACT_FILES_PREFIX = "/artifacts/"
GRAPHQL_PATH = "/graphql"
DEFAULT_URL_TTL = 3600.0
EXPIRES_PARAM = "expires"
SIGNATURE_PARAM = "signature"


class SignatureError(StoreError):
    """A keyless URL whose signature is missing, wrong, or expired (answered 403)."""


# Everything else under `/`: the read-only pages of the web URLs (`<entity>/<project>/runs/<id>`,
# `<entity>/<project>/artifacts/<type>/<name>/<version>`); the longer prefixes above win.
PAGES_PREFIX = "/"


def hex_of(b64_md5: str) -> str:
    """The hex form of a base64 md5, as URLs and cache paths carry it."""
    return base64.b64decode(b64_md5).hex()


class ServerUrls:
    """URL builders for one server: `base()` is its base URL (known once it is bound), and the
    per-server secret signs the URLs that carry no API key, for `url_ttl` seconds by default
    (`clock` is the time they expire by)."""

    def __init__(
        self,
        base: Callable[[], str],
        *,
        url_ttl: float = DEFAULT_URL_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base = base
        self.url_ttl = url_ttl
        self.clock = clock
        self._secret = secrets.token_bytes(32)

    # ------------------------------------------------------------------ builders
    def run_file(self, entity: str, project: str, run: str, name: str) -> str:
        return (
            f"{self.base()}{RUN_FILES_PREFIX}{quote(entity)}/{quote(project)}/{quote(run)}/"
            f"{quote(name)}"
        )

    def blob(self, b64_md5: str, method: str = "GET") -> str:
        """The signed storage URL of stored bytes (`PUT`: the upload URL of those bytes)."""
        return self.signed_url(f"{BLOBS_PREFIX}{hex_of(b64_md5)}", method=method)

    def manifest(self, artifact_id: str, method: str = "GET") -> str:
        """The signed storage URL of an artifact's manifest (`PUT`: its upload URL)."""
        return self.signed_url(f"{MANIFESTS_PREFIX}{quote(artifact_id, safe='')}", method=method)

    def artifact_file(
        self,
        *,
        entity: str,
        project: str,
        collection: str,
        artifact_id: str,
        birth_id: str,
        b64_md5: str,
        path: str,
    ) -> str:
        """The storage layout V2 URL the SDK builds as its fallback (with the artifact id)."""
        parts = (
            "default",
            quote(entity),
            quote(project),
            quote(collection),
            quote(artifact_id, safe=""),
            quote(birth_id, safe=""),
            hex_of(b64_md5),
            quote(path.rsplit("/", 1)[-1]),
        )
        return self.base() + ARTIFACT_FILES_PREFIX + "/".join(parts)

    def run_upload(self, entity: str, project: str, run: str, name: str) -> str:
        """A presigned upload URL for one run file."""
        parts = "/".join(quote(p, safe="") for p in (entity, project, run))
        return self.signed_url(f"{RUN_UPLOADS_PREFIX}{parts}/{quote(name)}", method="PUT")

    # ------------------------------------------------------------------ signatures
    def signed_url(self, path: str, *, method: str = "GET", expires_in: float | None = None) -> str:
        """The absolute form of `sign(path, ...)`."""
        return self.base() + self.sign(path, expires_in, method=method)

    def sign(self, path: str, expires_in: float | None = None, *, method: str = "GET") -> str:
        """`path` (the URL path as sent: percent-encoded, no query) with the query that lets
        anyone `method` it (GET also covers HEAD) for `expires_in` seconds (default `url_ttl`):
        `<path>?expires=<unix seconds>&signature=<hex HMAC-SHA256>`."""
        ttl = self.url_ttl if expires_in is None else expires_in
        expires = int(self.clock() + ttl)
        signature = self._mac(method, path, expires)
        return f"{path}?{EXPIRES_PARAM}={expires}&{SIGNATURE_PARAM}={signature}"

    def verify(self, path: str, query: Mapping[str, Sequence[str]], *, method: str = "GET") -> None:
        """Check a request for a signed URL (`query` as `parse_qs` gives it); SignatureError
        when the signature is missing or not this server's for `method` and `path`, or expired.
        The comparison takes constant time."""
        method = "GET" if method == "HEAD" else method
        expires_text = (query.get(EXPIRES_PARAM) or [""])[0]
        given = (query.get(SIGNATURE_PARAM) or [""])[0]
        if not expires_text.isdigit() or not given:
            raise SignatureError(f"{method} {path} needs a signed URL (the API key is not used)")
        expected = self._mac(method, path, int(expires_text))
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
            raise SignatureError(f"the signature of this URL does not match {method} {path}")
        if int(expires_text) < self.clock():
            raise SignatureError(f"this URL for {method} {path} expired at {expires_text}")

    def _mac(self, method: str, path: str, expires: int) -> str:
        target = "\0".join((method, path, str(expires))).encode("utf-8", "surrogateescape")
        return hmac.new(self._secret, target, hashlib.sha256).hexdigest()


__all__ = [
    "ARTIFACT_FILES_PREFIX",
    "BLOBS_PREFIX",
    "DEFAULT_URL_TTL",
    "EXPIRES_PARAM",
    "FILE_STREAM_NAME",
    "GRAPHQL_PATH",
    "LEGACY_ARTIFACT_FILES_PREFIX",
    "MANIFESTS_PREFIX",
    "PAGES_PREFIX",
    "RUN_FILES_PREFIX",
    "RUN_UPLOADS_PREFIX",
    "SIGNATURE_PARAM",
    "ServerUrls",
    "SignatureError",
    "hex_of",
]
