"""Run history: our scan and DataFrame path vs the official SDK (wandb==0.31.0) vs raw requests.

    .venv/bin/python benchmarks/bench_history.py [--rows 100000] [--repeat 3]
                                                 [--export-rows 1000000]

One run of `--rows` rows x 12 keys on a LocalWandbServer in its own process serves every
contender, timed in interleaved rounds (best of `--repeat`): our `scan_history` (dict rows), our
`history_frame` (pyarrow's JSON reader per page), the official `scan_history` and the official
route to a DataFrame (`DataFrame.from_records(list(scan))`), and single-thread `requests` loops
over the same HistoryPage pages (with a `json.loads` per row, and transport only). Then the peak
RSS of `export_history` of an `--export-rows` run to parquet, measured in a child process.
Goals: scan_history >= 4x the official scan_history, the DataFrame path >= 8x, export < 300 MB.
`--rows 0` skips the throughput part, `--export-rows 0` the export.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

import requests
from _common import Case, ServerProcess, Timing, compare, load_note, print_table, served
from _common import tree_cpu_seconds as cpu_of

from prefect_wandb_public.api import Api
from prefect_wandb_public.api.queries.history import HISTORY_PAGE_QUERY

try:
    import wandb
except ImportError:  # the official SDK is a dev-only dependency
    wandb = None  # type: ignore[assignment]

PAGE_SIZE = 1000
SCAN_GOAL = 4.0
FRAME_GOAL = 8.0
EXPORT_RSS_GOAL_MB = 300.0
WANDB_DIR_VARIABLES = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")


# ---------------------------------------------------------------------- contenders
def raw_pages(
    server: ServerProcess, session: requests.Session, decode_rows: bool
) -> Callable[[], int]:
    """POST the HistoryPage query page by page in one thread, as a minimal client would."""
    info = server.info
    base = {"entity": info["entity"], "project": info["project"], "run": info["run"]}
    total = int(info["rows"])

    def loop() -> int:
        count = 0
        for low in range(0, total, PAGE_SIZE):
            variables = {**base, "minStep": low, "maxStep": low + PAGE_SIZE, "pageSize": PAGE_SIZE}
            response = session.post(
                f"{server.url}/graphql",
                json={"query": HISTORY_PAGE_QUERY, "variables": variables},
                timeout=60,
            )
            response.raise_for_status()
            texts = response.json()["data"]["project"]["run"]["history"]
            count += len([json.loads(text) for text in texts] if decode_rows else texts)
        return count

    return loop


def checked(name: str, fn: Callable[[], int], expected: int) -> Case:
    """A case that fails the benchmark unless `fn` read every row."""

    def run() -> None:
        got = fn()
        if got != expected:
            raise SystemExit(f"{name} read {got} rows, expected {expected}")

    return Case(run)


def throughput(server: ServerProcess, repeat: int) -> dict[str, Timing]:
    info = server.info
    path, rows = f"{info['entity']}/{info['project']}/{info['run']}", int(info["rows"])
    ours = Api(api_key=server.api_key, overrides={"base_url": server.url}).run(path)
    cases = {
        "ours scan_history": checked(
            "ours scan", lambda: sum(1 for _ in ours.scan_history(page_size=PAGE_SIZE)), rows
        ),
        "ours history_frame": checked(
            "ours frame", lambda: len(ours.history_frame(page_size=PAGE_SIZE)), rows
        ),
    }
    if wandb is not None:
        import pandas as pd

        theirs = wandb.Api(api_key=server.api_key, overrides={"base_url": server.url}).run(path)
        cases["official scan_history"] = checked(
            "official scan", lambda: sum(1 for _ in theirs.scan_history(page_size=PAGE_SIZE)), rows
        )
        cases["official scan -> DataFrame"] = checked(
            "official frame",
            lambda: len(pd.DataFrame.from_records(list(theirs.scan_history(page_size=PAGE_SIZE)))),
            rows,
        )
        same = list(theirs.scan_history(page_size=PAGE_SIZE)) == list(ours.scan_history())
        print(f"official and our scan_history return identical rows: {same}")
    session = requests.Session()
    session.auth = ("api", server.api_key)
    cases["raw requests + json.loads/row"] = checked("raw", raw_pages(server, session, True), rows)
    cases["raw requests, no row decode"] = checked("raw", raw_pages(server, session, False), rows)
    server_pid = server.process.pid
    try:
        return compare(
            cases,
            repeat=repeat,
            counters={
                "client_cpu": lambda: cpu_of(os.getpid(), exclude=[server_pid]),
                "server_cpu": lambda: cpu_of(server_pid),
            },
        )
    finally:
        session.close()


def report_throughput(results: dict[str, Timing], rows: int, repeat: int) -> None:
    print(f"\nReading {rows:,} rows x 12 keys, page_size={PAGE_SIZE}, best of {repeat} rounds:")
    print_table(
        ["contender", "best s", "median s", "rows/s", "client CPU s", "server CPU s"],
        [
            (
                name,
                t.best,
                t.median,
                rows / t.best,
                t.median_of("client_cpu"),
                t.median_of("server_cpu"),
            )
            for name, t in results.items()
        ],
    )
    if "official scan_history" not in results:
        print("official SDK not installed: no ratios")
        return
    official = results["official scan_history"].best
    official_frame = results["official scan -> DataFrame"].best
    scan = official / results["ours scan_history"].best
    frame = official / results["ours history_frame"].best
    print(
        f"ratios vs official scan_history: ours scan {scan:.2f}x, ours DataFrame {frame:.2f}x, "
        f"raw json.loads loop {official / results['raw requests + json.loads/row'].best:.2f}x, "
        f"raw transport {official / results['raw requests, no row decode'].best:.2f}x"
    )
    print(
        "ours DataFrame vs the official route to a DataFrame: "
        f"{official_frame / results['ours history_frame'].best:.2f}x"
    )
    for label, ratio, goal in (("scan_history", scan, SCAN_GOAL), ("DataFrame", frame, FRAME_GOAL)):
        verdict = "met" if ratio >= goal else "NOT met"
        print(f"goal: {label} >= {goal:.0f}x official -> {verdict} ({ratio:.2f}x)")


# ---------------------------------------------------------------------- export memory
EXPORT_CHILD = """
import json, sys, time
from prefect_wandb_public.api import Api, export_history
import pandas, pyarrow, pyarrow.parquet
status = lambda key: [int(l.split()[1]) / 1024 for l in open("/proc/self/status")
                      if l.startswith(key)][0]
