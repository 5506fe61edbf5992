"""The mutable fields of an `Artifact` and how `save()` sends them, as 0.31 does.

`aliases` are diffed against the saved ones (`addAliases` / `deleteAliases`); then one
`updateArtifact` carries `description`, `metadata`, `tagsToAdd` / `tagsToDelete` (the tag diff,
`[]` when none) and, only when `ttl` was assigned, `ttlDurationSeconds`: the seconds, `-1` for
`ArtifactTTL.INHERIT` (the collection's or project's policy) or `-2` for `None` (never
expires). A draft sends the same TTL encoding when it is published.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.names import check_alias, check_tags
from prefect_wandb_public.api.queries.artifacts import (
    ADD_ALIASES_MUTATION,
    DELETE_ALIASES_MUTATION,
    UPDATE_ARTIFACT_MUTATION,
)
from prefect_wandb_public.errors import ArtifactNotLoggedError, InvalidInputError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

TTL_INHERIT = -1
TTL_DISABLED = -2
# Types whose versions the service keeps for as long as their run: no TTL of their own.
NO_TTL_TYPES = frozenset({"wandb-history"})


class ArtifactTTL(enum.Enum):
    """`artifact.ttl = ArtifactTTL.INHERIT`: use the collection's (or project's) TTL policy."""

    INHERIT = 0


class ArtifactFields:
    """Aliases, tags and TTL of a draft or a committed version, and `save()`.

    The host class (`Artifact`) provides `id`, `entity`, `project`, `collection_name`, `type`,
    `description`, `metadata`, `qualified_name`, `is_draft()`, `client` and `_load(attrs)`.
    """

    if TYPE_CHECKING:
        collection_name: str
        type: str
        description: str | None
        metadata: dict[str, Any]

        @property
        def id(self) -> str: ...
        @property
        def entity(self) -> str: ...
        @property
        def project(self) -> str: ...
        @property
        def qualified_name(self) -> str: ...
        @property
        def client(self) -> Api: ...

        def is_draft(self) -> bool: ...
        def _logged(self, what: str) -> None: ...
        def _load(self, attrs: Mapping[str, Any]) -> None: ...

    aliases: list[str]

    def _init_fields(self, attrs: Mapping[str, Any] | None = None) -> None:
        """The saved state: from a committed version's fields, or a draft's defaults."""
        attrs = attrs or {}
        self._saved_aliases = list(getattr(self, "aliases", []))
        self._tags = [t["name"] for t in attrs.get("tags") or []]
        self._saved_tags = list(self._tags)
        seconds = attrs.get("ttlDurationSeconds")
        self._ttl_seconds: int | None = int(seconds) if seconds and int(seconds) > 0 else None
        self._ttl_is_inherited = bool(attrs.get("ttlIsInherited", True))
        self._ttl_changed = False

    # ------------------------------------------------------------------ tags
    @property
    def tags(self) -> list[str]:
        """Tags (words of letters, digits, `-`, `_`, separated by spaces); `save()` saves
        changes."""
        return self._tags

    @tags.setter
    def tags(self, tags: Sequence[str]) -> None:
        self._tags = check_tags(tags)

    # ------------------------------------------------------------------ TTL
    @property
    def ttl(self) -> timedelta | None:
        """How long the version is kept (None: forever). An inherited TTL is only known once
        saved: reading it on a draft, or after assigning `ArtifactTTL.INHERIT`, is an
        ArtifactNotLoggedError."""
        if self._ttl_is_inherited and (self.is_draft() or self._ttl_changed):
            raise ArtifactNotLoggedError(
                f"the inherited TTL of artifact {self.collection_name!r} is known once it is "
                "saved (save() or publish it first)"
            )
        return None if self._ttl_seconds is None else timedelta(seconds=self._ttl_seconds)

    @ttl.setter
    def ttl(self, ttl: timedelta | ArtifactTTL | None) -> None:
        if self.type in NO_TTL_TYPES:
            raise InvalidInputError(f"artifacts of type {self.type!r} cannot have a TTL")
        if isinstance(ttl, ArtifactTTL):
            self._ttl_is_inherited = True
        elif ttl is None:
            self._ttl_is_inherited, self._ttl_seconds = False, None
        elif isinstance(ttl, timedelta):
            seconds = int(ttl.total_seconds())
            if seconds <= 0:
                raise InvalidInputError(f"artifact TTL must be positive, got {ttl}")
            self._ttl_is_inherited, self._ttl_seconds = False, seconds
        else:
            raise InvalidInputError(
                f"artifact TTL must be a timedelta, None or ArtifactTTL.INHERIT, got {ttl!r}"
            )
        self._ttl_changed = True

    def _ttl_to_send(self) -> int | None:
        """`ttlDurationSeconds` for the next save: None (leave it) unless `ttl` was set."""
        if not self._ttl_changed:
            return None
        if self._ttl_is_inherited:
            return TTL_INHERIT
        return TTL_DISABLED if self._ttl_seconds is None else self._ttl_seconds

    # ------------------------------------------------------------------ saving
    def save(self) -> None:
        """Save alias changes (added/removed since loading), description, metadata, tags and
        a TTL that was assigned. Drafts are published with `Api.log_artifact` instead."""
        self._logged("save()")
        aliases = [check_alias(a) for a in self.aliases]
        if not isinstance(self.metadata, dict):
            raise InvalidInputError(f"metadata of {self.qualified_name} must be a dict")
        try:
            metadata = json.dumps(self.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"metadata of {self.qualified_name} is not JSON-serializable: {exc}"
            ) from exc
        transport = self.client.transport
        saved = set(self._saved_aliases)
        for mutation, names in (
            (ADD_ALIASES_MUTATION, [a for a in dict.fromkeys(aliases) if a not in saved]),
            (DELETE_ALIASES_MUTATION, sorted(saved - set(aliases))),
        ):
            if names:
                transport.graphql(mutation, {"input": self._alias_input(names)})
        update: dict[str, Any] = {
            "artifactID": self.id,
            "description": self.description,
            "metadata": metadata,
            "tagsToAdd": [{"tagName": t} for t in self._tags if t not in self._saved_tags],
            "tagsToDelete": [{"tagName": t} for t in self._saved_tags if t not in self._tags],
        }
        ttl = self._ttl_to_send()
        if ttl is not None:
            update["ttlDurationSeconds"] = ttl
        data = transport.graphql(UPDATE_ARTIFACT_MUTATION, {"input": update})
        self._load(data["updateArtifact"]["artifact"])

    def _alias_input(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "artifactID": self.id,
            "aliases": [
                {
                    "alias": name,
                    "artifactCollectionName": self.collection_name,
                    "entityName": self.entity,
                    "projectName": self.project,
                }
                for name in names
            ],
        }


__all__ = ["NO_TTL_TYPES", "TTL_DISABLED", "TTL_INHERIT", "ArtifactFields", "ArtifactTTL"]
