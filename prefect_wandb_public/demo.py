"""The demo: the sample flows run against an embedded local W&B server seeded with the demo
project, and a report of what they did. Everything it needs ships in the package, so it runs
from an installed wheel as well as from a checkout."""

from __future__ import annotations

from pathlib import Path

from prefect_wandb_public.flows.ci_lineage import ci_lineage
from prefect_wandb_public.flows.history_export import history_export
from prefect_wandb_public.flows.model_promotion import model_promotion
from prefect_wandb_public.flows.scripts import embedded_demo


def run_demo(output: str = "demo-output", api_key: str | None = None) -> int:
    """Run the sample flows on an embedded local W&B server seeded with the demo project and
    print what they did; returns an exit code. Prefect uses PREFECT_API_URL when set, else a
    temporary local API."""
    out = Path(output).resolve()
    with embedded_demo(api_key=api_key) as (block, seed):
        project = f"{seed.entity}/{seed.project}"
        print(f"Local W&B server: {block.base_url} (demo project {project})", flush=True)
        exported = history_export(block, project, str(out / "history"))
        promotion = model_promotion(
            block, project, sweep=seed.sweep, metric=None, registry=seed.registry_collection
        )
        lineage = ci_lineage(block, project, dataset=f"{seed.dataset}:latest", model=seed.model)
    rows = sum(row["rows"] or 0 for row in exported)
    moved = "promoted" if promotion["promoted"] else f"kept ({promotion['reason']})"
    report = [
        ("best run", f"{promotion['best_run']} ({promotion['metric']}={promotion['value']})"),
        (
            "production alias",
            f"{promotion['candidate']} {moved} in {promotion['collection']}, "
            f"was {promotion['previous']}",
        ),
        ("history export", f"{len(exported)} runs, {rows} rows -> {out / 'history'}"),
        ("published artifact", f"{lineage['artifact']} by {lineage['run']}"),
        ("  from dataset", lineage["dataset"]),
        ("  link", lineage["url"]),
    ]
    print("\nDemo report")
    for label, text in report:
        print(f"  {label + ':':20} {text}")
    return 0


__all__ = ["run_demo"]
