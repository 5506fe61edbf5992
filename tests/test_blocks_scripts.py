"""The scripts under blocks/: register the block type, save a named document from the env."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

from prefect_wandb_public import WandbCredentials

pytestmark = pytest.mark.usefixtures("prefect_harness")
BLOCKS = Path(__file__).resolve().parents[1] / "blocks"


def load_block_script(name: str) -> ModuleType:
    return load_script(BLOCKS / f"{name}.py")


def test_register_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    load_block_script("register_blocks").main()
    assert "Weights and Biases Credentials" in capsys.readouterr().out


def test_save_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "k" * 40
    monkeypatch.setenv("MY_WANDB_KEY", secret)
    script = load_block_script("save_credentials")
    argv = ["saved-wandb", "--key-env", "MY_WANDB_KEY", "--entity", "team", "--project", "p"]
    assert script.main([*argv, "--base-url", "http://127.0.0.1:8080"]) == 0
    output = capsys.readouterr()
    assert "saved-wandb" in output.out and secret not in output.out + output.err
    loaded = WandbCredentials.load("saved-wandb")
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == secret
    assert (loaded.entity, loaded.project, loaded.base_url) == (
        "team",
        "p",
        "http://127.0.0.1:8080",
    )
    with pytest.raises(ValueError, match="already in use"):
        script.main(argv)
    assert script.main([*argv, "--overwrite", "--timeout", "5"]) == 0
    assert WandbCredentials.load("saved-wandb").timeout == 5
