"""The W&B public-API client on `requests`: the `wandb.apis.public` names, no Prefect import.

`Api` is the entry point; the other classes are what its methods return.
"""

from __future__ import annotations

from prefect_wandb_public.api.client import Api
from prefect_wandb_public.api.projects import Project, Projects
from prefect_wandb_public.api.query_generator import QueryGenerator
from prefect_wandb_public.api.reports import BetaReport, Reports
from prefect_wandb_public.api.runs import Run, Runs
from prefect_wandb_public.api.sweeps import Sweep, Sweeps
from prefect_wandb_public.api.transport import RetryPolicy, Transport

__all__ = [
    "Api",
    "BetaReport",
    "Project",
    "Projects",
    "QueryGenerator",
    "Reports",
    "RetryPolicy",
    "Run",
    "Runs",
    "Sweep",
    "Sweeps",
    "Transport",
]
