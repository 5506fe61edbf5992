"""HTTP routes that receive the bytes of a new artifact version, as presigned storage URLs do.

- `PUT /storage/blobs/<hex md5>` (no key): a file's bytes, the `uploadUrl` `createArtifactFiles`
  hands out. The body must hash to the md5 in the URL, and to `Content-MD5` when that header is
  sent (400 otherwise); storage is content-addressed, so a repeated PUT is harmless.
- `PUT /storage/manifests/<artifact id>` (no key): the manifest JSON of a PENDING version, the
  `uploadUrl` of `createArtifactManifest` / `updateArtifactManifest`, checked the same way.
- `PUT /storage/uploads/<upload id>/<part number>` (no key): one part of a multipart upload,
  answered with its `ETag` (`multipart.py`).

A storage `PUT` whose declared body is over the server's `max_single_put_bytes` is refused with
S3's `EntityTooLarge` (HTTP 400) before its body is read (`size_refusal`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.common import StoreError, StoreNotFound
from prefect_wandb_public.testing.multipart import DEFAULT_MAX_SINGLE_PUT_BYTES
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import BLOBS_PREFIX, MANIFESTS_PREFIX, UPLOAD_PARTS_PREFIX
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

    def __init__(
        self, store: WandbStore, *, max_single_put_bytes: int = DEFAULT_MAX_SINGLE_PUT_BYTES
    ) -> None:
        self.store = store
        self.max_single_put_bytes = max_single_put_bytes

    def size_refusal(self, request: Request) -> Response | None:
        """S3's answer to a single PUT over the limit, judged on `Content-Length` alone."""
        declared = (request.headers.get("content-length") or "0").strip()
        size = int(declared) if declared.isdigit() else 0
        if size <= self.max_single_put_bytes:
            return None
        return Response.error(
            400,
            f"EntityTooLarge: your proposed upload of {size} bytes exceeds the maximum allowed "
            f"size of {self.max_single_put_bytes} bytes for one PUT; use a multipart upload",
        )

    def put_part(self, request: Request) -> Response:
        parts = request.path[len(UPLOAD_PARTS_PREFIX) :].split("/")
        if len(parts) != 2 or not parts[1].isdigit():
            raise StoreNotFound(f"no upload part at {request.path}")
        md5 = hashlib.md5(request.body).digest()
        refused = _content_md5_error(request, md5)
        if refused is not None:
            return refused
        etag = self.store.multipart.put_part(parts[0], int(parts[1]), request.body, md5)
        response = Response.json({"md5": base64.b64encode(md5).decode()})
        response.headers["ETag"] = etag
        return response

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
        self.store.put_blob(request.body, base64.b64encode(md5).decode())
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
