"""Prefect 3 integration for the Weights and Biases public API.

`Api` and the client's names import without Prefect; the Prefect layer (`WandbCredentials`) loads
on first access, so a plain client import stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect_wandb_public._version import __version__
from prefect_wandb_public.api import Api

if TYPE_CHECKING:
    from prefect_wandb_public.credentials import WandbCredentials

_LAZY = {"WandbCredentials": "prefect_wandb_public.credentials"}

__all__ = ["Api", "WandbCredentials", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the Prefect layer only when one of its names is used."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
