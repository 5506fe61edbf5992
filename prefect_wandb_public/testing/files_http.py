"""HTTP routes that serve file bytes: run files, stored blobs, artifact manifests, and the SDK's
authenticated fallbacks for artifact files (the URL shapes are in `urls.py`).

Handlers raise the store's errors; the HTTP app answers them (404 for `StoreNotFound`, ...).
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.common import StoreNotFound, check_file_name
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import (
    ARTIFACT_FILES_PREFIX,
    BLOBS_PREFIX,
    LEGACY_ARTIFACT_FILES_PREFIX,
    MANIFESTS_PREFIX,
    RUN_FILES_PREFIX,
)
from prefect_wandb_public.testing.wire import manifest_json

OCTET_STREAM = "application/octet-stream"


class FileRoutes:
    """Handlers for one store."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    @staticmethod
    def run_file_target(request: Request) -> tuple[str, str, str, str]:
        """(entity, project, run, name) of a `/files/...` path."""
        parts = request.path[len(RUN_FILES_PREFIX) :].split("/", 3)
        if len(parts) != 4 or not all(parts):
            raise StoreNotFound(f"no run file at {request.path}")
        entity, project, run, name = (unquote(p) for p in parts)
        return entity, project, run, name

    def get_run_file(self, request: Request) -> Response:
        entity, project, run_id, name = self.run_file_target(request)
        with self.store.lock:
            run = self.store.require_run(entity, project, run_id)
            record = run.files.get(name)
            data = self.store.blobs.get(record.md5) if record is not None else None
        if record is None or data is None:
            raise StoreNotFound(f"file {name!r} of run {entity}/{project}/{run_id} not found")
        return Response.blob(data, request, record.mimetype)

    def put_run_file(self, request: Request) -> Response:
        entity, project, run_id, name = self.run_file_target(request)
        check_file_name(name)
        record = self.store.put_run_file(entity, project, run_id, name, request.body)
        return Response.json({"name": record.name, "md5": record.md5, "size": record.size})

    def get_blob(self, request: Request) -> Response:
        return self._blob(request, request.path[len(BLOBS_PREFIX) :])

    def get_artifact_file(self, request: Request) -> Response:
        """`/artifactsV2/<region>/<entity>/<project>/<coll>/[<id>/]<birth id>/<hex md5>/<name>`."""
        parts = request.path[len(ARTIFACT_FILES_PREFIX) :].split("/")
        return self._blob(request, parts[-2] if len(parts) >= 7 else "")

    def get_legacy_artifact_file(self, request: Request) -> Response:
        """`/artifacts/<entity>/<hex md5>`, the storage layout V1 fallback."""
        parts = request.path[len(LEGACY_ARTIFACT_FILES_PREFIX) :].split("/")
        return self._blob(request, parts[1] if len(parts) == 2 else "")

    def _blob(self, request: Request, hex_md5: str) -> Response:
        data = self.store.blob_by_hex(hex_md5) if len(hex_md5) == 32 else None
        if data is None:
            raise StoreNotFound(f"no stored object at {request.path}")
        return Response.blob(data, request, OCTET_STREAM)

    def get_manifest(self, request: Request) -> Response:
        artifact = self.store.artifact_by_id(unquote(request.path[len(MANIFESTS_PREFIX) :]))
        with self.store.lock:
            body = json.dumps(manifest_json(artifact)).encode()
        return Response(200, body, {"Content-Type": "application/json"})


__all__ = ["OCTET_STREAM", "FileRoutes"]
