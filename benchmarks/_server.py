"""Serve a seeded `LocalWandbServer` in its own process for benchmarks.

    python benchmarks/_server.py runs '{"count": 5000}'

Seeds the named scenario, prints one JSON line (`url`, `api_key` and what the scenario returns,
e.g. `entity`/`project`) on stdout, then serves on 127.0.0.1 until stdin closes or it is
terminated. A separate process keeps the server off the measured client's GIL.

While serving it takes one command per stdin line and answers each with one JSON line:
`network <loopback|wan> [<GraphQL requests per minute>]` sets the network profile (and rate
limit), `stats` gives the request log's counts (GraphQL requests, 429s, storage GETs) and clears
it.
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
from prefect_wandb_public.testing.profiles import resolve_profile

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


def history_rows(rows: int, seed: int = 11, start: int = 0) -> Any:
    """`rows` history rows of 12 keys (`_step`, `_runtime`, `_timestamp`, an int `epoch` and 8
    float metrics) from step `start`, generated lazily so a million rows never sit in a list."""
    rng = random.Random(seed)
    for step in range(start, start + rows):
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


def seed_history(
    server: LocalWandbServer,
    rows: int = 100_000,
    run_id: str = "long-run",
    seed: int = 11,
    exports: bool = False,
) -> dict[str, Any]:
    """One finished run of `rows` rows (`history_rows`); with `exports` its history is in a
    parquet export, else every step is live (read through GraphQL pages, as before exports)."""
    server.store.create_run(
        ENTITY, HISTORY_PROJECT, run_id, history=history_rows(rows, seed), history_exports=exports
    )
    return {"entity": ENTITY, "project": HISTORY_PROJECT, "run": run_id, "rows": rows}


WAN_PROJECT = "wan-bench"
EXPORT_PROJECT = "export-bench"


def _written(server: LocalWandbServer, entity: str, project: str, run_id: str) -> None:
    """Write a run's export files now, so no reader pays for writing them."""
    run = server.store.require_run(entity, project, run_id)
    for file in run.exports.files:
        run.exports.data(run.history, file)


def seed_wan(
    server: LocalWandbServer,
    rows: int = 100_000,
    live_share: float = 0.2,
    project_runs: int = 200,
    project_rows: int = 2000,
    listed_runs: int = 5000,
) -> dict[str, Any]:
    """What `bench_wan.py` reads: a finished, exported run of `rows` rows x 12 keys; a running
    run of as many rows whose last `live_share` are live; a project of `project_runs` finished
    runs of `project_rows` rows; and `listed_runs` runs to list (`seed_runs`)."""
    store = server.store
    store.create_run(ENTITY, WAN_PROJECT, "finished", history=history_rows(rows))
    exported = int(rows * (1 - live_share))
    store.create_run(
        ENTITY, WAN_PROJECT, "running", history=history_rows(exported), state="running"
    )
    store.export_history(ENTITY, WAN_PROJECT, "running")
    store.log_history(ENTITY, WAN_PROJECT, "running", history_rows(rows - exported, 12, exported))
    for run_id in ("finished", "running"):
        _written(server, ENTITY, WAN_PROJECT, run_id)
    for index in range(project_runs):
        run_id = f"run{index:04d}"
        store.create_run(ENTITY, EXPORT_PROJECT, run_id, history=history_rows(project_rows, index))
        _written(server, ENTITY, EXPORT_PROJECT, run_id)
    listing = seed_runs(server, count=listed_runs)
    return {
        "entity": ENTITY,
        "project": WAN_PROJECT,
        "rows": rows,
        "live_rows": rows - exported,
        "export_project": EXPORT_PROJECT,
        "project_runs": project_runs,
        "project_rows": project_rows,
        "runs_project": listing["project"],
        "listed_runs": listed_runs,
    }


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


def seed_transfers(
    server: LocalWandbServer, files: int = 200, file_mb: int = 1, big_mb: int = 256
) -> dict[str, Any]:
    """What `bench_transfers.py` moves: `seed_artifacts`, and an empty project to publish into."""
    info = seed_artifacts(server, files=files, file_mb=file_mb, big_mb=big_mb)
    server.store.create_project(ENTITY, UPLOADS_PROJECT)
    return {**info, "uploads_project": UPLOADS_PROJECT}


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "artifacts": seed_artifacts,
    "history": seed_history,
    "runs": seed_runs,
    "transfers": seed_transfers,
    "uploads": seed_uploads,
    "wan": seed_wan,
}


def command(server: LocalWandbServer, line: str) -> dict[str, Any]:
    """Carry out one stdin command (see the module docstring); its JSON answer."""
    words = line.split()
    if words and words[0] == "network" and len(words) in (2, 3):
        profile = resolve_profile(words[1])
        if len(words) == 3:
            profile = profile.with_rate_limit(int(words[2]))
        server.network = profile
        return {"network": profile.name}
    if words == ["stats"]:
        log = server.request_log
        log.wait_idle(10.0)
        stats = {
            "graphql": log.count(path="/graphql"),
            "rate_limited": log.count(status=429),
            "storage_gets": log.count(path="/storage/", method="GET"),
        }
        log.clear()
        return stats
    return {"error": f"unknown command {line!r}"}


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

    def serve_commands() -> None:
        for line in sys.stdin:
            print(json.dumps(command(server, line)), flush=True)
        stop.set()  # stdin closed

    threading.Thread(target=serve_commands, daemon=True).start()
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
