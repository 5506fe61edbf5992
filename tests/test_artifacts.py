"""Artifacts against the local server: lookup by name, attributes, manifests, types, collections,
versions, aliases, updates, deletion, lineage, and the official SDK reading the same answers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.api import (
    Artifact,
    ArtifactCollection,
    ArtifactType,
    ArtifactVersions,
)
from prefect_wandb_public.api.artifact_listings import _CollectionAliases
from prefect_wandb_public.api.files import download_file
from prefect_wandb_public.api.names import check_artifact_name, parse_artifact_name
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.artifact_store import artifact_digest

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

V0 = {
    "model.json": b'{"layers": 3}',
    "weights/w.bin": bytes(range(256)) * 64,
    "eval.table.json": json.dumps(
        {"columns": ["id", "acc"], "data": [[1, 0.5], [2, 0.75]]}
    ).encode(),
}
V1 = {"model.json": b'{"layers": 4}', "weights/w.bin": b"\x01" * 5000}
V2 = {"model.json": b'{"layers": 5}'}


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    """Runs `train` (creator of v0, v1) and `evaluate` (uses v0); collection `mnist-cnn` with
    v0 (alias production), v1, v2 (latest); a dataset. Returns `entity/project`."""
    server.create_run(entity, project, "train")
    server.create_run(entity, project, "evaluate")
    server.create_artifact(
        entity,
        project,
        "mnist-cnn",
        "model",
        V0,
        aliases=["production"],
        metadata={"acc": 0.9},
        description="first",
        created_by="train",
        used_by=["evaluate"],
    )
    server.create_artifact(entity, project, "mnist-cnn", "model", V1, created_by="train")
    server.create_artifact(entity, project, "mnist-cnn", "model", V2)
    server.create_artifact(entity, project, "mnist", "dataset", {"train.csv": b"x,y\n1,2\n"})
    return f"{entity}/{project}"


# ---------------------------------------------------------------------- lookup


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("{path}/mnist-cnn:production", "v0"),
        ("{path}/mnist-cnn:v1", "v1"),
        ("{path}/mnist-cnn:latest", "v2"),
        ("{path}/mnist-cnn", "v2"),
        ("{project}/mnist-cnn:v0", "v0"),
        ("mnist-cnn:v1", "v1"),
        ("mnist-cnn", "v2"),
    ],
)
def test_artifact_by_every_path_form(
    server: LocalWandbServer, seeded: str, project: str, name: str, version: str
) -> None:
    entity = seeded.split("/")[0]
    api = Api(
        api_key=server.api_key,
        overrides={"base_url": server.url, "entity": entity, "project": project},
    )
    artifact = api.artifact(name.format(path=seeded, project=project))
    assert artifact.version == version
    assert artifact.source_name == f"mnist-cnn:{version}"
    asked = name.rsplit("/", 1)[-1]  # the SDK keeps the alias asked for; bare names get `:vN`
    assert artifact.name == (asked if ":" in asked else f"mnist-cnn:{version}")


def test_artifact_attributes(api: Api, seeded: str) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:production", type="model")
    assert isinstance(artifact, Artifact)
    assert artifact.id
    assert (artifact.name, artifact.version, artifact.type) == (
        "mnist-cnn:production",
        "v0",
        "model",
    )
    assert artifact.source_name == "mnist-cnn:v0"
    assert artifact.aliases == ["production"]
    assert artifact.description == "first"
    assert artifact.metadata == {"acc": 0.9}
    assert artifact.size == sum(len(b) for b in V0.values())
    assert artifact.digest == artifact_digest({p: b64md5(b) for p, b in V0.items()})
    assert artifact.state == "COMMITTED"
    assert artifact.file_count == 3
    assert artifact.created_at and artifact.updated_at
    assert artifact.qualified_name == f"{seeded}/mnist-cnn:production"  # as the SDK
    assert api.artifact(f"{seeded}/mnist-cnn").aliases == ["latest"]


def test_manifest_lists_every_entry(api: Api, seeded: str) -> None:
    manifest = api.artifact(f"{seeded}/mnist-cnn:v0").manifest
    assert manifest.version == 1
    assert manifest.storage_policy == "wandb-storage-policy-v1"
    assert {p: (e.digest, e.size) for p, e in manifest.entries.items()} == {
        p: (b64md5(b), len(b)) for p, b in V0.items()
    }


def test_manifest_json_is_served_without_auth_exactly(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v1")
    data = api.transport.graphql(
        "query M($id: ID!) { artifact(id: $id) { currentManifest { file { directUrl } } } }",
        {"id": artifact.id},
    )
    url = data["artifact"]["currentManifest"]["file"]["directUrl"]
    response = requests.get(url, timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": {
            path: {"digest": b64md5(data), "size": len(data), "birthArtifactID": artifact.id}
            for path, data in V1.items()
        },
    }
    assert server.request_log.records[-1].sent_auth is False


def test_type_mismatch_is_invalid_input(api: Api, seeded: str) -> None:
    with pytest.raises(InvalidInputError, match="has type 'model', not 'dataset'"):
        api.artifact(f"{seeded}/mnist-cnn:v0", type="dataset")
    assert not api.artifact_exists(f"{seeded}/mnist-cnn:v0", type="dataset")


@pytest.mark.parametrize(
    "name",
    ["{path}/nope:latest", "{path}/mnist-cnn:v9", "{path}/mnist-cnn:staging", "{entity}/nope/x"],
)
def test_unknown_artifact_or_alias_is_not_found(
    api: Api, seeded: str, name: str, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    full = name.format(path=seeded, entity=seeded.split("/")[0])
    with pytest.raises(NotFoundError):
        api.artifact(full)
    assert not api.artifact_exists(full)
    assert server.request_log.count(operation="ArtifactMembershipByName") == 2


@pytest.mark.parametrize("name", ["a:", ":v1", "a:b:c", "e/p/x/y", "", "e/p/a b"])
def test_malformed_artifact_name_is_refused_before_any_request(
    api: Api, server: LocalWandbServer, name: str
) -> None:
    server.request_log.clear()
    with pytest.raises(InvalidInputError):
        api.artifact(name)
    assert server.request_log.count() == 0


@pytest.mark.parametrize(
    "name", ["modèle", "données:v0", "a" * 129, "a" * 129 + ":latest", "ﬁle", "x\u00b2"]
)
def test_artifact_names_the_server_would_reject_are_refused_before_any_request(
    api: Api, server: LocalWandbServer, entity: str, name: str
) -> None:
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="invalid artifact name"):
        api.artifact(f"{entity}/p/{name}")
    assert server.request_log.count() == 0


@pytest.mark.parametrize(
    "name", ["mnist-cnn", "a.b_c-9", "A" * 128, "modèle", "a b", "a" * 129, "ﬁle", "x/y", ""]
)
def test_parsing_and_checking_an_artifact_name_agree(name: str) -> None:
    def accepted(check: Any) -> bool:
        try:
            check(name)
        except InvalidInputError:
            return False
        return True

    assert accepted(parse_artifact_name) == accepted(check_artifact_name)


# ---------------------------------------------------------------------- types and collections


def test_artifact_types_and_collections(api: Api, seeded: str) -> None:
    assert sorted(t.name for t in api.artifact_types(seeded)) == ["dataset", "model"]
    model = api.artifact_type("model", seeded)
    assert isinstance(model, ArtifactType)
    assert model.name == "model" and model.id and model.created_at
    collections = model.collections()
    assert [c.name for c in collections] == ["mnist-cnn"]
    assert len(collections) == 1
    assert [c.name for c in api.artifact_collections(seeded, "dataset")] == ["mnist"]
    coll = api.artifact_collection("model", f"{seeded}/mnist-cnn")
    assert isinstance(coll, ArtifactCollection)
    assert coll.type == "model" and coll.is_sequence()
    assert sorted(coll.aliases) == ["latest", "production"]


def test_collection_aliases_are_read_page_by_page(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    names = [f"stage-{i}" for i in range(5)]
    server.create_artifact(entity, project, "many", "model", {"a": b"a"}, aliases=names)
    coll = api.artifact_collection("model", f"{entity}/{project}/many")
    server.request_log.clear()
    assert sorted(_CollectionAliases(coll, per_page=2)) == sorted([*names, "latest"])
    assert server.request_log.count(operation="ArtifactCollectionAliases") == 3
    assert sorted(coll.aliases) == sorted([*names, "latest"])
    assert coll.aliases is coll.aliases  # fetched once


def test_unknown_type_and_collection_are_not_found(api: Api, seeded: str) -> None:
    with pytest.raises(NotFoundError, match="artifact type 'nope'"):
        api.artifact_type("nope", seeded)
    with pytest.raises(NotFoundError):
        list(api.artifact_collections(seeded, "nope"))
    with pytest.raises(NotFoundError, match="of type 'dataset' not found"):
        api.artifact_collection("dataset", f"{seeded}/mnist-cnn")
    with pytest.raises(NotFoundError):
        api.artifact_collection("model", f"{seeded}/nope")
    assert not api.artifact_collection_exists(f"{seeded}/nope", "model")
    with pytest.raises(NotFoundError):
        list(api.artifacts("model", f"{seeded}/nope"))


def test_versions_newest_first_with_count_and_order(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    versions = api.artifact_versions("model", f"{seeded}/mnist-cnn", per_page=2)
    assert isinstance(versions, ArtifactVersions)
    server.request_log.clear()
    assert len(versions) == 3
    assert server.request_log.count(operation="ProjectArtifacts") == 1
    assert [a.version for a in versions] == ["v2", "v1", "v0"]
    oldest_first = api.artifacts("model", f"{seeded}/mnist-cnn", order="+versionIndex")
    assert [a.version for a in oldest_first] == ["v0", "v1", "v2"]
    coll = api.artifact_collection("model", f"{seeded}/mnist-cnn")
    assert [a.version for a in coll.versions()] == ["v2", "v1", "v0"]
    aliased = api.artifacts("model", f"{seeded}/mnist-cnn", filters={"aliases": "production"})
    assert [a.version for a in aliased] == ["v0"]


def test_bad_versions_arguments_are_refused(api: Api, seeded: str) -> None:
    with pytest.raises(InvalidInputError):
        api.artifacts("model", f"{seeded}/mnist-cnn", order="version index")
    with pytest.raises(InvalidInputError):
        api.artifacts("model", f"{seeded}/mnist-cnn", per_page=0)
    with pytest.raises(InvalidInputError):
        api.artifacts("model", f"{seeded}/mnist-cnn", filters="state")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- files, get, file


def test_artifact_files_lists_entries_with_urls(api: Api, seeded: str) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v0")
    files = {f.name: f for f in artifact.files(per_page=2)}
    assert sorted(files) == sorted(V0)
    assert files["model.json"].md5 == b64md5(V0["model.json"])
    assert files["model.json"].size == len(V0["model.json"])
    assert [f.name for f in artifact.files(names=["model.json"])] == ["model.json"]
    path = download_file(files["weights/w.bin"], root="single")
    assert Path(path).read_bytes() == V0["weights/w.bin"]


def test_download_with_path_prefix_fetches_only_that_subtree(
    api: Api, seeded: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v0")
    root = artifact.download(str(tmp_path / "sub"), path_prefix="weights/")
    assert [p.name for p in Path(root).rglob("*") if p.is_file()] == ["w.bin"]
    assert server.request_log.count(path="/storage/blobs/") == 1


def test_get_decodes_tables_and_json_and_returns_paths(api: Api, seeded: str) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v0")
    table = artifact.get("eval")
    assert list(table.columns) == ["id", "acc"]  # type: ignore[union-attr]
    assert table.to_dict("records") == [{"id": 1, "acc": 0.5}, {"id": 2, "acc": 0.75}]  # type: ignore[union-attr]
    assert artifact.get("model.json") == {"layers": 3}
    path = artifact.get("weights/w.bin")
    assert isinstance(path, str) and Path(path).read_bytes() == V0["weights/w.bin"]
    assert os.path.abspath(path) == os.path.abspath("artifacts/mnist-cnn:v0/weights/w.bin")
    with pytest.raises(NotFoundError, match="no file 'missing'"):
        artifact.get("missing")


def test_file_downloads_a_single_file_artifact_only(api: Api, seeded: str, tmp_path: Path) -> None:
    path = api.artifact(f"{seeded}/mnist:latest").file(root=str(tmp_path / "one"))
    assert path == str(tmp_path / "one" / "train.csv")
    assert Path(path).read_bytes() == b"x,y\n1,2\n"
    with pytest.raises(InvalidInputError, match="has 3 files"):
        api.artifact(f"{seeded}/mnist-cnn:v0").file()


# ---------------------------------------------------------------------- changes


def test_save_moves_aliases_and_updates_description_and_metadata(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    v1 = api.artifact(f"{seeded}/mnist-cnn:v1")
    v1.aliases.append("production")
    v1.aliases.append("candidate")
    v1.description = "promoted"
    v1.metadata["acc"] = 0.95
    server.request_log.clear()
    v1.save()
    assert server.request_log.count(operation="AddAliases") == 1
    assert server.request_log.count(operation="DeleteAliases") == 0
    assert server.request_log.count(operation="UpdateArtifact") == 1
    promoted = api.artifact(f"{seeded}/mnist-cnn:production")
    assert promoted.version == "v1"
    assert sorted(promoted.aliases) == ["candidate", "production"]
    assert promoted.description == "promoted" and promoted.metadata == {"acc": 0.95}
    assert api.artifact(f"{seeded}/mnist-cnn:v0").aliases == []
    promoted.aliases.remove("candidate")
    promoted.save()
    with pytest.raises(NotFoundError):
        api.artifact(f"{seeded}/mnist-cnn:candidate")


@pytest.mark.parametrize("alias", ["v7", "a/b", "a:b", ""])
def test_bad_alias_is_refused_before_any_request(
    api: Api, seeded: str, server: LocalWandbServer, alias: str
) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v1")
    artifact.aliases.append(alias)
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="invalid alias"):
        artifact.save()
    assert server.request_log.count() == 0


def test_unserializable_metadata_is_refused_before_any_request(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    artifact = api.artifact(f"{seeded}/mnist-cnn:v1")
    artifact.metadata["when"] = object()
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="not JSON-serializable"):
        artifact.save()
    assert server.request_log.count() == 0


def test_delete_is_refused_while_aliased_unless_aliases_go_too(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    v0 = api.artifact(f"{seeded}/mnist-cnn:production")
    with pytest.raises(CommError, match="while it has aliases"):
        v0.delete()
    assert api.artifact(f"{seeded}/mnist-cnn:v0").version == "v0"
    v0.delete(delete_aliases=True)
    with pytest.raises(NotFoundError):
        api.artifact(f"{seeded}/mnist-cnn:v0")
    with pytest.raises(NotFoundError):
        api.artifact(f"{seeded}/mnist-cnn:production")
    assert [a.version for a in api.artifacts("model", f"{seeded}/mnist-cnn")] == ["v2", "v1"]
    latest = api.artifact(f"{seeded}/mnist-cnn:latest")
    latest.delete(delete_aliases=True)
    assert api.artifact(f"{seeded}/mnist-cnn").version == "v1"
    entity, project = seeded.split("/")
    assert server.create_artifact(entity, project, "mnist-cnn", "model", {"n": b"new"}) == "v3"


# ---------------------------------------------------------------------- lineage


def test_lineage_logged_by_used_by_and_run_artifacts(api: Api, seeded: str) -> None:
    v0 = api.artifact(f"{seeded}/mnist-cnn:v0")
    creator = v0.logged_by()
    assert creator is not None and creator.id == "train"
    assert [r.id for r in v0.used_by()] == ["evaluate"]
    assert api.artifact(f"{seeded}/mnist-cnn:v2").logged_by() is None
    train = api.run(f"{seeded}/train")
    logged = train.logged_artifacts()
    assert [a.name for a in logged] == ["mnist-cnn:v0", "mnist-cnn:v1"]
    assert len(logged) == 2
    assert [a.name for a in api.run(f"{seeded}/evaluate").used_artifacts()] == ["mnist-cnn:v0"]


def test_use_artifact_records_an_input(api: Api, seeded: str) -> None:
    train = api.run(f"{seeded}/train")
    dataset = api.artifact(f"{seeded}/mnist:latest")
    used = train.use_artifact(dataset, use_as="training-data")
    assert used.id == dataset.id
    assert [a.name for a in train.used_artifacts()] == ["mnist:v0"]
    assert [r.id for r in dataset.used_by()] == ["train"]


def test_log_artifact_links_an_existing_version_as_output(
    api: Api, seeded: str, server: LocalWandbServer
) -> None:
    evaluate = api.run(f"{seeded}/evaluate")
    v2 = api.artifact(f"{seeded}/mnist-cnn:v2")
    linked = evaluate.log_artifact(v2, aliases=["reviewed"], tags=["ci"])
    assert linked.id == v2.id and linked.state == "COMMITTED"
    assert sorted(linked.aliases) == ["latest", "reviewed"] and linked.tags == ["ci"]
    assert [a.name for a in evaluate.logged_artifacts()] == ["mnist-cnn:v2"]
    assert server.request_log.count(operation="CreateArtifact") == 1
    assert len(api.artifacts("model", f"{seeded}/mnist-cnn")) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"aliases": "prod"}, "aliases must be a list of strings, not the string 'prod'"),
        ({"tags": "best"}, "tags must be a list of strings, not the string 'best'"),
        ({"tags": ["no/slash"]}, "invalid tag 'no/slash'"),
        ({"aliases": ["v7"]}, "reserved for versions"),
    ],
)
def test_log_artifact_of_an_existing_version_checks_aliases_and_tags_first(
    api: Api, seeded: str, server: LocalWandbServer, kwargs: dict[str, Any], match: str
) -> None:
    evaluate = api.run(f"{seeded}/evaluate")
    v2 = api.artifact(f"{seeded}/mnist-cnn:v2")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match=match):
        evaluate.log_artifact(v2, **kwargs)
    assert server.request_log.count() == 0
    assert sorted(api.artifact(f"{seeded}/mnist-cnn:v2").aliases) == ["latest"]


def test_log_artifact_into_another_project_is_refused(
    api: Api, seeded: str, server: LocalWandbServer, entity: str
) -> None:
    server.create_run(entity, "elsewhere-files-test", "r")
    other = api.run(f"{entity}/elsewhere-files-test/r")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="only to its own project"):
        other.log_artifact(api.artifact(f"{seeded}/mnist-cnn:v2"))
    assert server.request_log.count(operation="CreateArtifact") == 0


# ---------------------------------------------------------------------- the official SDK


@pytest.mark.oracle
def test_official_sdk_downloads_and_verifies_from_our_server(
    seeded: str, server: LocalWandbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WANDB_CACHE_DIR", "WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "sdk-artifacts"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    import wandb

    official: Any = wandb.Api(
        api_key=server.api_key, overrides={"base_url": server.url}, timeout=30
    )
    artifact = official.artifact(f"{seeded}/mnist-cnn:production")
    assert (artifact.version, artifact.type, artifact.aliases) == ("v0", "model", ["production"])
    root = artifact.download(root=str(tmp_path / "sdk"))
    artifact.verify(root)
    for path, data in V0.items():
        assert (Path(root) / path).read_bytes() == data
    assert [a.version for a in official.artifacts("model", f"{seeded}/mnist-cnn")] == [
        "v2",
        "v1",
        "v0",
    ]
    entity, project = seeded.split("/")
    server.put_run_file(entity, project, "train", "logs/out.txt", b"hello from the run")
    run = official.run(f"{seeded}/train")
    assert [(f.name, f.size) for f in run.files()] == [("logs/out.txt", 18)]
    handle = run.file("logs/out.txt").download(root=str(tmp_path / "run-files"), replace=True)
    with handle:
        assert handle.read() == "hello from the run"
    (tmp_path / "notes.md").write_text("uploaded by the SDK")
    run.upload_file(str(tmp_path / "notes.md"), root=str(tmp_path))
    assert server.request_log.count(operation="MarkRunFilesUploaded") == 1
    ours = Api(api_key=server.api_key, overrides={"base_url": server.url})
    with ours.run(f"{seeded}/train").file("notes.md").download(root=str(tmp_path / "ours")) as f:
        assert f.read() == "uploaded by the SDK"
