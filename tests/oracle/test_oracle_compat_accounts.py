"""Issue 14, users, teams, integrations and automations: our client and the official SDK read
the same seeded accounts from one local server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.common import StoreConflict, StoreError, StoreNotFound


@pytest.fixture(scope="module")
def accounts(session_server: LocalWandbServer) -> dict[str, Any]:
    """Two users, a team of them, and the team's integrations and automations."""
    server = session_server
    server.create_user("ada-oracle", email="ada@example.com")
    server.create_user("bob-oracle", email="bob@example.com")
    server.create_team("oracle-team-x", members=["ada-oracle", "bob-oracle"], admins=["ada-oracle"])
    hook = server.create_webhook_integration("oracle-team-x", "ci-hook", "https://ci.example/hook")
    slack = server.create_slack_integration("oracle-team-x", "acme", "#models")
    project = server.create_project("oracle-team-x", "models")
    server.create_artifact("oracle-team-x", "models", "clf", "model", {"m.bin": b"m"})
    collection = server.store.require_collection("oracle-team-x", "models", "clf")
    server.create_automation(
        "promote-hook",
        scope_type="ARTIFACT_COLLECTION",
        scope_id=collection.id,
        event_type="ADD_ARTIFACT_ALIAS",
        event_filter='{"$or":[{"$and":[{"alias":{"$eq":"production"}}]}]}',
        action_type="GENERIC_WEBHOOK",
        action_config={
            "genericWebhookActionInput": {
                "integrationID": hook.id,
                "requestPayload": '{"event": "${event_type}"}',
            }
        },
        description="tell CI",
    )
    server.create_automation(
        "failed-runs",
        scope_type="PROJECT",
        scope_id=project.id,
        event_type="RUN_STATE",
        event_filter={"run_filter": '{"$and":[]}', "run_state_filter": {"states": ["FAILED"]}},
        action_type="NOTIFICATION",
        action_config={
            "notificationActionInput": {
                "integrationID": slack.id,
                "title": "failed",
                "message": "a run failed",
                "severity": "WARN",
            }
        },
    )
    return {"hook": hook, "slack": slack}


def test_users_search(ours: Api, official: Any, accounts: dict[str, Any]) -> None:
    def rows(users: list[Any]) -> list[tuple[Any, ...]]:
        return sorted((u.id, u.username, u.email, u.name, tuple(u.teams)) for u in users)

    assert rows(ours.users("oracle")) == rows(official.users("oracle"))
    assert [u.username for u in ours.users("ada@")] == ["ada-oracle"]
    mine, theirs = ours.user("bob@example.com"), official.user("bob@example.com")
    assert mine is not None and theirs is not None
    assert (
        (mine.username, mine.teams)
        == (theirs.username, theirs.teams)
        == (
            "bob-oracle",
            ["oracle-team-x"],
        )
    )
    assert ours.user("nobody-at-all") is None and official.user("nobody-at-all") is None


def test_team_and_members(ours: Api, official: Any, accounts: dict[str, Any]) -> None:
    mine, theirs = ours.team("oracle-team-x"), official.team("oracle-team-x")

    def members(team: Any) -> list[tuple[Any, ...]]:
        return sorted((m.id, m.username, m.email, m.admin, m.account_type) for m in team.members)

    assert members(mine) == members(theirs)
    assert [m.username for m in mine.members if m.admin] == ["ada-oracle"]
    for field in ("id", "is_team", "entity_type", "default_access", "read_only"):
        assert getattr(mine, field) == getattr(theirs, field), field
    assert mine.is_team is True and mine.entity_type == "team"
    assert repr(mine) == repr(theirs) == "<Team oracle-team-x>"


def test_integrations(ours: Api, official: Any, accounts: dict[str, Any]) -> None:
    mine = {(type(i).__name__, i.id) for i in ours.integrations("oracle-team-x")}
    theirs = {(type(i).__name__, i.id) for i in official.integrations("oracle-team-x")}
    assert (
        {i for _, i in mine}
        == {i for _, i in theirs}
        == {
            accounts["hook"].id,
            accounts["slack"].id,
        }
    )
    (hook,) = ours.webhook_integrations("oracle-team-x")
    (sdk_hook,) = official.webhook_integrations("oracle-team-x")
    assert (hook.id, hook.name, hook.url_endpoint) == (
        sdk_hook.id,
        sdk_hook.name,
        sdk_hook.url_endpoint,
    )
    (slack,) = ours.slack_integrations(entity="oracle-team-x")
    (sdk_slack,) = official.slack_integrations(entity="oracle-team-x")
    assert (slack.team_name, slack.channel_name) == (sdk_slack.team_name, sdk_slack.channel_name)


