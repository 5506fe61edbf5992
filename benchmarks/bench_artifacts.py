"""Artifact downloads: ours vs the official SDK (wandb==0.31.0) vs a raw `requests` loop.

    .venv/bin/python benchmarks/bench_artifacts.py [--files 200] [--file-mb 1] [--big-mb 500]
                                                   [--repeat 3]

One LocalWandbServer in its own process serves (a) an artifact of `--files` x `--file-mb` MiB
and (b) one file of `--big-mb` MiB. Every measurement runs in a fresh child process with empty
caches and a new root (cold), then downloads again into another new root with the cache kept
(warm); the child reports both times, the CPU seconds of its cold run (the server's not
included) and its peak RSS. Contenders run in interleaved rounds (best of `--repeat`). Ours and
the official SDK are timed from `artifact.download()` (manifest and URL queries included); the
raw loop gets its URLs untimed. Ours and raw hash md5 while streaming; the official SDK does not.
Goals: (a) >= 3.5x official, (b) >= 2x official, warm (a) >= 5x official warm, RSS (b) < 100 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import cpu_seconds, load_note, peak_rss_mb, print_table, run_in_child, served

GOALS = {"a": 3.5, "b": 2.0, "a_warm": 5.0}
RSS_GOAL_MB = 100.0
CLIENTS = ("ours", "official", "raw")
CHUNK = 1 << 20
FILE_URLS_QUERY = """
query FileUrls($entity: String!, $project: String!, $collection: String!, $alias: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      artifactMembership(aliasName: $alias) {
        files(first: 10000) { edges { node { name directUrl md5 } } }
      }
    }
  }
}
"""


# ---------------------------------------------------------------------- child side
def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One contender, one case, in this (fresh) process: cold download, then warm repeat."""
    work = spec["workdir"]
    cold_root, warm_root = os.path.join(work, "cold"), os.path.join(work, "warm")
    if spec["client"] == "ours":
        cold, warm = _ours(spec, cold_root, warm_root)
    elif spec["client"] == "official":
        cold, warm = _official(spec, cold_root, warm_root)
    else:
        cold, warm = _raw(spec, cold_root), None
    return {
        "cold": cold,
        "warm": warm,
        "cold_cpu": _COLD_CPU[0],
        "rss_mb": peak_rss_mb(),
    }


_COLD_CPU: list[float] = []


