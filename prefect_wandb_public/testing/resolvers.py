"""The resolver hub: one root value for the GraphQL engine, built from the domain resolvers.

`ProjectResolvers` (`resolvers_projects.py`: viewer, entities, projects, runs, history, sweeps,
reports), `ArtifactResolvers` (`resolvers_artifacts.py`: run files and artifacts) and
`AccountResolvers` (`resolvers_accounts.py`: users, teams, integrations, automations) translate
GraphQL arguments into store calls and store objects into wire shapes. Each gets this hub, and
reaches the other through it (a project node carries its artifact fields, an artifact's lineage
carries run nodes), so the domain modules never import each other.

A new query or mutation goes into the domain module whose objects it returns, and its field into
`schema.graphql` / `schema_artifacts.graphql` / `schema_accounts.graphql`.
"""

from __future__ import annotations

from typing import Any

from prefect_wandb_public.testing.resolvers_accounts import AccountResolvers
from prefect_wandb_public.testing.resolvers_artifacts import ArtifactResolvers
from prefect_wandb_public.testing.resolvers_projects import ProjectResolvers
from prefect_wandb_public.testing.store import WandbStore
from prefect_wandb_public.testing.urls import ServerUrls


class Resolvers:
    """The root value for one store: `root()` is passed to every execution."""

    def __init__(self, store: WandbStore, urls: ServerUrls) -> None:
        self.store = store
        self.urls = urls
        self.projects = ProjectResolvers(self)
        self.artifacts = ArtifactResolvers(self)
        self.accounts = AccountResolvers(self)

    def root(self) -> dict[str, Any]:
        return {**self.projects.root(), **self.artifacts.root(), **self.accounts.root()}


__all__ = ["Resolvers"]
