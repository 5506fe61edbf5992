"""`User` and `Team` (with its `Member`s): who owns and shares projects.

`User` and `Member` read their node's fields by snake_case or camelCase name (`user.username`,
`member.account_type`), as the official client's objects do. Creating users, teams, invites and
API keys is admin work and not offered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.fields import NodeAttributes
from prefect_wandb_public.api.queries.users import TEAM_QUERY
from prefect_wandb_public.errors import NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api


class User(NodeAttributes):
    """A user: `id`, `name`, `username`, `email`, `admin`, `entity`, `teams`, `api_keys`."""

    def __init__(self, client: Api, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self._attrs = dict(attrs)

    @property
    def user_api(self) -> Api:
        """The `Api` this user was found through (its credentials; keys are never copied)."""
        return self.client

    @property
    def api_keys(self) -> list[str]:
        """Names (not secrets) of the user's API keys; empty when not loaded."""
        return _edge_names(self._attrs.get("apiKeys"))

    @property
    def teams(self) -> list[str]:
        """Names of the user's teams; empty when not loaded."""
        return _edge_names(self._attrs.get("teams"))

    def __repr__(self) -> str:
        get = self._attrs.get
        if get("email"):
            return f"<User {get('email')}>"
        if get("username"):
            return f"<User {get('username')}>"
        return f"<User {get('id') or get('name') or '???'}>"


class Member(NodeAttributes):
    """A member of a team: `id`, `name`, `username`, `email`, `admin`, `account_type`."""

    def __init__(self, client: Api, team: str, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self.team = team
        self._attrs = dict(attrs)

    def __repr__(self) -> str:
        return f"<Member {self._attrs.get('name')} ({self._attrs.get('accountType')})>"


class Team(NodeAttributes):
    """A team (an entity several users share), loaded on creation: `members`, `is_team`,
    `entity_type`, `default_access`, ... NotFoundError when no such entity exists."""

    def __init__(self, client: Api, name: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.name = name
        self._attrs: dict[str, Any] = dict(attrs or {})
        self.load()

    def load(self, force: bool = False) -> dict[str, Any]:
        """Fetch the team's fields and members (once, unless `force`)."""
        if force or not self._attrs:
            data = self.client.transport.graphql(TEAM_QUERY, {"name": self.name})
            node = data.get("entity")
            if node is None:
                raise NotFoundError(f"team {self.name!r} not found")
            self._attrs = dict(node)
        self._attrs["members"] = [
            m if isinstance(m, Member) else Member(self.client, self.name, m)
            for m in self._attrs.get("members") or []
        ]
        return self._attrs

    @property
    def members(self) -> list[Member]:
        members: list[Member] = self._attrs["members"]
        return members

    def __repr__(self) -> str:
        return f"<Team {self.name}>"


def _edge_names(connection: Any) -> list[str]:
    if not connection:
        return []
    return [e["node"]["name"] for e in connection.get("edges") or [] if e.get("node")]


__all__ = ["Member", "Team", "User"]
