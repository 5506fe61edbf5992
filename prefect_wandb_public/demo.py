"""The demo: an embedded local W&B server with the demo project, explored through `Api`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api import Api
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DemoSeed, seed_demo

if TYPE_CHECKING:
    from prefect_wandb_public.credentials import WandbCredentials


def run_demo(output: str = "demo-output") -> int:
    """Seed the demo project, list the sweep's runs, print the best run; returns an exit code."""
    with LocalWandbServer() as server:
        seed = seed_demo(server.store)
        api = Api(api_key=server.api_key, overrides={"base_url": server.url})
        print(f"Local W&B server: {server.url}  (project {seed.entity}/{seed.project})")
        sweep = api.sweep(f"{seed.entity}/{seed.project}/{seed.sweep}")
        metric, goal = sweep.config["metric"]["name"], sweep.config["metric"]["goal"]
        print(f"Sweep {sweep.id!r} ({sweep.config['method']}, {metric} {goal})")
        runs = api.runs(
            f"{seed.entity}/{seed.project}", filters={"sweep": seed.sweep}, order="+created_at"
        )
        print(f"{len(runs)} runs:")
        for run in runs:
            value = run.summary.get(metric)
            shown = f"{value:.4f}" if isinstance(value, (int, float)) else "-"
            print(f"  {run.id:8} {run.state:9} lr={run.config['lr']:<10} {metric}={shown}")
        best = sweep.best_run()
        if best is None:
            print("no run reports the sweep metric")
            return 1
        print(f"Best run: {best.id} ({best.name}) {metric}={best.summary[metric]:.4f}  {best.url}")
        api.close()
    return 0


@contextmanager
def embedded_demo() -> Iterator[tuple[WandbCredentials, DemoSeed]]:
    """A local W&B server with the demo project, and a credentials block pointing at it."""
    from pydantic import SecretStr

    from prefect_wandb_public.credentials import WandbCredentials

    with LocalWandbServer() as server:
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
    from prefect_wandb_public.credentials import load_credentials

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
    if args.serve:
        serve()
        return None
    with credentials_for(args.credentials) as (block, project_path):
        result = run(block, project_path, args)
    print(result)
    return result
