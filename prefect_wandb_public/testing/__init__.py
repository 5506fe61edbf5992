"""A local W&B-compatible server ("moto for W&B"): seed it from Python, point any client at it.

The store (`store.py`, with `artifact_store.py`, `history_log.py` and `common.py`) holds state; the
GraphQL layer (`schema*.graphql`, `executor.py`, the resolver hub `resolvers.py` and its domain
modules) translates it; the routes (`files_http.py`, `uploads_http.py`, `filestream_http.py`,
URLs in `urls.py`) move bytes; the HTTP app (`app.py`) serves it all on 127.0.0.1 with fault
injection (`faults.py`) and network profiles (`profiles.py`: latency, page costs, storage first
byte and bandwidth, rate limits); parquet history exports live in `history_exports.py`;
`server.py` wires the pieces and `seed.py` builds the demo project. Nothing here imports the
client.
"""

from __future__ import annotations

from prefect_wandb_public.testing.common import StoreConflict, StoreError, StoreNotFound
from prefect_wandb_public.testing.faults import Fault, RequestLog, RequestRecord
from prefect_wandb_public.testing.profiles import LOOPBACK, WAN, NetworkProfile, StorageProfile
from prefect_wandb_public.testing.server import LocalWandbServer
from prefect_wandb_public.testing.store import WandbStore

__all__ = [
    "LOOPBACK",
    "WAN",
    "Fault",
    "LocalWandbServer",
    "NetworkProfile",
    "RequestLog",
    "RequestRecord",
    "StorageProfile",
    "StoreConflict",
    "StoreError",
    "StoreNotFound",
    "WandbStore",
]
