"""The `WandbCredentials` block: API key, server and defaults, and the client built from them."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator

from prefect_wandb_public.api import Api, RetryPolicy
from prefect_wandb_public.api.transport import validate_base_url
from prefect_wandb_public.errors import InvalidInputError

_CLIENTS: dict[tuple[Any, ...], Api] = {}
_CLIENTS_LOCK = threading.Lock()
_MAX_CACHED_CLIENTS = 16


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
        description="Seconds to wait for each HTTP request before retrying.",
    )
    retry_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description=(
            "At most this many HTTP attempts (within 60 seconds) per request on transient "
            "failures before the task fails and its own retries take over."
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

    def get_client(self) -> Api:
        """An `Api` for these values; one per distinct set of values, shared across threads."""
        key = self._cache_key()
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
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
                if len(_CLIENTS) >= _MAX_CACHED_CLIENTS:
                    _CLIENTS.pop(next(iter(_CLIENTS)))
                _CLIENTS[key] = client
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
