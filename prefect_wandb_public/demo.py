"""The demo and the sample flows' command line: an embedded local W&B server with the demo
project, a credentials block pointing at it, and the flows run against it."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import DemoSeed, seed_demo

if TYPE_CHECKING:
    from prefect_wandb_public.credentials import WandbCredentials


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"


def load_script(path: Path) -> ModuleType:
    """Import a script of this checkout (`flows/*.py`, `blocks/*.py`) as a module."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the demo from a checkout")
    spec = importlib.util.spec_from_file_location(f"prefect_wandb_public_script_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_sample_flow(name: str) -> ModuleType:
    """Import `flows/<name>.py` (the sample flows are scripts, not modules)."""
    return load_script(FLOWS_DIR / f"{name}.py")


def run_demo(output: str = "demo-output", api_key: str | None = None) -> int:
    """Run the sample flows on an embedded local W&B server seeded with the demo project and
    print what they did; returns an exit code. Prefect uses PREFECT_API_URL when set, else a
    temporary local API."""
    history_export = load_sample_flow("history_export").history_export
    model_promotion = load_sample_flow("model_promotion").model_promotion
    ci_lineage = load_sample_flow("ci_lineage").ci_lineage
    out = Path(output).resolve()
    with embedded_demo(api_key=api_key) as (block, seed):
        project = f"{seed.entity}/{seed.project}"
        print(f"Local W&B server: {block.base_url} (demo project {project})", flush=True)
        exported = history_export(block, project, str(out / "history"))
        promotion = model_promotion(block, project, sweep=seed.sweep, metric=None)
        lineage = ci_lineage(block, project, dataset=f"{seed.dataset}:latest", model=seed.model)
    rows = sum(row["rows"] or 0 for row in exported)
    moved = "promoted" if promotion["promoted"] else f"kept ({promotion['reason']})"
    report = [
        ("best run", f"{promotion['best_run']} ({promotion['metric']}={promotion['value']})"),
        ("production alias", f"{promotion['candidate']} {moved}, was {promotion['previous']}"),
        ("history export", f"{len(exported)} runs, {rows} rows -> {out / 'history'}"),
        ("published artifact", f"{lineage['artifact']} by {lineage['run']}"),
        ("  from dataset", lineage["dataset"]),
        ("  link", lineage["url"]),
    ]
    print("\nDemo report")
    for label, text in report:
        print(f"  {label + ':':20} {text}")
    return 0


@contextmanager
def embedded_demo(api_key: str | None = None) -> Iterator[tuple[WandbCredentials, DemoSeed]]:
    """A local W&B server with the demo project, and a credentials block pointing at it."""
    from pydantic import SecretStr

    from prefect_wandb_public.credentials import WandbCredentials

    with LocalWandbServer(api_key=api_key) as server:
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
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network calls
    if args.serve:
        serve()
        return None
    with credentials_for(args.credentials) as (block, project_path):
        result = run(block, project_path, args)
    print(result)
    return result
