"""Nightly export of every finished run's history in a project to parquet at an fsspec URL.

    python flows/history_export.py --demo                # embedded demo server, ./wandb-history
    python flows/history_export.py --credentials my-wandb --project-path team/proj \
        --destination s3://bucket/wandb-history
    WANDB_API_KEY=... python flows/history_export.py --project-path team/proj
    python flows/history_export.py --serve               # serve the nightly schedule (03:00 UTC)

A thin script over the packaged flow in `prefect_wandb_public.flows.history_export` (what it
does: that module's docstring), which flows/prefect.yaml deploys by module path.
"""

from prefect_wandb_public.flows.history_export import history_export, main

__all__ = ["history_export"]

if __name__ == "__main__":
    main()
