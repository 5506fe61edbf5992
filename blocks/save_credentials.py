"""Save a named `WandbCredentials` block document from arguments and the environment.

    WANDB_API_KEY=... python blocks/save_credentials.py my-wandb --entity my-team --project proj

The key is read from the environment variable named by --key-env (default WANDB_API_KEY) or,
with --prompt, typed without echo. It is never printed and never passed on the command line.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from prefect_wandb_public import WandbCredentials


def build_block(args: argparse.Namespace) -> WandbCredentials:
    key = getpass.getpass("W&B API key: ") if args.prompt else os.environ.get(args.key_env)
    fields: dict[str, object] = {"base_url": args.base_url, "timeout": args.timeout}
    if key:
        fields["api_key"] = key
    if args.entity:
        fields["entity"] = args.entity
    if args.project:
        fields["project"] = args.project
    return WandbCredentials(**fields)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="block document name (lowercase letters, digits, dashes)")
    parser.add_argument(
        "--base-url", default=os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    )
    parser.add_argument("--entity", default=os.environ.get("WANDB_ENTITY"))
    parser.add_argument("--project", default=os.environ.get("WANDB_PROJECT"))
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--key-env", default="WANDB_API_KEY", help="variable holding the key")
    parser.add_argument("--prompt", action="store_true", help="type the key instead")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing block")
    args = parser.parse_args(argv)
    block = build_block(args)
    if block.api_key is None:
        print(
            f"note: no key in ${args.key_env}; the block will fall back to netrc", file=sys.stderr
        )
    block.save(args.name, overwrite=args.overwrite)
    print(f"saved WandbCredentials block {args.name!r} for {block.base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
