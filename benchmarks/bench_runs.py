"""Listing runs: our client vs the official SDK (wandb==0.31.0) vs a bare `requests` loop.

    .venv/bin/python benchmarks/bench_runs.py [--runs 5000] [--repeat 3]

One seeded LocalWandbServer in its own process serves every contender. Prints runs/s (best of
`--repeat`) at a large page size and at the default 50, the ratios, the file-system footprint of
a listing, and the cold-start cost (import + Api() + first query in a fresh process).
Goals: ours >= 2x the official SDK with its directories on tmpfs, no file-system writes while
listing, and a cold start <= 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from _common import (
    Case,
    ServerProcess,
    Timing,
    compare,
    filesystem_of,
    io_counters,
    load_note,
    peak_rss_mb,
    print_table,
    served,
    snapshot_files,
    tree_cpu_seconds,
)

from prefect_wandb_public.api import Api
from prefect_wandb_public.api.runs import Runs

ORDER = "+created_at"
WANDB_DIR_VARIABLES = (
    "WANDB_DIR",
    "WANDB_CACHE_DIR",
    "WANDB_CONFIG_DIR",
    "WANDB_DATA_DIR",
    "WANDB_ARTIFACT_DIR",
)
HEAVY_MODULES = ("pandas", "prefect", "pyarrow", "graphql", "numpy")
COLD_GOAL_SECONDS = 0.2
SPEED_GOAL_RATIO = 2.0

try:
    import wandb
except ImportError:  # the official SDK is a dev-only dependency
    wandb = None  # type: ignore[assignment]


def touch(run: Any) -> tuple[Any, ...]:
    """Read the fields a listing is usually for; both clients' `Run` have these names."""
    return (run.id, run.name, run.state, run.tags, run.created_at)


# ---------------------------------------------------------------------- contenders
def list_runs(api: Any, path: str, per_page: int) -> int:
    """List every run with either client's `Api`, touching each; returns how many."""
    count = 0
    for run in api.runs(path, order=ORDER, per_page=per_page):
        touch(run)
        count += 1
    return count


def list_official(api: Any, path: str, per_page: int) -> int:
    """`list_runs` with the official SDK, its run cache flushed first (it caches `runs()`)."""
    api.flush()
    return list_runs(api, path, per_page)


def list_raw(session: requests.Session, url: str, entity: str, project: str, per_page: int) -> int:
    """POST the same Runs query page by page and decode the JSON: the ceiling for any client."""
    variables: dict[str, Any] = {
        "entity": entity,
        "project": project,
        "order": ORDER,
        "filters": "{}",
        "perPage": per_page,
        "cursor": None,
    }
    count = 0
    while True:
        response = session.post(
            f"{url}/graphql",
            json={"query": Runs.QUERY, "variables": variables, "operationName": "Runs"},
            timeout=60,
        )
        response.raise_for_status()
        conn = response.json()["data"]["project"]["runs"]
        edges = conn["edges"]
        for edge in edges:
            node = edge["node"]
            (node["name"], node["displayName"], node["state"], node["tags"], node["createdAt"])
            count += 1
        if not edges or not conn["pageInfo"]["hasNextPage"]:
            return count
        variables["cursor"] = edges[-1]["cursor"]


def raw_session(api_key: str) -> requests.Session:
    """A plain session with the key as Basic auth, as W&B clients send it."""
    session = requests.Session()
    session.auth = ("api", api_key)
    return session


def official_api(server: ServerProcess) -> Any:
    """The official SDK's `wandb.Api` pointed at the benchmark server."""
    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.url})


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore (or remove) each one."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fresh_wandb_dir(root: str) -> str:
    """A new empty directory under `root` that every WANDB_* directory variable names."""
    path = tempfile.mkdtemp(prefix="wandb-bench-", dir=root)
    for name in WANDB_DIR_VARIABLES:
        os.environ[name] = path
    return path


