"""`LocalWandbServer`: a W&B-compatible server on 127.0.0.1 for tests, demos and benchmarks.

    with LocalWandbServer() as server:
        server.create_run("me", "proj", "run-1", config={"lr": 0.1}, summary={"loss": 0.2})
        api = Api(api_key=server.api_key, overrides={"base_url": server.url})

It runs in a background thread of the calling process; `store` is the live state, `faults` the
injection plan and `request_log` what the server saw. `network` says what requests cost: nothing
on `"loopback"` (the default), the calibrated costs of a client far from the service on `"wan"`,
or any `NetworkProfile` (see `profiles.py`); it can be changed while serving.
`max_single_put_bytes` is the largest body one storage `PUT` may carry (S3's 5 GiB by default;
larger files must use the multipart upload of `multipart.py`).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from prefect_wandb_public.testing.app import (
    DEFAULT_MAX_BODY,
    KEY,
    OPEN,
    SIGNED,
    Request,
    Response,
    WandbHTTPApp,
    make_http_server,
)
from prefect_wandb_public.testing.executor import GraphQLEngine, load_schema
from prefect_wandb_public.testing.faults import Fault, FaultPlan, RequestLog
from prefect_wandb_public.testing.files_http import FileRoutes, HistoryExportRoute
from prefect_wandb_public.testing.filestream_http import FileStreamRoute, RunUploads
from prefect_wandb_public.testing.multipart import DEFAULT_MAX_SINGLE_PUT_BYTES
from prefect_wandb_public.testing.pages_http import PageRoutes
from prefect_wandb_public.testing.profiles import NetworkProfile, resolve_profile
from prefect_wandb_public.testing.resolvers import Resolvers
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.uploads_http import UploadRoutes

if TYPE_CHECKING:
    from prefect_wandb_public.testing.seed import DemoSeed
from prefect_wandb_public.testing.urls import (
    ARTIFACT_FILES_PREFIX,
    BLOBS_PREFIX,
    DEFAULT_URL_TTL,
    GRAPHQL_PATH,
    HISTORY_EXPORTS_PREFIX,
    LEGACY_ARTIFACT_FILES_PREFIX,
    MANIFESTS_PREFIX,
    PAGES_PREFIX,
    RUN_FILES_PREFIX,
    RUN_UPLOADS_PREFIX,
    UPLOAD_PARTS_PREFIX,
    ServerUrls,
)

P = ParamSpec("P")
R = TypeVar("R")


class _StoreMethod(Generic[P, R]):
    """`server.create_run(...)` is `server.store.create_run(...)`, signature and all."""

    def __init__(self, method: Callable[Concatenate[WandbStore, P], R]) -> None:
        self.method = method
        functools.update_wrapper(self, method)  # type: ignore[arg-type]

    def __get__(self, server: LocalWandbServer, owner: type | None = None) -> Callable[P, R]:
        return functools.partial(self.method, server.store)


def _require_loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"LocalWandbServer only listens on loopback addresses, not {host!r}")


class LocalWandbServer:
    """GraphQL + file endpoints over one `WandbStore`, served on a free loopback port.

    `max_body` bounds request bodies (bytes; a larger declared body is answered 413 before it
    is read); keyless storage URLs are signed and expire after `url_ttl` seconds.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "local-user",
        entity: str | None = None,
        store: WandbStore | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        url_ttl: float = DEFAULT_URL_TTL,
        network: str | NetworkProfile = "loopback",
        max_single_put_bytes: int = DEFAULT_MAX_SINGLE_PUT_BYTES,
    ) -> None:
        if api_key is not None and len(api_key) < 40:
            raise ValueError("api_key must be at least 40 characters, as W&B keys are")
        self.api_key = api_key or "local-" + secrets.token_hex(24)
        self.host = _require_loopback(host)
        self.store = store or WandbStore(username=username, entity=entity)
        self.faults = FaultPlan()
        self.request_log = RequestLog()
        self.app = WandbHTTPApp(self.api_key, self.faults, self.request_log, max_body=max_body)
        self.engine = GraphQLEngine(load_schema())
        self.urls = ServerUrls(lambda: self.url, url_ttl=url_ttl)
        self.app.verify_url = self.urls.verify
        self.resolvers = Resolvers(self.store, self.urls)
        self.app.operation_of = self._operation_of
        self.network = network
        # Where the demo data is, once `seed_demo(server.store)` loaded it (the pytest
        # plugin's `wandb_server` and `server --seed demo` set it).
        self.seed: DemoSeed | None = None
        self.max_single_put_bytes = max_single_put_bytes
        self._register_routes()
        self._port = port
        self._httpd: Any = None
        self._thread: threading.Thread | None = None

    def _register_routes(self) -> None:
        """Every route of the server, in one table (the prefixes are `urls.py`'s)."""
        files = FileRoutes(self.store)
        uploads = UploadRoutes(self.store, max_single_put_bytes=self.max_single_put_bytes)
        stream = FileStreamRoute(self.store)
        run_uploads = RunUploads(self.store)
        exports = HistoryExportRoute(self.store)
        pages = PageRoutes(self.store)
        table: list[tuple[str, str, Callable[[Request], Response], str, str]] = [
            # method, path prefix, handler, what it needs (the API key, a signed URL or nothing),
            # what the network profile charges
            ("POST", GRAPHQL_PATH, self._graphql, KEY, "graphql"),
            ("GET", RUN_FILES_PREFIX, files.get_run_file, KEY, "storage"),
            ("PUT", RUN_FILES_PREFIX, files.put_run_file, KEY, "storage"),
            ("POST", RUN_FILES_PREFIX, stream.handle, KEY, "api"),
            ("GET", BLOBS_PREFIX, files.get_blob, SIGNED, "storage"),
            ("PUT", BLOBS_PREFIX, uploads.put_blob, SIGNED, "storage"),
            ("GET", MANIFESTS_PREFIX, files.get_manifest, SIGNED, "storage"),
            ("PUT", MANIFESTS_PREFIX, uploads.put_manifest, SIGNED, "storage"),
            ("PUT", RUN_UPLOADS_PREFIX, run_uploads.put, SIGNED, "storage"),
            ("PUT", UPLOAD_PARTS_PREFIX, uploads.put_part, SIGNED, "storage"),
            ("GET", HISTORY_EXPORTS_PREFIX, exports.get, SIGNED, "storage"),
            ("GET", ARTIFACT_FILES_PREFIX, files.get_artifact_file, KEY, "storage"),
            ("GET", LEGACY_ARTIFACT_FILES_PREFIX, files.get_legacy_artifact_file, KEY, "storage"),
            ("GET", PAGES_PREFIX, pages.get_page, OPEN, "api"),
        ]
        # Storage refuses a single PUT over its limit (S3: 5 GiB) before reading the body.
        single_puts = {BLOBS_PREFIX, RUN_UPLOADS_PREFIX, UPLOAD_PARTS_PREFIX}
        for method, prefix, handler, guard, kind in table:
            precheck = uploads.size_refusal if method == "PUT" and prefix in single_puts else None
            self.app.add_route(method, prefix, handler, guard=guard, kind=kind, precheck=precheck)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalWandbServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._httpd = make_http_server(self.app, self.host, self._port)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalWandbServer:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's foreground mode)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> LocalWandbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def network(self) -> NetworkProfile:
        """What requests cost (see `profiles.py`); set a name ("loopback", "wan") or a profile."""
        return self.app.shaper.profile

    @network.setter
    def network(self, value: str | NetworkProfile) -> None:
        self.app.shaper.profile = resolve_profile(value)

    @property
    def parquet_history(self) -> bool:
        """Whether `parquetHistory` tells of exports and live steps (the default), or answers
        `{parquetUrls: [], liveData: []}` as a server without exports (older W&B Server) does,
        which makes every client read history through GraphQL pages alone."""
        return self.resolvers.parquet_history

    @parquet_history.setter
    def parquet_history(self, enabled: bool) -> None:
        self.resolvers.parquet_history = bool(enabled)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. `http://127.0.0.1:54321`."""
        if self._httpd is None:
            raise RuntimeError("LocalWandbServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._httpd is not None else "stopped"
        return f"LocalWandbServer({state})"

    # ------------------------------------------------------------------ seeding
    create_project = _StoreMethod(WandbStore.create_project)
    create_run = _StoreMethod(WandbStore.create_run)
    create_sweep = _StoreMethod(WandbStore.create_sweep)
    create_sweep_agent = _StoreMethod(WandbStore.create_sweep_agent)
    create_report = _StoreMethod(WandbStore.create_report)
    create_artifact = _StoreMethod(WandbStore.create_artifact)
    put_run_file = _StoreMethod(WandbStore.put_run_file)
    log_history = _StoreMethod(WandbStore.log_history)
    export_history = _StoreMethod(WandbStore.export_history)
    create_user = _StoreMethod(WandbStore.create_user)
    create_team = _StoreMethod(WandbStore.create_team)
    create_webhook_integration = _StoreMethod(WandbStore.create_webhook_integration)
    create_slack_integration = _StoreMethod(WandbStore.create_slack_integration)
    create_automation = _StoreMethod(WandbStore.create_automation)
    create_organization = _StoreMethod(WandbStore.create_organization)
    create_registry = _StoreMethod(WandbStore.create_registry)
    link_artifact = _StoreMethod(WandbStore.link_artifact)

    # ------------------------------------------------------------------ faults
    def inject_fault(
        self,
        path: str = "/graphql",
        *,
        kind: str = "status",
        operation: str | None = None,
        method: str | None = None,
        times: int = 1,
        status: int = 503,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Make the next `times` matching requests fail; see `Fault` for the kinds."""
        return self.faults.add(
            Fault(
                kind=kind,
                path=path,
                operation=operation,
                method=method,
                times=times,
                status=status,
                retry_after=retry_after,
                delay=delay,
                headers=dict(headers or {}),
            )
        )

    # ------------------------------------------------------------------ GraphQL
    def _operation_of(self, request: Request) -> str | None:
        try:
            request.parsed_json = json.loads(request.body or b"null")
        except ValueError:
            return None
        body = request.parsed_json
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return None
        return self.engine.operation_name(body["query"], body.get("operationName") or None)

    def _graphql(self, request: Request) -> Response:
        body = request.parsed_json
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return Response.error(400, "request body must be a JSON object with a query string")
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return Response.error(400, "variables must be a JSON object")
        with self.resolvers.history_costs.measure() as history, self.store.lock:
            result = self.engine.execute(
                body["query"], variables, body.get("operationName") or None, self.resolvers.root()
            )
        response = Response.json(result)
        response.cost = sum(self.network.history_cost(rows, width) for rows, width in history)
        return response


__all__ = ["LocalWandbServer"]
