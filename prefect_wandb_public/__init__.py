"""Prefect 3 integration for the Weights and Biases public API.

`Api` and the public objects are importable from here without importing Prefect; the Prefect
layer (blocks, tasks) is loaded on first access.
"""

from __future__ import annotations

from prefect_wandb_public._version import __version__
from prefect_wandb_public.api import Api

__all__ = ["Api", "__version__"]