# ---------------------------------------------------------------------- throughput
def counted(name: str, fn: Callable[[], int], expected: int) -> Callable[[], None]:
    """`fn` that fails the benchmark unless it listed every seeded run."""

    def run() -> None:
        listed = fn()
        if listed != expected:
            raise SystemExit(f"{name} listed {listed} runs, expected {expected}")

    return run


def throughput(server: ServerProcess, api: Api, per_page: int, repeat: int) -> dict[str, Timing]:
    """Interleaved best-of timings of ours, the official SDK (run dirs on tmpfs and on disk)
    and raw requests, with client and server CPU per listing."""
    entity, project = server.info["entity"], server.info["project"]
    path, expected = f"{entity}/{project}", int(server.info["count"])
    cases = {"ours": Case(counted("ours", lambda: list_runs(api, path, per_page), expected))}
    roots: list[str] = []
    if wandb is not None:
        official = official_api(server)
        for label, parent in (("official (tmpfs)", "/dev/shm"), ("official (disk)", None)):
            root = tempfile.mkdtemp(prefix="bench-runs-", dir=parent)
            roots.append(root)
            cases[label] = Case(
                counted(label, lambda: list_official(official, path, per_page), expected),
                setup=lambda root=root: fresh_wandb_dir(root),  # type: ignore[misc]
            )
    session = raw_session(server.api_key)
    cases["raw requests"] = Case(
        counted(
            "raw requests",
            lambda: list_raw(session, server.url, entity, project, per_page),
            expected,
        )
    )
    server_pid = server.process.pid
    try:
        # each official case points the WANDB_* dirs at a fresh directory in its setup
        with patched_env({"WANDB_SILENT": "true", **dict.fromkeys(WANDB_DIR_VARIABLES, "")}):
            return compare(
                cases,
                repeat=repeat,
                counters={
                    "client_cpu": lambda: tree_cpu_seconds(os.getpid(), exclude=[server_pid]),
                    "server_cpu": lambda: tree_cpu_seconds(server_pid),
                },
            )
    finally:
        session.close()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


def report_throughput(results: dict[str, Timing], runs: int, per_page: int, repeat: int) -> None:
    """The table, the ratios, the 2x goal, and how much of the gap the server leaves open."""
    print(f"\nListing {runs:,} runs, per_page={per_page}, best of {repeat} interleaved rounds:")
    ours = results["ours"].best
    print_table(
        [
            "contender",
            "best s",
            "median s",
            "runs/s",
            "ours faster by",
            "client CPU s",
            "server CPU s",
        ],
        [
            (
                name,
                t.best,
                t.median,
                runs / t.best,
                f"{t.best / ours:.2f}x",
                t.median_of("client_cpu"),
                t.median_of("server_cpu"),
            )
            for name, t in results.items()
        ],
    )
    ratios = ", ".join(
        f"ours / {name} = {t.best / ours:.2f}x" for name, t in results.items() if name != "ours"
    )
    print(f"runs/s ratios: {ratios}")
    per_run = ", ".join(
        f"{name} {t.median_of('client_cpu') / runs * 1e6:.0f}" for name, t in results.items()
    )
    server_per_run = statistics.median(t.median_of("server_cpu") for t in results.values())
    print(
        f"CPU per run (us, median): client side: {per_run}; server side: "
        f"{server_per_run / runs * 1e6:.0f} for every contender"
    )
    if "official (tmpfs)" in results:
        official = results["official (tmpfs)"].best
        ratio = official / ours
        verdict = "met" if ratio >= SPEED_GOAL_RATIO else "NOT met"
        print(
            f"goal: ours >= {SPEED_GOAL_RATIO:.0f}x official (tmpfs) at per_page={per_page} -> "
            f"{verdict} ({ratio:.2f}x); a client costing nothing over raw requests would reach "
            f"{official / results['raw requests'].best:.2f}x against this server"
        )


