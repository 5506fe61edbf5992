"""`prefect-wandb-public artifact get|put|promote|ls`: artifacts from a CI shell step, as
`wandb artifact get/put` does, without a run process."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from prefect_wandb_public.api import Artifact
from prefect_wandb_public.api.paths import parse_project_path
from prefect_wandb_public.commands.common import (
    BlockOption,
    JsonOption,
    QuietOption,
    Session,
    parse_json_option,
)
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.operations import artifact_record, move_alias

app = typer.Typer(
    name="artifact",
    help="Download, publish, promote and list artifact versions.",
    no_args_is_help=True,
    add_completion=False,
)

_LISTING_COLUMNS = ("name", "type", "aliases", "size", "file_count", "created_at")


@app.command("get")
def get(
    name: Annotated[str, typer.Argument(help="ENTITY/PROJECT/NAME:ALIAS (or :vN)")],
    root: Annotated[
        str | None,
        typer.Option(help="Folder or fsspec URL to download to (default ./artifacts/NAME:vN)."),
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip checking the files against the manifest.")
    ] = False,
    type: Annotated[
        str | None, typer.Option("--type", help="Fail unless the version has this type.")
    ] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """Download an artifact version (streamed, md5-verified, cached) and print where it is."""
    session = Session(json, quiet, block)
    artifact = session.client.artifact(name, type=type)
    version = f"{artifact.entity}/{artifact.project}/{artifact.source_name}"
    with session.progress(f"download {version}") as display:
        path = artifact.download(root, progress=display)
    if not no_verify:
        artifact.verify(path)
    session.emit(str(path), {**artifact_record(artifact), "root": str(path)})


@app.command("put")
def put(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to publish.")],
    project: Annotated[str, typer.Option("--project", help="ENTITY/PROJECT to publish to.")],
    name: Annotated[str, typer.Option("--name", help="The artifact (collection) name.")],
    type: Annotated[str, typer.Option("--type", help="The artifact type, e.g. model.")],
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="An alias for the new version (repeatable)."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A description of the version.")] = None,
    metadata: Annotated[
        str | None, typer.Option(help="JSON object stored with the version.", metavar="JSON")
    ] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="RUN_ID of the project's run that made it (lineage)."),
    ] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """Publish files as a new artifact version (no run process) and print its name and URL.

    Identical content returns the existing version and uploads nothing."""
    session = Session(json, quiet, block)
    meta = parse_json_option(metadata, "--metadata")
    if meta is not None and not isinstance(meta, dict):
        raise InvalidInputError(f"--metadata must be a JSON object, got {metadata}")
    api = session.client
    entity, project_name = parse_project_path(project, lambda: api.default_entity, None)
    draft = Artifact(name, type, description=description, metadata=meta or {})
    for path in paths:
        if os.path.isdir(path):
            draft.add_dir(path)
        elif os.path.isfile(path):
            draft.add_file(path)
        else:
            raise InvalidInputError(f"no file or folder at {path!r}")
    with session.progress(f"upload {entity}/{project_name}/{name}") as display:
        if run is not None:
            published = api.run(f"{entity}/{project_name}/{run}").log_artifact(
                draft, aliases=list(alias or []), progress=display
            )
        else:
            published = api.log_artifact(
                draft,
                project=f"{entity}/{project_name}",
                aliases=list(alias or []),
                progress=display,
            )
    record = artifact_record(published)
    session.emit(f"{record['qualified_name']} {record['url']}", record)


@app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="ENTITY/PROJECT/NAME:VERSION to promote.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move to it.")],
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="A registry collection (wandb-registry-<registry>/<collection>) to promote "
            "into, linking the version there first; default: the version's own collection.",
        ),
    ] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """Move an alias to a version and print the previous holder ("none" when nobody held it)."""
    session = Session(json, quiet, block)
    move = move_alias(session.client, name, alias, target)
    previous = move.previous
    previous_name = f"{move.collection}:{previous.version}" if previous is not None else "none"
    if not move.moved:
        session.note(f"{move.collection}:{move.artifact.version} already holds {alias!r}")
    else:
        session.note(
            f"moved {alias!r} of {move.collection} to {move.artifact.version} "
            f"(was {previous.version if previous is not None else 'nobody'})"
        )
    session.emit(
        previous_name,
        {
            "alias": alias,
            "collection": move.collection,
            "moved": move.moved,
            "linked": move.created_link,
            "artifact": artifact_record(move.artifact),
            "previous": artifact_record(previous) if previous is not None else None,
        },
    )


@app.command("ls")
def ls(
    project: Annotated[str, typer.Argument(help="ENTITY/PROJECT")],
    type: Annotated[str | None, typer.Option("--type", help="Only this artifact type.")] = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
    block: BlockOption = None,
) -> None:
    """List the artifact versions of a project (newest version of each collection first)."""
    session = Session(json, quiet, block)
    api = session.client
    entity, project_name = parse_project_path(project, lambda: api.default_entity, None)
    path = f"{entity}/{project_name}"
    types = [api.artifact_type(type, path)] if type else list(api.artifact_types(path))
    rows: list[dict[str, Any]] = []
    for artifact_type in types:
        for collection in artifact_type.collections():
            for version in collection.versions():
                record = artifact_record(version)
                rows.append(
                    {
                        **record,
                        "name": record["name"],
                        "created_at": version.created_at,
                    }
                )
    session.table(rows, _LISTING_COLUMNS)


__all__ = ["app", "get", "ls", "promote", "put"]
