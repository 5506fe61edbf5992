"""HTTP routes that serve file bytes: run files, stored blobs, artifact manifests, parquet history
exports, and the SDK's authenticated fallbacks for artifact files (URL shapes in `urls.py`).

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
    HISTORY_EXPORTS_PREFIX,
    LEGACY_ARTIFACT_FILES_PREFIX,
    MANIFESTS_PREFIX,
    RUN_FILES_PREFIX,
)
from prefect_wandb_public.testing.wire import manifest_json

OCTET_STREAM = "application/octet-stream"
PARQUET = "application/vnd.apache.parquet"


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


class HistoryExportRoute:
    """`GET`/`HEAD /storage/history/<entity>/<project>/<run>/<export id>/<n>.parquet?expires=..&
    signature=..`: one parquet file of a run's history export, as a signed storage URL serves it
    (no key; `Range` answered with 206, `HEAD` with the `Content-Length`). The route is
    registered SIGNED, so the app answers a missing, wrong or expired signature with a 403 (as
    object stores do) before this handler runs; an unknown file is a 404."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def get(self, request: Request) -> Response:
        parts = request.path[len(HISTORY_EXPORTS_PREFIX) :].split("/")
        name = parts[-1] if len(parts) == 5 else ""
        if not name.endswith(".parquet") or not name[: -len(".parquet")].isdigit():
            raise StoreNotFound(f"no history export at {request.path}")
        entity, project, run_id, export_id = (unquote(p) for p in parts[:4])
        with self.store.lock:
            run = self.store.require_run(entity, project, run_id)
            file = run.exports.file_by_id(export_id, int(name[: -len(".parquet")]))
            if file is None:
                raise StoreNotFound(f"no history export at {request.path}")
            data = run.exports.data(run.history, file)
        return Response.blob(data, request, PARQUET)


__all__ = ["OCTET_STREAM", "PARQUET", "FileRoutes", "HistoryExportRoute"]
