"""Command line: `prefect-wandb-public server` (a local W&B server) and `... demo`."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Sequence


def _server(args: argparse.Namespace) -> int:
    from prefect_wandb_public.testing import LocalWandbServer
    from prefect_wandb_public.testing.seed import seed_demo

    server = LocalWandbServer(host=args.host, port=args.port, api_key=args.api_key)
    if args.seed == "demo":
        seed = seed_demo(server.store)
        print(f"seeded demo project {seed.entity}/{seed.project}", flush=True)
    try:
        server.start()
    except OSError as exc:
        reason = (
            "is already in use"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be bound: {exc.strerror or exc}"
        )
        print(
            f"error: port {args.port} on {args.host} {reason}; pick another with --port "
            "(0 picks a free one)",
            file=sys.stderr,
        )
        return 2
    print(f"W&B-compatible server at {server.url}", flush=True)
    print("use: WANDB_BASE_URL=<url> WANDB_API_KEY=<key>; the key is on the next line", flush=True)
    print(server.api_key, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from prefect_wandb_public.demo import run_demo

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network calls
    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return run_demo(output=args.output, api_key=args.api_key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prefect-wandb-public", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="run a local W&B-compatible server")
    server.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    server.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    server.add_argument("--seed", choices=["demo", "none"], default="none", help="data to load")
    server.add_argument("--api-key", default=None, help="key to accept (default: a random one)")
    server.set_defaults(handler=_server)
    demo = commands.add_parser("demo", help="run the demo on an embedded local server")
    demo.add_argument("--output", default="demo-output", help="directory for exported files")
    demo.add_argument("--api-key", default=None, help="key for the embedded server (40+ chars)")
    demo.add_argument("--verbose", action="store_true", help="show Prefect's task logs")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
