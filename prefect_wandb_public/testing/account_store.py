"""The accounts half of the local server's state: users, team members, integrations (Slack,
webhooks) and automations, with the service's rules.

`AccountStore` is a part of `WandbStore` (which inherits it) and works on its lock and projects.
The viewer is always a user; other users and teams are seeded. Any entity that is not a user's
own is a team; its members are the users seeded into it (the viewer, as admin, by default).
Automations (triggers) are seeded with the same fields `createFilterTrigger` takes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.testing.common import (
    StoreConflict,
    StoreError,
    StoreNotFound,
    check_name,
    decode_id,
    encode_id,
)

if TYPE_CHECKING:
    from prefect_wandb_public.testing.artifact_store import ArtifactCollection
    from prefect_wandb_public.testing.registry_store import Portfolio
    from prefect_wandb_public.testing.store import Project

SCOPE_TYPES = frozenset({"PROJECT", "ARTIFACT_COLLECTION", "ENTITY"})
EVENT_TYPES = frozenset(
    {
        "ADD_ARTIFACT_ALIAS",
        "ADD_ARTIFACT_TAG",
        "ADD_COLLECTION_TAG",
        "CREATE_ARTIFACT",
        "LINK_MODEL",
        "REMOVE_ARTIFACT_TAG",
        "REMOVE_COLLECTION_TAG",
        "RUN_METRIC",
        "RUN_METRIC_CHANGE",
        "RUN_METRIC_ZSCORE",
        "RUN_STATE",
        "UNLINK_ARTIFACT",
        "UPDATE_ARTIFACT_ALIAS",
    }
)
# Actions a new automation may take, and the key of its `triggeredActionConfig`.
ACTION_INPUTS = {
    "GENERIC_WEBHOOK": "genericWebhookActionInput",
    "NOTIFICATION": "notificationActionInput",
    "NO_OP": "noOpActionInput",
    "ARIA": "ariaActionInput",
}


@dataclass
class User:
    """A user account; `entity` is its personal entity (the API key's user is the viewer)."""

    username: str
    entity: str
    email: str

    @property
    def id(self) -> str:
        return encode_id("User", self.username)


@dataclass
class TeamMember:
    """A user's membership of a team entity."""

    username: str
    admin: bool = False


@dataclass
class Integration:
    """A Slack channel or a generic webhook an entity's automations can notify."""

    id: str
    entity: str
    kind: str  # "slack" | "webhook"
    name: str = ""
    url_endpoint: str = ""
    team_name: str = ""
    channel_name: str = ""


@dataclass
class Trigger:
    """An automation: when `event_type` (matching `event_filter`) happens in the scope, the
    action runs. `entity` owns it; `project` is the scope's project (None for an entity)."""

    id: str
    name: str
    entity: str
    project: str | None
    scope_type: str
    scope_id: str
    event_type: str
    event_filter: str
    action_type: str
    action: dict[str, Any]
    created_at: datetime
    description: str | None = None
    enabled: bool = True
    updated_at: datetime | None = None


class AccountStore:
    """The account rules of `WandbStore`; see the module docstring."""

    if TYPE_CHECKING:  # provided by WandbStore
        lock: threading.RLock
        viewer: User
        projects: dict[tuple[str, str], Project]

        def touch(self) -> None: ...
        def next_int(self) -> int: ...
        def _next_time(self, explicit: datetime | str | None = None) -> datetime: ...
        def collection_by_id(self, collection_id: str) -> ArtifactCollection: ...
        def portfolio_by_id(self, portfolio_id: str) -> Portfolio | None: ...

    def _init_accounts(self) -> None:
        self.users: dict[str, User] = {self.viewer.username: self.viewer}
        self.team_members: dict[str, list[TeamMember]] = {}
        self.integrations: list[Integration] = []
        self.triggers: list[Trigger] = []

    # ------------------------------------------------------------------ users and teams
    def create_user(self, username: str, *, email: str | None = None) -> User:
        """Add a user (its personal entity has its name)."""
        check_name("user", username)
        with self.lock:
            if username in self.users:
                raise StoreConflict(f"user {username!r} already exists")
            user = User(username, username, email or f"{username}@localhost")
            self.users[username] = user
            return user

    def search_users(self, query: str | None) -> list[User]:
        """Users whose username or email contains `query` (case-insensitive)."""
        text = (query or "").lower()
        with self.lock:
            return [
                u
                for u in self.users.values()
                if text in u.username.lower() or text in u.email.lower()
            ]

    def create_team(
        self, name: str, *, members: Sequence[str] = (), admins: Sequence[str] = ()
    ) -> list[TeamMember]:
        """Make entity `name` a team of `members` (usernames; `admins` among them are admins);
        without members the viewer joins as admin."""
        check_name("entity", name)
        with self.lock:
            if name in self.users:
                raise StoreConflict(f"{name!r} is a user's entity, not a team")
            if name in self.team_members:
                raise StoreConflict(f"team {name!r} already exists")
            names = list(dict.fromkeys([*members, *admins])) or [self.viewer.username]
            unknown = [u for u in names if u not in self.users]
            if unknown:
                raise StoreNotFound(f"users {unknown} not found")
            chosen = set(admins) if members or admins else {self.viewer.username}
            self.team_members[name] = [TeamMember(u, u in chosen) for u in names]
            self.touch()
            return self.team_members[name]

    def is_team(self, entity: str) -> bool:
        """Every entity but a user's own (named as the user) is a team, as on W&B."""
        with self.lock:
            return entity not in self.users

    def members_of(self, entity: str) -> list[tuple[User, TeamMember]]:
        """The users of an entity: a team's members, or the user a personal entity is."""
        with self.lock:
            if not self.is_team(entity):
                owner = next(u for u in self.users.values() if u.entity == entity)
                return [(owner, TeamMember(owner.username, True))]
            members = self.team_members.get(entity)
            if members is None:
                members = [TeamMember(self.viewer.username, True)]
            return [(self.users[m.username], m) for m in members]

    # ------------------------------------------------------------------ integrations
    def create_webhook_integration(self, entity: str, name: str, url_endpoint: str) -> Integration:
        """A generic webhook of `entity` that automations may POST to."""
        check_name("entity", entity)
        if not name or len(name) > 64:
            raise StoreError(f"invalid webhook name {name!r}")
        if not url_endpoint.startswith(("http://", "https://")):
            raise StoreError(f"webhook URL must be http(s), not {url_endpoint!r}")
        return self._add_integration(
            Integration(
                encode_id("Integration", self.next_int()),
                entity,
                "webhook",
                name=name,
                url_endpoint=url_endpoint,
            )
        )

    def create_slack_integration(
        self, entity: str, team_name: str, channel_name: str
    ) -> Integration:
        """A Slack channel of `entity` that automations may notify."""
        check_name("entity", entity)
        return self._add_integration(
            Integration(
                encode_id("Integration", self.next_int()),
                entity,
                "slack",
                team_name=team_name,
                channel_name=channel_name,
            )
        )

    def _add_integration(self, integration: Integration) -> Integration:
        with self.lock:
            self.integrations.append(integration)
            self.touch()
            return integration

    def integrations_of(self, entity: str) -> list[Integration]:
        with self.lock:
            return [i for i in self.integrations if i.entity == entity]

    # ------------------------------------------------------------------ automations
    def create_automation(
        self,
        name: str,
        *,
        scope_type: str,
        scope_id: str,
        event_type: str,
        event_filter: str | Mapping[str, Any],
        action_type: str,
        action_config: Mapping[str, Any],
        description: str | None = None,
        enabled: bool = True,
    ) -> Trigger:
        """An automation, from the fields of `createFilterTrigger`'s input: a scope (a project,
        artifact collection or entity, by GraphQL id), an event with its filter (JSON text or
        a dict), and one action whose integration belongs to the scope's entity."""
        if scope_type not in SCOPE_TYPES:
            raise StoreError(f"invalid scope type {scope_type!r}: one of {sorted(SCOPE_TYPES)}")
        if event_type not in EVENT_TYPES:
            raise StoreError(f"invalid event type {event_type!r}")
        key = ACTION_INPUTS.get(action_type)
        if key is None:
            raise StoreError(f"unsupported action type {action_type!r}")
        action = dict(action_config.get(key) or {})
        if set(action_config) - {key}:
            raise StoreError(f"a {action_type} automation takes only {key} in its config")
        if not name or len(name) > 255:
            raise StoreError(f"invalid automation name {name!r}")
        text = event_filter if isinstance(event_filter, str) else json.dumps(event_filter)
        try:
            json.loads(text)
        except ValueError as exc:
            raise StoreError(f"eventFilter is not JSON: {exc}") from exc
        with self.lock:
            entity, project = self._scope_owner(scope_type, scope_id)
            kind = {"GENERIC_WEBHOOK": "webhook", "NOTIFICATION": "slack"}.get(action_type)
            if kind is not None:
                wanted = action.get("integrationID")
                if not any(i.id == wanted and i.kind == kind for i in self.integrations_of(entity)):
                    raise StoreNotFound(f"{kind} integration {wanted!r} of {entity} not found")
            if any(t.entity == entity and t.name == name for t in self.triggers):
                raise StoreConflict(f"automation {name!r} already exists in {entity}")
            trigger = Trigger(
                id=encode_id("Trigger", self.next_int()),
                name=name,
                entity=entity,
                project=project,
                scope_type=scope_type,
                scope_id=scope_id,
                event_type=event_type,
                event_filter=text,
                action_type=action_type,
                action=action,
                created_at=self._next_time(),
                description=description,
                enabled=enabled,
            )
            self.triggers.append(trigger)
            self.touch()
            return trigger

    def _scope_owner(self, scope_type: str, scope_id: str) -> tuple[str, str | None]:
        """(entity, project) of a scope id; StoreNotFound when nothing has that id."""
        if scope_type == "ARTIFACT_COLLECTION":  # a sequence, or a registry's portfolio
            portfolio = self.portfolio_by_id(scope_id)
            if portfolio is not None:
                return portfolio.entity, portfolio.project
            coll = self.collection_by_id(scope_id)
            return coll.entity, coll.project
        parts = decode_id(scope_id)
        is_project = len(parts) == 4 and parts[:2] == ["Project", "v1"]
        if scope_type == "PROJECT" and is_project and (parts[3], parts[2]) in self.projects:
            return parts[3], parts[2]
        if scope_type == "ENTITY" and len(parts) == 2 and parts[0] == "Entity":
            return parts[1], None
        raise StoreNotFound(f"{scope_type.lower()} {scope_id!r} not found")

    def automations_of(self, entity: str, project: str | None = None) -> list[Trigger]:
        """The automations an entity owns (those scoped to one project, with `project`)."""
        with self.lock:
            return [
                t
                for t in self.triggers
                if t.entity == entity and (project is None or t.project == project)
            ]


__all__ = [
    "ACTION_INPUTS",
    "EVENT_TYPES",
    "SCOPE_TYPES",
    "AccountStore",
    "Integration",
    "TeamMember",
    "Trigger",
    "User",
]
