"""Nightly export of every finished run's history in a project to parquet at an fsspec URL.

A thin script over `prefect_wandb_public.flows.history_export` (usage: its docstring, `--help`);
flows/prefect.yaml deploys the flow through this file.
"""

from prefect_wandb_public.flows.history_export import history_export, main

__all__ = ["history_export"]

if __name__ == "__main__":
    main()
