"""Resolvers of users, teams, integrations and automations: store objects to the wire shapes of
`schema_accounts.graphql`.

The project resolvers merge `entity_fields` into their entity nodes, `user_fields` into user
nodes and `project_fields` into project nodes, through the hub. `__typename` keys let
graphql-core pick the concrete types of the `Integration`, `TriggerScope` and `TriggeredAction`
unions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.account_store import Integration, TeamMember, Trigger
from prefect_wandb_public.testing.common import StoreError, encode_id, iso
from prefect_wandb_public.testing.filters import FilterError, compile_filter, sort_documents
from prefect_wandb_public.testing.wire import connection, json_arg

if TYPE_CHECKING:
    from prefect_wandb_public.testing.resolvers import Resolvers
    from prefect_wandb_public.testing.store import Project, User

RUN_EVENTS = frozenset({"RUN_METRIC", "RUN_METRIC_CHANGE", "RUN_METRIC_ZSCORE", "RUN_STATE"})
_ACTION_TYPENAMES = {
    "GENERIC_WEBHOOK": "GenericWebhookTriggeredAction",
    "NOTIFICATION": "NotificationTriggeredAction",
    "NO_OP": "NoOpTriggeredAction",
    "ARIA": "ARIATriggeredAction",
}


class AccountResolvers:
    """Users, teams, integrations and automations for the `Resolvers` of one store."""

    def __init__(self, hub: Resolvers) -> None:
        self.hub = hub
        self.store = hub.store

    def root(self) -> dict[str, Any]:
        return {"users": self.users}

    # ------------------------------------------------------------------ users and teams
    def users(self, query: str | None = None) -> dict[str, Any]:
        found = self.store.search_users(query)
        return {"edges": [{"node": self.hub.projects.user_node(u)} for u in found]}

    def user_fields(self, user: User) -> dict[str, Any]:
        return {
            "projects": lambda after=None, first=None: self.hub.projects.models(
                user.entity, after, first
            )
        }

    def entity_fields(self, name: str) -> dict[str, Any]:
        """The account fields of an entity node (`isTeam` and `entityType` come with the
        registry's entity fields, which know organizations)."""
        return {
            "__typename": "Entity",
            "available": False,
            "photoUrl": None,
            "readOnly": False,
            "readOnlyAdmin": False,
            "privateOnly": False,
            "storageBytes": 0,
            "codeSavingEnabled": False,
            "defaultAccess": "PRIVATE",
            "isPaid": False,
            "members": lambda: [
                self.member_node(name, user, member) for user, member in self.store.members_of(name)
            ],
            "integrations": lambda after=None, first=None: connection(
                self.store.integrations_of(name), first, after, self.integration_node
            ),
            "triggers": lambda after=None, first=None, order=None, filters=None: connection(
                self._select(self.store.automations_of(name), filters, order),
                first,
                after,
                self.trigger_node,
            ),
        }

    def member_node(self, team: str, user: User, member: TeamMember) -> dict[str, Any]:
        return {
            "id": encode_id("Member", team, user.username),
            "admin": member.admin,
            "pending": False,
            "email": user.email,
            "username": user.username,
            "name": user.username,
            "photoUrl": None,
            "accountType": "USER",
            "apiKey": None,
        }

    # ------------------------------------------------------------------ integrations
    @staticmethod
    def integration_node(integration: Integration) -> dict[str, Any]:
        if integration.kind == "slack":
            return {
                "__typename": "SlackIntegration",
                "id": integration.id,
                "teamName": integration.team_name,
                "channelName": integration.channel_name,
            }
        return {
            "__typename": "GenericWebhookIntegration",
            "id": integration.id,
            "name": integration.name,
            "urlEndpoint": integration.url_endpoint,
        }

    # ------------------------------------------------------------------ automations
    def project_fields(self, proj: Project) -> dict[str, Any]:
        return {
            "triggers": lambda: [
                self.trigger_node(t) for t in self.store.automations_of(proj.entity, proj.name)
            ]
        }

    @staticmethod
    def _select(triggers: list[Trigger], filters: Any, order: str | None) -> list[Trigger]:
        docs = [
            {
                "name": t.name,
                "description": t.description,
                "enabled": t.enabled,
                "createdAt": iso(t.created_at),
                "_seq": index,
                "_trigger": t,
            }
            for index, t in enumerate(triggers)
        ]
        try:
            predicate = compile_filter(json_arg(filters, "filters") or {})
            chosen = sort_documents([d for d in docs if predicate(d)], order)
        except FilterError as exc:
            raise StoreError(str(exc)) from exc
        return [d["_trigger"] for d in chosen]

    def trigger_node(self, trigger: Trigger) -> dict[str, Any]:
        event_filter = trigger.event_filter
        if trigger.event_type not in RUN_EVENTS:
            # Saved artifact-event filters come back wrapped, as the service stores them.
            event_filter = json.dumps({"filter": event_filter})
        return {
            "__typename": "Trigger",
            "id": trigger.id,
            "createdAt": iso(trigger.created_at),
            "updatedAt": iso(trigger.updated_at) if trigger.updated_at else None,
            "name": trigger.name,
            "description": trigger.description,
            "enabled": trigger.enabled,
            "scope": lambda: self.scope_node(trigger),
            "triggeringCondition": {
                "__typename": "FilterEventTriggeringCondition",
                "eventType": trigger.event_type,
                "filter": event_filter,
            },
            "triggeredAction": lambda: self.action_node(trigger),
        }

    def scope_node(self, trigger: Trigger) -> dict[str, Any]:
        if trigger.scope_type == "ARTIFACT_COLLECTION":
            portfolio = self.store.portfolio_by_id(trigger.scope_id)
            if portfolio is not None:
                return self.hub.registry.portfolio_node(portfolio)
            coll = self.store.collection_by_id(trigger.scope_id)
            return self.hub.artifacts.collection_node(coll)
        if trigger.scope_type == "PROJECT":
            assert trigger.project is not None
            proj = self.store.require_project(trigger.entity, trigger.project)
            return {**self.hub.projects.project_node(proj), "__typename": "Project"}
        return self.hub.registry.entity(trigger.entity)

    def action_node(self, trigger: Trigger) -> dict[str, Any]:
        action = trigger.action
        node: dict[str, Any] = {"__typename": _ACTION_TYPENAMES[trigger.action_type]}
        if trigger.action_type in ("GENERIC_WEBHOOK", "NOTIFICATION"):
            integration = next(
                i
                for i in self.store.integrations_of(trigger.entity)
                if i.id == action.get("integrationID")
            )
            node["integration"] = self.integration_node(integration)
        if trigger.action_type == "GENERIC_WEBHOOK":
            node["requestPayload"] = action.get("requestPayload")
        elif trigger.action_type == "NOTIFICATION":
            node.update(
                title=action.get("title"),
                message=action.get("message"),
                severity=action.get("severity"),
            )
        elif trigger.action_type == "NO_OP":
            node["noOp"] = True
        else:
            node["prompt"] = action.get("prompt") or ""
        return node


__all__ = ["RUN_EVENTS", "AccountResolvers"]
