"""Promote the best run's model: verify it, gate it against the current holder, move the alias.

    python flows/model_promotion.py --demo               # embedded demo server
    python flows/model_promotion.py --credentials my-wandb --project-path team/proj \
        --model my-model --metric val_loss --registry wandb-registry-model/my-model
    WANDB_API_KEY=... python flows/model_promotion.py --project-path team/proj
    python flows/model_promotion.py --serve              # serve the daily schedule

A thin script over the packaged flow in `prefect_wandb_public.flows.model_promotion` (what it
does: that module's docstring), which flows/prefect.yaml deploys by module path.
"""

from prefect_wandb_public.flows.model_promotion import main, model_promotion

__all__ = ["model_promotion"]

if __name__ == "__main__":
    main()
