"""Promote the best run's model: verify it, gate it against the current holder, move the alias.

A thin script over `prefect_wandb_public.flows.model_promotion` (usage: its docstring, `--help`);
flows/prefect.yaml deploys the flow through this file.
"""

from prefect_wandb_public.flows.model_promotion import main, model_promotion

__all__ = ["model_promotion"]

if __name__ == "__main__":
    main()
