"""The resolver hub: one root value for the GraphQL engine, built from the domain resolvers.

`ProjectResolvers` (`resolvers_projects.py`: viewer, entities, projects, runs, history, sweeps,
reports), `ArtifactResolvers` (`resolvers_artifacts.py`: run files and artifacts) and
`AccountResolvers` (`resolvers_accounts.py`: users, teams, integrations, automations) and
`RegistryResolvers` (`resolvers_registry.py`: organizations, registries, links) translate
GraphQL arguments into store calls and store objects into wire shapes. Each gets this hub, and
reaches the others through it (a project node carries its artifact and registry fields, an
artifact's lineage carries run nodes). The registry resolvers build on the other two (they wrap
a few of their root fields), never the reverse.

A new query or mutation goes into the domain module whose objects it returns, and its field into
`schema.graphql` / `schema_artifacts.graphql` / `schema_accounts.graphql` /
`schema_registry.graphql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.profiles import HistoryCostMeter
from prefect_wandb_public.testing.resolvers_accounts import AccountResolvers
from prefect_wandb_public.testing.resolvers_artifacts import ArtifactResolvers
from prefect_wandb_public.testing.resolvers_projects import ProjectResolvers
from prefect_wandb_public.testing.resolvers_registry import RegistryResolvers
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import ServerUrls

if TYPE_CHECKING:
    from prefect_wandb_public.testing.store import Project


class Resolvers:
    """The root value for one store: `root()` is passed to every execution. History fields
    report the rows they return to `history_costs` (the network profile charges for them);
    `parquet_history=False` answers `parquetHistory` as a server without exports does."""

    def __init__(self, store: WandbStore, urls: ServerUrls) -> None:
        self.store = store
        self.urls = urls
        self.history_costs = HistoryCostMeter()
        self.parquet_history = True
        self.projects = ProjectResolvers(self)
        self.artifacts = ArtifactResolvers(self)
        self.accounts = AccountResolvers(self)
        self.registry = RegistryResolvers(self)

    def root(self) -> dict[str, Any]:
        return {
            **self.projects.root(),
            **self.artifacts.root(),
            **self.accounts.root(),
            **self.registry.root(),
        }

    def project_fields(self, proj: Project) -> dict[str, Any]:
        """The artifact, account and registry fields of a project node."""
        base = self.artifacts.project_fields(proj)
        return {
            **base,
            **self.accounts.project_fields(proj),
            **self.registry.project_fields(proj, base),
        }


__all__ = ["Resolvers"]