baseline = status("VmRSS:")
api = Api(api_key=sys.argv[1], overrides={"base_url": sys.argv[2]})
started = time.perf_counter()
written = export_history(api.run(sys.argv[3]), sys.argv[4])
seconds = time.perf_counter() - started
print(json.dumps({"rows": written, "seconds": seconds, "baseline_mb": baseline,
                  "peak_mb": status("VmHWM:"),
                  "row_groups": pyarrow.parquet.ParquetFile(sys.argv[4]).metadata.num_row_groups}))
"""


def export_memory(rows: int) -> None:
    """Peak RSS of a fresh interpreter exporting a `rows`-row run to a local parquet file (its
    VmHWM: ru_maxrss would carry over this process's peak across the exec)."""
    print(f"\nSeeding a {rows:,}-row run for the export (server process)...", flush=True)
    with served("history", rows=rows, run_id="huge-run") as server:
        info = server.info
        path = f"{info['entity']}/{info['project']}/{info['run']}"
        folder = tempfile.mkdtemp(prefix="bench-history-")
        target = os.path.join(folder, "history.parquet")
        try:
            done = subprocess.run(
                [sys.executable, "-c", EXPORT_CHILD, server.api_key, server.url, path, target],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"export child failed:\n{done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            size_mb = os.path.getsize(target) / 2**20
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(
        ["rows", "seconds", "rows/s", "file MB", "row groups", "RSS after imports MB", "peak MB"],
        [
            (
                result["rows"],
                result["seconds"],
                result["rows"] / result["seconds"],
                size_mb,
                result["row_groups"],
                result["baseline_mb"],
                result["peak_mb"],
            )
        ],
    )
    verdict = "met" if result["peak_mb"] < EXPORT_RSS_GOAL_MB else "NOT met"
    print(f"goal: export peak RSS < {EXPORT_RSS_GOAL_MB:.0f} MB -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"before: {load_note()}")
    root = tempfile.mkdtemp(prefix="bench-history-wandb-", dir="/dev/shm")
    os.environ.update({name: root for name in WANDB_DIR_VARIABLES}, WANDB_SILENT="true")
    try:
        if args.rows:
            with served("history", rows=args.rows) as server:
                results = throughput(server, args.repeat)
            report_throughput(results, args.rows, args.repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.export_rows:
        export_memory(args.export_rows)
    print(f"\nafter: {load_note()}")


if __name__ == "__main__":
    main()
