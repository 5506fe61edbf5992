"""History and listing far from the service: ours vs the official SDK (wandb==0.31.0), on one
seeded LocalWandbServer whose network profile is switched between `loopback` and `wan`.

    .venv/bin/python benchmarks/bench_wan.py [--network both|loopback|wan] [--repeat 2]
        [--rows 100000] [--project-runs 200] [--project-rows 2000] [--listed-runs 5000]
        [--rate-limit 200] [--skip scan,running,export,limited,listing]

Scenarios, each contender timed in interleaved rounds (best of `--repeat`):
- scan: a finished, exported run of `--rows` rows x 12 keys, to dicts and to a DataFrame (the
  official route: `pd.DataFrame(list(run.scan_history()))`), cold (files fetched again:
  `use_cache=False` for both) and warm (from each client's cache);
- running: a running run of as many rows, its last 20 % live (GraphQL pages), cold;
- export: `--project-runs` finished runs of `--project-rows` rows to parquet files: ours the
  `export_project_histories` task in a Prefect flow, the official SDK a 30-thread pool running
  `scan_history` -> DataFrame -> parquet per run (the workaround W&B support suggests);
- limited: the same export under a GraphQL limit of `--rate-limit` requests per minute (wan
  only, one round), with each client's GraphQL request count;
- listing: `--listed-runs` runs at per_page 50 (the official default) and 1000; at 1000 both
  clients send the same pages one after the other, so the script also prints the best ratio any
  client could reach there (the official time over the round trips' floor).
Each scenario prints its limit: the least time the profile allows for the requests the fastest
contender needs. Goals under wan: scan >= 2x, DataFrame >= 4x, export >= 3x (>= 5x under the
limit), listing >= 1.3x.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from _common import Case, ServerProcess, Timing, compare, load_note, print_table, served

from prefect_wandb_public.api import Api, Downloader
from prefect_wandb_public.api.history import load_plan
from prefect_wandb_public.api.history_exports import cache_name
from prefect_wandb_public.testing.profiles import PROFILES, NetworkProfile

try:
    import wandb
except ImportError:  # the official SDK is a dev-only dependency
    wandb = None  # type: ignore[assignment]

GOALS = {"scan": 2.0, "frame": 4.0, "export": 3.0, "limited": 5.0, "listing": 1.3}
WANDB_DIR_VARIABLES = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")
OFFICIAL_EXPORT_THREADS = 30
results_summary: list[tuple[str, str, float, float, float, str]] = []


# ---------------------------------------------------------------------- helpers
def clients(server: ServerProcess) -> tuple[Api, Any]:
    ours = Api(api_key=server.api_key, overrides={"base_url": server.url}, pool_size=64)
    official = wandb.Api(api_key=server.api_key, overrides={"base_url": server.url}, timeout=120)
    return ours, official


@contextmanager
def fresh_cache() -> Iterator[Callable[[], None]]:
    """PREFECT_WANDB_CACHE_DIR in a tmpfs directory; calling the yielded function empties it."""
    root = tempfile.mkdtemp(prefix="bench-wan-cache-", dir="/dev/shm")
    os.environ["PREFECT_WANDB_CACHE_DIR"] = root

    def empty() -> None:
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root, exist_ok=True)

    try:
        yield empty
    finally:
        shutil.rmtree(root, ignore_errors=True)


def export_bytes(ours: Api, path: str) -> int:
    """The size of a run's export files as our cache holds them (after a read)."""
    plan = load_plan(ours.run(path))
    cache = Downloader(ours.transport)
    return sum(
        os.path.getsize(cache.named_cache_path(cache_name(url)))
        for url in plan.parquet_urls
        if os.path.exists(cache.named_cache_path(cache_name(url)))
    )


def report(
    title: str,
    network: str,
    results: dict[str, Timing],
    pairs: list[tuple[str, str, str]],
    limit: str,
) -> None:
    """Print the timings, then `ours / official` ratios for each (label, ours, official)."""
    print(f"\n[{network}] {title}")
    print_table(
        ["contender", "best s", "median s"],
        [(name, timing.best, timing.median) for name, timing in results.items()],
    )
    for label, mine, theirs in pairs:
        ratio = results[theirs].best / results[mine].best
        goal = GOALS.get(label.split(" ")[0])
        verdict = ""
        if goal is not None and network == "wan":
            verdict = f" (goal >= {goal:g}x: {'met' if ratio >= goal else 'NOT met'})"
        print(f"ratio {label}: {ratio:.2f}x{verdict}")
        results_summary.append(
            (network, label, results[mine].best, results[theirs].best, ratio, verdict.strip())
        )
    print(f"limit: {limit}")