# ---------------------------------------------------------------------- file-system footprint
@contextmanager
def sandbox() -> Iterator[Path]:
    """Empty cwd, HOME, TMPDIR and WANDB_* dirs under one temp root, restored afterwards."""
    root = Path(tempfile.mkdtemp(prefix="bench-runs-fs-"))
    for sub in ("cwd", "home", "tmp", "wandb"):
        (root / sub).mkdir()
    env = {"HOME": str(root / "home"), "TMPDIR": str(root / "tmp"), "WANDB_SILENT": "true"}
    env.update(dict.fromkeys(WANDB_DIR_VARIABLES, str(root / "wandb")))
    saved_cwd, saved_tempdir = os.getcwd(), tempfile.tempdir
    try:
        with patched_env(env):
            tempfile.tempdir = None
            os.chdir(root / "cwd")
            yield root
    finally:
        os.chdir(saved_cwd)
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(root, ignore_errors=True)


def footprint(make_client: Callable[[], Any], list_fn: Callable[[Any], int]) -> dict[str, int]:
    """Paths created and bytes/calls written (`wchar`/`syscw`) by Api() plus one full listing."""
    with sandbox() as root:
        before_files = snapshot_files([root])
        before_io = io_counters()
        listed = list_fn(make_client())
        after_io = io_counters()
        created = snapshot_files([root]) - before_files
    return {
        "runs": listed,
        "paths": len(created),
        "wchar": after_io["wchar"] - before_io["wchar"],
        "syscw": after_io["syscw"] - before_io["syscw"],
    }


# ---------------------------------------------------------------------- cold start
CHILD_CODE = """
import time; t0 = time.perf_counter()
import json, sys
%(import_client)s
t1 = time.perf_counter()
api = %(make_api)s(api_key=sys.argv[1], overrides={"base_url": sys.argv[2]})
t2 = time.perf_counter()
assert %(first_query)s
t3 = time.perf_counter()
heavy = [m for m in %(heavy)r if m in sys.modules]
rss = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps({"import": t1 - t0, "api": t2 - t1, "query": t3 - t2, "heavy": heavy,
                  "rss_mb": rss}))
"""
OURS_CHILD = CHILD_CODE % {
    "import_client": "from prefect_wandb_public.api import Api",
    "make_api": "Api",
    "first_query": "api.viewer.entity",
    "heavy": HEAVY_MODULES,
}
OFFICIAL_CHILD = CHILD_CODE % {
    "import_client": "import wandb",
    "make_api": "wandb.Api",
    "first_query": "api.viewer.entity",
    "heavy": HEAVY_MODULES,
}


def cold_start(
    code: str, server: ServerProcess, repeat: int, env: dict[str, str]
) -> dict[str, Any]:
    """Median in-child phases and child wall time over `repeat` fresh interpreters."""
    samples: list[dict[str, Any]] = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, server.api_key, server.url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"cold-start child failed:\n{done.stderr[-2000:]}")
        sample = json.loads(done.stdout.strip().splitlines()[-1])
        sample["wall"] = wall
        samples.append(sample)
    result: dict[str, Any] = {
        key: statistics.median(s[key] for s in samples)
        for key in ("import", "api", "query", "wall", "rss_mb")
    }
    result["to_first_query"] = statistics.median(
        s["import"] + s["api"] + s["query"] for s in samples
    )
    result["heavy"] = sorted({m for s in samples for m in s["heavy"]})
    return result


# ---------------------------------------------------------------------- report
def report_footprint(server: ServerProcess, path: str, per_page: int) -> None:
    """Paths and bytes each client writes for Api() + one listing."""
    print("\nFile-system footprint of Api() + one listing (empty cwd, HOME, TMPDIR, WANDB_* dirs):")
    rows = [
        (
            "ours",
            footprint(
                lambda: Api(api_key=server.api_key, overrides={"base_url": server.url}),
                lambda client: list_runs(client, path, per_page),
            ),
        )
    ]
    if wandb is not None:
        rows.append(
            (
                "official",
                footprint(
                    lambda: official_api(server),
                    lambda client: list_official(client, path, per_page),
                ),
            )
        )
    print_table(
        ["client", "runs listed", "paths created", "wchar bytes", "write calls"],
        [(name, f["runs"], f["paths"], f["wchar"], f["syscw"]) for name, f in rows],
    )
    ours = rows[0][1]
    verdict = "met" if ours["paths"] == 0 and ours["wchar"] == 0 else "NOT met"
    print(f"goal: no file-system writes while listing -> {verdict}")


