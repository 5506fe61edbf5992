"""Downloading a committed artifact's files: the manifest, the storage URLs of its files, and
the entries handed to the one byte mover (`fetch_entries`, through `Downloader`).

Before its first byte a download needs both the manifest and the URLs. The manifest takes one
round trip when the artifact was just looked up by name (that query returns the manifest's URL
too: `ManifestUrl`), else two, one after the other: GraphQL `FetchArtifactManifest` for its
URL, then the GET of the manifest from storage. The files' direct URLs take GraphQL
`ArtifactMembershipFiles` pages. Asked after the manifest, as they once were, they made up to
three round trips before the first byte of any file; but the listing of *every* file needs
nothing from the manifest, so `manifest_and_urls` sends it on a thread of its own while the
calling thread fetches the manifest: one round trip after a lookup by name, two otherwise
(while the listing takes one page, up to `URL_BATCH` files).

Failures are those of the sequential order, so callers see what they saw before: a failing
manifest wins (the listing is told to stop, so it retries nothing more, and is joined before the
error is raised: nothing is left running), then the listing's own failure, then the files the
listing lacks (NotFoundError). An artifact with no stored files needs no URLs: the listing's
outcome is then dropped, as the sequential order never asked for it. A manifest known already
(`artifact.manifest` was read) is not fetched again, and the URLs of just the files wanted are
asked for then, by name for a few (`files.direct_urls`), as before.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.download import DEFAULT_WORKERS, Downloader, DownloadItem
from prefect_wandb_public.api.files import direct_urls, listed_urls, require_urls
from prefect_wandb_public.api.manifest import ArtifactManifest, ArtifactManifestEntry
from prefect_wandb_public.api.names import check_entry_path
from prefect_wandb_public.api.queries.artifacts import MANIFEST_QUERY
from prefect_wandb_public.api.transport import json_of
from prefect_wandb_public.errors import CommError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.artifacts import Artifact
    from prefect_wandb_public.api.progress import ProgressCallback

logger = logging.getLogger(__name__)

# Files per page of a URL listing: one page, one round trip, for all but huge artifacts.
URL_BATCH = 5000
LISTING_THREAD = "wandb-artifact-urls"


# How long a manifest URL that came with the artifact's own query is used instead of asking
# for a fresh one (storage URLs are signed for a limited time, an hour on the local server).
MANIFEST_URL_FRESH_FOR = 600.0


@dataclass(frozen=True)
class ManifestUrl:
    """The manifest's storage URL as the artifact's lookup by name returned it, and when."""

    url: str
    fetched_at: float

    @classmethod
    def of(cls, attrs: Mapping[str, Any]) -> ManifestUrl | None:
        node = ((attrs.get("currentManifest") or {}).get("file")) or {}
        url = node.get("directUrl")
        return cls(url, time.monotonic()) if isinstance(url, str) and url else None

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.fetched_at < MANIFEST_URL_FRESH_FOR


def fetch_manifest(artifact: Artifact, early: ManifestUrl | None = None) -> ArtifactManifest:
    """The committed artifact's manifest: the JSON from storage, at the URL `early` the
    artifact's lookup by name returned when that is recent (`ManifestUrl`: one round trip),
    else at one asked of GraphQL (`FetchArtifactManifest`: two). A recent URL that storage
    refuses (401 or 403: expired after all) gets a fresh one."""
    if early is not None and early.fresh:
        try:
            return _manifest_at(artifact, early.url)
        except CommError as error:
            if error.status not in (401, 403):
                raise
    data = artifact.client.transport.graphql(MANIFEST_QUERY, {"id": artifact.id})
    node = ((data.get("artifact") or {}).get("currentManifest") or {}).get("file") or {}
    url = node.get("directUrl")
    if not url:
        raise NotFoundError(f"artifact {artifact.qualified_name} has no manifest")
    return _manifest_at(artifact, url)


def _manifest_at(artifact: Artifact, url: str) -> ArtifactManifest:
    what = f"the manifest of {artifact.qualified_name}"
    # A cut or garbled body is retried like a garbled GraphQL answer (`json_of`).
    body = artifact.client.transport.request("GET", url, accept=json_of(what), what=what)
    if not isinstance(body, dict):
        raise CommError(f"{what} is not a manifest: a JSON {type(body).__name__}")
    return ArtifactManifest.from_json(body)


def stored_entries(entries: Sequence[ArtifactManifestEntry]) -> list[ArtifactManifestEntry]:
    """The entries whose bytes the service stores (references live elsewhere)."""
    return [entry for entry in entries if entry.ref is None]


def manifest_and_urls(
    artifact: Artifact, check: Callable[[ArtifactManifest], None] = lambda manifest: None
) -> tuple[ArtifactManifest, dict[str, str]]:
    """The manifest of an artifact that has not fetched it yet (`artifact.manifest` fetches and
    keeps it), and the direct URLs of its stored files by path, the listing of every file
    running beside the manifest's two round trips (see the module docstring for the errors).
    `check` judges the manifest as soon as it arrives: its error (a `file()` of an artifact of
    many files) is raised as the manifest's would be (the listing stopped and joined first)."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=LISTING_THREAD) as pool:
        listing = pool.submit(
            listed_urls, artifact, None, per_page=URL_BATCH, should_stop=stop.is_set
        )
        try:
            manifest = artifact.manifest  # fetched and kept, whatever happens to the listing
            check(manifest)
            stored = [entry.path for entry in stored_entries(list(manifest.entries.values()))]
            if not stored:
                return manifest, {}  # the listing's outcome is not wanted
            urls = listing.result()
        finally:
            # However this ends (an error, an interrupt), the listing retries nothing more, and
            # leaving the `with` joins it before anything is returned or raised.
            stop.set()
    return manifest, require_urls(artifact, urls, stored)


