"""Every URL the local server hands out, and the signatures of those that skip the API key.

The route prefixes are written here once; resolvers build URLs with `ServerUrls` and `server.py`
registers the routes under the same prefixes:

- `/files/<entity>/<project>/<run>/<name>` (API key): a run file, the `File.url` the SDK reads;
  `PUT` there is the authenticated upload; `.../file_stream` takes a live run's stream.
- `/storage/blobs/<hex md5>` (no key, `Range`): stored bytes, the `directUrl` of run and artifact
  files, as presigned storage URLs behave; `PUT` there uploads an artifact file.
- `/storage/manifests/<artifact id>` (no key): an artifact's manifest JSON; `PUT` uploads it.
- `/storage/run-files/<entity>/<project>/<run>/<name>?signature=...` (no key, signed): the
  presigned run-file upload URL `createRunFiles` hands out.
- `/storage/history/<entity>/<project>/<run>/<export id>/<n>.parquet?expires=...&signature=...`
  (no key, signed with an expiry, `HEAD` and `Range`): a run's parquet history export, the
  `parquetUrls` of `parquetHistory`. An export file never changes under its path.
- `/artifactsV2/.../<hex md5>/<name>` and `/artifacts/<entity>/<hex md5>` (API key): the SDK's
  fallback when a direct URL fails.
- `/<entity>/<project>/runs/<id>` and `/<entity>/<project>/artifacts/<type>/<name>/<version>`
  (no key, GET): read-only HTML pages for the web links `Run.url` and `Artifact.url` print.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlencode

RUN_FILES_PREFIX = "/files/"
FILE_STREAM_NAME = "file_stream"
BLOBS_PREFIX = "/storage/blobs/"
MANIFESTS_PREFIX = "/storage/manifests/"
RUN_UPLOADS_PREFIX = "/storage/run-files/"
HISTORY_EXPORTS_PREFIX = "/storage/history/"
DEFAULT_SIGNED_URL_TTL = 3600.0  # seconds a signed storage URL stays valid, as GCS/S3 defaults go
ARTIFACT_FILES_PREFIX = "/artifactsV2/"
LEGACY_ARTIFACT_FILES_PREFIX = "/artifacts/"
GRAPHQL_PATH = "/graphql"
# Everything else under `/`: the read-only pages of the web URLs (`<entity>/<project>/runs/<id>`,
# `<entity>/<project>/artifacts/<type>/<name>/<version>`); the longer prefixes above win.
PAGES_PREFIX = "/"


def hex_of(b64_md5: str) -> str:
    """The hex form of a base64 md5, as URLs and cache paths carry it."""
    return base64.b64decode(b64_md5).hex()


class ServerUrls:
    """URL builders for one server: `base()` is its base URL (known once it is bound), and the
    per-server secret signs the URLs that carry no API key."""

    def __init__(self, base: Callable[[], str]) -> None:
        self.base = base
        self._secret = secrets.token_bytes(32)
        self.signed_url_ttl = DEFAULT_SIGNED_URL_TTL
        self.clock: Callable[[], float] = time.time

    # ------------------------------------------------------------------ builders
    def run_file(self, entity: str, project: str, run: str, name: str) -> str:
        return (
            f"{self.base()}{RUN_FILES_PREFIX}{quote(entity)}/{quote(project)}/{quote(run)}/"
            f"{quote(name)}"
        )

    def blob(self, b64_md5: str) -> str:
        return f"{self.base()}{BLOBS_PREFIX}{hex_of(b64_md5)}"

    def manifest(self, artifact_id: str) -> str:
        return f"{self.base()}{MANIFESTS_PREFIX}{quote(artifact_id, safe='')}"

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

    def history_export(
        self, entity: str, project: str, run: str, export_id: str, index: int
    ) -> str:
        """The signed, expiring storage URL of one parquet file of a run's history export."""
        parts = "/".join(quote(p, safe="") for p in (entity, project, run, export_id))
        path = f"{HISTORY_EXPORTS_PREFIX}{parts}/{index}.parquet"
        return f"{self.base()}{path}?{self.sign(path)}"

    def run_upload(self, entity: str, project: str, run: str, name: str) -> str:
        """A presigned upload URL for one run file."""
        parts = "/".join(quote(p, safe="") for p in (entity, project, run))
        signature = self.run_upload_signature(entity, project, run, name)
        return f"{self.base()}{RUN_UPLOADS_PREFIX}{parts}/{quote(name)}?signature={signature}"

    # ------------------------------------------------------------------ signatures
    def sign(self, path: str, expires_in: float | None = None) -> str:
        """The query string (`expires=<unix time>&signature=<hex>`) that makes `path` readable
        without the API key until `expires_in` seconds from now (default `signed_url_ttl`)."""
        ttl = self.signed_url_ttl if expires_in is None else expires_in
        expires = int(self.clock() + ttl)
        return urlencode({"expires": expires, "signature": self._path_signature(path, expires)})

    def verify(self, path: str, query: Mapping[str, Sequence[str]]) -> str | None:
        """Why a request for `path` with this parsed query string may not read it (missing,
        expired or wrong signature), or None when `sign` made it and it has not expired."""
        expires_values, signatures = query.get("expires") or [], query.get("signature") or []
        if len(expires_values) != 1 or len(signatures) != 1:
            return "the URL is not signed"
        try:
            expires = int(expires_values[0])
        except ValueError:
            return "the URL's expiry is not a number"
        expected = self._path_signature(path, expires)
        if not hmac.compare_digest(signatures[0].encode(), expected.encode()):
            return "the URL's signature does not match"
        if self.clock() > expires:
            return "the signed URL has expired"
        return None

    def _path_signature(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def run_upload_signature(self, entity: str, project: str, run: str, name: str) -> str:
        target = "\0".join((entity, project, run, name)).encode()
        return hmac.new(self._secret, target, hashlib.sha256).hexdigest()

    def check_run_upload(
        self, entity: str, project: str, run: str, name: str, signature: str
    ) -> bool:
        """Whether `signature` is this server's for that upload target (constant time)."""
        expected = self.run_upload_signature(entity, project, run, name)
        return hmac.compare_digest(signature.encode(), expected.encode())


__all__ = [
    "ARTIFACT_FILES_PREFIX",
    "BLOBS_PREFIX",
    "DEFAULT_SIGNED_URL_TTL",
    "FILE_STREAM_NAME",
    "GRAPHQL_PATH",
    "HISTORY_EXPORTS_PREFIX",
    "LEGACY_ARTIFACT_FILES_PREFIX",
    "MANIFESTS_PREFIX",
    "PAGES_PREFIX",
    "RUN_FILES_PREFIX",
    "RUN_UPLOADS_PREFIX",
    "ServerUrls",
    "hex_of",
]
