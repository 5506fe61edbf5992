"""Multipart uploads of the publish pipeline (transfer notes §3), in bounded memory.

A file of at least `TransferSettings.multipart_upload_threshold` bytes is announced to
`createArtifactFiles` with its part list (`uploadPartsInput`: part numbers and hex md5s, which
the protocol needs first; `PartHashes` hashes them in parallel from the start of the publish);
the service answers one `PUT` URL per part. Each part is `PUT` from its slice of the file on
disk (`FileSlice`: never read whole into memory) with its `Content-MD5`, retried alone through
the client's one retry primitive, and its `ETag` kept; once every part of the file is stored,
`completeMultipartUploadArtifact` names them all in order and the service joins them and checks
the file's md5. Nothing is visible before the version's commit, so a failure leaves no version,
and a re-run asks for new upload URLs and completes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.queries.artifacts import COMPLETE_MULTIPART_MUTATION
from prefect_wandb_public.errors import CommError

if TYPE_CHECKING:
    from prefect_wandb_public.api.transport import Transport

_READ = 1 << 20


class FileSlice:
    """Bytes `[start, stop)` of a local file as a request body: `read(n)` streams them from
    disk, `len()` gives requests the Content-Length."""

    def __init__(self, path: str, start: int, stop: int) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._handle.seek(start)
        self._left = stop - start
        self._length = stop - start

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._handle.read(max(size, 1))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def md5_of_range(path: str, start: int, stop: int) -> bytes:
    """The raw md5 of bytes `[start, stop)` of `path`, read in 1 MiB pieces."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        handle.seek(start)
        left = stop - start
        while left > 0:
            chunk = handle.read(min(_READ, left))
            if not chunk:
                raise OSError(f"{path} is shorter than {stop} bytes (it changed while publishing)")
            digest.update(chunk)
            left -= len(chunk)
    return digest.digest()


class PartHashes:
    """The part md5s of the files that go up in parts, hashed on a background pool from the
    start of a publish: `createArtifactFiles` needs them first, so hashing while the publish's
    first GraphQL round trips are in flight takes it off the critical path. `files` maps a
    file's key (its manifest digest) to its local path and part ranges; `cancel` drops the
    parts not hashed yet (nothing to upload after all, or the publish failed)."""

    def __init__(
        self, files: Mapping[str, tuple[str, Sequence[tuple[int, int]]]], workers: int
    ) -> None:
        self._futures: dict[str, list[Future[bytes]]] = {}
        count = sum(len(ranges) for _, ranges in files.values())
        if not count:
            return
        # hashlib releases the GIL, so parts hash on every core; more threads than cores
        # would only hold more buffers.
        threads = max(1, min(workers, count, os.cpu_count() or 1))
        pool = ThreadPoolExecutor(threads, "wandb-part-md5")
        for key, (path, ranges) in files.items():
            self._futures[key] = [pool.submit(md5_of_range, path, a, b) for a, b in ranges]
        pool.shutdown(wait=False)  # its threads end once the parts submitted are hashed

    def __contains__(self, key: object) -> bool:
        return key in self._futures

    def get(self, key: str) -> list[bytes]:
        """The raw md5 of every part of the file `key`, in order (waits for them)."""
        return [future.result() for future in self._futures[key]]

    def cancel(self) -> None:
        for futures in self._futures.values():
            for future in futures:
                future.cancel()


@dataclass
class Part:
    """One part of a multipart upload: its number, byte range, md5, URL and (once stored)
    the ETag the storage answered."""

    number: int
    start: int
    stop: int
    md5: bytes
    url: str
    etag: str | None = None


@dataclass
class MultipartFile:
    """A file going up in parts: the upload the service opened and its parts."""

    path: str
    label: str
    upload_id: str
    storage_path: str
    artifact_id: str
    content_type: str
    parts: list[Part] = field(default_factory=list)


def parts_input(digests: Sequence[bytes]) -> list[dict[str, Any]]:
    """`uploadPartsInput` of `createArtifactFiles`: part numbers from 1 and hex md5s."""
    return [{"partNumber": n, "hexMD5": d.hex()} for n, d in enumerate(digests, 1)]


def multipart_file(
    node: dict[str, Any],
    path: str,
    label: str,
    ranges: Sequence[tuple[int, int]],
    digests: Sequence[bytes],
    headers: dict[str, str],
    artifact_id: str,
) -> MultipartFile:
    """The upload `createArtifactFiles` opened for one file (its node), checked: one URL per
    part requested, in order."""
    urls = node["uploadMultipartUrls"]
    returned = urls.get("uploadUrlParts") or []
    if len(returned) != len(ranges):
        raise CommError(
            f"createArtifactFiles answered {len(returned)} part URLs for the {len(ranges)} "
            f"parts of {label}"
        )
    upload = MultipartFile(
        path,
        label,
        urls["uploadID"],
        node.get("storagePath") or "",
        (node.get("artifact") or {}).get("id") or artifact_id,
        headers.get("Content-Type", ""),
    )
    for index, ((start, stop), digest, part) in enumerate(
        zip(ranges, digests, returned, strict=True), 1
    ):
        upload.parts.append(Part(index, start, stop, digest, part["uploadUrl"]))
    return upload


def put_part(
    transport: Transport,
    upload: MultipartFile,
    part: Part,
    should_stop: Callable[[], bool],
) -> None:
    """PUT one part from its slice of the file, retried alone; keeps the ETag."""
    headers = {"Content-MD5": base64.b64encode(part.md5).decode()}
    if upload.content_type:
        headers["Content-Type"] = upload.content_type
    what = f"uploading part {part.number} of {len(upload.parts)} of {upload.label}"

    def attempt() -> str:
        body = FileSlice(upload.path, part.start, part.stop)
        try:
            response = transport.request(
                "PUT", part.url, data=body, headers=headers, what=what, once=True
            )
        finally:
            body.close()
        etag = response.headers.get("ETag")
        response.close()
        if not etag:
            raise CommError(f"{what}: the storage answered no ETag")
        return etag

    part.etag = transport.with_retries(attempt, should_stop=should_stop)


def complete(transport: Transport, upload: MultipartFile) -> None:
    """`completeMultipartUploadArtifact` with every part's ETag, in part order."""
    transport.graphql(
        COMPLETE_MULTIPART_MUTATION,
        {
            "completeMultipartAction": "Complete",
            "completedParts": [
                {"partNumber": p.number, "hexMD5": p.etag}
                for p in sorted(upload.parts, key=lambda p: p.number)
            ],
            "artifactID": upload.artifact_id,
            "storagePath": upload.storage_path,
            "uploadID": upload.upload_id,
        },
    )


__all__ = [
    "FileSlice",
    "MultipartFile",
    "Part",
    "PartHashes",
    "complete",
    "md5_of_range",
    "multipart_file",
    "parts_input",
    "put_part",
]
