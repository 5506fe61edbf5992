"""`prefect-wandb-public history export`: run histories to parquet or CSV files at any fsspec
URL, every matching run of a project in parallel, or one run."""

from __future__ import annotations

import posixpath
from typing import Annotated, Any

import typer

from prefect_wandb_public.api import ProgressCallback, export_history
from prefect_wandb_public.api.export import export_format
from prefect_wandb_public.api.paths import split_path
from prefect_wandb_public.api.progress import ProgressTracker
from prefect_wandb_public.commands.common import (
    BlockOption,
    JsonOption,
    QuietOption,
    Session,
    parse_json_option,
)
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.operations import EXPORT_FORMATS, check_export_options, export_runs

app = typer.Typer(
    name="history",
    help="Export run histories to parquet or CSV.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("export")
def export(
    path: Annotated[str, typer.Argument(help="ENTITY/PROJECT (every matching run) or .../RUN")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Folder or fsspec URL for <run_id>.<format> files; for one run also a file "
            "name ending in .parquet or .csv.",
        ),
    ],
    format: Annotated[
        str | None, typer.Option("--format", help="parquet or csv (default parquet).")
    ] = None,
    filters: Annotated[
        str | None, typer.Option(help="MongoDB-style run filters as JSON (projects only).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Runs exported at once.")] = 4,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """Export histories and print how many runs and rows were written where."""
    session = Session(json, quiet, block)
    if format is not None and format not in EXPORT_FORMATS:
        raise InvalidInputError(f"--format must be parquet or csv, got {format!r}")
    parts = split_path(path, "project or run")
    where = parse_json_option(filters, "--filters")
    if where is not None and not isinstance(where, dict):
        raise InvalidInputError(f"--filters must be a JSON object, got {filters}")
    if len(parts) == 3:
        if where is not None:
            raise InvalidInputError("--filters selects runs of a project; a run path names one")
        results = [_export_one(session, path, to, format)]
    elif len(parts) == 2:
        chosen = format or "parquet"
        check_export_options(chosen, workers)
        runs = list(session.client.runs(path, filters=where, per_page=500))
        with session.progress(f"export {path}") as display:
            tracker = ProgressTracker(display, "export", path, total=len(runs), unit="runs")
            tracker.start()
            results = export_runs(
                runs,
                to,
                chosen,
                max_workers=workers,
                on_done=lambda _result, _done, _total: tracker.advance(1),
            )
            tracker.finish()
    else:
        raise InvalidInputError(f"expected ENTITY/PROJECT or ENTITY/PROJECT/RUN, got {path!r}")
    rows = sum(result["rows"] for result in results)
    session.emit(
        f"exported {len(results)} run{'s' if len(results) != 1 else ''}, {rows} rows to {to}",
        results,
    )


def _export_one(session: Session, path: str, to: str, format: str | None) -> dict[str, Any]:
    run = session.client.run(path)
    if to.lower().endswith((".parquet", ".pq", ".csv")):
        target = to
    else:
        target = posixpath.join(to.rstrip("/"), f"{run.id}.{format or 'parquet'}")
    chosen = export_format(target, format)
    with session.progress(f"export {path}") as display:
        callback: ProgressCallback = display
        rows = export_history(run, target, chosen, progress=callback)
    return {"run": "/".join(run.path), "destination": target, "rows": rows}


__all__ = ["app", "export"]