def fetch_entries(
    artifact: Artifact,
    entries: Sequence[ArtifactManifestEntry],
    root: str,
    skip_cache: bool = False,
    workers: int = DEFAULT_WORKERS,
    cache_dir: str | os.PathLike[str] | None = None,
    link: bool = True,
    progress: ProgressCallback | None = None,
    *,
    urls: Mapping[str, str] | None = None,
) -> list[str]:
    """Download the artifact's `entries` to `root` through the `Downloader` (reference entries
    are skipped with a warning); returns the paths. `urls` are their direct URLs when already
    listed (`manifest_and_urls`), else they are asked for here."""
    for entry in entries:
        check_entry_path(entry.path)
    downloader = Downloader(
        artifact.client.transport,
        workers=workers,
        skip_cache=skip_cache,
        cache_dir=cache_dir,
        link=link,
        progress=progress,
        progress_label=artifact.qualified_name,
        transfers=artifact.client.transfers,
    )
    stored = stored_entries(entries)
    if len(stored) < len(entries):
        logger.warning(
            "artifact %s: skipped %d reference entries (only stored files are downloaded)",
            artifact.qualified_name,
            len(entries) - len(stored),
        )
    if not stored:
        return []
    names = [e.path for e in stored]
    if urls is None:
        urls = direct_urls(artifact, names, by_name=len(names) <= 100, per_page=URL_BATCH)

    def fresh(name: str) -> str:  # a URL that expired mid-download, asked for again
        return direct_urls(artifact, [name], by_name=True, per_page=1)[name]

    items = [
        DownloadItem(
            e.path, urls[e.path], e.digest, e.size, refresh=functools.partial(fresh, e.path)
        )
        for e in stored
    ]
    return downloader.download(items, root)


__all__ = [
    "LISTING_THREAD",
    "MANIFEST_URL_FRESH_FOR",
    "URL_BATCH",
    "ManifestUrl",
    "fetch_entries",
    "fetch_manifest",
    "manifest_and_urls",
    "stored_entries",
]
