"""Publishing an artifact from local files: our client vs a raw parallel `PUT` loop.

    .venv/bin/python benchmarks/bench_upload.py [--files 200] [--file-mb 1] [--repeat 3]
                                                [--workers 8]

One LocalWandbServer in its own process (scenario `uploads`) receives every contender, timed in
interleaved rounds (best and median of `--repeat`). Before each timed call a fresh directory of
`--files` random files of `--file-mb` MiB is written (untimed), so digest dedup never skips work.

- ours: `Artifact(...).add_dir(dir, policy="immutable")` (md5 of every file, no staged copies,
  as the publish task adds them) then `Api.log_artifact(draft)`: the
  whole save pipeline (createArtifact, createArtifactManifest, createArtifactFiles, parallel
  PUTs with Content-MD5 streamed from disk, the manifest PUT, commitArtifact). Also shown
  without the hashing (the `log_artifact` call alone).
- raw: the least a client can do: read each file, md5 it, `PUT` it with `Content-MD5` to its
  storage URL, on a pool of `--workers` threads sharing one `requests.Session`.

Prints MB/s (MiB of file bytes per second), the ratio ours / raw, CPU seconds of this process,
and the load average (2 shared cores: read the figures against it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from _common import Case, compare, load_note, print_table, served

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.api.publish import publish
from prefect_wandb_public.api.queries.artifacts import CREATE_ARTIFACT_FILES_MUTATION

CHUNK = 1 << 20


def write_files(root: str, files: int, file_mb: int) -> None:
    """`files` files of `file_mb` MiB of fresh random bytes under `root` (recreated)."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for index in range(files):
        with open(os.path.join(root, f"shard-{index:04d}.bin"), "wb") as handle:
            for _ in range(file_mb):
                handle.write(os.urandom(CHUNK))


def upload_urls(api: Api, pending_id: str, root: str) -> dict[str, str]:
    """The signed upload URL of every file under `root`, by hex md5 (asked untimed, as the
    official client's uploads get theirs from `createArtifactFiles` too)."""
    digests = []
    for name in sorted(os.listdir(root)):
        with open(os.path.join(root, name), "rb") as handle:
            digests.append((name, hashlib.md5(handle.read()).digest()))
    specs = [
        {"artifactID": pending_id, "name": name, "md5": base64.b64encode(md5).decode()}
        for name, md5 in digests
    ]
    data = api.transport.graphql(
        CREATE_ARTIFACT_FILES_MUTATION, {"input": {"storageLayout": "V2", "artifactFiles": specs}}
    )
    nodes = [edge["node"] for edge in data["createArtifactFiles"]["files"]["edges"]]
    return {md5.hex(): node["uploadUrl"] for (_, md5), node in zip(digests, nodes, strict=True)}


def raw_upload(session: requests.Session, urls: dict[str, str], root: str, workers: int) -> None:
    """Read, md5 and PUT every file under `root` in parallel to its signed URL; no GraphQL."""

    def put(path: str) -> None:
        with open(path, "rb") as handle:
            data = handle.read()
        md5 = hashlib.md5(data).digest()
        response = session.put(
            urls[md5.hex()],
            data=data,
            headers={"Content-MD5": base64.b64encode(md5).decode()},
            timeout=60,
        )
        response.raise_for_status()

    paths = [os.path.join(root, name) for name in sorted(os.listdir(root))]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, paths))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--file-mb", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    if not (1 <= args.files <= 10_000 and 1 <= args.file_mb <= 1024 and 1 <= args.repeat <= 10):
        parser.error("--files 1..10000, --file-mb 1..1024, --repeat 1..10")
    mib = args.files * args.file_mb
    work = tempfile.mkdtemp(prefix="bench-upload-")
    dirs = {name: os.path.join(work, name) for name in ("ours", "raw")}
    counter = iter(range(1_000_000))
    phases: dict[str, list[float]] = {"hash": [], "log_artifact": []}
    try:
        with served("uploads") as srv:
            entity, project = srv.info["entity"], srv.info["project"]
            api = Api(api_key=srv.api_key, overrides={"base_url": srv.url}, pool_size=64)
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=args.workers)
            session.mount("http://", adapter)

            def ours() -> None:
                started = time.perf_counter()
                draft = Artifact(f"bench-{next(counter)}", "dataset")
                draft.add_dir(dirs["ours"], policy="immutable")
                hashed = time.perf_counter()
                published = publish(api, draft, (entity, project), workers=args.workers)
                phases["hash"].append(hashed - started)
                phases["log_artifact"].append(time.perf_counter() - hashed)
                assert published.file_count == args.files

            raw_urls: dict[str, str] = {}

            def raw_setup() -> None:
                write_files(dirs["raw"], args.files, args.file_mb)
                raw_urls.clear()
                raw_urls.update(upload_urls(api, srv.info["pending_id"], dirs["raw"]))

            cases = {
                "ours": Case(ours, lambda: write_files(dirs["ours"], args.files, args.file_mb)),
                "raw": Case(
                    lambda: raw_upload(session, raw_urls, dirs["raw"], args.workers), raw_setup
                ),
            }
            for case in cases.values():  # warm up: connections, imports, the first version
                assert case.setup is not None
                case.setup()
                case.fn()
            for values in phases.values():
                values.clear()
            timings = compare(cases, repeat=args.repeat, counters={"cpu": time.process_time})
            api.close()
            session.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nPublish {args.files} x {args.file_mb} MiB ({mib} MiB), {args.workers} upload "
        f"workers, best / median of {args.repeat}"
    )
    rows: list[list[Any]] = []
    for name, timing in timings.items():
        rows.append(
            [
                name,
                timing.best,
                timing.median,
                mib / timing.best,
                mib / timing.median,
                timing.median_of("cpu"),
            ]
        )
    best_upload = min(phases["log_artifact"])
    rows.append(["ours: log_artifact only", best_upload, "-", mib / best_upload, "-", "-"])
    print_table(["client", "best s", "median s", "MB/s best", "MB/s median", "CPU s"], rows)
    ratio = timings["raw"].best / timings["ours"].best
    print(f"\nours / raw (whole publish, hashing included): {ratio:.2f}x the raw MB/s")
    print(f"ours / raw (log_artifact alone):              {timings['raw'].best / best_upload:.2f}x")
    print(f"hashing (add_dir) best: {min(phases['hash']):.3f} s")
    print(load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
