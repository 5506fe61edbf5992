"""Multipart uploads of the local server, with the rules S3-backed storage applies to them.

The protocol (transfer notes §3): `createArtifactFiles` with a file's part list
(`uploadPartsInput: [{partNumber, hexMD5}]`) opens an upload and hands out one signed `PUT` URL
per part (`uploadMultipartUrls {uploadID, uploadUrlParts}`); each part's `PUT` must carry bytes
hashing to the part's declared md5 (and to `Content-MD5` when sent) and is answered with the
part's `ETag` (its quoted hex md5, as S3 answers); `completeMultipartUploadArtifact` names every
part with the ETag it got, in order, and the server checks the whole file's md5 against the one
declared for the file (hashed in order on a helper thread while the parts arrive) and stores the
parts as the blob (`PartsBlob`: never copied into one buffer). A part may be `PUT` again (the
last bytes win, as on S3); an upload that is never completed holds nothing visible.

S3's limits apply: at most `MAX_PARTS` parts numbered from 1 without gaps, every part but the
last at least `MIN_PART_BYTES` (`EntityTooSmall` at completion otherwise), and no single `PUT`
(a whole file or one part) over the server's `max_single_put_bytes` (`EntityTooLarge`, before
the body is read).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect_wandb_public.testing.common import (
    PartsBlob,
    StoreConflict,
    StoreError,
    StoreNotFound,
)

DEFAULT_MAX_SINGLE_PUT_BYTES = 5 << 30  # S3's single-PUT limit, 5 GiB
MIN_PART_BYTES = 5 << 20  # S3's smallest part but the last, 5 MiB
MAX_PARTS = 10_000


@dataclass
class MultipartUpload:
    """One open upload: the file's declared base64 md5 and part md5s, and the parts received.

    The whole file's md5 (`whole`, over parts 1..hashed_through) is fed in order by a helper
    thread as the parts become contiguous, so neither a part's answer nor the completion waits
    for hashing that could be done before (a part PUT again must have the same md5, so the
    same bytes: what was hashed stays valid)."""

    upload_id: str
    b64_md5: str
    part_md5s: list[str]  # hex md5 of part n at index n - 1
    parts: dict[int, bytes] = field(default_factory=dict)
    whole: Any = field(default_factory=hashlib.md5)
    hashed_through: int = 0
    hashing: bool = False  # the helper thread runs
    # Guards parts, hashed_through and hashing; notified when the helper thread stops.
    lock: threading.Condition = field(default_factory=threading.Condition)

    def receive(self, number: int, body: bytes) -> None:
        """Keep part `number` (its md5 checked) and start the helper if it can hash it (call
        with `lock` held)."""
        self.parts[number] = body
        if not self.hashing and self.hashed_through + 1 in self.parts:
            self.hashing = True
            threading.Thread(target=self._hash_in_order, daemon=True).start()

    def _hash_in_order(self) -> None:
        while True:
            with self.lock:
                body = self.parts.get(self.hashed_through + 1)
                if body is None:
                    self.hashing = False
                    self.lock.notify_all()
                    return
            self.whole.update(body)  # outside the lock: parts keep arriving meanwhile
            with self.lock:
                self.hashed_through += 1


class MultipartUploads:
    """The open multipart uploads of one server (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, MultipartUpload] = {}

    def create(self, b64_md5: str, parts: Sequence[Mapping[str, Any]]) -> MultipartUpload:
        """Open an upload of the file with md5 `b64_md5` in `parts` (`{partNumber, hexMD5}`,
        numbered 1..n in any order)."""
        if not parts:
            raise StoreError("uploadPartsInput must list at least one part")
        if len(parts) > MAX_PARTS:
            raise StoreError(f"a multipart upload has at most {MAX_PARTS} parts, not {len(parts)}")
        by_number: dict[int, str] = {}
        for part in parts:
            number, hex_md5 = part.get("partNumber"), str(part.get("hexMD5") or "")
            if not isinstance(number, int) or not 1 <= number <= len(parts):
                raise StoreError(f"part number {number!r} is not in 1..{len(parts)}")
            if number in by_number:
                raise StoreError(f"part number {number} is listed twice")
            if len(hex_md5) != 32 or any(c not in "0123456789abcdef" for c in hex_md5.lower()):
                raise StoreError(f"part {number}: hexMD5 {hex_md5!r} is not a hex md5")
            by_number[number] = hex_md5.lower()
        upload = MultipartUpload(
            secrets.token_hex(16), b64_md5, [by_number[n] for n in range(1, len(parts) + 1)]
        )
        with self._lock:
            self._uploads[upload.upload_id] = upload
        return upload

    def require(self, upload_id: str) -> MultipartUpload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None:
            raise StoreNotFound(f"no open multipart upload {upload_id!r} (NoSuchUpload)")
        return upload

    def put_part(self, upload_id: str, number: int, body: bytes, md5: bytes | None = None) -> str:
        """Keep part `number`'s bytes; returns its ETag. The bytes must hash to the part's
        declared md5 (400 otherwise); `md5` is their raw md5 when the caller computed it."""
        upload = self.require(upload_id)
        if not 1 <= number <= len(upload.part_md5s):
            raise StoreError(f"upload {upload_id}: no part {number} (1..{len(upload.part_md5s)})")
        actual = (md5 or hashlib.md5(body).digest()).hex()
        if actual != upload.part_md5s[number - 1]:
            raise StoreError(
                f"part {number} hashes to md5 {actual}, not the declared "
                f"{upload.part_md5s[number - 1]} (BadDigest)"
            )
        with upload.lock:
            upload.receive(number, bytes(body))
        return f'"{actual}"'

    def complete(
        self, upload_id: str, completed: Sequence[Mapping[str, Any]]
    ) -> tuple[PartsBlob, str]:
        """Join the parts named in `completed` (`{partNumber, hexMD5: <ETag>}`, ascending, every
        part once) into the file; the upload closes. The file must hash to its declared md5.
        Returns the file (its parts, never copied into one buffer) and that md5 (base64)."""
        upload = self.require(upload_id)
        count = len(upload.part_md5s)
        numbers = [part.get("partNumber") for part in completed]
        if numbers != list(range(1, count + 1)):
            raise StoreError(
                f"completedParts must name parts 1..{count} in order, got "
                f"{numbers[:10]} (InvalidPartOrder)"
            )
        with upload.lock:
            missing = [n for n in numbers if n not in upload.parts]
            if missing:
                raise StoreConflict(f"upload {upload_id}: parts {missing[:10]} were never uploaded")
            chunks = [upload.parts[n] for n in range(1, count + 1)]
        for part in completed:
            etag = f'"{upload.part_md5s[part["partNumber"] - 1]}"'
            if str(part.get("hexMD5") or "").lower() not in (etag, etag.strip('"')):
                raise StoreError(
                    f"part {part['partNumber']}: ETag {part.get('hexMD5')!r} is not the "
                    f"part's {etag} (InvalidPart)"
                )
        small = [n for n, chunk in enumerate(chunks[:-1], 1) if len(chunk) < MIN_PART_BYTES]
        if small:
            raise StoreError(
                f"parts {small[:10]} are smaller than {MIN_PART_BYTES} bytes and not the last "
                "(EntityTooSmall)"
            )
        with upload.lock:
            while upload.hashing:  # every part is here, so the helper hashes them all
                upload.lock.wait()
            actual = base64.b64encode(upload.whole.digest()).decode()
        if actual != upload.b64_md5:
            raise StoreError(
                f"the joined parts hash to md5 {actual}, not the file's declared {upload.b64_md5}"
            )
        with self._lock:
            self._uploads.pop(upload_id, None)
        return PartsBlob(chunks), actual

    def open_count(self) -> int:
        """Uploads opened and not completed (tests look at what a failure leaves)."""
        with self._lock:
            return len(self._uploads)


__all__ = [
    "DEFAULT_MAX_SINGLE_PUT_BYTES",
    "MAX_PARTS",
    "MIN_PART_BYTES",
    "MultipartUpload",
    "MultipartUploads",
]
