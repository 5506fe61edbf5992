"""Integrations (Slack channels and webhooks an entity's automations notify) and automations
(when an event happens in a scope, run an action), read-only, lazily paged.

Each is a frozen dataclass of the fields 0.31's pydantic models carry (`id`, `name`,
`team_name`, `channel_name`, `url_endpoint`; an automation's `scope`, `event` and `action`).
Creating, changing and deleting automations is not offered here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_wandb_public.api.paging import Paginator
from prefect_wandb_public.api.queries.automations import (
    ENTITY_AUTOMATIONS_QUERY,
    INTEGRATIONS_QUERY,
)
from prefect_wandb_public.errors import CommError, NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api

T = TypeVar("T")
_SCOPE_TYPES = {
    "Project": "PROJECT",
    "ArtifactSequence": "ARTIFACT_COLLECTION",
    "ArtifactPortfolio": "ARTIFACT_COLLECTION",
    "Entity": "ENTITY",
}
_ACTION_TYPES = {
    "NotificationTriggeredAction": "NOTIFICATION",
    "GenericWebhookTriggeredAction": "GENERIC_WEBHOOK",
    "NoOpTriggeredAction": "NO_OP",
    "ARIATriggeredAction": "ARIA",
    "QueueJobTriggeredAction": "QUEUE_JOB",
}


@dataclass(frozen=True)
class SlackIntegration:
    """A Slack channel automations can notify."""

    id: str
    team_name: str | None
    channel_name: str | None


@dataclass(frozen=True)
class WebhookIntegration:
    """A generic webhook automations can POST to."""

    id: str
    name: str
    url_endpoint: str


Integration = SlackIntegration | WebhookIntegration


def integration_from_node(node: Mapping[str, Any]) -> Integration:
    if node.get("__typename") == "SlackIntegration" or "channelName" in node:
        return SlackIntegration(node["id"], node.get("teamName"), node.get("channelName"))
    return WebhookIntegration(node["id"], node.get("name") or "", node.get("urlEndpoint") or "")


class Integrations(Paginator[Integration]):
    """An entity's integrations; `kind` keeps only Slack (`"slack"`) or webhook
    (`"webhook"`) ones, as 0.31's `slack_integrations` / `webhook_integrations` do."""

    QUERY = INTEGRATIONS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        per_page: int = 50,
        kind: str | None = None,
        *,
        start: str | None = None,
    ) -> None:
        self.entity = entity
        self.kind = kind
        super().__init__(client, {"entity": entity}, per_page, start=start)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node = data.get("entity")
        if node is None or node.get("integrations") is None:
            raise NotFoundError(f"entity {self.entity!r} has no integrations to list")
        conn: Mapping[str, Any] = node["integrations"]
        return conn

    def _convert_edges(self, edges: list[Mapping[str, Any]]) -> list[Integration]:
        wanted = {"slack": SlackIntegration, "webhook": WebhookIntegration}.get(self.kind or "")
        page = [
            item
            for item in (integration_from_node(e["node"]) for e in edges if e.get("node"))
            if wanted is None or isinstance(item, wanted)
        ]
        self.objects.extend(page)
        return page

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Integration:
        return integration_from_node(node)

    def __repr__(self) -> str:
        return f"<Integrations {self.entity}>"


@dataclass(frozen=True)
class AutomationScope:
    """Where an automation watches: `scope_type` PROJECT, ARTIFACT_COLLECTION or ENTITY."""

    scope_type: str
    id: str
    name: str


@dataclass(frozen=True)
class AutomationEvent:
    """What triggers an automation: the event type and its filter (a MongoDB-style dict)."""

    event_type: str
    filter: dict[str, Any]


@dataclass(frozen=True)
class AutomationAction:
    """What an automation does: `action_type` NOTIFICATION, GENERIC_WEBHOOK, NO_OP or ARIA,
    with the integration it uses and the action's own fields (`title`, `request_payload`...)."""

    action_type: str
    integration: Integration | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Automation:
    """A saved automation."""

    id: str
    name: str
    description: str | None
    enabled: bool
    created_at: str
    updated_at: str | None
    scope: AutomationScope
    event: AutomationEvent
    action: AutomationAction


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def automation_from_node(node: Mapping[str, Any]) -> Automation:
    """An `Automation` from a trigger node; CommError when the node is not one."""
    try:
        scope = node["scope"]
        condition = node["triggeringCondition"]
        action = dict(node["triggeredAction"])
        event_filter = _json(condition.get("filter")) or {}
        if isinstance(event_filter, dict) and set(event_filter) == {"filter"}:
            event_filter = _json(event_filter["filter"]) or {}  # artifact events: wrapped
        typename = str(action.pop("__typename", ""))
        integration = action.pop("integration", None)
        if "requestPayload" in action:
            action["request_payload"] = _json(action.pop("requestPayload"))
        if "noOp" in action:
            action["no_op"] = action.pop("noOp")
        return Automation(
            id=node["id"],
            name=node["name"],
            description=node.get("description"),
            enabled=bool(node.get("enabled")),
            created_at=node["createdAt"],
            updated_at=node.get("updatedAt"),
            scope=AutomationScope(
                _SCOPE_TYPES.get(scope.get("__typename"), "UNKNOWN"), scope["id"], scope["name"]
            ),
            event=AutomationEvent(condition["eventType"], dict(event_filter)),
            action=AutomationAction(
                _ACTION_TYPES.get(typename, typename),
                None if integration is None else integration_from_node(integration),
                action,
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CommError(f"unexpected automation data: {exc!r}") from exc


class Automations(Paginator[Automation]):
    """An entity's automations, optionally only the one named `name`."""

    QUERY = ENTITY_AUTOMATIONS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        name: str | None = None,
        per_page: int = 50,
        *,
        start: str | None = None,
    ) -> None:
        self.entity = entity
        self.name = name
        filters = None if name is None else json.dumps({"name": name})
        super().__init__(client, {"entity": entity, "filters": filters}, per_page, start=start)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node = data.get("entity")
        if node is None or node.get("triggers") is None:
            raise NotFoundError(f"entity {self.entity!r} has no automations to list")
        conn: Mapping[str, Any] = node["triggers"]
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Automation:
        return automation_from_node(node)

    def __repr__(self) -> str:
        return f"<Automations {self.entity}>"


__all__ = [
    "Automation",
    "AutomationAction",
    "AutomationEvent",
    "AutomationScope",
    "Automations",
    "Integration",
    "Integrations",
    "SlackIntegration",
    "WebhookIntegration",
    "automation_from_node",
    "integration_from_node",
]
