"""Read-only HTML pages for the web URLs the client prints (`Run.url`, `Artifact.url`).

On the local server the app URL is the server's own URL, so the links a flow or the demo prints
(`<base>/<entity>/<project>/runs/<id>`, `<base>/<entity>/<project>/artifacts/<type>/<name>/<vN>`)
would otherwise answer a JSON error. These pages show what the link names: a run's state,
config and summary, or an artifact version's aliases, files and lineage. They need no key (a
browser sends none) and change nothing; anything else under `/` is an HTML 404.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from prefect_wandb_public.testing.app import Request, Response
from prefect_wandb_public.testing.common import StoreNotFound
from prefect_wandb_public.testing.store import WandbStore

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
)


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p><small>Local W&amp;B-compatible server (prefect-wandb-public): a read-only view"
        "</small></p></body></html>"
    )
    return Response(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>" if cells else "<p>(none)</p>"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class PageRoutes:
    """The page handler for one store."""

    def __init__(self, store: WandbStore) -> None:
        self.store = store

    def get_page(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        try:
            if len(parts) == 4 and parts[2] == "runs":
                return self._run(parts[0], parts[1], parts[3])
            if len(parts) == 6 and parts[2] == "artifacts":
                return self._artifact(parts[0], parts[1], parts[4], parts[5])
        except StoreNotFound as exc:
            return _page("Not found", f"<p>{html.escape(str(exc))}</p>", 404)
        return _page("Not found", f"<p>no page at {html.escape(request.path)}</p>", 404)

    def _run(self, entity: str, project: str, run_id: str) -> Response:
        with self.store.lock:
            run = self.store.require_run(entity, project, run_id)
            facts = [
                ("path", f"{entity}/{project}/{run.name}"),
                ("name", run.display_name),
                ("state", run.state),
                ("created", run.created_at.isoformat()),
                ("tags", ", ".join(run.tags)),
                ("group", run.group or ""),
                ("job type", run.job_type or ""),
                ("sweep", run.sweep or ""),
                ("history rows", len(run.history)),
                ("files", ", ".join(sorted(run.files))),
            ]
            config = sorted(_plain(run.config).items())
            summary = sorted(_plain(run.summary).items())
        return _page(
            f"Run {entity}/{project}/{run_id}",
            _table(facts) + "<h2>Config</h2>" + _table(config) + "<h2>Summary</h2>"
            f"{_table(summary)}",
        )

    def _artifact(self, entity: str, project: str, name: str, version: str) -> Response:
        with self.store.lock:
            artifact = self.store.resolve_artifact(entity, project, f"{name}:{version}")
            if artifact is None:
                raise StoreNotFound(f"artifact {entity}/{project}/{name}:{version} not found")
            facts = [
                ("version", f"{entity}/{project}/{name}:{artifact.version}"),
                ("type", artifact.type),
                ("aliases", ", ".join(self.store.aliases_of(artifact))),
                ("digest", artifact.digest),
                ("size", f"{artifact.size} bytes"),
                ("created", artifact.created_at.isoformat()),
                ("logged by run", artifact.created_by or ""),
                ("used by runs", ", ".join("/".join(key) for key in artifact.used_by)),
                ("description", artifact.description or ""),
            ]
            files = sorted((e.path, f"{e.size} bytes") for e in artifact.entries.values())
            metadata = sorted(artifact.metadata.items())
        return _page(
            f"Artifact {entity}/{project}/{name}:{version}",
            _table(facts) + "<h2>Files</h2>" + _table(files) + "<h2>Metadata</h2>"
            f"{_table(metadata)}",
        )


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Config values as the SDK logs them ({"value": x, "desc": ...}) shown as x."""
    return {
        k: v["value"] if isinstance(v, Mapping) and "value" in v else v
        for k, v in mapping.items()
        if not str(k).startswith("_")
    }


__all__ = ["PageRoutes"]
