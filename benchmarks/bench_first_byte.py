"""What an artifact download asks before its first byte, under the `wan` profile.

Publishes one artifact (a single `--mb` MiB file, or `--files` files of 1 MiB) on loopback, then
downloads it under `wan` a few times (`--runs`) and prints, per run, every request the server saw
from the `download()` call to the first blob request, as milliseconds since the call (when it
arrived, when it was answered), and the time to the first blob request ("fetch start"). The
server runs in this process: its waits are sleeps, and these requests are few and small, so
sharing the GIL costs little here (the figures are latencies, not throughput). Prints the load
average with the results.

    .venv/bin/python benchmarks/bench_first_byte.py --mb 64 --runs 3
    .venv/bin/python benchmarks/bench_first_byte.py --files 200 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.testing import LocalWandbServer

MIB = 1 << 20
BLOBS = "/storage/blobs/"


def publish(server: LocalWandbServer, work: Path, mb: int, files: int) -> str:
    """Log the artifact on loopback; returns its path."""
    draft = Artifact(f"first-byte-{files}x{mb}", "dataset")
    folder = work / "source"
    folder.mkdir()
    for index in range(files):
        path = folder / f"part-{index:04d}.bin"
        path.write_bytes(os.urandom(mb * MIB))
    draft.add_dir(str(folder))
    with closing(Api(api_key=server.api_key, overrides={"base_url": server.url})) as api:
        logged = api.log_artifact(draft, project="first-byte")
    return f"{logged.entity}/first-byte/{draft.name}:latest"


def one_run(server: LocalWandbServer, name: str, target: Path) -> float:
    """Download once (skipping the cache); prints the requests before the first blob request
    and returns the seconds from the call to it."""
    with closing(Api(api_key=server.api_key, overrides={"base_url": server.url})) as api:
        artifact = api.artifact(name)  # done beforehand, as in the issue
        server.request_log.clear()
        started = time.monotonic()
        artifact.download(str(target), skip_cache=True)
    records = sorted(server.request_log.records, key=lambda r: r.received)
    first_blob = next(r for r in records if r.path.startswith(BLOBS))
    for record in records:
        if record.received > first_blob.received:
            break
        answered = (record.answered or started) - started
        what = record.operation or record.path.split("?")[0][:40]
        print(
            f"    {record.method:4} {what:40} arrived {1000 * (record.received - started):6.0f}"
            f" ms, answered {1000 * answered:6.0f} ms"
        )
    return first_blob.received - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="MiB per file")
    parser.add_argument("--files", type=int, default=1, help="number of files")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalWandbServer() as server:
        work = Path(tmp)
        name = publish(server, work, args.mb, args.files)
        server.network = "wan"
        seconds = []
        for run in range(args.runs):
            print(f"run {run + 1}:")
            seconds.append(one_run(server, name, work / f"out-{run}"))
            print(f"  fetch start after {1000 * seconds[-1]:.0f} ms")
        print(
            f"{args.files} x {args.mb} MiB under wan: fetch start after "
            f"{1000 * statistics.median(seconds):.0f} ms (median of {args.runs}; "
            f"min {1000 * min(seconds):.0f} ms); load average {os.getloadavg()}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