def floor_text(profile: NetworkProfile, graphql: int, storage: int, size: int, streams: int) -> str:
    """The least time `graphql` sequential round trips and `storage` objects of `size` bytes in
    all, `streams` at a time, can take under `profile`."""
    transfer = profile.storage.transfer_seconds(size) / max(1, min(streams, storage or 1))
    seconds = (
        graphql * profile.graphql_latency
        + math.ceil(storage / max(1, streams)) * (profile.storage.first_byte)
        + transfer
    )
    return (
        f"{seconds:.2f} s ({graphql} GraphQL round trip(s) x {profile.graphql_latency:.3f} s, "
        f"{storage} storage object(s) of {size / 1e6:.1f} MB in all, {streams} at a time)"
    )


# ---------------------------------------------------------------------- scenarios
def scan_scenario(server: ServerProcess, network: str, repeat: int) -> None:
    info = server.info
    path = f"{info['entity']}/{info['project']}/finished"
    ours, official = clients(server)
    mine, theirs = ours.run(path), official.run(path)
    rows = int(info["rows"])
    mine.history_frame(max_step=10)  # untimed: imports (pyarrow, pandas) on both sides
    pd.DataFrame(list(theirs.scan_history(max_step=10)))

    def count(iterable: Any) -> int:
        return sum(1 for _ in iterable)

    cases = {
        "ours scan cold": Case(lambda: check(count(mine.scan_history(use_cache=False)), rows)),
        "official scan cold": Case(
            lambda: check(count(theirs.scan_history(use_cache=False)), rows)
        ),
        "ours frame cold": Case(lambda: check(len(mine.history_frame(use_cache=False)), rows)),
        "official frame cold": Case(
            lambda: check(len(pd.DataFrame(list(theirs.scan_history(use_cache=False)))), rows)
        ),
        "ours scan warm": Case(lambda: check(count(mine.scan_history()), rows)),
        "official scan warm": Case(lambda: check(count(theirs.scan_history()), rows)),
        "ours frame warm": Case(lambda: check(len(mine.history_frame()), rows)),
        "official frame warm": Case(
            lambda: check(len(pd.DataFrame(list(theirs.scan_history()))), rows)
        ),
    }
    results = compare(cases, repeat=repeat)
    profile = PROFILES[network]
    size = export_bytes(ours, path)
    report(
        f"finished run, {rows:,} rows x 12 keys (exported)",
        network,
        results,
        [
            ("scan cold", "ours scan cold", "official scan cold"),
            ("scan warm", "ours scan warm", "official scan warm"),
            ("frame cold", "ours frame cold", "official frame cold"),
            ("frame warm", "ours frame warm", "official frame warm"),
        ],
        f"cold {floor_text(profile, 1, 1, size, 1)}; warm {floor_text(profile, 1, 0, 0, 1)}",
    )


def running_scenario(server: ServerProcess, network: str, repeat: int) -> None:
    info = server.info
    path = f"{info['entity']}/{info['project']}/running"
    ours, official = clients(server)
    mine, theirs = ours.run(path), official.run(path)
    rows, live = int(info["rows"]), int(info["live_rows"])
    cases = {
        "ours scan": Case(lambda: check(sum(1 for _ in mine.scan_history(use_cache=False)), rows)),
        "official scan": Case(
            lambda: check(sum(1 for _ in theirs.scan_history(use_cache=False)), rows)
        ),
        "ours frame": Case(lambda: check(len(mine.history_frame(use_cache=False)), rows)),
        "official frame": Case(
            lambda: check(len(pd.DataFrame(list(theirs.scan_history(use_cache=False)))), rows)
        ),
    }
    results = compare(cases, repeat=repeat)
    profile = PROFILES[network]
    pages = math.ceil(live / 1000)
    page = profile.graphql_latency + profile.history_cost(1000, 12)
    size = export_bytes(ours, path)
    report(
        f"running run, {rows:,} rows, {live:,} of them live",
        network,
        results,
        [
            ("scan running", "ours scan", "official scan"),
            ("frame running", "ours frame", "official frame"),
        ],
        f"{pages} live pages of {page:.2f} s each: {pages * page:.2f} s one at a time, "
        f"{math.ceil(pages / 4) * page:.2f} s four at a time; exports "
        f"{floor_text(profile, 1, 1, size, 1)}",
    )


