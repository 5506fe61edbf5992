"""Serve a seeded `LocalWandbServer` in its own process for benchmarks.

    python benchmarks/_server.py runs '{"count": 5000}'

Seeds the named scenario, prints one JSON line (`url`, `api_key` and what the scenario returns,
e.g. `entity`/`project`) on stdout, then serves on 127.0.0.1 until stdin closes or it is
terminated. A separate process keeps the server off the measured client's GIL.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from prefect_wandb_public.testing import LocalWandbServer

ENTITY = "bench"
RUNS_PROJECT = "runs-bench"
_STATES = ("finished", "finished", "finished", "crashed", "failed", "running")
_OPTIMIZERS = ("adam", "adamw", "sgd", "lion")


def seed_runs(server: LocalWandbServer, count: int = 5000, seed: int = 7) -> dict[str, Any]:
    """`count` runs with an 8-key config, 8 summary metrics, tags, a group and spread times."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for index in range(count):
        lr = 10 ** rng.uniform(-5, -2)
        loss = rng.uniform(0.05, 2.5)
        server.store.create_run(
            ENTITY,
            RUNS_PROJECT,
            f"run{index:06d}",
            display_name=f"{rng.choice(('brisk', 'calm', 'eager', 'fine'))}-sweep-{index}",
            state=_STATES[index % len(_STATES)],
            config={
                "lr": lr,
                "batch_size": rng.choice((16, 32, 64, 128)),
                "epochs": rng.randint(1, 50),
                "optimizer": rng.choice(_OPTIMIZERS),
                "dropout": round(rng.uniform(0.0, 0.5), 3),
                "model": {"depth": rng.randint(2, 24), "width": rng.choice((256, 512, 1024))},
                "seed": rng.randint(0, 2**31),
                "dataset": "imagenet-1k",
            },
            summary={
                "loss": loss,
                "val_loss": loss * rng.uniform(1.0, 1.3),
                "accuracy": rng.uniform(0.5, 0.99),
                "val_accuracy": rng.uniform(0.5, 0.97),
                "epoch": rng.randint(1, 50),
                "_step": rng.randint(100, 100_000),
                "_runtime": rng.uniform(60, 36_000),
                "_timestamp": 1.7e9 + index * 37.0,
            },
            tags=["baseline" if index % 3 == 0 else "tuned", f"shard-{index % 7}"],
            group=f"group-{index % 25}",
            job_type="train",
            created_at=start + timedelta(minutes=index * 7, seconds=rng.randint(0, 59)),
        )
    return {"entity": ENTITY, "project": RUNS_PROJECT, "count": count}


HISTORY_PROJECT = "history-bench"


def seed_history(
    server: LocalWandbServer, rows: int = 100_000, run_id: str = "long-run", seed: int = 11
) -> dict[str, Any]:
    """One run with `rows` history rows of 12 keys (`_step`, `_runtime`, `_timestamp`, an int
    `epoch` and 8 float metrics), generated lazily so a million rows never sit in a list."""
    rng = random.Random(seed)

    def history() -> Any:
        for step in range(rows):
            loss = 2.5 / (1 + step / 5000) + rng.random() * 0.05
            yield {
                "_step": step,
                "_runtime": step * 0.25,
                "_timestamp": 1.7e9 + step * 0.25,
                "epoch": step // 1000,
                "loss": loss,
                "val_loss": loss * (1.05 + rng.random() * 0.1),
                "accuracy": 1 - loss / 3,
                "val_accuracy": 1 - loss / 2.8,
                "lr": 1e-3 * 0.5 ** (step // 20_000),
                "grad_norm": rng.random() * 4,
                "throughput": 900 + rng.random() * 200,
                "gpu_memory": 30_000 + rng.random() * 1000,
            }

    server.store.create_run(ENTITY, HISTORY_PROJECT, run_id, history=history())
    return {"entity": ENTITY, "project": HISTORY_PROJECT, "run": run_id, "rows": rows}


ARTIFACTS_PROJECT = "artifacts-bench"


def seed_artifacts(
    server: LocalWandbServer, files: int = 200, file_mb: int = 1, big_mb: int = 500, seed: int = 5
) -> dict[str, Any]:
    """Collection `many-files` (`files` random files of `file_mb` MiB) and collection
    `one-big-file` (a single random file of `big_mb` MiB), both at `v0`."""
    rng = random.Random(seed)
    many = {f"shard-{i:04d}.bin": rng.randbytes(file_mb << 20) for i in range(files)}
    server.store.create_artifact(ENTITY, ARTIFACTS_PROJECT, "many-files", "dataset", many)
    del many
    big = {"weights.bin": b"".join(rng.randbytes(1 << 20) for _ in range(big_mb))}
    server.store.create_artifact(ENTITY, ARTIFACTS_PROJECT, "one-big-file", "model", big)
    return {
        "entity": ENTITY,
        "project": ARTIFACTS_PROJECT,
        "many": "many-files:v0",
        "big": "one-big-file:v0",
        "many_bytes": files * (file_mb << 20),
        "big_bytes": big_mb << 20,
    }


UPLOADS_PROJECT = "uploads-bench"


def seed_uploads(server: LocalWandbServer) -> dict[str, Any]:
    """An empty project to publish new artifact versions into, and a PENDING version whose
    signed upload URLs the raw baseline asks for (`createArtifactFiles`)."""
    server.store.create_project(ENTITY, UPLOADS_PROJECT)
    pending = server.store.create_artifact_version(
        ENTITY, UPLOADS_PROJECT, "raw-uploads", "dataset", "0" * 32, deduplicate=False
    )
    return {"entity": ENTITY, "project": UPLOADS_PROJECT, "pending_id": pending.id}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "artifacts": seed_artifacts,
    "history": seed_history,
    "runs": seed_runs,
    "uploads": seed_uploads,
}


def main(argv: list[str]) -> int:
    """Seed `argv[0]` with the JSON parameters in `argv[1]`, announce, serve until told to stop."""
    if not argv or argv[0] not in SCENARIOS:
        print(f"usage: _server.py {{{','.join(SCENARIOS)}}} ['<json params>']", file=sys.stderr)
        return 2
    params = json.loads(argv[1]) if len(argv) > 1 else {}
    server = LocalWandbServer(host="127.0.0.1")
    info = SCENARIOS[argv[0]](server, **params)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(json.dumps({"url": server.url, "api_key": server.api_key, **info}), flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
