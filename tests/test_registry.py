"""The Registry on the local server through our client: organizations, registry paths, links,
`Registry` objects and their searches, and the bad input each of them refuses.

One server for the module, whose default entity is a team (`TEAM`) of organization `ORG`; the
viewer's personal entity (`local-user`) joins `ORG` and `OTHER_ORG`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, Registry
from prefect_wandb_public.errors import (
    ArtifactNotLoggedError,
    InvalidInputError,
    NotFoundError,
)
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.common import StoreConflict, StoreError, StoreNotFound

ORG, ORG_ENTITY = "Acme Corp", "acme-org"
OTHER_ORG = "Beta"
TEAM, LONER, PERSONAL = "acme-ml", "solo-team", "local-user"
PROJECT = "training"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(entity=TEAM) as srv:
        srv.create_organization(ORG, org_entity=ORG_ENTITY, members=[TEAM, PERSONAL])
        srv.create_organization(OTHER_ORG, members=[PERSONAL])
        srv.create_registry(ORG, "model", artifact_types=["model"], description="models")
        srv.create_registry(ORG, "open")
        srv.create_run(TEAM, PROJECT, "train-1")
        for n in range(3):
            srv.create_artifact(
                TEAM, PROJECT, "cnn", "model", {"w.bin": bytes([n]) * 64}, created_by="train-1"
            )
        srv.create_artifact(TEAM, PROJECT, "data", "dataset", {"d.csv": b"a,b\n"})
        srv.create_artifact(PERSONAL, "mine", "cnn", "model", {"w.bin": b"personal"})
        srv.create_artifact(LONER, "p", "cnn", "model", {"w.bin": b"loner"})
        yield srv


@pytest.fixture
def api(server: LocalWandbServer) -> Iterator[Api]:
    client = Api(api_key=server.api_key, overrides={"base_url": server.url})
    yield client
    client.close()


def _versions(registry: Registry, collection: str) -> dict[str, list[str]]:
    """version -> aliases of the links of `collection` in `registry`."""
    return {
        a.version: sorted(a.aliases) for a in registry.versions() if a.collection_name == collection
    }


# ---------------------------------------------------------------------- seeding rules
def test_seeding_refuses_what_the_service_refuses(server: LocalWandbServer) -> None:
    with pytest.raises(StoreConflict, match="already exists"):
        server.create_organization(ORG)
    with pytest.raises(StoreConflict, match=f"{TEAM!r} already belongs to organization"):
        server.create_organization("Gamma", members=[TEAM])
    with pytest.raises(StoreNotFound, match="organization 'Nope' not found"):
        server.create_registry("Nope", "model")
    with pytest.raises(StoreConflict, match="registry 'model' already exists"):
        server.create_registry(ORG, "model")
    with pytest.raises(StoreError, match="invalid visibility"):
        server.create_registry(ORG, "x", visibility="public")
    with pytest.raises(StoreError, match="personal entity 'local-user'"):
        server.link_artifact(PERSONAL, "mine", "cnn:v0", f"{ORG}/wandb-registry-model/cnn")
    with pytest.raises(StoreError, match="not in organization 'Acme Corp'"):
        server.link_artifact(LONER, "p", "cnn:v0", f"{ORG}/wandb-registry-model/cnn")
    org = server.store.organization_by_name(OTHER_ORG)
    assert org is not None and org.entity == "beta-org"  # the default org entity name
    assert server.store.entity_type("beta-org") == "organization"
    assert server.store.entity_type(TEAM) == "team"
    assert server.store.entity_type(PERSONAL) == "user"


# ---------------------------------------------------------------------- organizations
def test_organization_of_the_default_entity_and_by_name(api: Api) -> None:
    org = api.organization()
    assert (org.name, org.org_entity.name, org.org_entity.entity_type) == (
        ORG,
        ORG_ENTITY,
        "organization",
    )
    assert api.organization(OTHER_ORG).org_entity.name == "beta-org"
    with pytest.raises(NotFoundError, match="Organization 'Nowhere' not found"):
        api.organization("Nowhere")


def test_an_entity_without_an_organization_gets_the_0_31_error(server: LocalWandbServer) -> None:
    loner = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": LONER})
    with pytest.raises(
        InvalidInputError, match="Unable to find organization for entity 'solo-team'"
    ):
        loner.artifact("wandb-registry-model/cnn:latest")
    with pytest.raises(InvalidInputError, match="Unable to find organization"):
        loner.organization()


def test_a_personal_entity_in_several_organizations_must_name_one(
    server: LocalWandbServer,
) -> None:
    personal = Api(api_key=server.api_key, overrides={"base_url": server.url, "entity": PERSONAL})
    with pytest.raises(InvalidInputError, match="belongs to multiple organizations"):
        personal.artifact("wandb-registry-model/cnn:latest")
    with pytest.raises(InvalidInputError, match="Multiple organizations found for entity"):
        personal.registries()
    with pytest.raises(InvalidInputError, match="cannot be linked/fetched with 'Gamma'"):
        personal.artifact("Gamma/wandb-registry-model/cnn:latest")
    # Naming the organization (display or entity name) resolves it.
    assert personal.registry("model", organization=ORG).entity == ORG_ENTITY


# ---------------------------------------------------------------------- links
def test_link_reads_back_through_every_registry_path(api: Api, server: LocalWandbServer) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v0")
    link = source.link("wandb-registry-model/paths", aliases=["staging"])
    assert link.is_link and link.qualified_name == f"{ORG_ENTITY}/wandb-registry-model/paths:v0"
    assert (link.version, link.aliases, link.id) == ("v0", ["latest", "staging"], source.id)
    assert link.linked_at is not None and source.linked_at is None and not source.is_link
    for path in (
        "wandb-registry-model/paths:staging",
        f"{ORG}/wandb-registry-model/paths:v0",
        f"{ORG_ENTITY}/wandb-registry-model/paths:latest",
    ):
        read = api.artifact(path)
        assert read.is_link and read.id == source.id, path
        assert (read.entity, read.project, read.version) == (
            ORG_ENTITY,
            "wandb-registry-model",
            "v0",
        )
        assert read.name == path.rsplit("/", 1)[-1]  # keeps the alias it was fetched by
        assert (read.source_entity, read.source_project, read.source_name) == (
            TEAM,
            PROJECT,
            "cnn:v0",
        )
        assert read.source_version == "v0"
        assert read.source_qualified_name == f"{TEAM}/{PROJECT}/cnn:v0"
    assert read.source_artifact.qualified_name == f"{TEAM}/{PROJECT}/cnn:v0"
    assert not read.source_artifact.is_link
    assert read.source_collection.name == "cnn" and read.collection.name == "paths"
    assert not read.collection.is_sequence()
    assert read.url.startswith(f"{api.app_url}/orgs/{ORG}/registry/model?selectionPath=")
    assert read.manifest.entries.keys() == {"w.bin"}  # files are the source's


def test_links_number_versions_move_latest_and_aliases(api: Api) -> None:
    v0, v1, v2 = (api.artifact(f"{TEAM}/{PROJECT}/cnn:v{i}") for i in range(3))
    first = v0.link("wandb-registry-model/moves", aliases=["production"])
    second = v1.link("wandb-registry-model/moves", aliases=["production", "candidate"])
    assert (first.version, second.version) == ("v0", "v1")
    registry = api.registry("model")
    assert _versions(registry, "moves") == {"v0": [], "v1": ["candidate", "latest", "production"]}
    again = v0.link("wandb-registry-model/moves", aliases=["production"])  # already a member
    assert again.version == "v0"
    assert _versions(registry, "moves") == {"v0": ["production"], "v1": ["candidate", "latest"]}
    third = v2.link(f"{ORG}/wandb-registry-model/moves")
    assert third.version == "v2" and third.aliases == ["latest"]
    third.unlink()
    assert _versions(registry, "moves") == {"v0": ["production"], "v1": ["candidate", "latest"]}
    assert v2.link("wandb-registry-model/moves").version == "v3"  # numbers are never reused
    links = [a for a in v0.linked_artifacts if a.collection_name == "moves"]
    assert [(a.qualified_name, a.aliases, a.is_link) for a in links] == [
        (f"{ORG_ENTITY}/wandb-registry-model/moves:v0", ["production"], True)
    ]
    assert first.linked_artifacts == []


def test_saving_a_link_moves_aliases_in_its_collection(api: Api) -> None:
    link = api.artifact(f"{TEAM}/{PROJECT}/cnn:v1").link("wandb-registry-model/saved")
    link.aliases.append("champion")
    link.description = "edited through the link"
    link.save()
    assert api.artifact("wandb-registry-model/saved:champion").version == "v0"
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v1")
    assert "champion" not in source.aliases  # aliases of a link are the collection's
    assert source.description == "edited through the link"  # edits reach the source


def test_legacy_model_registry_paths_are_portfolios(api: Api) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v2")
    link = source.link(f"{TEAM}/model-registry/mnist-classifier", aliases=["best"])
    assert link.qualified_name == f"{TEAM}/model-registry/mnist-classifier:v0"
    read = api.artifact(f"{TEAM}/model-registry/mnist-classifier:best")
    assert read.is_link and read.id == source.id and sorted(read.aliases) == ["best", "latest"]
    assert read.url.startswith(f"{api.app_url}/{TEAM}/registry/model?selectionPath=")
    versions = api.artifacts("model", f"{TEAM}/model-registry/mnist-classifier")
    assert [a.id for a in versions] == [source.id]


def test_deleting_a_link_unlinks_it_and_keeps_the_source(api: Api) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v0")
    link = source.link("wandb-registry-open/deleted")
    link.delete()
    with pytest.raises(NotFoundError):
        api.artifact("wandb-registry-open/deleted:v0")
    assert api.artifact(f"{TEAM}/{PROJECT}/cnn:v0").id == source.id


# ---------------------------------------------------------------------- registries
def test_registries_filter_with_name_prefixing(api: Api) -> None:
    assert [r.name for r in api.registries()] == ["model", "open"]
    assert [r.name for r in api.registries(filter={"name": "model"})] == ["model"]
    assert [r.name for r in api.registries(filter={"name": {"$in": ["open"]}})] == ["open"]
    assert [r.name for r in api.registries(filter={"name": {"$regex": "^wandb-registry-o"}})] == [
        "open"
    ]
    assert [r.name for r in api.registries(order="-name")] == ["open", "model"]
    model = api.registry("model")
    assert (model.full_name, model.entity, model.organization) == (
        "wandb-registry-model",
        ORG_ENTITY,
        ORG,
    )
    assert (model.description, model.visibility, model.artifact_types) == (
        "models",
        "organization",
        ["model"],
    )
    assert model.allow_all_artifact_types is False and api.registry("open").allow_all_artifact_types
    assert model.path == [ORG_ENTITY, "wandb-registry-model"] and model.created_at


def test_registry_collections_and_versions_searches(api: Api) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v2")
    source.link("wandb-registry-open/search-a", aliases=["golden"])
    api.artifact(f"{TEAM}/{PROJECT}/data:v0").link("wandb-registry-open/search-b")
    registry = api.registry("open")
    assert {c.name for c in registry.collections()} >= {"search-a", "search-b"}
    found = registry.collections(filter={"name": "search-a"})
    assert [c.name for c in found] == ["search-a"] and len(found) == 1
    assert [
        c.name for c in registry.collections(filter={"name": {"$regex": "^search-"}}, order="+name")
    ] == [
        "search-a",
        "search-b",
    ]
    golden = list(registry.versions(filter={"alias": "golden"}))
    assert [(a.qualified_name, a.id) for a in golden] == [
        (f"{ORG_ENTITY}/wandb-registry-open/search-a:v0", source.id)
    ]
    chained = api.registries(filter={"name": "open"}).collections(filter={"name": "search-b"})
    assert [a.type for a in chained.versions()] == ["dataset"]
    with pytest.raises(InvalidInputError, match="Invalid filter fields: 'color'"):
        registry.versions(filter={"color": "red"})
    # The local server has ARTIFACT_COLLECTIONS_FILTERING_SORTING (the SDK's project collection
    # searches need it) and its organizations advanced search, so versions may be ordered.
    newest_first = [a.qualified_name for a in registry.versions(order="-linked_at")]
    oldest_first = [a.qualified_name for a in registry.versions(order="+linked_at")]
    assert len(newest_first) >= 2 and newest_first == oldest_first[::-1]
    with pytest.raises(InvalidInputError, match="Invalid order field 'size'"):
        registry.collections(order="size")


def test_create_save_rename_and_delete_a_registry(api: Api) -> None:
    made = api.create_registry("scratch", "restricted", artifact_types=["dataset"], description="d")
    assert (made.visibility, made.artifact_types, made.allow_all_artifact_types) == (
        "restricted",
        ["dataset"],
        False,
    )
    with pytest.raises(InvalidInputError, match="Registry 'scratch' already exists"):
        api.create_registry("scratch", "organization")
    made.artifact_types.append("table")
    with pytest.raises(InvalidInputError, match="cannot remove artifact types"):
        made.artifact_types.remove("dataset")
    made.description = "scratch space"
    made.save()
    assert api.registry("scratch").artifact_types == ["dataset", "table"]
    made.name = "scratch-2"
    made.save()
    with pytest.raises(NotFoundError, match="registry 'scratch' not found"):
        api.registry("scratch")
    loaded = api.registry("scratch-2")
    assert loaded.description == "scratch space" and loaded.visibility == "restricted"
    loaded.allow_all_artifact_types = True
    loaded.artifact_types.append("model")
    with pytest.raises(InvalidInputError, match="Cannot update artifact types"):
        loaded.save()
    loaded.delete()
    assert "scratch-2" not in [r.name for r in api.registries()]


# ---------------------------------------------------------------------- bad input
def test_linking_a_draft_is_the_0_31_not_logged_error(api: Api) -> None:
    draft = Artifact("never-logged", "model")
    with pytest.raises(ArtifactNotLoggedError, match=r"'Artifact\.link' used prior to logging"):
        draft.link("wandb-registry-model/x")


@pytest.mark.parametrize(
    "target",
    [
        f"{TEAM}/{PROJECT}/cnn",  # a sequence, not a portfolio
        "wandb-registry-model/x:latest",  # a version, not a collection
        "a/b/c/d",
        "wandb-registry-model/bad name",
    ],
)
def test_a_target_that_is_no_collection_path_is_refused_by_name(api: Api, target: str) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v0")
    with pytest.raises(InvalidInputError, match=target.split("/")[-1].split(":")[0]):
        source.link(target)


def test_unknown_registries_and_collections_are_not_found_by_name(api: Api) -> None:
    source = api.artifact(f"{TEAM}/{PROJECT}/cnn:v0")
    with pytest.raises(NotFoundError, match="registry 'nope' not found"):
        source.link("wandb-registry-nope/anything")
    with pytest.raises(NotFoundError, match="wandb-registry-nope"):
        api.artifact("wandb-registry-nope/anything:latest")
    with pytest.raises(NotFoundError, match="no-such-collection"):
        api.artifact("wandb-registry-model/no-such-collection:latest")
    with pytest.raises(NotFoundError, match="registry 'nope' not found"):
        api.registry("nope")


def test_a_type_the_registry_refuses_links_nothing(api: Api) -> None:
    registry = api.registry("model")
    before = [(a.qualified_name, sorted(a.aliases)) for a in registry.versions()]
    dataset = api.artifact(f"{TEAM}/{PROJECT}/data:v0")
    with pytest.raises(
        InvalidInputError, match="accepts artifact types \\['model'\\], not 'dataset'"
    ):
        dataset.link("wandb-registry-model/datasets", aliases=["production"])
    assert [(a.qualified_name, sorted(a.aliases)) for a in registry.versions()] == before
    assert "datasets" not in {a.collection_name for a in dataset.linked_artifacts}
    assert "datasets" not in {c.name for c in registry.collections()}


def test_a_personal_entitys_artifact_cannot_enter_a_registry(server: LocalWandbServer) -> None:
    personal = Api(
        api_key=server.api_key,
        overrides={"base_url": server.url, "entity": PERSONAL, "organization": ORG},
    )
    mine = personal.artifact(f"{PERSONAL}/mine/cnn:v0")
    with pytest.raises(InvalidInputError, match="personal entity 'local-user'"):
        mine.link("wandb-registry-model/personal")
