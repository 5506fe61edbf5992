"""Save a named `WandbCredentials` block document from arguments and the environment.

    WANDB_API_KEY=... python blocks/save_credentials.py my-wandb --entity my-team --project proj
    WANDB_API_KEY=... python blocks/save_credentials.py my-wandb --verify --overwrite

The key is read from the environment variable named by --key-env (default WANDB_API_KEY) or,
with --prompt, typed without echo. It is never printed and never passed on the command line.
`--verify` asks the server who the key belongs to before saving; a name already in use needs
`--overwrite`. Exit status: 0 saved, 2 invalid input (bad URL, name in use, not a W&B server),
3 key refused, 1 anything else; each failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from prefect.exceptions import ObjectAlreadyExists
from pydantic import ValidationError

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.errors import AuthenticationError, InvalidInputError, WandbError
from prefect_wandb_public.operations import verify_credentials


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


def _fail(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


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
    parser.add_argument(
        "--verify", action="store_true", help="check the key against the server before saving"
    )
    args = parser.parse_args(argv)
    try:
        block = build_block(args)
    except ValidationError as exc:
        return _fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()), 2)
    if block.api_key is None:
        print(
            f"note: no key in ${args.key_env}; the block will fall back to netrc", file=sys.stderr
        )
    if args.verify:
        try:
            who = verify_credentials(block.get_client())
        except InvalidInputError as exc:
            return _fail(str(exc), 2)
        except AuthenticationError:
            return _fail(f"the key was refused by {block.base_url}; nothing saved", 3)
        except WandbError as exc:
            return _fail(f"cannot verify the key against {block.base_url}: {exc}", 1)
        print(f"verified: the key belongs to {who['username']} (entity {who['entity']})")
    try:
        block.save(args.name, overwrite=args.overwrite)
    except (ObjectAlreadyExists, ValueError) as exc:
        if "already in use" not in str(exc) and not isinstance(exc, ObjectAlreadyExists):
            return _fail(str(exc), 2)
        return _fail(
            f"a block named {args.name!r} already exists; pass --overwrite to replace it", 2
        )
    print(f"saved WandbCredentials block {args.name!r} for {block.base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
