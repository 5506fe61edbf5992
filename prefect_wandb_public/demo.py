"""The demo: the sample flows run against an embedded local W&B server seeded with the demo
project, and a report of what they did. Everything it needs ships in the package, so it runs
from an installed wheel as well as from a checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect_wandb_public.flows.ci_lineage import ci_lineage
from prefect_wandb_public.flows.history_export import history_export
from prefect_wandb_public.flows.model_promotion import model_promotion
from prefect_wandb_public.flows.scripts import embedded_demo


def export_summary(rows: list[dict[str, Any]]) -> str:
    """ "12 runs exported (720 rows)", "12 runs already exported, skipped", or both parts."""
    exported = [row for row in rows if row["status"] == "exported"]
    skipped = len(rows) - len(exported)
    parts = []
    if exported or not rows:
        total = sum(row["rows"] or 0 for row in exported)
        parts.append(f"{_runs(len(exported))} exported ({total} rows)")
    if skipped:
        parts.append(f"{_runs(skipped)} already exported, skipped")
    return "; ".join(parts)


def _runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


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
    moved = "promoted" if promotion["promoted"] else f"kept ({promotion['reason']})"
    report = [
        ("best run", f"{promotion['best_run']} ({promotion['metric']}={promotion['value']})"),
        (
            "production alias",
            f"{promotion['candidate']} {moved} in {promotion['collection']}, "
            f"was {promotion['previous']}",
        ),
        ("history export", f"{export_summary(exported)} -> {out / 'history'}"),
        ("published artifact", f"{lineage['artifact']} by {lineage['run']}"),
        ("  from dataset", lineage["dataset"]),
        ("  page", f"{lineage['url']} (on the embedded server: gone once the demo exits)"),
    ]
    print("\nDemo report")
    for label, text in report:
        print(f"  {label + ':':20} {text}")
    return 0


__all__ = ["export_summary", "run_demo"]
