"""The demo: an embedded local W&B server with the demo project, explored through `Api`."""

from __future__ import annotations

from prefect_wandb_public.api import Api
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.seed import seed_demo


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
