"""An ML-CI lineage step: use the input dataset, publish a model built from local files, link it.

A thin script over `prefect_wandb_public.flows.ci_lineage` (usage: its docstring, `--help`);
flows/prefect.yaml deploys the flow through this file.
"""

from prefect_wandb_public.flows.ci_lineage import ci_lineage, main

__all__ = ["ci_lineage"]

if __name__ == "__main__":
    main()
