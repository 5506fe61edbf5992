"""Run files and artifacts: listings, bytes, versions, aliases, types, collections, downloads and
lineage, read by our client and the SDK alike.

Already covered elsewhere (not repeated): `tests/test_artifacts.py::
test_official_sdk_downloads_and_verifies_from_our_server` (the SDK downloads and verifies one
aliased version, lists versions, lists and downloads one run file, and uploads a run file that our
client reads back).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

ENTITY = "oracle-files"
PROJECT = "oracle-files"
PATH = f"{ENTITY}/{PROJECT}"

RUN_FILES = {
    "config.yaml": b"lr:\n  value: 0.1\n",
    "logs/out.txt": b"line one\nline two\n",
    "media/images/pic.png": bytes(range(256)) * 8,
    "model.bin": os.urandom(300_000),
    "nested/deep/table.json": b'{"columns": ["a"], "data": [[1]]}',
    "notes.md": b"# notes\n",
}
WEIGHTS = [
    {"model.json": b'{"layers": 2}', "weights/w.bin": b"\x00\x01" * 4000},
    {"model.json": b'{"layers": 3}', "weights/w.bin": b"\x02" * 9000, "README.md": b"v1"},
    {"model.json": b'{"layers": 4}'},
]
CORPUS = {"train.csv": b"x,y\n1,2\n3,4\n", "test.csv": b"x,y\n5,6\n"}


@pytest.fixture(scope="module")
def seeded(session_server: LocalWandbServer) -> str:
    server = session_server
    server.create_run(ENTITY, PROJECT, "producer", files=RUN_FILES)
    server.create_run(ENTITY, PROJECT, "consumer")
    server.create_run(ENTITY, PROJECT, "bystander")
    server.create_artifact(
        ENTITY,
        PROJECT,
        "weights",
        "model",
        WEIGHTS[0],
        aliases=["production"],
        metadata={"acc": 0.91, "nested": {"k": [1, 2]}},
        description="first weights",
        created_by="producer",
        used_by=["consumer"],
    )
    server.create_artifact(
        ENTITY, PROJECT, "weights", "model", WEIGHTS[1], aliases=["best"], created_by="producer"
    )
    server.create_artifact(ENTITY, PROJECT, "weights", "model", WEIGHTS[2])
    server.create_artifact(
        ENTITY, PROJECT, "corpus", "dataset", CORPUS, created_by="producer", used_by=["consumer"]
    )
    return PATH


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))


# ---------------------------------------------------------------------------- run files
def _file_fields(file: Any) -> dict[str, Any]:
    return {
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "md5": file.md5,
        "mimetype": file.mimetype,
        "url": file.url,
        "direct_url": _signed_url_shape(file.direct_url),
        "updated_at": file.updated_at,
    }


def _signed_url_shape(url: str | None) -> tuple[str, list[str]] | None:
    """A signed URL without its values: the address and the names of its query parameters.
    Each query signs a fresh expiry (now + TTL), so two queries a second apart differ there."""
    if url is None:
        return None
    parts = urlsplit(url)
    return parts._replace(query="").geturl(), sorted(parse_qs(parts.query))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"per_page": 2},
        {"names": ["notes.md", "model.bin", "absent.txt"]},
        {"pattern": "%.json"},
        {"pattern": "media/%"},
    ],
)
def test_run_file_listings_agree(
    ours: Api, official: Any, seeded: str, kwargs: dict[str, Any]
) -> None:
    mine = [_file_fields(f) for f in ours.run(f"{seeded}/producer").files(**kwargs)]
    theirs = [_file_fields(f) for f in official.run(f"{seeded}/producer").files(**kwargs)]
    assert mine == theirs
    assert mine, "the listing should not be empty"


def test_run_file_count_agrees(ours: Api, official: Any, seeded: str) -> None:
    assert len(ours.run(f"{seeded}/producer").files()) == len(
        official.run(f"{seeded}/producer").files()
    )


def test_run_file_bytes_agree(ours: Api, official: Any, seeded: str, tmp_path: Path) -> None:
    for name, data in RUN_FILES.items():
        with ours.run(f"{seeded}/producer").file(name).download(root=str(tmp_path / "ours")) as h:
            mine = h.name
        theirs = official.run(f"{seeded}/producer").file(name)
        with theirs.download(root=str(tmp_path / "sdk")) as handle:
            sdk_path = handle.name
        assert _file_fields(ours.run(f"{seeded}/producer").file(name)) == _file_fields(theirs)
        assert Path(mine).read_bytes() == data
        assert Path(sdk_path).read_bytes() == data


# ---------------------------------------------------------------------------- artifacts
def _artifact_fields(artifact: Any) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "entity": artifact.entity,
        "project": artifact.project,
        "name": artifact.name,
        "qualified_name": artifact.qualified_name,
        "source_name": artifact.source_name,
        "version": artifact.version,
        "type": artifact.type,
        "aliases": sorted(artifact.aliases),
        "tags": artifact.tags,
        "description": artifact.description,
        "metadata": dict(artifact.metadata),
        "digest": artifact.digest,
        "size": artifact.size,
        "file_count": artifact.file_count,
        "state": artifact.state,
        "created_at": artifact.created_at,
        "updated_at": artifact.updated_at,
        "commit_hash": artifact.commit_hash,
        "url": artifact.url,
    }


def _manifest(artifact: Any) -> dict[str, tuple[str, int]]:
    return {path: (e.digest, e.size) for path, e in artifact.manifest.entries.items()}


@pytest.mark.parametrize(
    "name",
    [
        "weights:v0",
        "weights:v1",
        "weights:v2",
        "weights:latest",
        "weights:production",
        "weights:best",
        "weights",
        "corpus:latest",
    ],
)
def test_artifact_by_version_and_alias_agrees(
    ours: Api, official: Any, seeded: str, name: str
) -> None:
    mine = ours.artifact(f"{seeded}/{name}")
    theirs = official.artifact(f"{seeded}/{name}")
    assert _artifact_fields(mine) == _artifact_fields(theirs)
    assert _manifest(mine) == _manifest(theirs)
    by_id = official.artifact(f"{seeded}/{name}")
    assert by_id.id == mine.id


def test_artifact_files_agree(ours: Api, official: Any, seeded: str) -> None:
    # Direct URLs are presigned per answer (their expiry differs by the second): compare the
    # storage paths they sign.
    for name in ("weights:v1", "corpus:latest"):
        mine = [
            (f.name, f.size, f.md5, f.direct_url.split("?")[0])
            for f in ours.artifact(f"{seeded}/{name}").files(per_page=2)
        ]
        theirs = [
            (f.name, f.size, f.md5, f.direct_url.split("?")[0])
            for f in official.artifact(f"{seeded}/{name}").files(per_page=2)
        ]
        assert mine == theirs and len(mine) >= 2


def test_versions_agree(ours: Api, official: Any, seeded: str) -> None:
    for per_page in (1, 50):
        mine = list(ours.artifacts("model", f"{seeded}/weights", per_page=per_page))
        theirs = list(official.artifacts("model", f"{seeded}/weights", per_page=per_page))
        assert [_artifact_fields(a) for a in mine] == [_artifact_fields(a) for a in theirs]
    assert len(ours.artifacts("model", f"{seeded}/weights")) == len(
        official.artifacts("model", f"{seeded}/weights")
    )


def test_types_agree(ours: Api, official: Any, seeded: str) -> None:
    fields = ("id", "name", "type")
    mine = [tuple(getattr(t, f) for f in fields) for t in ours.artifact_types(seeded)]
    theirs = [tuple(getattr(t, f) for f in fields) for t in official.artifact_types(seeded)]
    assert mine == theirs and len(mine) == 2
    for type_name in ("model", "dataset"):
        mine_type = ours.artifact_type(type_name, seeded)
        theirs_type = official.artifact_type(type_name, seeded)
        assert (mine_type.id, mine_type.name) == (theirs_type.id, theirs_type.name)
        assert [c.name for c in mine_type.collections()] == [
            c.name for c in theirs_type.collections()
        ]


def _collection_fields(collection: Any) -> dict[str, Any]:
    return {
        "id": collection.id,
        "name": collection.name,
        "type": collection.type,
        "entity": collection.entity,
        "project": collection.project,
        "description": collection.description,
        "created_at": collection.created_at,
        "aliases": sorted(collection.aliases),
        "is_sequence": collection.is_sequence(),
    }


def test_collections_agree(ours: Api, official: Any, seeded: str) -> None:
    for type_name in ("model", "dataset"):
        mine = [_collection_fields(c) for c in ours.artifact_collections(seeded, type_name)]
        theirs = [_collection_fields(c) for c in official.artifact_collections(seeded, type_name)]
        assert mine == theirs and len(mine) == 1
    mine_one = ours.artifact_collection("model", f"{seeded}/weights")
    theirs_one = official.artifact_collection("model", f"{seeded}/weights")
    assert _collection_fields(mine_one) == _collection_fields(theirs_one)
    assert [a.version for a in mine_one.artifacts()] == [a.version for a in theirs_one.artifacts()]


@pytest.mark.parametrize("name", ["weights:production", "weights:v1", "corpus:latest"])
def test_download_and_verify_agree(
    ours: Api, official: Any, seeded: str, name: str, tmp_path: Path
) -> None:
    mine = ours.artifact(f"{seeded}/{name}")
    theirs = official.artifact(f"{seeded}/{name}")
    mine_root = Path(mine.download(root=str(tmp_path / "ours")))
    theirs_root = Path(theirs.download(root=str(tmp_path / "sdk")))
    mine.verify(str(mine_root))
    theirs.verify(str(theirs_root))
    mine.verify(str(theirs_root))
    theirs.verify(str(mine_root))
    files = sorted(str(p.relative_to(mine_root)) for p in mine_root.rglob("*") if p.is_file())
    assert files == sorted(
        str(p.relative_to(theirs_root)) for p in theirs_root.rglob("*") if p.is_file()
    )
    for relative in files:
        assert (mine_root / relative).read_bytes() == (theirs_root / relative).read_bytes()


# ---------------------------------------------------------------------------- lineage
def _lineage(client: Any, path: str) -> dict[str, Any]:
    producer = client.run(f"{path}/producer")
    consumer = client.run(f"{path}/consumer")
    bystander = client.run(f"{path}/bystander")
    v0 = client.artifact(f"{path}/weights:v0")
    corpus = client.artifact(f"{path}/corpus:latest")
    return {
        "producer_logged": [a.name for a in producer.logged_artifacts()],
        "producer_used": [a.name for a in producer.used_artifacts()],
        "consumer_used": [a.name for a in consumer.used_artifacts()],
        "consumer_logged": [a.name for a in consumer.logged_artifacts()],
        "bystander_used": [a.name for a in bystander.used_artifacts()],
        "bystander_logged": [a.name for a in bystander.logged_artifacts()],
        "v0_logged_by": v0.logged_by().id,
        "v0_used_by": [r.id for r in v0.used_by()],
        "corpus_used_by": [r.id for r in corpus.used_by()],
        "v2_logged_by": client.artifact(f"{path}/weights:v2").logged_by(),
    }


def test_lineage_agrees_and_follows_writes_from_either_client(
    ours: Api, official: Any, seeded: str
) -> None:
    before = _lineage(ours, seeded)
    assert before == _lineage(official, seeded)
    assert before["producer_logged"] == ["weights:v0", "weights:v1", "corpus:v0"]
    assert before["v0_used_by"] == ["consumer"] and before["v2_logged_by"] is None

    ours.run(f"{seeded}/bystander").use_artifact(ours.artifact(f"{seeded}/weights:v1"))
    official.run(f"{seeded}/bystander").use_artifact(official.artifact(f"{seeded}/corpus:v0"))
    ours.run(f"{seeded}/consumer").log_artifact(
        ours.artifact(f"{seeded}/weights:v2"), aliases=["from-ours"]
    )
    official.run(f"{seeded}/bystander").log_artifact(
        official.artifact(f"{seeded}/corpus:v0"), aliases=["from-sdk"]
    )

    after = _lineage(ours, seeded)
    assert after == _lineage(official, seeded)
    assert after["bystander_used"] == ["weights:v1", "corpus:v0"]
    assert after["consumer_logged"] == ["weights:v2"]
    assert after["bystander_logged"] == ["corpus:v0"]
    assert "from-ours" in official.artifact(f"{seeded}/weights:v2").aliases
    assert "from-sdk" in ours.artifact(f"{seeded}/corpus:v0").aliases
