"""An ML-CI lineage step: use the input dataset, publish a model built from local files, link it.

    python flows/ci_lineage.py --demo                    # embedded demo server
    python flows/ci_lineage.py --credentials my-wandb --project-path team/proj \
        --dataset mnist:v3 --model my-model --model-dir ./build/model
    WANDB_API_KEY=... python flows/ci_lineage.py --project-path team/proj --model-dir ./build
    python flows/ci_lineage.py --serve                   # serve the nightly schedule

A thin script over the packaged flow in `prefect_wandb_public.flows.ci_lineage` (what it
does: that module's docstring), which flows/prefect.yaml deploys by module path.
"""

from prefect_wandb_public.flows.ci_lineage import ci_lineage, main

__all__ = ["ci_lineage"]

if __name__ == "__main__":
    main()
