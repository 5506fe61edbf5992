"""The WandbCredentials block: client construction, caching, fallbacks, secrecy, registration."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prefect_wandb_public import Api, WandbCredentials
from prefect_wandb_public.errors import AuthenticationError
from prefect_wandb_public.testing import LocalWandbServer


def test_get_client_talks_to_the_configured_server(
    credentials: WandbCredentials, server: LocalWandbServer
) -> None:
    api = credentials.get_client()
    assert isinstance(api, Api) and api.base_url == server.url
    assert api.viewer.username == "local-user"


def test_one_client_per_block_values_shared_across_threads(server: LocalWandbServer) -> None:
    block = WandbCredentials(api_key=server.api_key, base_url=server.url)
    twin = WandbCredentials(api_key=server.api_key, base_url=server.url)
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: block.get_client(), range(32)))
    assert all(c is clients[0] for c in clients)
    assert twin.get_client() is clients[0]
    other = WandbCredentials(api_key=server.api_key, base_url=server.url, project="p2")
    assert other.get_client() is not clients[0]
    assert other.get_client().default_project == "p2"
    assert hash(block) == hash(twin) != hash(other)


def test_entity_and_project_defaults(server: LocalWandbServer) -> None:
    server.create_run("block-team", "block-proj", "r1")
    block = WandbCredentials(
        api_key=server.api_key, base_url=server.url, entity="block-team", project="block-proj"
    )
    assert block.get_client().run("r1").path == ["block-team", "block-proj", "r1"]


def test_key_falls_back_to_the_environment(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    block = WandbCredentials(base_url=server.url, timeout=7)
    assert block.get_client().viewer.entity == "local-user"


def test_key_falls_back_to_netrc(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login user\n  password {server.api_key}\n")
    netrc.chmod(0o600)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(netrc))
    block = WandbCredentials(base_url=server.url, timeout=8)
    assert block.get_client().viewer.username == "local-user"


def test_no_key_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))
    block = WandbCredentials(base_url="http://127.0.0.1:9", timeout=9)
    with pytest.raises(AuthenticationError, match=r"no W&B API key for http://127\.0\.0\.1:9"):
        block.get_client()


def test_the_key_stays_secret(server: LocalWandbServer) -> None:
    block = WandbCredentials(api_key=server.api_key, base_url=server.url)
    for text in (repr(block), str(block), block.model_dump_json(), repr(block.get_client())):
        assert server.api_key not in text


def test_bad_field_values_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        WandbCredentials(timeout=0)
    with pytest.raises(ValueError, match="retry_attempts"):
        WandbCredentials(retry_attempts=0)


def test_block_register_from_the_module(tmp_path: Path) -> None:
    """`prefect block register -m prefect_wandb_public` finds the block (ephemeral server)."""
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
        # The default 20 s is too short for a cold start on a loaded 2-core machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "prefect_wandb_public"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Weights and Biases Credentials" in result.stdout


def _closed(client: Api) -> bool:
    """Whether a client's pooled connections were released (`Api.close`)."""
    return not client.transport.session.adapters["http://"].poolmanager.pools


def test_a_block_without_a_key_follows_the_environment_and_netrc(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    block = WandbCredentials(base_url=server.url, timeout=11)
    first = block.get_client()
    assert first.viewer.entity == "local-user"
    assert block.get_client() is first  # nothing changed: the same client
    monkeypatch.setenv("WANDB_API_KEY", "w" * 40)  # the key was rotated
    rotated = block.get_client()
    assert rotated is not first and _closed(first)
    with pytest.raises(AuthenticationError):
        rotated.viewer  # noqa: B018  (the new key is the one sent)
    monkeypatch.delenv("WANDB_API_KEY")
    netrc.write_text(f"machine 127.0.0.1\n  login user\n  password {server.api_key}\n")
    from_netrc = block.get_client()
    assert from_netrc is not rotated and _closed(rotated)
    assert from_netrc.viewer.username == "local-user"


def test_client_cache_keys_hold_no_key(
    server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_wandb_public import credentials as module

    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    WandbCredentials(base_url=server.url, timeout=12).get_client()
    WandbCredentials(api_key=server.api_key, base_url=server.url, timeout=12).get_client()
    text = repr(list(module._CLIENTS.items()))
    assert server.api_key not in text


def test_evicted_clients_are_closed(server: LocalWandbServer) -> None:
    blocks = [
        WandbCredentials(api_key=server.api_key, base_url=server.url, project=f"p{i}", timeout=13)
        for i in range(17)
    ]
    first = blocks[0].get_client()
    first.viewer  # noqa: B018  (opens a pooled connection)
    assert not _closed(first)
    for block in blocks[1:]:
        block.get_client()
    assert _closed(first)
    assert blocks[0].get_client() is not first


@pytest.mark.parametrize(
    "base_url", ["api.wandb.ai", "ftp://api.wandb.ai", "https://", "http://user:pw@host"]
)
def test_a_block_refuses_an_unusable_base_url_when_made(base_url: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="base_url must"):
        WandbCredentials(base_url=base_url)
    assert WandbCredentials(base_url="https://wandb.example.com/").base_url == (
        "https://wandb.example.com"
    )
