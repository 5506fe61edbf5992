"""What the sample flows' scripts share: the embedded demo server (a local W&B server seeded
with the demo project, and a credentials block pointing at it) and their command line."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from prefect_wandb_public.api.client import DEFAULT_BASE_URL, key_from_netrc
from prefect_wandb_public.credentials import WandbCredentials, load_credentials
from prefect_wandb_public.errors import InvalidInputError
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


NO_CREDENTIALS = (
    "no W&B credentials: pass --credentials <saved WandbCredentials block>, set WANDB_API_KEY "
    "(and WANDB_BASE_URL for a self-hosted server), or run on the embedded demo server "
    "with --demo"
)


def credentials_from_environment() -> WandbCredentials | None:
    """A block from WANDB_API_KEY / WANDB_BASE_URL / WANDB_ENTITY / WANDB_PROJECT, or from the
    netrc entry of the server's host; None when neither holds a key."""
    base_url = os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL
    key = os.environ.get("WANDB_API_KEY") or key_from_netrc(base_url)
    if not key:
        return None
    return WandbCredentials(
        api_key=SecretStr(key),
        base_url=base_url,
        entity=os.environ.get("WANDB_ENTITY") or None,
        project=os.environ.get("WANDB_PROJECT") or None,
    )


@contextmanager
def credentials_for(
    block_name: str | None, demo: bool = False
) -> Iterator[tuple[WandbCredentials, str | None]]:
    """(credentials, project path) for a flow script: the saved block named; the embedded demo
    server when asked for; else the environment's credentials. With none of them it fails
    (InvalidInputError): a script that quietly ran elsewhere would look green and do nothing.
    The project path is None where the block's defaults decide."""
    if block_name and demo:
        raise InvalidInputError("--credentials and --demo exclude each other")
    if block_name:
        yield load_credentials(block_name), None
        return
    if demo:
        with embedded_demo() as (block, seed):
            yield block, f"{seed.entity}/{seed.project}"
        return
    from_environment = credentials_from_environment()
    if from_environment is None:
        raise InvalidInputError(NO_CREDENTIALS)
    yield from_environment, None


def run_flow_script(
    description: str,
    run: Callable[[WandbCredentials, str | None, argparse.Namespace], Any],
    serve: Callable[[], None],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> Any:
    """The command line of the sample flows: `--serve` serves the scheduled deployment,
    otherwise run once on `--credentials <block>`, on the environment's W&B credentials, or
    with `--demo` on the embedded demo server. Without credentials, or on input the flow
    refuses, it exits with status 2 and one line saying what to do."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--credentials", help="saved WandbCredentials block to use")
    parser.add_argument(
        "--demo", action="store_true", help="run on an embedded local server with demo data"
    )
    parser.add_argument("--serve", action="store_true", help="serve the scheduled deployment")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network calls
    if args.serve:
        serve()
        return None
    try:
        with credentials_for(args.credentials, demo=args.demo) as (block, project_path):
            result = run(block, project_path, args)
    except InvalidInputError as exc:  # no credentials, or an input the flow refused
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(result)
    return result


__all__ = [
    "NO_CREDENTIALS",
    "credentials_for",
    "credentials_from_environment",
    "embedded_demo",
    "run_flow_script",
]
