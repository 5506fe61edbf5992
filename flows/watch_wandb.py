"""Watch W&B and turn its changes into Prefect events that deployments' triggers act on.

    python flows/watch_wandb.py                                # embedded demo server (a baseline)
    python flows/watch_wandb.py --credentials my-wandb --project team/proj \
        --registry wandb-registry-model/my-model
    python flows/watch_wandb.py --serve                        # every five minutes

Each run emits one Prefect event per W&B change since the previous run: new versions, links into
registries, alias moves, runs that finished (state in Prefect Variables).
"""

from prefect_wandb_public.flows.watch import main, watch_wandb

__all__ = ["watch_wandb"]

if __name__ == "__main__":
    main()
