"""A local W&B-compatible server ("moto for W&B"): seed it from Python, point any client at it.

The store (`store.py`) holds state, the GraphQL layer (`schema.graphql`, `resolvers.py`,
`executor.py`) translates it, the HTTP app (`app.py`) serves it on 127.0.0.1 with fault injection
(`faults.py`), and `seed.py` builds the demo project. Nothing here imports the client.
"""

from __future__ import annotations

from prefect_wandb_public.testing.faults import Fault, RequestLog, RequestRecord
from prefect_wandb_public.testing.server import LocalWandbServer
from prefect_wandb_public.testing.store import StoreError, StoreNotFound, WandbStore

__all__ = [
    "Fault",
    "LocalWandbServer",
    "RequestLog",
    "RequestRecord",
    "StoreError",
    "StoreNotFound",
    "WandbStore",
]
