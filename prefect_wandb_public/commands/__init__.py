"""The sub-commands of `prefect-wandb-public` (see `prefect_wandb_public.cli`): artifacts, runs,
histories and the credential check, on the client alone (no Prefect import unless `--block`
loads a saved block), so a CI step starts fast."""

from __future__ import annotations

__all__: list[str] = []
