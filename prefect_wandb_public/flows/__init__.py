"""The sample flows, importable and deployable from an installed package (as prefect-dbt ships
its flows): `history_export`, `model_promotion`, `ci_lineage`, `watch_wandb`. The scripts in the
repository's `flows/` folder are thin wrappers around these modules' `main()`."""

from __future__ import annotations

from prefect_wandb_public.flows.ci_lineage import ci_lineage
from prefect_wandb_public.flows.history_export import history_export
from prefect_wandb_public.flows.model_promotion import model_promotion
from prefect_wandb_public.flows.watch_wandb import watch_wandb

__all__ = ["ci_lineage", "history_export", "model_promotion", "watch_wandb"]