def official_export(official: Any, project: str, out: Path) -> int:
    """The workaround W&B support suggests: a 30-thread pool, scan -> DataFrame -> parquet."""
    runs = list(official.runs(project))

    def one(run: Any) -> int:
        frame = pd.DataFrame(list(run.scan_history(use_cache=False)))
        frame.to_parquet(out / f"{run.id}.parquet")
        return len(frame)

    with ThreadPoolExecutor(OFFICIAL_EXPORT_THREADS) as pool:
        return sum(pool.map(one, runs))


def export_scenario(
    server: ServerProcess, network: str, repeat: int, rate_limit: int | None = None
) -> None:
    from prefect import flow

    from prefect_wandb_public import WandbCredentials
    from prefect_wandb_public.tasks import export_project_histories

    info = server.info
    project = f"{info['entity']}/{info['export_project']}"
    total = int(info["project_runs"]) * int(info["project_rows"])
    credentials = WandbCredentials(api_key=server.api_key, base_url=server.url)
    _, official = clients(server)
    out = Path(tempfile.mkdtemp(prefix="bench-wan-export-", dir="/dev/shm"))
    counts: dict[str, list[dict[str, Any]]] = {"ours": [], "official": []}

    @flow(name="bench-export", log_prints=False)
    def ours_flow(target: str) -> int:
        done = export_project_histories(credentials, project, target, max_workers=4)
        return sum(entry["rows"] for entry in done)

    def prepare(name: str) -> Callable[[], None]:
        def setup() -> None:
            shutil.rmtree(out, ignore_errors=True)
            (out / name).mkdir(parents=True)
            os.environ["PREFECT_WANDB_CACHE_DIR"] = tempfile.mkdtemp(dir="/dev/shm")
            server.command("stats")  # clears the server's log

        return setup

    def ours_case() -> None:
        check(ours_flow(str(out / "ours")), total)
        counts["ours"].append(server.command("stats"))

    def official_case() -> None:
        check(official_export(official, project, out / "official"), total)
        counts["official"].append(server.command("stats"))

    try:
        results = compare(
            {
                "ours export_project_histories": Case(ours_case, prepare("ours")),
                "official 30 threads": Case(official_case, prepare("official")),
            },
            repeat=1 if rate_limit else repeat,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    profile = PROFILES[network]
    runs = int(info["project_runs"])
    title = f"project export, {runs} runs x {info['project_rows']} rows to parquet"
    if rate_limit:
        needed = counts["official"][-1]["graphql"] - counts["official"][-1]["rate_limited"]
        windows = max(0, math.ceil(needed / rate_limit) - 1)
        limit = (
            f"{rate_limit} GraphQL requests per fixed minute: the official SDK's {needed} "
            f"requests must wait for {windows} window end(s) (up to {60 * windows} s); ours' "
            f"{counts['ours'][-1]['graphql']} fit in one window"
        )
        title += f", GraphQL limited to {rate_limit}/min"
    else:
        limit = (
            "ours: 3 GraphQL round trips, then the files 16 at a time: "
            f"{floor_text(profile, 3, runs, 0, 16)} plus the writing"
        )
    report(
        title,
        network,
        results,
        [
            (
                "limited export" if rate_limit else "export",
                "ours export_project_histories",
                "official 30 threads",
            )
        ],
        limit,
    )
    for name, stats in counts.items():  # after the table: they belong to this scenario
        last = stats[-1]
        print(
            f"  {name}: {last['graphql']} GraphQL requests ({last['rate_limited']} answered 429), "
            f"{last['storage_gets']} storage GETs"
        )


def listing_scenario(server: ServerProcess, network: str, repeat: int) -> None:
    info = server.info
    path = f"{info['entity']}/{info['runs_project']}"
    count = int(info["listed_runs"])
    ours, official = clients(server)

    def mine(per_page: int) -> Callable[[], None]:
        return lambda: check(
            sum(1 for run in ours.runs(path, order="+created_at", per_page=per_page) if run.id),
            count,
        )

    def theirs(per_page: int) -> Callable[[], None]:
        def run() -> None:
            official.flush()
            listed = official.runs(path, order="+created_at", per_page=per_page)
            check(sum(1 for r in listed if r.id), count)

        return run

    mine(1000)()  # untimed: the server's listing caches, both clients' imports
    theirs(1000)()
    gc.collect()
    cases = {
        "ours per_page=50": Case(mine(50)),
        "official per_page=50": Case(theirs(50)),
        "ours per_page=1000": Case(mine(1000)),
        "official per_page=1000": Case(theirs(1000)),
    }
    results = compare(cases, repeat=repeat)
    profile = PROFILES[network]
    pages = math.ceil(count / 1000)
    floor = pages * profile.graphql_latency
    if floor > 0:
        # Both clients send the same sequential pages at per_page=1000, so no client can beat
        # the official one by more than its time over the round trips' floor.
        ceiling = results["official per_page=1000"].best / floor
        print(
            f"\n[{network}] per_page=1000: both clients send {pages} pages one after the other; "
            f"the best ratio any client could reach is {ceiling:.2f}x (official "
            f"{results['official per_page=1000'].best:.3f} s / floor {floor:.2f} s); ours is "
            f"{(results['ours per_page=1000'].best - floor) / pages * 1000:.0f} ms a page over "
            "the floor"
        )
    report(
        f"listing {count:,} runs",
        network,
        results,
        [
            ("listing per_page=50", "ours per_page=50", "official per_page=50"),
            ("listing per_page=1000", "ours per_page=1000", "official per_page=1000"),
        ],
        f"per_page=50: {math.ceil(count / 50)} pages one after the other: "
        f"{floor_text(profile, math.ceil(count / 50), 0, 0, 1)}; per_page=1000: "
        f"{floor_text(profile, math.ceil(count / 1000), 0, 0, 1)}",
    )


def check(got: int, expected: int) -> None:
    if got != expected:
        raise SystemExit(f"read {got} rows or runs, expected {expected}")


# ---------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=["both", "loopback", "wan"], default="both")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--project-runs", type=int, default=200)
    parser.add_argument("--project-rows", type=int, default=2000)
    parser.add_argument("--listed-runs", type=int, default=5000)
    parser.add_argument("--rate-limit", type=int, default=200)
    parser.add_argument("--skip", default="", help="comma-separated scenarios to leave out")
    args = parser.parse_args()
    if wandb is None:
        raise SystemExit("the official SDK (wandb==0.31.0) is needed: install the dev extra")
    skip = set(filter(None, args.skip.split(",")))
    networks = ["loopback", "wan"] if args.network == "both" else [args.network]
    print(f"before: {load_note()}")
    root = tempfile.mkdtemp(prefix="bench-wan-wandb-", dir="/dev/shm")
    os.environ.update({name: root for name in WANDB_DIR_VARIABLES}, WANDB_SILENT="true")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    started = time.monotonic()
    print("seeding the server (its own process)...", flush=True)
    try:
        with (
            served(
                "wan",
                rows=args.rows,
                project_runs=args.project_runs,
                project_rows=args.project_rows,
                listed_runs=args.listed_runs,
            ) as server,
            fresh_cache(),
        ):
            print(f"seeded in {time.monotonic() - started:.0f} s; {load_note()}", flush=True)
            harness = _harness() if not {"export", "limited"} <= skip else None
            try:
                for network in networks:
                    server.command(f"network {network}")
                    if "listing" not in skip:  # first: a fresh heap, as bench_runs has it
                        listing_scenario(server, network, args.repeat)
                    if "scan" not in skip:
                        scan_scenario(server, network, args.repeat)
                    if "running" not in skip:
                        running_scenario(server, network, args.repeat)
                    if "export" not in skip:
                        export_scenario(server, network, args.repeat)
                if "limited" not in skip and "wan" in networks:
                    server.command(f"network wan {args.rate_limit}")
                    export_scenario(server, "wan", 1, rate_limit=args.rate_limit)
            finally:
                if harness is not None:
                    harness.__exit__(None, None, None)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\nSummary (best seconds):")
    print_table(
        ["network", "scenario", "ours s", "official s", "ratio", "goal"],
        results_summary,
    )
    print(f"\nafter: {load_note()}; {time.monotonic() - started:.0f} s in all")


def _harness() -> Any:
    """A temporary Prefect API for the export task's flow (started once, outside the timing)."""
    from prefect.testing.utilities import prefect_test_harness

    harness = prefect_test_harness(server_startup_timeout=120)
    harness.__enter__()
    return harness


if __name__ == "__main__":
    main()
