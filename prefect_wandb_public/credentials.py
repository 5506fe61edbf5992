"""The `WandbCredentials` block: API key, server and defaults, and the client built from them."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator

from prefect_wandb_public.api import Api, RetryPolicy
from prefect_wandb_public.api.client import resolve_api_key
from prefect_wandb_public.api.transport import validate_base_url
from prefect_wandb_public.errors import InvalidInputError

# Block values -> (fingerprint of what the values resolve to, the client), least recently used
# first. The fingerprint is a keyed hash (a per-process salt) of the API key and the settings
# read from the environment: never the key itself, and useless outside this process.
_CLIENTS: OrderedDict[tuple[Any, ...], tuple[str, Api]] = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CACHED_CLIENTS = 16
_FINGERPRINT_SALT = secrets.token_bytes(32)
_ENV_SETTINGS = ("WANDB_ENTITY", "WANDB_PROJECT", "WANDB_APP_URL")


class WandbCredentials(CredentialsBlock):
    """Credentials and defaults for the Weights and Biases public API.

    The API key is optional: without it the client falls back to WANDB_API_KEY, then to the
    netrc entry for the server's host.

    Example:
        Load saved credentials and query runs:
        ```python
        from prefect_wandb_public import WandbCredentials

        wandb_credentials = WandbCredentials.load("BLOCK_NAME")
        api = wandb_credentials.get_client()
        runs = api.runs("my-team/my-project")
        ```
    """

    _block_type_name = "Weights and Biases Credentials"
    _logo_url = HttpUrl("https://raw.githubusercontent.com/wandb/assets/main/wandb-dots-logo.svg")
    _documentation_url = HttpUrl("https://docs.wandb.ai/ref/python/public-api/")

    api_key: SecretStr | None = Field(
        default=None,
        title="API Key",
        description="W&B API key; when empty, WANDB_API_KEY or the netrc entry is used.",
    )
    base_url: str = Field(
        default="https://api.wandb.ai",
        title="Base URL",
        description="URL of the W&B API server (https://api.wandb.ai or a self-hosted server).",
    )
    entity: str | None = Field(
        default=None,
        description="Default entity (user or team) for paths that name none.",
    )
    project: str | None = Field(
        default=None,
        description="Default project for paths that name none.",
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds to wait for each HTTP request before retrying it (connecting waits at "
            "most 10 seconds of it)."
        ),
    )
    retry_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description=(
            "At most this many HTTP attempts (within 60 seconds) per request on transient "
            "failures (2 for a host name that does not resolve or a host that never answered); "
            "once they are spent the task fails without retrying them again."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        """Refuse a URL the client could not use (no scheme, no host, credentials in it) when
        the block is made, not at its first use; trailing slashes go."""
        return validate_base_url(value)

    def _cache_key(self) -> tuple[Any, ...]:
        secret = self.api_key.get_secret_value() if self.api_key else ""
        fingerprint = hashlib.sha256(secret.encode()).hexdigest() if secret else ""
        return (
            fingerprint,
            self.base_url,
            self.entity,
            self.project,
            self.timeout,
            self.retry_attempts,
        )

    def _resolved_fingerprint(self) -> str:
        """A fingerprint of the credentials these values resolve to now: the key (the block's,
        else WANDB_API_KEY, else netrc) and the settings the environment fills in."""
        secret = self.api_key.get_secret_value() if self.api_key else None
        resolved = [resolve_api_key(secret, self.base_url) or ""]
        resolved += [os.environ.get(name, "") for name in _ENV_SETTINGS]
        return hmac.new(_FINGERPRINT_SALT, "\0".join(resolved).encode(), hashlib.sha256).hexdigest()

    def get_client(self) -> Api:
        """An `Api` for these values, shared across threads: one per distinct set of values
        and of the credentials they resolve to. A block without `api_key` follows changes of
        WANDB_API_KEY and netrc: the client of the old key is replaced and closed, and so is
        the least recently used one beyond 16 cached clients."""
        key = self._cache_key()
        fingerprint = self._resolved_fingerprint()
        evicted: list[Api] = []
        with _CLIENTS_LOCK:
            cached = _CLIENTS.get(key)
            if cached is not None and cached[0] == fingerprint:
                _CLIENTS.move_to_end(key)
                return cached[1]
            overrides = {"base_url": self.base_url}
            if self.entity:
                overrides["entity"] = self.entity
            if self.project:
                overrides["project"] = self.project
            client = Api(
                overrides=overrides,
                timeout=self.timeout,
                api_key=self.api_key.get_secret_value() if self.api_key else None,
                retry=RetryPolicy(max_attempts=self.retry_attempts),
            )
            if cached is not None:
                evicted.append(cached[1])
            _CLIENTS[key] = (fingerprint, client)
            _CLIENTS.move_to_end(key)
            while len(_CLIENTS) > _MAX_CACHED_CLIENTS:
                evicted.append(_CLIENTS.popitem(last=False)[1][1])
        for old in evicted:
            old.close()  # its pooled connections; a caller still holding it may go on using it
        return client

    def __hash__(self) -> int:
        return hash(self._cache_key())


def load_credentials(credentials: WandbCredentials | str) -> WandbCredentials:
    """A block object as is; a string names a saved WandbCredentials document to load."""
    if isinstance(credentials, WandbCredentials):
        return credentials
    if not isinstance(credentials, str) or not credentials:
        raise InvalidInputError(
            f"credentials must be a WandbCredentials block or a block name, got {credentials!r}"
        )
    loaded = WandbCredentials.load(credentials)
    assert isinstance(loaded, WandbCredentials)
    return loaded


__all__ = ["WandbCredentials", "load_credentials"]
