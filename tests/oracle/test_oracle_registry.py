"""The official SDK and our client agree on every Registry read and link on the local server:
the SDK reads what we link and we read what it links, registries, their collections and
versions, organizations, linked artifacts, unlinking, and registry create/save/rename/delete.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

ORG, ORG_ENTITY, TEAM, PROJECT = "Oracle Org", "oracle-org", "oracle-team", "train"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(entity=TEAM) as srv:
        srv.create_organization(ORG, org_entity=ORG_ENTITY, members=[TEAM])
        srv.create_registry(ORG, "model", artifact_types=["model"], description="core models")
        srv.create_registry(ORG, "dataset", artifact_types=["dataset"])
        srv.create_run(TEAM, PROJECT, "run-a")
        for n in range(4):
            srv.create_artifact(
                TEAM, PROJECT, "net", "model", {"w.bin": bytes([n]) * 128}, created_by="run-a"
            )
        srv.create_artifact(TEAM, PROJECT, "table", "dataset", {"t.csv": b"x\n1\n"})
        yield srv


@pytest.fixture(scope="module")
def ours(server: LocalWandbServer) -> Iterator[Api]:
    client = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": TEAM})
    yield client
    client.close()


@pytest.fixture(scope="module")
def sdk(wandb_sdk: Any, server: LocalWandbServer) -> Any:
    return wandb_sdk.Api(
        api_key=server.api_key, overrides={"base_url": server.url, "entity": TEAM}, timeout=30
    )


def _view(artifact: Any) -> dict[str, Any]:
    """What both clients must agree on for a (linked) artifact."""
    return {
        "id": artifact.id,
        "name": artifact.name,
        "qualified_name": artifact.qualified_name,
        "entity": artifact.entity,
        "project": artifact.project,
        "version": artifact.version,
        "aliases": sorted(a for a in artifact.aliases if not a.startswith("v")),
        "is_link": artifact.is_link,
        "linked_at": artifact.linked_at,
        "source_entity": artifact.source_entity,
        "source_project": artifact.source_project,
        "source_name": artifact.source_name,
        "source_version": artifact.source_version,
        "source_qualified_name": artifact.source_qualified_name,
        "type": artifact.type,
        "digest": artifact.digest,
    }


def test_the_sdk_reads_what_we_link_and_we_read_what_it_links(ours: Api, sdk: Any) -> None:
    ours_link = ours.artifact(f"{TEAM}/{PROJECT}/net:v0").link(
        "wandb-registry-model/ours-linked", aliases=["production"]
    )
    sdk_link = sdk.artifact(f"{TEAM}/{PROJECT}/net:v1").link(
        "wandb-registry-model/sdk-linked", aliases=["staging"]
    )
    assert _view(ours_link) == _view(sdk.artifact("wandb-registry-model/ours-linked:v0"))
    assert _view(sdk_link) == _view(ours.artifact("wandb-registry-model/sdk-linked:v0"))
    for path in (
        "wandb-registry-model/ours-linked:production",
        f"{ORG}/wandb-registry-model/sdk-linked:staging",
        f"{ORG_ENTITY}/wandb-registry-model/sdk-linked:latest",
    ):
        assert _view(ours.artifact(path)) == _view(sdk.artifact(path)), path
    assert ours.artifact(path).url == sdk.artifact(path).url
    source = ours.artifact(f"{TEAM}/{PROJECT}/net:v0")
    assert source.id == ours_link.id == sdk.artifact(f"{TEAM}/{PROJECT}/net:v0").id


def test_versions_aliases_and_latest_agree_after_mixed_links(ours: Api, sdk: Any) -> None:
    sdk.artifact(f"{TEAM}/{PROJECT}/net:v2").link("wandb-registry-model/mixed", ["production"])
    ours.artifact(f"{TEAM}/{PROJECT}/net:v3").link("wandb-registry-model/mixed", ["production"])
    sdk.artifact(f"{TEAM}/{PROJECT}/net:v2").link("wandb-registry-model/mixed", ["rollback"])
    for name in ("production", "rollback", "latest", "v0", "v1"):
        path = f"wandb-registry-model/mixed:{name}"
        assert _view(ours.artifact(path)) == _view(sdk.artifact(path)), path
    assert ours.artifact("wandb-registry-model/mixed:production").source_version == "v3"
    assert ours.artifact("wandb-registry-model/mixed:rollback").version == "v0"


def test_linked_artifacts_agree(ours: Api, sdk: Any) -> None:
    ours.artifact(f"{TEAM}/{PROJECT}/net:v3").link("wandb-registry-model/fan-out")
    ours_links = ours.artifact(f"{TEAM}/{PROJECT}/net:v3").linked_artifacts
    sdk_links = sdk.artifact(f"{TEAM}/{PROJECT}/net:v3").linked_artifacts
    key = lambda a: a.qualified_name  # noqa: E731
    assert [
        (a.qualified_name, a.version, a.is_link, a.linked_at) for a in sorted(ours_links, key=key)
    ] == [(a.qualified_name, a.version, a.is_link, a.linked_at) for a in sorted(sdk_links, key=key)]
    # The SDK adds the version to a linked artifact's aliases here; ours keeps aliases as aliases.
    assert [sorted(a.aliases) for a in sorted(ours_links, key=key)] == [
        sorted(x for x in a.aliases if x != a.version) for a in sorted(sdk_links, key=key)
    ]


def test_registries_collections_and_versions_agree(ours: Api, sdk: Any) -> None:
    ours.artifact(f"{TEAM}/{PROJECT}/table:v0").link("wandb-registry-dataset/tables", ["gold"])
    registries = lambda api: [  # noqa: E731
        (r.name, r.full_name, r.entity, r.organization, r.description, r.visibility, r.id)
        for r in api.registries()
    ]
    settings = lambda api: [  # noqa: E731
        (list(r.artifact_types), r.allow_all_artifact_types, r.created_at, r.updated_at)
        for r in api.registries()
    ]
    assert settings(ours) == settings(sdk)
    assert registries(ours) == registries(sdk)
    assert [r.name for r in ours.registries(filter={"name": "model"})] == [
        r.name for r in sdk.registries(filter={"name": "model"})
    ]
    assert [r.name for r in ours.registries(filter={"name": {"$regex": "data"}})] == [
        r.name for r in sdk.registries(filter={"name": {"$regex": "data"}})
    ]
    for name in ("model", "dataset"):
        mine, theirs = ours.registry(name), sdk.registry(name)
        assert [(c.name, c.type, c.id) for c in mine.collections()] == [
            (c.name, c.type, c.id) for c in theirs.collections()
        ]
        assert [_view(a) for a in mine.versions()] == [_view(a) for a in theirs.versions()]
    gold = lambda api: [_view(a) for a in api.registries().versions(filter={"alias": "gold"})]  # noqa: E731
    assert gold(ours) == gold(sdk) and len(gold(ours)) == 1
    named = lambda api: [  # noqa: E731
        _view(a) for a in api.registries().collections(filter={"name": "tables"}).versions()
    ]
    assert named(ours) == named(sdk)


def test_organization_agrees(ours: Api, sdk: Any) -> None:
    mine, theirs = ours.organization(), sdk.organization()
    assert (mine.id, mine.name, mine.org_entity.name, mine.org_entity.entity_type) == (
        theirs.id,
        theirs.name,
        theirs.org_entity.name,
        theirs.org_entity.entity_type,
    )


def test_the_sdk_unlinks_what_we_linked(ours: Api, sdk: Any) -> None:
    ours.artifact(f"{TEAM}/{PROJECT}/net:v1").link("wandb-registry-model/to-unlink")
    sdk.artifact("wandb-registry-model/to-unlink:v0").unlink()
    assert not ours.artifact_exists("wandb-registry-model/to-unlink:v0")
    ours.artifact(f"{TEAM}/{PROJECT}/net:v2").link("wandb-registry-model/to-unlink")
    ours.artifact("wandb-registry-model/to-unlink:v1").unlink()
    assert not sdk.artifact_exists("wandb-registry-model/to-unlink:v1")


def test_a_registry_the_sdk_creates_saves_renames_and_deletes(ours: Api, sdk: Any) -> None:
    made = sdk.create_registry("sdk-made", "restricted", artifact_types=["model"])
    assert ours.registry("sdk-made").visibility == "restricted"
    made.description = "from the SDK"
    made.artifact_types.append("checkpoint")
    made.save()
    mine = ours.registry("sdk-made")
    assert (mine.description, list(mine.artifact_types)) == (
        "from the SDK",
        ["model", "checkpoint"],
    )
    made.name = "sdk-renamed"
    made.save()
    assert ours.registry("sdk-renamed").internal_id == mine.internal_id
    ours_made = ours.create_registry("ours-made", "organization", description="ours")
    assert sdk.registry("ours-made").description == "ours"
    ours_made.delete()
    sdk.registry("sdk-renamed").delete()
    assert {r.name for r in sdk.registries()} == {"model", "dataset"}


def test_a_legacy_model_registry_link_reads_the_same(ours: Api, sdk: Any) -> None:
    sdk.artifact(f"{TEAM}/{PROJECT}/net:v3").link(f"{TEAM}/model-registry/classifier", ["best"])
    path = f"{TEAM}/model-registry/classifier:best"
    assert _view(ours.artifact(path)) == _view(sdk.artifact(path))


def test_a_refused_type_links_nothing_for_either_client(ours: Api, sdk: Any) -> None:
    with pytest.raises(Exception, match="accepts artifact types"):
        sdk.artifact(f"{TEAM}/{PROJECT}/table:v0").link("wandb-registry-model/tables")
    assert "tables" not in {c.name for c in ours.registry("model").collections()}
