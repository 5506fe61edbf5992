"""The W&B public-API client on `requests`: the `wandb.apis.public` names, no Prefect import.

`Api` is the entry point; the other classes are what its methods return.
"""

from __future__ import annotations

from prefect_wandb_public.api.artifact_listings import (
    ArtifactCollection,
    ArtifactCollections,
    Artifacts,
    ArtifactType,
    ArtifactTypes,
    ArtifactVersions,
    RunArtifacts,
)
from prefect_wandb_public.api.artifacts import Artifact, default_artifact_root
from prefect_wandb_public.api.client import Api
from prefect_wandb_public.api.download import Downloader, DownloadItem
from prefect_wandb_public.api.export import export_history
from prefect_wandb_public.api.files import ArtifactFiles, File, Files
from prefect_wandb_public.api.history import HistoryScan
from prefect_wandb_public.api.manifest import ArtifactManifest, ArtifactManifestEntry
from prefect_wandb_public.api.orgs import Organization
from prefect_wandb_public.api.progress import Progress, ProgressCallback
from prefect_wandb_public.api.projects import Project, Projects
from prefect_wandb_public.api.query_generator import QueryGenerator
from prefect_wandb_public.api.registries import (
    Registries,
    Registry,
    RegistryCollections,
    RegistryVersions,
)
from prefect_wandb_public.api.reports import BetaReport, Reports
from prefect_wandb_public.api.runs import Run, Runs
from prefect_wandb_public.api.sweeps import Sweep, Sweeps
from prefect_wandb_public.api.transport import RetryPolicy, Transport
from prefect_wandb_public.errors import (
    ArtifactFinalizedError,
    ArtifactNotLoggedError,
    DestinationExistsError,
    ExportError,
)

__all__ = [
    "Api",
    "Artifact",
    "ArtifactCollection",
    "ArtifactCollections",
    "ArtifactFiles",
    "ArtifactFinalizedError",
    "ArtifactManifest",
    "ArtifactManifestEntry",
    "ArtifactNotLoggedError",
    "ArtifactType",
    "ArtifactTypes",
    "ArtifactVersions",
    "Artifacts",
    "BetaReport",
    "DestinationExistsError",
    "DownloadItem",
    "Downloader",
    "ExportError",
    "File",
    "Files",
    "HistoryScan",
    "Organization",
    "Progress",
    "ProgressCallback",
    "Project",
    "Projects",
    "QueryGenerator",
    "Registries",
    "Registry",
    "RegistryCollections",
    "RegistryVersions",
    "Reports",
    "RetryPolicy",
    "Run",
    "RunArtifacts",
    "Runs",
    "Sweep",
    "Sweeps",
    "Transport",
    "default_artifact_root",
    "export_history",
]
