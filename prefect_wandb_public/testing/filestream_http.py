"""What a live run (`wandb.init` ... `wandb.finish`) writes besides GraphQL: its file stream and
its saved files.

`PUT /storage/run-files/<entity>/<project>/<run>/<name>?signature=...` (no key): the presigned
`uploadUrl` that `createRunFiles` hands out. wandb-core sends no credentials to upload URLs (they
are storage URLs on the real service), so the signature in the URL is the authority.

`POST /files/<entity>/<project>/<run>/file_stream` (API key) takes a JSON object, as wandb-core
sends it:

    {"files": {"wandb-history.jsonl": {"offset": 0, "content": ["{...}", ...]},
               "wandb-events.jsonl": {...}, "wandb-summary.json": {...}, "output.log": {...}},
     "complete": true, "exitcode": 0, "preempting": false, "dropped": 0, "uploaded": ["..."]}

Every key is optional (an empty object is a heartbeat). `offset` is the line number of the first
line of `content` in that file. The answer is a JSON object; the client reads no field of it.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.common import StoreError, StoreNotFound, check_file_name
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import (
    FILE_STREAM_NAME,
    RUN_FILES_PREFIX,
    RUN_UPLOADS_PREFIX,
)


class FileStreamError(StoreError):
    """A request body that is not a file_stream update."""


def parse_file_stream(body: Any) -> tuple[dict[str, tuple[int, Sequence[str]]], dict[str, Any]]:
    """Check a decoded request body; returns ({file name: (offset, lines)}, run-level flags)."""
    if not isinstance(body, Mapping):
        raise FileStreamError("file_stream body must be a JSON object")
    files = body.get("files", {})
    if files is None:
        files = {}
    if not isinstance(files, Mapping):
        raise FileStreamError("files must be an object of file name to {offset, content}")
    chunks: dict[str, tuple[int, Sequence[str]]] = {}
    for name, chunk in files.items():
        if not isinstance(chunk, Mapping):
            raise FileStreamError(f"files[{name!r}] must be an object with offset and content")
        offset, content = chunk.get("offset", 0), chunk.get("content") or []
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise FileStreamError(f"files[{name!r}].offset must be a non-negative integer")
        if not isinstance(content, list) or not all(isinstance(line, str) for line in content):
            raise FileStreamError(f"files[{name!r}].content must be a list of strings")
        chunks[name] = (offset, content)
    exitcode = body.get("exitcode")
    if exitcode is not None and (not isinstance(exitcode, int) or isinstance(exitcode, bool)):
        raise FileStreamError("exitcode must be an integer")
    flags = {
        "complete": bool(body.get("complete")),
        "exitcode": exitcode,
        "preempting": bool(body.get("preempting")),
    }
    return chunks, flags


def _decoded_body(request: Request) -> Any:
    encoding = request.headers.get("content-encoding", "").lower()
    data = request.body
    try:
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        return json.loads(data or b"null")
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise FileStreamError(f"file_stream body is not JSON: {exc}") from exc


class FileStreamRoute:
    """The handler for one store."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def handle(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path[len(RUN_FILES_PREFIX) :].split("/")]
        if len(parts) != 4 or parts[3] != FILE_STREAM_NAME or not all(parts):
            raise StoreNotFound(f"no route for POST {request.path}")
        entity, project, run_id, _ = parts
        chunks, flags = parse_file_stream(_decoded_body(request))
        run = self.store.require_run(entity, project, run_id)
        self.store.stream_run_files(run, chunks, **flags)
        return Response.json({"exitcode": None, "limits": {}})


class RunUploads:
    """Presigned run-file uploads: the URL's signature (see `ServerUrls.run_upload`, checked by
    the HTTP app before the body is read: a signed route) is the authority, as wandb-core sends
    no credentials to upload URLs."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def put(self, request: Request) -> Response:
        parts = request.path[len(RUN_UPLOADS_PREFIX) :].split("/", 3)
        if len(parts) != 4 or not all(parts):
            raise StoreNotFound(f"no upload target at {request.path}")
        entity, project, run_id, name = (unquote(p) for p in parts)
        check_file_name(name)
        record = self.store.put_run_file(entity, project, run_id, name, request.body)
        return Response(200, b"", {"ETag": f'"{base64.b64decode(record.md5).hex()}"'})


__all__ = ["FileStreamError", "FileStreamRoute", "RunUploads", "parse_file_stream"]
