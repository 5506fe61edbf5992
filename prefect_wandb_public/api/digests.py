"""md5 digests in the forms W&B uses: base64 (manifests, Content-MD5) and hex (URLs, cache)."""

from __future__ import annotations

import base64
import hashlib
from typing import IO, Any

from prefect_wandb_public.errors import ChecksumError

HASH_CHUNK = 1 << 20


def hex_md5(b64_md5: str) -> str:
    """The hex form of a base64 md5 (ChecksumError when it is not one)."""
    try:
        raw = base64.b64decode(b64_md5, validate=True)
    except ValueError as exc:
        raise ChecksumError(f"{b64_md5!r} is not a base64 md5 digest") from exc
    if len(raw) != 16:
        raise ChecksumError(f"{b64_md5!r} is not a base64 md5 digest")
    return raw.hex()


def b64_of(hasher: Any) -> str:
    return base64.b64encode(hasher.digest()).decode()


def b64_md5(data: bytes) -> str:
    """The base64 md5 of `data` (the form W&B digests and Content-MD5 headers take)."""
    return b64_of(hashlib.md5(data))


def md5_of_stream(handle: IO[bytes]) -> tuple[str, int]:
    """(base64 md5, size) of everything left in a binary file, read in chunks."""
    hasher = hashlib.md5()
    size = 0
    while chunk := handle.read(HASH_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return b64_of(hasher), size


__all__ = ["HASH_CHUNK", "b64_md5", "b64_of", "hex_md5", "md5_of_stream"]
