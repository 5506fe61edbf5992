"""Watch W&B and turn its changes into Prefect events that deployments' triggers act on.

    python flows/watch_wandb.py --demo                         # embedded demo server (a baseline)
    python flows/watch_wandb.py --credentials my-wandb --project team/proj \
        --registry wandb-registry-model/my-model
    WANDB_API_KEY=... python flows/watch_wandb.py --project team/proj
    python flows/watch_wandb.py --serve                        # serve every five minutes

A thin script over the packaged flow in `prefect_wandb_public.flows.watch_wandb` (what it
does: that module's docstring), which flows/prefect.yaml deploys by module path.
"""

from prefect_wandb_public.flows.watch_wandb import main, watch_wandb

__all__ = ["watch_wandb"]

if __name__ == "__main__":
    main()
