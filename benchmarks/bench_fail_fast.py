"""Failing fast, and the local server under a hostile upload.

    .venv/bin/python benchmarks/bench_fail_fast.py

(a) The seconds a flow (one `query_runs` task, the block's default retry budget and the task's
default retries) takes to fail when its block points at a dead server (a loopback port nothing
listens on) and at a misspelled host (`api.wandb.aii`, a name that does not resolve). Goals:
dead < 20 s, misspelled < 5 s. Runs under Prefect's test harness (a temporary local API).

(b) The peak RSS of `prefect-wandb-public server` (its own process) before and after an
unauthenticated POST of a 200 MiB body. Goal: it grows by less than 20 MB (the body is refused
on its headers and dropped in small pieces, never buffered).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

from _common import load_note, peak_rss_mb, print_table

GOALS = {"dead": 20.0, "misspelled": 5.0}
MIB = 1 << 20


def flow_failure_seconds(base_url: str) -> tuple[float, str]:
    from prefect import flow

    from prefect_wandb_public import WandbCredentials
    from prefect_wandb_public.tasks import query_runs

    credentials = WandbCredentials(api_key="k" * 40, base_url=base_url)

    @flow
    def pipeline() -> list[dict]:
        return query_runs(credentials, "acme/proj")

    started = time.perf_counter()
    try:
        pipeline()
    except Exception as exc:  # the failure is the measurement
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    raise RuntimeError(f"the flow on {base_url} did not fail")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def server_rss_under_a_hostile_post(size: int = 200 * MIB) -> tuple[float, float, bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect_wandb_public.cli", "server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
        before = peak_rss_mb(pid=proc.pid)
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        head = f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
        sock.sendall(head.encode())

        def send() -> None:
            chunk = bytes(MIB)
            try:
                for _ in range(size // MIB):
                    sock.sendall(chunk)
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = sock.recv(200)
        sender.join(timeout=120)
        sock.close()
        return before, peak_rss_mb(pid=proc.pid), answer.split(b"\r\n", 1)[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    print(load_note() + " (before)")
    from prefect.testing.utilities import prefect_test_harness

    rows = []
    with prefect_test_harness():
        for label, url in (("dead", closed_port_url()), ("misspelled", "http://api.wandb.aii")):
            seconds, message = flow_failure_seconds(url)
            verdict = "met" if seconds < GOALS[label] else "MISSED"
            rows.append([label, url, seconds, f"< {GOALS[label]:.0f} s {verdict}"])
            print(f"{label}: {message}")
    print()
    print_table(["host", "base_url", "flow fails after s", "goal"], rows)
    before, after, status = server_rss_under_a_hostile_post()
    grew = after - before
    print(
        f"\nserver answer to an unauthenticated 200 MiB POST: {status.decode()}; peak RSS "
        f"{before:.0f} MB before, {after:.0f} MB after (+{grew:.0f} MB, goal < 20 MB, "
        f"{'met' if grew < 20 else 'MISSED'})"
    )
    print(load_note() + " (after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
