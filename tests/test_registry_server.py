"""The local server's registry surface on the wire: raw GraphQL for what the clients do not
cover (link by portfolio id, refusals, the org entity's searches), and two servers in one
process answering fragment spreads alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from prefect_wandb_public.testing import LocalWandbServer

ORG, TEAM = "Wire Org", "wire-team"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(entity=TEAM) as srv:
        srv.create_organization(ORG, org_entity="wire-org", members=[TEAM])
        srv.create_registry(ORG, "model", artifact_types=["model"])
        srv.create_artifact(TEAM, "p", "net", "model", {"w": b"0"})
        srv.create_artifact(TEAM, "p", "net", "model", {"w": b"1"})
        yield srv


def gql(server: LocalWandbServer, query: str, **variables: Any) -> dict[str, Any]:
    response = requests.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", server.api_key),
        timeout=10,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


ARTIFACT_ID = """query($e: String!, $p: String!, $n: String!) {
  project(name: $p, entityName: $e) { artifactCollectionMembership(name: $n) { artifact { id } } }
}"""

LINK = """mutation($input: LinkArtifactInput!) {
  linkArtifact(input: $input) {
    versionIndex
    artifactMembership { versionIndex aliases { alias } artifactCollection { __typename id name } }
  }
}"""


def _artifact_id(server: LocalWandbServer, name: str) -> str:
    data = gql(server, ARTIFACT_ID, e=TEAM, p="p", n=name)["data"]
    return str(data["project"]["artifactCollectionMembership"]["artifact"]["id"])


def test_link_by_portfolio_id_and_the_refusals(server: LocalWandbServer) -> None:
    v0, v1 = _artifact_id(server, "net:v0"), _artifact_id(server, "net:v1")
    first = gql(
        server,
        LINK,
        input={
            "artifactID": v0,
            "entityName": "wire-org",
            "projectName": "wandb-registry-model",
            "artifactPortfolioName": "nets",
            "aliases": [{"alias": "prod", "artifactCollectionName": "nets"}],
        },
    )["data"]["linkArtifact"]
    portfolio = first["artifactMembership"]["artifactCollection"]
    assert portfolio["__typename"] == "ArtifactPortfolio" and first["versionIndex"] == 0
    second = gql(server, LINK, input={"artifactID": v1, "artifactPortfolioID": portfolio["id"]})
    assert second["data"]["linkArtifact"]["versionIndex"] == 1
    refused = [
        ({"artifactID": v1}, "needs artifactPortfolioID"),
        (
            {
                "artifactID": v1,
                "artifactPortfolioID": portfolio["id"],
                "aliases": [{"alias": "x", "artifactCollectionName": "other"}],
            },
            "names collection 'other'",
        ),
        ({"artifactID": v1, "artifactPortfolioID": "bm9wZQ=="}, "not found"),
    ]
    for payload, message in refused:
        errors = gql(server, LINK, input=payload)["errors"]
        assert message in errors[0]["message"], payload
    unlink = (
        """mutation($input: UnlinkArtifactInput!) { unlinkArtifact(input: $input) { success } }"""
    )
    assert gql(server, unlink, input={"artifactID": v0, "artifactPortfolioID": portfolio["id"]})[
        "data"
    ]["unlinkArtifact"] == {"success": True}
    again = gql(server, unlink, input={"artifactID": v0, "artifactPortfolioID": portfolio["id"]})
    assert "is not linked to" in again["errors"][0]["message"]


def test_the_org_entity_lists_only_registries_and_its_memberships(
    server: LocalWandbServer,
) -> None:
    server.create_project("wire-org", "not-a-registry")
    query = """query($org: String!) { organization(name: $org) { orgEntity {
        entityType organization { name }
        projects { edges { node { name allowAllArtifactTypesInRegistry access } } }
        artifactMemberships { edges { node { versionIndex artifactCollection { name } } } }
    } } }"""
    entity = gql(server, query, org=ORG)["data"]["organization"]["orgEntity"]
    assert entity["entityType"] == "organization" and entity["organization"]["name"] == ORG
    assert [e["node"] for e in entity["projects"]["edges"]] == [
        {
            "name": "wandb-registry-model",
            "allowAllArtifactTypesInRegistry": False,
            "access": "PRIVATE",
        }
    ]
    team = gql(
        server,
        '{ entity(name: "wire-team") { entityType isTeam user { id } '
        "organization { name orgEntity { name } } } }",
    )["data"]["entity"]
    assert team == {
        "entityType": "team",
        "isTeam": True,
        "user": None,
        "organization": {"name": ORG, "orgEntity": {"name": "wire-org"}},
    }


def test_upsert_model_keeps_registry_fields_to_registries(server: LocalWandbServer) -> None:
    upsert = """mutation($input: UpsertModelInput!) { upsertModel(input: $input) {
        inserted project { name } } }"""
    plain = gql(server, upsert, input={"name": "plain", "entityName": TEAM, "artifactTypes": []})
    assert "apply to registries" in plain["errors"][0]["message"]
    restricted = gql(
        server,
        upsert,
        input={"name": "wandb-registry-locked", "entityName": "wire-org", "access": "RESTRICTED"},
    )
    assert restricted["data"]["upsertModel"]["inserted"] is True
    back = gql(
        server,
        upsert,
        input={"name": "wandb-registry-locked", "entityName": "wire-org", "access": "PRIVATE"},
    )
    assert "cannot become organization-visible again" in back["errors"][0]["message"]
    outside = gql(server, upsert, input={"name": "wandb-registry-x", "entityName": TEAM})
    assert "is not one" in outside["errors"][0]["message"]


def test_two_servers_in_one_process_answer_fragment_spreads_alike() -> None:
    """Plans made while one server answered must not break another's fragments."""
    query = """query { viewer { ...V } serverInfo { features { ...F } } }
        fragment V on User { username } fragment F on ServerFeature { name }"""
    answers = []
    for _ in range(2):
        with LocalWandbServer() as srv:
            answers.append(gql(srv, query)["data"])
    assert answers[0] == answers[1] and answers[1]["viewer"] == {"username": "local-user"}
    assert {"name": "ARTIFACT_REGISTRY_SEARCH"} in answers[1]["serverInfo"]["features"]