def test_integrations_and_automations_resume_from_a_saved_cursor(
    ours: Api, official: Any, accounts: dict[str, Any]
) -> None:
    everything = [i.id for i in ours.integrations("oracle-team-x")]
    assert len(everything) == 2
    for reader in (ours, official):
        first = reader.integrations("oracle-team-x", per_page=1)
        assert next(first).id == everything[0]
        for resumer in (ours, official):
            rest = resumer.integrations("oracle-team-x", per_page=1, start=first.cursor)
            assert [i.id for i in rest] == everything[1:]
    automations = [a.name for a in ours.automations("oracle-team-x")]
    first = ours.automations("oracle-team-x", per_page=1)
    assert next(first).name == automations[0]
    rest = ours.automations("oracle-team-x", per_page=1, start=first.cursor)
    assert [a.name for a in rest] == automations[1:] and len(automations) == 2


def test_our_automations(ours: Api, accounts: dict[str, Any]) -> None:
    found = {a.name: a for a in ours.automations("oracle-team-x")}
    assert sorted(found) == ["failed-runs", "promote-hook"]
    hook = found["promote-hook"]
    assert (hook.scope.scope_type, hook.scope.name) == ("ARTIFACT_COLLECTION", "clf")
    assert hook.event.event_type == "ADD_ARTIFACT_ALIAS"
    assert hook.event.filter == {"$or": [{"$and": [{"alias": {"$eq": "production"}}]}]}
    assert hook.action.action_type == "GENERIC_WEBHOOK"
    assert hook.action.integration is not None and hook.action.integration.id == accounts["hook"].id
    assert hook.action.fields == {"request_payload": {"event": "${event_type}"}}
    assert hook.description == "tell CI" and hook.enabled is True
    runs = ours.automation("failed-runs", entity="oracle-team-x")
    assert (runs.scope.scope_type, runs.scope.name) == ("PROJECT", "models")
    assert runs.event.filter["run_state_filter"] == {"states": ["FAILED"]}
    assert runs.action.fields == {"title": "failed", "message": "a run failed", "severity": "WARN"}
    with pytest.raises(InvalidInputError, match="No automations found"):
        ours.automation("nope", entity="oracle-team-x")


def test_the_sdk_reads_the_same_automations(
    ours: Api, official: Any, accounts: dict[str, Any]
) -> None:
    mine = {a.name: a for a in ours.automations("oracle-team-x")}
    theirs = {a.name: a for a in official.automations("oracle-team-x")}
    assert sorted(mine) == sorted(theirs)
    for name, automation in mine.items():
        other = theirs[name]
        assert (automation.id, automation.description, automation.enabled) == (
            other.id,
            other.description,
            other.enabled,
        )
        assert automation.scope.id == other.scope.id
        assert automation.event.event_type == str(other.event.event_type.value)


def test_bad_automations_are_refused(server: LocalWandbServer) -> None:
    store = server.store
    project_id = store.require_project("oracle-team-x", "models").id
    common: dict[str, Any] = {
        "scope_type": "PROJECT",
        "scope_id": project_id,
        "event_type": "RUN_STATE",
        "event_filter": "{}",
        "action_type": "NO_OP",
        "action_config": {"noOpActionInput": {"noOp": True}},
    }
    with pytest.raises(StoreConflict, match="already exists"):
        store.create_automation("failed-runs", **common)
    with pytest.raises(StoreNotFound, match="integration"):
        store.create_automation(
            "x",
            **{
                **common,
                "action_type": "GENERIC_WEBHOOK",
                "action_config": {"genericWebhookActionInput": {"integrationID": "nope"}},
            },
        )
    missing = base64.b64encode(b"Project:v1:nope:oracle-team-x").decode()
    with pytest.raises(StoreNotFound, match="not found"):
        store.create_automation("y", **{**common, "scope_id": missing})
    with pytest.raises(StoreError, match="eventFilter"):
        store.create_automation("z", **{**common, "event_filter": "{not json"})
    assert json.loads(store.automations_of("oracle-team-x", "models")[0].event_filter)
