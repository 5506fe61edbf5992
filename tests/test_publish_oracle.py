"""The official SDK (wandb==0.31.0) as the judge of what we publish: it downloads and verifies our
versions, and its own drafts of the same files have the same manifest entries and digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import pytest
import requests
from s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.oracle

TREE = {
    "model.json": b'{"layers": 3}',
    "weights/w.bin": bytes(range(256)) * 4096,
    "weights/same.bin": bytes(range(256)) * 4096,
    "eval/metrics.json": b'{"acc": 0.9}',
}


@pytest.fixture
def wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `wandb` module with every directory under tmp_path, silent, reporting nothing."""
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "sdk-artifacts"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))
    import wandb as sdk

    return sdk


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """`model/` (the TREE) and `outside/ref.csv` (a file referenced, not uploaded)."""
    for name, data in TREE.items():
        path = tmp_path / "model" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "ref.csv").write_bytes(b"id,label\n1,cat\n")
    return tmp_path


def fill(draft: Any, sources: Path, unchecked_reference: bool = True) -> None:
    """The same additions, for our draft and the SDK's. (The SDK cannot download the
    `checksum=False` file reference, even from its own artifacts: it compares the file's md5
    with a digest that is the md5 of the path.)"""
    draft.add_dir(str(sources / "model"))
    draft.add_file(str(sources / "model" / "model.json"), name="copies/model.json")
    draft.add_reference(f"file://{sources}/outside/ref.csv", name="refs/ref.csv")
    if unchecked_reference:
        uri = f"file://{sources}/outside/ref.csv"
        draft.add_reference(uri, name="refs/fast.csv", checksum=False)
    with draft.new_file("notes.md") as handle:
        handle.write("trained on cats\n")


def test_official_sdk_downloads_and_verifies_what_we_published(
    wandb: Any,
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    sources: Path,
    tmp_path: Path,
) -> None:
    draft = Artifact("oracle-model", "model", description="ours", metadata={"acc": 0.9})
    fill(draft, sources, unchecked_reference=False)
    published = api.log_artifact(draft, project=project, aliases=["candidate"])

    official = wandb.Api(api_key=server.api_key, overrides={"base_url": server.url}, timeout=30)
    artifact = official.artifact(f"{entity}/{project}/oracle-model:latest")
    assert (artifact.version, artifact.type, artifact.digest) == ("v0", "model", published.digest)
    assert sorted(artifact.aliases) == ["candidate", "latest"]
    assert (artifact.description, artifact.metadata) == ("ours", {"acc": 0.9})
    assert artifact.file_count == published.file_count == 7
    root = Path(artifact.download(root=str(tmp_path / "sdk")))
    artifact.verify(str(root))
    got = {
        str(p.relative_to(root)).replace("\\", "/"): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }
    assert got == {
        **TREE,
        "copies/model.json": TREE["model.json"],
        "refs/ref.csv": b"id,label\n1,cat\n",
        "notes.md": b"trained on cats\n",
    }


def test_our_manifest_and_digest_are_the_sdks(
    wandb: Any, api: Api, entity: str, project: str, sources: Path
) -> None:
    ours = Artifact("same-bytes", "dataset")
    fill(ours, sources)
    theirs = wandb.Artifact("same-bytes", "dataset")
    fill(theirs, sources)
    sdk_manifest = theirs.manifest.to_manifest_json()
    assert ours.digest == theirs.manifest.digest() == theirs.digest

    def shape(contents: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        return {
            path: (item["digest"], item.get("size"), item.get("ref"))
            for path, item in contents.items()
        }

    draft_contents = {p: e.to_json() for p, e in ours.manifest.entries.items()}
    assert shape(draft_contents) == shape(sdk_manifest["contents"])

    published = api.log_artifact(ours, project=project)
    url = api.transport.graphql(
        "query FetchArtifactManifest($id: ID!) "
        "{ artifact(id: $id) { currentManifest { file { directUrl } } } }",
        {"id": published.id},
    )["artifact"]["currentManifest"]["file"]["directUrl"]
    stored = requests.get(url, timeout=10).json()
    assert stored["version"] == 1 and stored["storagePolicy"] == sdk_manifest["storagePolicy"]
    assert shape(stored["contents"]) == shape(sdk_manifest["contents"])
    born = {p for p, item in stored["contents"].items() if item.get("birthArtifactID")}
    assert born == {p for p, item in stored["contents"].items() if "ref" not in item}
    assert json.dumps(stored["storagePolicyConfig"]) == '{"storageLayout": "V2"}'


def test_s3_reference_digests_are_the_sdks(
    wandb: Any,
    s3_bucket: str,  # noqa: F811
    moto_endpoint: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    fs = fsspec.filesystem("s3")
    for key, data in {"p/a.bin": b"a" * 300, "p/q/b.bin": b"b" * 70, "one.txt": b"1"}.items():
        fs.pipe(f"{s3_bucket}/{key}", data)
    ours = Artifact("lake", "dataset")
    theirs = wandb.Artifact("lake", "dataset")
    for draft in (ours, theirs):
        draft.add_reference(f"{s3_bucket}/one.txt")
        draft.add_reference(f"{s3_bucket}/p", name="prefix")
    sdk_contents = theirs.manifest.to_manifest_json()["contents"]
    assert {p: (e.digest, e.size, e.ref) for p, e in ours.manifest.entries.items()} == {
        p: (item["digest"], item.get("size"), item.get("ref")) for p, item in sdk_contents.items()
    }
    assert ours.digest == theirs.manifest.digest()
    assert {p: e.extra.get("etag") for p, e in ours.manifest.entries.items()} == {
        p: item.get("extra", {}).get("etag") for p, item in sdk_contents.items()
    }
