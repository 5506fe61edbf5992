"""Prefect's standard checks for every block this package defines."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect.utilities.dispatch import get_registry_for_type
from prefect.utilities.importtools import to_qualified_name

from prefect_wandb_public import WandbCredentials  # noqa: F401 - registers the block


def find_module_blocks() -> list[type[Block]]:
    blocks = get_registry_for_type(Block) or {}
    return [
        block
        for block in blocks.values()
        if to_qualified_name(block).startswith("prefect_wandb_public")
    ]


@pytest.mark.parametrize("block", find_module_blocks())
class TestAllBlocksAdhereToStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block

    def test_logo_url_is_an_https_image_url(self, block: type[Block]) -> None:
        """The base suite's pixel check downloads the logo (skipped offline without Pillow);
        offline we can only check that the URL is set and points at an image over https."""
        url = urlsplit(str(block._logo_url))
        assert url.scheme == "https" and url.hostname
        assert url.path.endswith((".svg", ".png"))


def test_the_block_is_found() -> None:
    assert [b.__name__ for b in find_module_blocks()] == ["WandbCredentials"]
