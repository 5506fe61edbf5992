"""The command line: `prefect-wandb-public COMMAND`.

    server      a local W&B-compatible server          demo      the demo on an embedded server
    artifact    get | put | promote | ls               runs      ls
    history     export                                 check     whoami: is the key accepted?

Credentials come from WANDB_API_KEY / WANDB_BASE_URL / netrc, or `--block NAME` (a saved
WandbCredentials block). `--json` prints results for scripts, `--quiet` only the result. Exit
codes: 0 success, 2 usage or invalid input, 3 authentication, 4 not found, 1 anything else;
each failure is one line on stderr.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Annotated

import typer

from prefect_wandb_public._version import __version__
from prefect_wandb_public.commands import artifacts, history, runs
from prefect_wandb_public.commands.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    exit_code_for,
    one_line,
)
from prefect_wandb_public.errors import InvalidInputError


class Seed(str, Enum):
    """What `server --seed` loads."""

    demo = "demo"
    none = "none"


app = typer.Typer(
    name="prefect-wandb-public",
    help=__doc__.splitlines()[0] if __doc__ else None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(artifacts.app)
app.add_typer(runs.app)
app.add_typer(history.app)
app.command("check")(runs.check)
app.command("whoami", help="Same as `check`.")(runs.check)


def _print_version(value: bool) -> None:
    if value:
        print(f"prefect-wandb-public {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Prefect + Weights & Biases public API: a local W&B server, the demo, and CI commands."""


@app.command("server")
def server(
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8080,
    seed: Annotated[Seed, typer.Option(help="Data to load.")] = Seed.none,
    api_key: Annotated[
        str | None, typer.Option(help="Key to accept (default: a random one).")
    ] = None,
) -> None:
    """Run a local W&B-compatible server in the foreground."""
    from prefect_wandb_public.testing import LocalWandbServer
    from prefect_wandb_public.testing.seed import seed_demo

    local = LocalWandbServer(host=host, port=port, api_key=api_key)
    if seed is Seed.demo:
        seeded = local.seed = seed_demo(local.store)
        print(f"seeded demo project {seeded.entity}/{seeded.project}", flush=True)
    try:
        local.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInputError(
                f"port {port} on {host} is in use; pick another with --port (0 picks a free one)"
            ) from None
        raise InvalidInputError(
            f"port {port} on {host} cannot be bound: {exc.strerror or exc}"
        ) from None
    print(f"W&B-compatible server at {local.url}", flush=True)
    print("use: WANDB_BASE_URL=<url> WANDB_API_KEY=<key>; the key is on the next line", flush=True)
    print(local.api_key, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        local.serve_forever()


@app.command("demo")
def demo(
    output: Annotated[str, typer.Option(help="Directory for exported files.")] = "demo-output",
    api_key: Annotated[
        str | None, typer.Option(help="Key for the embedded server (40+ chars).")
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's task logs.")] = False,
) -> None:
    """Run the sample flows on an embedded local W&B server and print a report."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network calls
    # The temporary Prefect API may take longer than Prefect's 20 s on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect_wandb_public.demo import run_demo

    code = run_demo(output=output, api_key=api_key)
    if code:
        raise typer.Exit(code)


# Typer may vendor its own click: take its exception classes from typer itself.
def _click_class(name: str) -> type[Exception]:
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_USAGE_ERROR = _click_class("UsageError")
_CLICK_ERROR = _click_class("ClickException")


def _usage_line(exc: Exception) -> str:
    """A usage error as one line, with where to find help."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"error: {message}{hint}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (failures: one line on stderr)."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name="prefect-wandb-public", standalone_mode=False)
    except _USAGE_ERROR as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help(), file=sys.stderr)  # a bare group: its help, as usage
        else:
            print(_usage_line(exc), file=sys.stderr)
        return EXIT_USAGE
    except typer.Abort:
        print("error: interrupted", file=sys.stderr)
        return 130
    except _CLICK_ERROR as exc:
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)  # type: ignore[attr-defined]
        return EXIT_FAILURE
    except Exception as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["app", "main"]
