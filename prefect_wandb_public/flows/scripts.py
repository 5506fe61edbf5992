"""What the sample flows' scripts share: the embedded demo server (a local W&B server seeded
with the demo project, and a credentials block pointing at it) and their command line."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from prefect_wandb_public.credentials import WandbCredentials, load_credentials
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DEMO_TEAM, DemoSeed, seed_demo


@contextmanager
def embedded_demo(api_key: str | None = None) -> Iterator[tuple[WandbCredentials, DemoSeed]]:
    """A local W&B server with the demo project (in team `DEMO_TEAM`, whose organization has a
    `model` registry), and a credentials block pointing at it."""
    with LocalWandbServer(api_key=api_key, entity=DEMO_TEAM) as server:
        seed = seed_demo(server.store)
        yield (
            WandbCredentials(
                api_key=SecretStr(server.api_key),
                base_url=server.url,
                entity=seed.entity,
                project=seed.project,
            ),
            seed,
        )


@contextmanager
def credentials_for(block_name: str | None) -> Iterator[tuple[WandbCredentials, str | None]]:
    """(credentials, project path) for a flow script: the saved block named (project from the
    block's defaults), or the embedded demo server when no name is given."""
    if block_name:
        yield load_credentials(block_name), None
        return
    with embedded_demo() as (block, seed):
        yield block, f"{seed.entity}/{seed.project}"


def run_flow_script(
    description: str,
    run: Callable[[WandbCredentials, str | None, argparse.Namespace], Any],
    serve: Callable[[], None],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> Any:
    """The command line of the sample flows: `--serve` serves the scheduled deployment,
    otherwise run once on `--credentials <block>` or on the embedded demo server."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--credentials", help="saved WandbCredentials block (default: demo)")
    parser.add_argument("--serve", action="store_true", help="serve the scheduled deployment")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network calls
    if args.serve:
        serve()
        return None
    with credentials_for(args.credentials) as (block, project_path):
        result = run(block, project_path, args)
    print(result)
    return result


__all__ = ["credentials_for", "embedded_demo", "run_flow_script"]
