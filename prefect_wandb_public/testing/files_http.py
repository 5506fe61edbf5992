"""HTTP routes for file bytes: run files, artifact files and artifact manifests.

- `GET /files/<entity>/<project>/<run>/<name>` (API key): a run file, the `File.url` the SDK reads.
- `PUT /files/<entity>/<project>/<run>/<name>` (API key): the upload URL `createRunFiles` hands out.
- `GET /storage/blobs/<hex md5>` (no key, `Range`): any stored bytes, the `directUrl` of run and
  artifact files, as presigned storage URLs behave.
- `GET /storage/manifests/<artifact id>` (no key): an artifact's manifest JSON (version 1).
- `PUT /storage/blobs/...` and `PUT /storage/manifests/...`: uploads, see `uploads_http`.
- `GET /artifactsV2/.../<hex md5>/<name>` and `/artifacts/<entity>/<hex md5>` (API key): the
  SDK's fallback when a direct URL fails.

The URL builders here are the only place these shapes are written; the resolvers use them.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.store import (
    Artifact,
    StoreError,
    StoreNotFound,
    WandbStore,
    check_file_name,
)

if TYPE_CHECKING:
    from prefect_wandb_public.testing.server import LocalWandbServer

RUN_FILES_PREFIX = "/files/"
BLOBS_PREFIX = "/storage/blobs/"
MANIFESTS_PREFIX = "/storage/manifests/"
ARTIFACT_FILES_PREFIX = "/artifactsV2/"
LEGACY_ARTIFACT_FILES_PREFIX = "/artifacts/"
OCTET_STREAM = "application/octet-stream"


def hex_of(b64_md5: str) -> str:
    """The hex form of a base64 md5, as URLs and cache paths carry it."""
    return base64.b64decode(b64_md5).hex()


def run_file_url(base: str, entity: str, project: str, run: str, name: str) -> str:
    return f"{base}{RUN_FILES_PREFIX}{quote(entity)}/{quote(project)}/{quote(run)}/{quote(name)}"


def blob_url(base: str, b64_md5: str) -> str:
    return f"{base}{BLOBS_PREFIX}{hex_of(b64_md5)}"


def manifest_url(base: str, artifact_id: str) -> str:
    return f"{base}{MANIFESTS_PREFIX}{quote(artifact_id, safe='')}"


def artifact_file_url(base: str, artifact: Artifact, path: str, birth_id: str, b64: str) -> str:
    """The storage layout V2 URL the SDK builds as its fallback (with the artifact id)."""
    parts = (
        "default",
        quote(artifact.entity),
        quote(artifact.project),
        quote(artifact.collection),
        quote(artifact.id, safe=""),
        quote(birth_id, safe=""),
        hex_of(b64),
        quote(path.rsplit("/", 1)[-1]),
    )
    return base + ARTIFACT_FILES_PREFIX + "/".join(parts)


def manifest_json(artifact: Artifact) -> dict[str, Any]:
    """Manifest JSON v1: `contents` keyed by path with digest (base64 md5), size, and the birth
    id of a stored file or the URI (`ref`) and `extra` of a reference."""
    contents: dict[str, Any] = {}
    for path, entry in artifact.entries.items():
        item: dict[str, Any] = {"digest": entry.digest, "size": entry.size}
        if entry.ref is None:
            item["birthArtifactID"] = entry.birth_artifact_id
        else:
            item["ref"] = entry.ref
        if entry.extra:
            item["extra"] = dict(entry.extra)
        contents[path] = item
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": contents,
    }


class FileRoutes:
    """Handlers for one store; `register` wires them into a server's app."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def run_file_target(self, request: Request) -> tuple[str, str, str, str]:
        parts = request.path[len(RUN_FILES_PREFIX) :].split("/", 3)
        if len(parts) != 4 or not all(parts):
            raise StoreNotFound(f"no run file at {request.path}")
        entity, project, run, name = (unquote(p) for p in parts)
        return entity, project, run, name

    def get_run_file(self, request: Request) -> Response:
        try:
            entity, project, run_id, name = self.run_file_target(request)
            with self.store.lock:
                run = self.store.require_run(entity, project, run_id)
                record = run.files.get(name)
                data = self.store.blobs.get(record.md5) if record is not None else None
        except StoreNotFound as exc:
            return Response.error(404, str(exc))
        if record is None or data is None:
            return Response.error(
                404, f"file {name!r} of run {entity}/{project}/{run_id} not found"
            )
        return Response.blob(data, request, record.mimetype)

    def put_run_file(self, request: Request) -> Response:
        try:
            entity, project, run_id, name = self.run_file_target(request)
            check_file_name(name)
            record = self.store.put_run_file(entity, project, run_id, name, request.body)
        except StoreNotFound as exc:
            return Response.error(404, str(exc))
        except StoreError as exc:
            return Response.error(400, str(exc))
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
            return Response.error(404, f"no stored object at {request.path}")
        return Response.blob(data, request, OCTET_STREAM)

    def get_manifest(self, request: Request) -> Response:
        artifact_id = unquote(request.path[len(MANIFESTS_PREFIX) :])
        try:
            artifact = self.store.artifact_by_id(artifact_id)
            with self.store.lock:
                body = json.dumps(manifest_json(artifact)).encode()
        except StoreNotFound as exc:
            return Response.error(404, str(exc))
        return Response(200, body, {"Content-Type": "application/json"})


def register_file_routes(server: LocalWandbServer) -> None:
    """Add the file routes (and the artifact upload routes of `uploads_http`) to `server` and
    tell its resolvers the URL files are served at."""
    from prefect_wandb_public.testing.uploads_http import register_upload_routes

    register_upload_routes(server)
    routes = FileRoutes(server.store)
    app = server.app
    app.add_route("GET", RUN_FILES_PREFIX, routes.get_run_file)
    app.add_route("PUT", RUN_FILES_PREFIX, routes.put_run_file)
    app.add_route("GET", BLOBS_PREFIX, routes.get_blob, auth=False)
    app.add_route("GET", MANIFESTS_PREFIX, routes.get_manifest, auth=False)
    app.add_route("GET", ARTIFACT_FILES_PREFIX, routes.get_artifact_file)
    app.add_route("GET", LEGACY_ARTIFACT_FILES_PREFIX, routes.get_legacy_artifact_file)
    server.resolvers.artifacts.public_url = lambda: server.url
