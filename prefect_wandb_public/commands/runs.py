"""`prefect-wandb-public runs ls` and `check` (alias `whoami`)."""

from __future__ import annotations

from typing import Annotated

import typer

from prefect_wandb_public.api import RetryPolicy
from prefect_wandb_public.commands.common import (
    BlockOption,
    JsonOption,
    QuietOption,
    Session,
    parse_json_option,
)
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.operations import run_field, run_record, verify_credentials

app = typer.Typer(
    name="runs", help="List the runs of a project.", no_args_is_help=True, add_completion=False
)

DEFAULT_FIELDS = "id,name,state,created_at"


@app.command("ls")
def ls(
    project: Annotated[str, typer.Argument(help="ENTITY/PROJECT")],
    filters: Annotated[
        str | None,
        typer.Option(help='MongoDB-style filters as JSON, e.g. {"state": "finished"}.'),
    ] = None,
    order: Annotated[
        str, typer.Option(help="Sort key with +/-, e.g. -summary_metrics.acc.")
    ] = "-created_at",
    fields: Annotated[
        str,
        typer.Option(
            help="Comma-separated columns: run fields, summary.<key>, config.<key>.",
        ),
    ] = DEFAULT_FIELDS,
    limit: Annotated[int | None, typer.Option(min=0, help="At most this many runs.")] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """List runs matching the filters, one line (or JSON object) per run."""
    session = Session(json, quiet, block)
    where = parse_json_option(filters, "--filters")
    if where is not None and not isinstance(where, dict):
        raise InvalidInputError(f"--filters must be a JSON object, got {filters}")
    columns = [name.strip() for name in fields.split(",") if name.strip()]
    if not columns:
        raise InvalidInputError("--fields names no field")
    per_page = min(limit, 500) if limit else 500
    runs = session.client.runs(project, filters=where, order=order, per_page=max(per_page, 1))
    selected = runs[:limit] if limit is not None else list(runs)
    rows = []
    for run in selected:
        record = run_record(run)
        rows.append({column: run_field(record, column) for column in columns})
    session.table(rows, columns)


def check(
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """Check the key against the server: who it belongs to, or why it does not work.

    Says plainly when the base URL is not a W&B server."""
    session = Session(json, quiet, block)
    if block is None:  # a quick verdict: two attempts, not a minute of retries
        from prefect_wandb_public.api import Api

        session._client = Api(retry=RetryPolicy(max_attempts=2, max_elapsed=10.0))
    who = verify_credentials(session.client)
    session.emit(
        f"{who['base_url']}: the key belongs to {who['username']} (entity {who['entity']})",
        who,
    )


__all__ = ["DEFAULT_FIELDS", "app", "check", "ls"]