def _timed(fn: Any) -> float:
    """Wall seconds of `fn()`; the first call's CPU seconds (the cold run) go to `_COLD_CPU`."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    if not _COLD_CPU:
        _COLD_CPU.append(cpu_seconds() - cpu)
    return elapsed


def _ours(spec: dict[str, Any], cold_root: str, warm_root: str) -> tuple[float, float]:
    os.environ["PREFECT_WANDB_CACHE_DIR"] = os.path.join(spec["workdir"], "cache")
    from prefect_wandb_public.api import Api

    api = Api(api_key=spec["api_key"], overrides={"base_url": spec["url"]})
    artifact = api.artifact(spec["path"])
    cold = _timed(lambda: artifact.download(cold_root))
    warm = _timed(lambda: artifact.download(warm_root))
    artifact.verify(cold_root)
    artifact.verify(warm_root)
    return cold, warm


def _official(spec: dict[str, Any], cold_root: str, warm_root: str) -> tuple[float, float]:
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        os.environ[name] = os.path.join(spec["workdir"], name.lower())
    os.environ["WANDB_SILENT"] = "true"
    import wandb

    api = wandb.Api(api_key=spec["api_key"], overrides={"base_url": spec["url"]}, timeout=60)
    artifact = api.artifact(spec["path"])
    cold = _timed(lambda: artifact.download(root=cold_root))
    warm = _timed(lambda: artifact.download(root=warm_root))
    artifact.verify(cold_root)
    artifact.verify(warm_root)
    return cold, warm


def _raw(spec: dict[str, Any], root: str) -> float:
    """GET every direct URL (8 threads for many files, one stream for one), md5 while writing."""
    import base64

    import requests

    entity, project, name = spec["path"].split("/")
    collection, alias = name.split(":")
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    response = session.post(
        f"{spec['url']}/graphql",
        json={
            "query": FILE_URLS_QUERY,
            "variables": {
                "entity": entity,
                "project": project,
                "collection": collection,
                "alias": alias,
            },
        },
        auth=("api", spec["api_key"]),
        timeout=60,
    )
    conn = response.json()["data"]["project"]["artifactCollection"]["artifactMembership"]
    nodes = [edge["node"] for edge in conn["files"]["edges"]]
    os.makedirs(root, exist_ok=True)

    def fetch(node: dict[str, Any]) -> None:
        md5 = hashlib.md5()
        with (
            session.get(node["directUrl"], stream=True, timeout=60) as got,
            open(os.path.join(root, node["name"]), "wb") as out,
        ):
            got.raise_for_status()
            for chunk in got.iter_content(CHUNK):
                md5.update(chunk)
                out.write(chunk)
        if base64.b64encode(md5.digest()).decode() != node["md5"]:
            raise RuntimeError(f"md5 mismatch for {node['name']}")

    def everything() -> None:
        if len(nodes) == 1:
            fetch(nodes[0])
            return
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(fetch, nodes))

    return _timed(everything)


# ---------------------------------------------------------------------- parent side
def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one child in a fresh temp dir (removed afterwards) and parse its report."""
    return run_in_child(__file__, spec, prefix=f"bench-art-{spec['client']}-", timeout=900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--file-mb", type=int, default=1)
    parser.add_argument("--big-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))), flush=True)
        return 0
    if not 1 <= args.repeat <= 5 or args.files < 1 or args.big_mb < 1:
        parser.error("--repeat must be 1..5; --files and --big-mb positive")

    print(load_note() + " (before)")
    params = {"files": args.files, "file_mb": args.file_mb, "big_mb": args.big_mb}
    with served("artifacts", **params) as server:
        info = server.info
        cases = {
            "a": (f"{info['entity']}/{info['project']}/{info['many']}", info["many_bytes"]),
            "b": (f"{info['entity']}/{info['project']}/{info['big']}", info["big_bytes"]),
        }
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for round_number in range(args.repeat):
            # Rotate who goes first: the first writer of a round pays for fresh page-cache pages.
            order = CLIENTS[round_number % 3 :] + CLIENTS[: round_number % 3]
            for case, (path, _) in cases.items():
                for client in order:
                    spec = {"client": client, "url": server.url, "api_key": server.api_key}
                    report = measure({**spec, "path": path})
                    results.setdefault((case, client), []).append(report)
    print(load_note() + " (after)")
    report_results(cases, results, args)
    return 0


def report_results(
    cases: dict[str, tuple[str, int]],
    results: dict[tuple[str, str], list[dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for key, reports in results.items():
        warm = [r["warm"] for r in reports if r["warm"] is not None]
        best[key] = {
            "cold": min(r["cold"] for r in reports),
            "cold_cpu": min(r["cold_cpu"] for r in reports),
            "warm": min(warm) if warm else None,
            "rss_mb": max(r["rss_mb"] for r in reports),
        }
    labels = {
        "a": f"(a) {args.files} x {args.file_mb} MiB",
        "b": f"(b) 1 x {args.big_mb} MiB",
    }
    rows = []
    for case, (_, size) in cases.items():
        megabytes = size / 1e6
        for client in CLIENTS:
            b = best[(case, client)]
            warm = b["warm"]
            rows.append(
                [
                    labels[case],
                    client,
                    b["cold"],
                    megabytes / b["cold"],
                    b["cold_cpu"],
                    "-" if warm is None else warm,
                    "-" if warm is None else megabytes / warm,
                    b["rss_mb"],
                ]
            )
    print()
    print_table(
        [
            "case",
            "client",
            "cold s",
            "cold MB/s",
            "cold CPU s",
            "warm s",
            "warm MB/s",
            "peak RSS MB",
        ],
        rows,
    )

    def ratio(case: str, other: str, phase: str = "cold") -> float:
        return float(best[(case, other)][phase] / best[(case, "ours")][phase])

    print()
    checks = [
        ("(a) cold: ours vs official", ratio("a", "official"), GOALS["a"]),
        ("(b) cold: ours vs official", ratio("b", "official"), GOALS["b"]),
        ("(a) warm: ours vs official", ratio("a", "official", "warm"), GOALS["a_warm"]),
    ]
    for label, value, goal in checks:
        verdict = "met" if value >= goal else "MISSED"
        print(f"{label}: {value:.2f}x (goal >= {goal}x, {verdict})")
    print(f"(a) cold: ours vs raw requests: {ratio('a', 'raw'):.2f}x")
    print(f"(b) cold: ours vs raw requests: {ratio('b', 'raw'):.2f}x")
    rss = best[("b", "ours")]["rss_mb"]
    print(
        f"(b) peak RSS of our child: {rss:.0f} MB "
        f"(goal < {RSS_GOAL_MB:.0f} MB, {'met' if rss < RSS_GOAL_MB else 'MISSED'})"
    )


if __name__ == "__main__":
    sys.exit(main())
