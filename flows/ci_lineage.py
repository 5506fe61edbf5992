"""An ML-CI lineage step: use the input dataset, publish a model built from local files, link it.

    python flows/ci_lineage.py --demo                    # embedded demo server
    python flows/ci_lineage.py --credentials my-wandb --project-path team/proj \
        --dataset mnist:v3 --model my-model --model-dir ./build/model
    WANDB_API_KEY=... python flows/ci_lineage.py --project-path team/proj --model-dir ./build
    python flows/ci_lineage.py --serve                   # serve the nightly schedule

The step records a W&B run for itself, declares the dataset version it consumed, publishes the
model files as a new version (identical content reuses the existing version, so a retried step
is idempotent), and reports the lineage to Prefect as `wandb://` assets.
"""

from prefect_wandb_public.flows.ci_lineage import ci_lineage, main

__all__ = ["ci_lineage"]

if __name__ == "__main__":
    main()
