"""Register this package's block types with the Prefect API in use.

    python blocks/register_blocks.py

Same as `prefect block register -m prefect_wandb_public`.
"""

from __future__ import annotations

from prefect_wandb_public import WandbCredentials


def main() -> None:
    WandbCredentials.register_type_and_schema()
    print(f"registered block type {WandbCredentials.get_block_type_name()!r}")


if __name__ == "__main__":
    main()
