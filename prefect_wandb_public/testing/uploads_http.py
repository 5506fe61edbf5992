"""HTTP routes that receive the bytes of a new artifact version, as presigned storage URLs do.

- `PUT /storage/blobs/<hex md5>` (no key): a file's bytes, the `uploadUrl` `createArtifactFiles`
  hands out. The body must hash to the md5 in the URL, and to `Content-MD5` when that header is
  sent (400 otherwise); storage is content-addressed, so a repeated PUT is harmless.
- `PUT /storage/manifests/<artifact id>` (no key): the manifest JSON of a PENDING version, the
  `uploadUrl` of `createArtifactManifest` / `updateArtifactManifest`, checked the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.common import StoreError
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import BLOBS_PREFIX, MANIFESTS_PREFIX
from prefect_wandb_public.testing.wire import check_b64_md5


def _content_md5_error(request: Request, md5: bytes) -> Response | None:
    """A 400 when a `Content-MD5` header was sent and the body does not match it."""
    sent = request.headers.get("content-md5")
    if sent is None:
        return None
    actual = base64.b64encode(md5).decode()
    if sent.strip() != actual:
        return Response.error(
            400, f"Content-MD5 mismatch: header says {sent.strip()!r}, body hashes to {actual!r}"
        )
    return None


def _stored(md5: bytes, size: int) -> Response:
    """200 with the object's ETag (its hex md5, as S3 gives for a single PUT) and a small body."""
    response = Response.json({"md5": base64.b64encode(md5).decode(), "size": size})
    response.headers["ETag"] = f'"{md5.hex()}"'
    return response


class UploadRoutes:
    """Handlers for one store."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def put_blob(self, request: Request) -> Response:
        md5 = hashlib.md5(request.body).digest()
        refused = _content_md5_error(request, md5)
        if refused is not None:
            return refused
        wanted = request.path[len(BLOBS_PREFIX) :].lower()
        if wanted != md5.hex():
            return Response.error(
                400, f"the body hashes to md5 {md5.hex()}, not the {wanted!r} this URL is for"
            )
        self.store.put_blob(request.body)
        return _stored(md5, len(request.body))

    def put_manifest(self, request: Request) -> Response:
        md5 = hashlib.md5(request.body).digest()
        refused = _content_md5_error(request, md5)
        if refused is not None:
            return refused
        artifact = self.store.artifact_by_id(unquote(request.path[len(MANIFESTS_PREFIX) :]))
        expected = artifact.manifest_digest
        if check_b64_md5(expected) and base64.b64encode(md5).decode() != expected:
            return Response.error(
                400, f"the manifest does not hash to its declared digest {expected!r}"
            )
        try:
            json.loads(request.body)
        except ValueError as exc:
            raise StoreError(f"the manifest is not JSON: {exc}") from exc
        self.store.put_manifest(artifact, request.body)
        return _stored(md5, len(request.body))


__all__ = ["UploadRoutes"]