def report_cold_start(server: ServerProcess, repeat: int) -> None:
    """Import + Api() + first query in fresh interpreters, WANDB_* dirs on tmpfs."""
    print(f"\nCold start: fresh interpreter, median of {repeat}:")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        env.update({name: shm for name in WANDB_DIR_VARIABLES})
        env["WANDB_SILENT"] = "true"
        cold = [("ours", cold_start(OURS_CHILD, server, repeat, env))]
        if wandb is not None:
            cold.append(("official", cold_start(OFFICIAL_CHILD, server, repeat, env)))
    print_table(
        [
            "client",
            "import s",
            "Api() s",
            "1st query s",
            "to 1st answer s",
            "process wall s",
            "peak RSS MiB (python)",
            "heavy modules loaded",
        ],
        [
            (
                name,
                c["import"],
                c["api"],
                c["query"],
                c["to_first_query"],
                c["wall"],
                c["rss_mb"],
                ", ".join(c["heavy"]) or "none",
            )
            for name, c in cold
        ],
    )
    ours = cold[0][1]
    verdict = "met" if ours["to_first_query"] <= COLD_GOAL_SECONDS else "NOT met"
    print(
        f"goal: ours import + Api() + first query <= {COLD_GOAL_SECONDS} s -> {verdict} "
        f"({ours['to_first_query']:.3f} s); none of {', '.join(HEAVY_MODULES)} may load: "
        + ("met" if not ours["heavy"] else f"NOT met ({', '.join(ours['heavy'])})")
    )
    if len(cold) > 1:
        official = cold[1][1]
        print(
            f"before the first query (import + Api()): official "
            f"{official['import'] + official['api']:.3f} s, ours "
            f"{ours['import'] + ours['api']:.3f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="runs to seed and list")
    parser.add_argument("--repeat", type=int, default=5, help="listings per contender (best of)")
    parser.add_argument("--per-page", type=int, default=1000, help="the large page size")
    parser.add_argument("--cold-repeat", type=int, default=5, help="fresh processes per client")
    args = parser.parse_args()

    print(f"bench_runs: {args.runs:,} runs; {load_note()}")
    if wandb is None:
        print("wandb is not importable: skipping the official SDK rows")
    else:
        print(
            f"official SDK: wandb {wandb.__version__}; WANDB_* dirs fresh per listing, under "
            f"/dev/shm ({filesystem_of('/dev/shm')}) for the tmpfs rows and "
            f"{tempfile.gettempdir()} ({filesystem_of(tempfile.gettempdir())}) for the disk rows"
        )
    started = time.perf_counter()
    with served("runs", count=args.runs) as server:
        print(
            f"server: {server.url} (own process), seeded in {time.perf_counter() - started:.1f} s"
        )
        api = Api(api_key=server.api_key, overrides={"base_url": server.url})
        path = f"{server.info['entity']}/{server.info['project']}"

        for per_page in dict.fromkeys((args.per_page, 50)):
            results = throughput(server, api, per_page, args.repeat)
            report_throughput(results, args.runs, per_page, args.repeat)

        report_footprint(server, path, args.per_page)
        report_cold_start(server, args.cold_repeat)
        print(
            f"\npeak RSS: benchmark process {peak_rss_mb():.0f} MiB, "
            f"server process {peak_rss_mb(pid=server.process.pid):.0f} MiB"
        )
        api.close()
    print(f"\n{load_note()}; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
