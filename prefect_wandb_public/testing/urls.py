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
from collections.abc import Callable
from urllib.parse import quote

RUN_FILES_PREFIX = "/files/"
FILE_STREAM_NAME = "file_stream"
BLOBS_PREFIX = "/storage/blobs/"
MANIFESTS_PREFIX = "/storage/manifests/"
RUN_UPLOADS_PREFIX = "/storage/run-files/"
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

    def run_upload(self, entity: str, project: str, run: str, name: str) -> str:
        """A presigned upload URL for one run file."""
        parts = "/".join(quote(p, safe="") for p in (entity, project, run))
        signature = self.run_upload_signature(entity, project, run, name)
        return f"{self.base()}{RUN_UPLOADS_PREFIX}{parts}/{quote(name)}?signature={signature}"

    # ------------------------------------------------------------------ signatures
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
    "FILE_STREAM_NAME",
    "GRAPHQL_PATH",
    "LEGACY_ARTIFACT_FILES_PREFIX",
    "MANIFESTS_PREFIX",
    "PAGES_PREFIX",
    "RUN_FILES_PREFIX",
    "RUN_UPLOADS_PREFIX",
    "ServerUrls",
    "hex_of",
]
