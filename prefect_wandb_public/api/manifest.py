"""Artifact manifests (JSON version 1): the entries by path, and the artifact digest over them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect_wandb_public.errors import CommError

STORAGE_POLICY = "wandb-storage-policy-v1"


@dataclass(frozen=True)
class ArtifactManifestEntry:
    """One file of an artifact: path, digest (base64 md5 for stored files), size, the reference
    URI if the bytes live elsewhere, and (in drafts) the local file that will be uploaded."""

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    local_path: str | None = None

    def to_json(self, birth_artifact_id: str | None = None) -> dict[str, Any]:
        """The entry as manifest JSON holds it (its path is the key, not a field)."""
        item: dict[str, Any] = {"digest": self.digest}
        if self.ref is not None:
            item["ref"] = self.ref
        birth = self.birth_artifact_id or (birth_artifact_id if self.ref is None else None)
        if birth is not None:
            item["birthArtifactID"] = birth
        if self.size is not None:
            item["size"] = self.size
        if self.extra:
            item["extra"] = dict(self.extra)
        return item


@dataclass(frozen=True)
class ArtifactManifest:
    """The manifest JSON (version 1): storage policy and the entries by path."""

    version: int
    storage_policy: str
    storage_policy_config: dict[str, Any]
    entries: dict[str, ArtifactManifestEntry]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactManifest:
        if data.get("version") != 1 or not isinstance(data.get("contents"), Mapping):
            raise CommError(f"unsupported artifact manifest (version {data.get('version')!r})")
        entries = {
            path: ArtifactManifestEntry(
                path=path,
                digest=str(item.get("digest") or ""),
                size=item.get("size"),
                ref=item.get("ref"),
                birth_artifact_id=item.get("birthArtifactID"),
                extra=dict(item.get("extra") or {}),
            )
            for path, item in data["contents"].items()
        }
        return cls(
            version=1,
            storage_policy=str(data.get("storagePolicy") or ""),
            storage_policy_config=dict(data.get("storagePolicyConfig") or {}),
            entries=entries,
        )


def manifest_digest(digests: Mapping[str, str]) -> str:
    """The artifact digest: hex md5 over a header and `path:digest` lines sorted by path."""
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(digests):
        hasher.update(f"{path}:{digests[path]}\n".encode())
    return hasher.hexdigest()


__all__ = ["STORAGE_POLICY", "ArtifactManifest", "ArtifactManifestEntry", "manifest_digest"]
