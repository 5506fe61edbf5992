"""The scripts under blocks/: register the block type, save a named document from the env."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.testing import LocalWandbServer

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
    # A name in use is one line saying what to do, not a traceback (changed on purpose).
    assert script.main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: a block named 'saved-wandb' already exists; pass --overwrite to replace it"
    ]
    assert script.main([*argv, "--overwrite", "--timeout", "5"]) == 0
    assert WandbCredentials.load("saved-wandb").timeout == 5


def test_save_credentials_verifies_the_key_first(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_block_script("save_credentials")
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    argv = ["verified-wandb", "--base-url", server.url, "--verify"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert f"the key belongs to {server.store.viewer.username}" in out
    assert WandbCredentials.load("verified-wandb").base_url == server.url

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert script.main(["refused-wandb", "--base-url", server.url, "--verify"]) == 3
    assert "the key was refused" in capsys.readouterr().err
    with pytest.raises(ValueError, match="Unable to find block document"):
        WandbCredentials.load("refused-wandb")


def test_save_credentials_refuses_what_is_not_a_w_and_b_server(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_block_script("save_credentials")
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    assert script.main(["bad-url", "--base-url", "api.wandb.ai"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: base_url must be an http(s) URL with a host, got 'api.wandb.ai'"]
    # A server that answers, but not GraphQL: the files route of the local server.
    assert script.main(["not-wandb", "--base-url", f"{server.url}/files", "--verify"]) == 2
    assert "is not a W&B server" in capsys.readouterr().err
