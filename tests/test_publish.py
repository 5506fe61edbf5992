"""Publishing new artifact versions from local files with no run process: drafts, the save
pipeline against the local server, digest dedup, all-or-nothing under faults, and bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact, RetryPolicy, Transport
from prefect_wandb_public.api.publish import BUFFERED_UPLOAD_LIMIT
from prefect_wandb_public.errors import (
    ArtifactFinalizedError,
    ArtifactNotLoggedError,
    ChecksumError,
    CommError,
    InvalidInputError,
    NotFoundError,
    ServerError,
)
from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.artifact_store import artifact_digest

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

BLOBS = "/storage/blobs/"
MANIFESTS = "/storage/manifests/"


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def files() -> dict[str, bytes]:
    """Four files, two with the same bytes, unique to the test (the server is shared)."""
    weights = os.urandom(70_000)
    return {
        "model.json": json.dumps({"layers": 3, "salt": os.urandom(8).hex()}).encode(),
        "weights/w.bin": weights,
        "weights/copy.bin": weights,  # the same bytes twice: uploaded once
        "eval/metrics.json": json.dumps({"acc": 0.9, "salt": os.urandom(8).hex()}).encode(),
    }


@pytest.fixture
def tree(tmp_path: Path, files: dict[str, bytes]) -> Path:
    return write_tree(tmp_path / "model", files)


def operations(server: LocalWandbServer) -> list[str]:
    """The request log as `METHOD path-or-operation`, file paths shortened to their prefix."""
    out = []
    for record in server.request_log.records:
        if record.path == "/graphql":
            out.append(f"POST {record.operation}")
        else:
            prefix = BLOBS if record.path.startswith(BLOBS) else MANIFESTS
            out.append(f"{record.method} {prefix}")
    return out


def blob_puts(server: LocalWandbServer, status: int | None = 200) -> int:
    return server.request_log.count(path=BLOBS, method="PUT", status=status)


# ---------------------------------------------------------------------- drafts


def test_a_draft_has_entries_and_a_digest_but_no_id_or_version(
    tree: Path, files: dict[str, bytes]
) -> None:
    draft = Artifact("mnist-cnn", "model", description="a CNN", metadata={"acc": 0.9})
    assert draft.is_draft() and draft.state == "PENDING"
    assert (draft.name, draft.type, draft.description) == ("mnist-cnn", "model", "a CNN")
    assert draft.metadata == {"acc": 0.9}
    entry = draft.add_file(tree / "model.json")
    assert (entry.path, entry.digest, entry.size) == (
        "model.json",
        b64md5(files["model.json"]),
        len(files["model.json"]),
    )
    draft.add_dir(tree / "weights", name="weights")
    draft.add_file(tree / "eval" / "metrics.json", name="eval/metrics.json")
    assert sorted(draft.manifest.entries) == sorted(files)
    assert draft.digest == artifact_digest({name: b64md5(data) for name, data in files.items()})
    assert draft.file_count == 4 and draft.size == sum(len(d) for d in files.values())
    assert "draft" in repr(draft)
    for attribute in ("id", "version", "entity", "project", "qualified_name", "url", "client"):
        with pytest.raises(ArtifactNotLoggedError, match="is a draft"):
            getattr(draft, attribute)
    with pytest.raises(ArtifactNotLoggedError, match=r"download\(\)"):
        draft.download()
    with pytest.raises(ArtifactNotLoggedError):
        draft.verify(str(tree))
    with pytest.raises(ArtifactNotLoggedError):
        draft.files()
    with pytest.raises(ArtifactNotLoggedError):
        draft.save()


def test_add_file_names_duplicates_and_overwrite(
    tree: Path, tmp_path: Path, files: dict[str, bytes]
) -> None:
    draft = Artifact("data", "dataset")
    draft.add_file(tree / "model.json", name="config/model.json")
    draft.add_file(tree / "model.json", name="config/model.json")  # same content: fine
    other = tmp_path / "other.json"
    other.write_bytes(b"{}")
    with pytest.raises(InvalidInputError, match="already has a different file"):
        draft.add_file(other, name="config/model.json")
    draft.add_file(other, name="config/model.json", overwrite=True)
    assert draft.manifest.entries["config/model.json"].digest == b64md5(b"{}")
    draft.add_dir(tree, name="all")
    assert {p for p in draft.manifest.entries if p.startswith("all/")} == {
        f"all/{name}" for name in files
    }


def test_new_file_writes_in_a_scratch_dir_the_draft_owns() -> None:
    draft = Artifact("notes", "dataset")
    with draft.new_file("docs/readme.md") as handle:
        handle.write("# hello\n")
    with draft.new_file("raw.bin", mode="wb") as handle:
        handle.write(b"\x00\x01")
    entries = draft.manifest.entries
    assert entries["docs/readme.md"].digest == b64md5(b"# hello\n")
    assert entries["raw.bin"].size == 2
    local = entries["raw.bin"].local_path
    assert local is not None and os.path.isfile(local)
    with pytest.raises(RuntimeError), draft.new_file("broken.txt") as handle:
        handle.write("half")
        raise RuntimeError("the writer failed")
    assert "broken.txt" not in draft.manifest.entries
    with pytest.raises(InvalidInputError, match="already has a file"):
        draft.new_file("raw.bin").__enter__()
    with pytest.raises(InvalidInputError, match="write mode"):
        draft.new_file("x.txt", mode="r").__enter__()
    scratch = os.path.dirname(os.path.dirname(local))
    del draft, entries
    import gc

    gc.collect()
    assert not os.path.exists(scratch)


# ---------------------------------------------------------------------- publishing


def test_api_log_artifact_runs_the_save_pipeline(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tree: Path,
    tmp_path: Path,
    files: dict[str, bytes],
) -> None:
    draft = Artifact("mnist-cnn", "model", description="first", metadata={"acc": 0.9})
    draft.add_dir(tree)
    published = api.log_artifact(draft, project=project, aliases=["candidate"])
    assert not published.is_draft() and published.state == "COMMITTED"
    assert published.qualified_name == f"{entity}/{project}/mnist-cnn:v0"
    assert sorted(published.aliases) == ["candidate", "latest"]
    assert (published.digest, published.file_count) == (draft.digest, 4)
    assert published.size == sum(len(d) for d in files.values())
    assert (published.description, published.metadata) == ("first", {"acc": 0.9})
    assert draft.is_draft()  # the draft stays a draft
    sent = operations(server)
    assert sent[:6] == [
        "POST GetViewer",  # the default entity
        "POST UpsertModel",
        "POST CreateArtifact",
        "POST CreateAutoRun",  # the manifest names a run; a publish without one gets its own
        "POST CreateArtifactManifest",
        "POST CreateArtifactFiles",
    ]
    # The files (four, three distinct contents) and the manifest's bytes go up in parallel.
    assert sorted(sent[6:-1]) == sorted(["PUT " + BLOBS] * 3 + ["PUT " + MANIFESTS])
    assert sent[-1] == "POST CommitArtifact"
    [auto_run] = server.store.require_project(entity, project).runs.values()
    assert auto_run.job_type == "auto" and auto_run.state == "finished"
    fetched = api.artifact(f"{entity}/{project}/mnist-cnn:candidate")
    assert fetched.id == published.id and fetched.source_name == "mnist-cnn:v0"
    root = fetched.download(str(tmp_path / "down"))
    fetched.verify(root)
    assert {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in Path(root).rglob("*")
        if p.is_file()
    } == files
    manifest = fetched.manifest.entries
    assert {p: (e.digest, e.size) for p, e in manifest.items()} == {
        p: (b64md5(d), len(d)) for p, d in files.items()
    }
    assert {e.birth_artifact_id for e in manifest.values()} == {published.id}
    assert [a.name for a in api.artifacts("model", f"{entity}/{project}/mnist-cnn")] == [
        "mnist-cnn:v0"
    ]


def test_new_versions_are_numbered_and_latest_moves(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    versions = []
    for index in range(3):
        draft = Artifact("weights", "model")
        with draft.new_file("w.txt") as handle:
            handle.write(f"weights {index}")
        versions.append(api.log_artifact(draft, project=f"{entity}/{project}", aliases=["best"]))
    assert [v.version for v in versions] == ["v0", "v1", "v2"]
    latest = api.artifact(f"{entity}/{project}/weights:latest")
    assert latest.id == versions[2].id and sorted(latest.aliases) == ["best", "latest"]
    assert api.artifact(f"{entity}/{project}/weights:v0").aliases == []
    versions[2].delete(delete_aliases=True)
    draft = Artifact("weights", "model")
    draft.add_file(write_tree(tmp_path / "w", {"w.txt": b"weights 3"}) / "w.txt")
    assert api.log_artifact(draft, project=project).version == "v3"  # numbers are not reused


def test_identical_content_returns_the_committed_version_and_uploads_nothing(
    api: Api, server: LocalWandbServer, entity: str, project: str, tree: Path
) -> None:
    first = Artifact("data", "dataset")
    first.add_dir(tree)
    v0 = api.log_artifact(first, project=project)
    other = Artifact("data", "dataset")
    other.add_file(tree / "model.json")
    api.log_artifact(other, project=project)
    server.request_log.clear()
    again = Artifact("data", "dataset")
    again.add_dir(tree)
    same = api.log_artifact(again, project=project, aliases=["rerun"])
    assert (same.id, same.version) == (v0.id, "v0")
    assert sorted(same.aliases) == ["latest", "rerun"]
    assert operations(server) == ["POST UpsertModel", "POST CreateArtifact"]
    assert blob_puts(server, status=None) == 0


def test_run_log_artifact_records_lineage(
    api: Api, server: LocalWandbServer, entity: str, project: str, tree: Path
) -> None:
    server.create_run(entity, project, "train")
    server.create_run(entity, project, "evaluate")
    train = api.run(f"{entity}/{project}/train")
    draft = Artifact("mnist-cnn", "model")
    draft.add_dir(tree)
    published = train.log_artifact(draft, aliases=["candidate"], tags=["ci"])
    assert published.version == "v0" and published.tags == ["ci"]
    assert [a.name for a in train.logged_artifacts()] == ["mnist-cnn:v0"]
    assert server.request_log.count(operation="UpsertModel") == 0  # the run's project exists
    creator = published.logged_by()
    assert creator is not None and creator.id == "train"
    evaluate = api.run(f"{entity}/{project}/evaluate")
    with pytest.raises(ArtifactNotLoggedError):
        evaluate.use_artifact(draft)
    evaluate.use_artifact(api.artifact(f"{entity}/{project}/mnist-cnn:candidate"))
    assert [r.id for r in published.used_by()] == ["evaluate"]
    # The committed path still links an existing version.
    linked = evaluate.log_artifact(published, aliases=["reviewed"])
    assert linked.id == published.id and "reviewed" in linked.aliases


def test_a_committed_version_is_immutable(api: Api, project: str, tree: Path) -> None:
    draft = Artifact("frozen", "model")
    draft.add_file(tree / "model.json")
    published = api.log_artifact(draft, project=project)
    with pytest.raises(ArtifactFinalizedError, match="immutable"):
        published.add_file(tree / "model.json")
    with pytest.raises(InvalidInputError, match="only a draft"):
        api.log_artifact(published, project=project)


def test_api_log_artifact_creates_the_project_and_uses_the_defaults(
    server: LocalWandbServer, entity: str, project: str, tree: Path
) -> None:
    client = Api(
        api_key=server.api_key, overrides={"base_url": server.url, "project": project + "-d"}
    )
    draft = Artifact("d", "dataset")
    draft.add_file(tree / "model.json")
    published = client.log_artifact(draft)
    assert published.qualified_name == f"{entity}/{project}-d/d:v0"
    client.close()


def test_parallel_identical_publishes_agree_on_one_version(
    api: Api, server: LocalWandbServer, project: str, tmp_path: Path
) -> None:
    files = {f"part-{i}.bin": os.urandom(50_000) for i in range(12)}
    root = write_tree(tmp_path / "same", files)
    results: list[Any] = []

    def publish() -> None:
        draft = Artifact("shared", "dataset")
        draft.add_dir(root)
        results.append(api.log_artifact(draft, project=project))

    threads = [threading.Thread(target=publish) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len({r.id for r in results}) == 1
    assert {r.version for r in results} == {"v0"}


# ---------------------------------------------------------------------- all-or-nothing


def test_a_failed_upload_commits_nothing_and_a_rerun_resumes(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    files = {f"shard-{i}.bin": os.urandom(20_000) for i in range(5)}
    root = write_tree(tmp_path / "shards", files)
    doomed = hashlib.md5(files["shard-3.bin"]).hexdigest()
    server.inject_fault(BLOBS + doomed, method="PUT", status=500, times=100)
    draft = Artifact("shards", "dataset")
    draft.add_dir(root)
    with pytest.raises(ServerError, match=r"shard-3\.bin.*gave up after 4 attempts"):
        api.log_artifact(draft, project=project)
    assert server.request_log.count(path=BLOBS + doomed, method="PUT") == 4  # the retry budget
    with pytest.raises(NotFoundError):
        api.artifact(f"{entity}/{project}/shards:latest")
    assert server.request_log.count(operation="CommitArtifact") == 0
    pending = server.store.projects[(entity, project)].collections["shards"].pending
    assert [a.state for a in pending.values()] == ["PENDING"]
    pending_id = next(iter(pending.values())).id
    assert len(api.artifact_collections(project, "dataset")) == 0  # not listed yet

    server.faults.clear()
    server.request_log.clear()
    published = api.log_artifact(draft, project=project)
    assert (published.version, published.id) == ("v0", pending_id)  # the same version resumed
    assert pending == {}
    assert blob_puts(server) == 1  # only the file that never arrived
    assert server.request_log.count(path=BLOBS + doomed, method="PUT", status=200) == 1
    assert api.artifact(f"{entity}/{project}/shards:latest").id == published.id


def test_a_lost_put_response_is_retried_and_a_rerun_uploads_nothing(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    big = os.urandom(BUFFERED_UPLOAD_LIMIT + 100_000)  # streamed from disk, retried by reopening
    root = write_tree(tmp_path / "big", {"big.bin": big, "small.txt": b"small"})
    path = BLOBS + hashlib.md5(big).hexdigest()
    server.inject_fault(path, method="PUT", kind="reset", times=2)
    draft = Artifact("big", "model")
    draft.add_dir(root)
    published = api.log_artifact(draft, project=project)
    assert server.request_log.count(path=path, method="PUT") == 3
    assert server.store.blobs[b64md5(big)] == big
    assert published.size == len(big) + 5

    server.inject_fault(path, method="PUT", kind="reset", times=100)
    again = Artifact("big", "model")
    again.add_dir(root)
    server.request_log.clear()
    assert api.log_artifact(again, project=project).id == published.id
    assert blob_puts(server, status=None) == 0


def test_upload_retries_wait_through_the_transports_policy_and_sleep(
    api: Api, server: LocalWandbServer, project: str, tmp_path: Path
) -> None:
    big = os.urandom(BUFFERED_UPLOAD_LIMIT + 1000)  # streamed: retried by reopening the file
    small = os.urandom(1000)  # one buffer: retried by the transport itself
    root = write_tree(tmp_path / "both", {"big.bin": big, "small.bin": small})
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, initial_backoff=0.125, max_backoff=0.125, jitter=0.0)
    api.transport = Transport(server.url, server.api_key, retry=policy, sleep=sleeps.append)
    big_path, small_path = (BLOBS + hashlib.md5(data).hexdigest() for data in (big, small))
    server.inject_fault(big_path, method="PUT", kind="reset", times=2)
    server.inject_fault(small_path, method="PUT", status=503, times=1)
    draft = Artifact("waits", "model")
    draft.add_dir(root)
    api.log_artifact(draft, project=project)
    assert sleeps == [0.125] * 3  # every wait went through the seam, none really slept
    assert server.request_log.count(path=big_path, method="PUT") == 3
    assert server.request_log.count(path=small_path, method="PUT") == 2


def test_a_failed_commit_leaves_the_version_pending_until_a_rerun(
    api: Api, server: LocalWandbServer, entity: str, project: str, tree: Path
) -> None:
    server.inject_fault(operation="CommitArtifact", status=500, times=100)
    draft = Artifact("late", "model")
    draft.add_dir(tree)
    with pytest.raises(ServerError):
        api.log_artifact(draft, project=project)
    assert not api.artifact_exists(f"{entity}/{project}/late:latest")
    server.faults.clear()
    server.request_log.clear()
    assert api.log_artifact(draft, project=project).version == "v0"
    assert blob_puts(server, status=None) == 0  # every file had arrived the first time
    assert server.request_log.count(path=MANIFESTS, method="PUT") == 1


def test_a_file_changed_after_it_was_added_is_refused(
    api: Api, server: LocalWandbServer, project: str, tmp_path: Path
) -> None:
    salt = os.urandom(8)
    root = write_tree(tmp_path / "c", {"a.txt": b"aaaa" + salt, "b.txt": b"bbbb" + salt})
    draft = Artifact("changing", "dataset")
    draft.add_dir(root, policy="immutable")  # uploads the files themselves, not copies
    (root / "a.txt").write_bytes(b"AAAA" + salt)  # same size: caught by Content-MD5 at upload
    with pytest.raises(ChecksumError, match=r"a\.txt.* changed since it was added"):
        api.log_artifact(draft, project=project)
    assert server.request_log.count(path=BLOBS, method="PUT", status=400) == 1
    (root / "b.txt").write_bytes(b"longer now")  # different size: caught before any request
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match=r"b\.txt.* changed since it was added"):
        api.log_artifact(draft, project=project)
    assert server.request_log.records == []


# ---------------------------------------------------------------------- the server's side


def test_pending_versions_are_invisible(api: Api, server: LocalWandbServer, project: str) -> None:
    server.create_artifact(server.store.viewer.entity, project, "seen", "model", {"a": b"a"})
    entity = server.store.viewer.entity
    created = api.transport.graphql(
        """
        mutation CreateArtifact($input: CreateArtifactInput!) {
          createArtifact(input: $input) { artifact { id state versionIndex aliases { alias } } }
        }""",
        {
            "input": {
                "artifactTypeName": "model",
                "artifactCollectionName": "seen",
                "entityName": entity,
                "projectName": project,
                "digest": "0" * 32,
                "aliases": [{"artifactCollectionName": "seen", "alias": "latest"}],
            }
        },
    )["createArtifact"]["artifact"]
    assert (created["state"], created["versionIndex"], created["aliases"]) == ("PENDING", None, [])
    assert [a.version for a in api.artifacts("model", f"{entity}/{project}/seen")] == ["v0"]
    everything = api.artifacts("model", f"{entity}/{project}/seen", filters={})
    assert [a.version for a in everything] == ["v0"]
    assert api.artifact(f"{entity}/{project}/seen:latest").version == "v0"
    with pytest.raises(CommError, match="manifest was not uploaded"):
        api.transport.graphql(
            "mutation CommitArtifact($id: ID!) { commitArtifact(input: {artifactID: $id}) "
            "{ artifact { id } } }",
            {"id": created["id"]},
        )


def test_storage_put_checks_content_md5(server: LocalWandbServer) -> None:
    data = b"some bytes " + os.urandom(8)
    url = server.urls.blob(b64md5(data), method="PUT")
    wrong = requests.put(url, data=data, headers={"Content-MD5": b64md5(b"other")}, timeout=10)
    assert wrong.status_code == 400 and "Content-MD5 mismatch" in wrong.text
    zeros = base64.b64encode(bytes(16)).decode()
    mismatch = requests.put(server.urls.blob(zeros, method="PUT"), data=data, timeout=10)
    assert mismatch.status_code == 400
    assert b64md5(data) not in server.store.blobs
    right = requests.put(url, data=data, headers={"Content-MD5": b64md5(data)}, timeout=10)
    assert right.status_code == 200 and server.store.blobs[b64md5(data)] == data
    assert requests.put(url, data=data, timeout=10).status_code == 200  # no header: md5 of URL


def test_commit_checks_the_manifest_against_the_digest_and_the_files(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.store.create_project(entity, project)
    files = {"x.txt": b"x-" + os.urandom(8), "y.txt": b"y-" + os.urandom(8)}
    digest = artifact_digest({n: b64md5(d) for n, d in files.items()})
    graphql = api.transport.graphql
    artifact_id = graphql(
        "mutation CreateArtifact($input: CreateArtifactInput!) "
        "{ createArtifact(input: $input) { artifact { id } } }",
        {
            "input": {
                "artifactTypeName": "dataset",
                "artifactCollectionName": "checked",
                "entityName": entity,
                "projectName": project,
                "digest": digest,
            }
        },
    )["createArtifact"]["artifact"]["id"]

    def upload_manifest(contents: dict[str, Any]) -> None:
        body = json.dumps({"version": 1, "contents": contents}).encode()
        graphql(
            "mutation M($input: CreateArtifactManifestInput!) { createArtifactManifest("
            "input: $input) { artifactManifest { id } } }",
            {
                "input": {
                    "artifactID": artifact_id,
                    "name": "wandb_manifest.json",
                    "digest": b64md5(body),
                    "entityName": entity,
                    "projectName": project,
                }
            },
        )
        response = requests.put(
            server.urls.manifest(artifact_id, method="PUT"),
            data=body,
            headers={"Content-MD5": b64md5(body)},
            timeout=10,
        )
        assert response.status_code == 200

    def commit() -> Any:
        return graphql(
            "mutation C($id: ID!) { commitArtifact(input: {artifactID: $id}) "
            "{ artifact { state versionIndex } } }",
            {"id": artifact_id},
        )["commitArtifact"]["artifact"]

    upload_manifest({"x.txt": {"digest": b64md5(files["x.txt"]), "size": 10}})
    with pytest.raises(CommError, match="is not the artifact's digest"):
        commit()
    upload_manifest({n: {"digest": b64md5(d), "size": len(d)} for n, d in files.items()})
    with pytest.raises(CommError, match=r"\['x.txt', 'y.txt'\] were not uploaded"):
        commit()
    for data in files.values():
        requests.put(server.urls.blob(b64md5(data), method="PUT"), data=data, timeout=10)
    assert commit() == {"state": "COMMITTED", "versionIndex": 0}
    assert commit() == {"state": "COMMITTED", "versionIndex": 0}  # idempotent


def test_update_artifact_manifest_sets_the_digest_the_upload_must_carry(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.store.create_project(entity, project)
    graphql = api.transport.graphql
    artifact_id = graphql(
        "mutation CreateArtifact($input: CreateArtifactInput!) "
        "{ createArtifact(input: $input) { artifact { id } } }",
        {
            "input": {
                "artifactTypeName": "dataset",
                "artifactCollectionName": "updated",
                "entityName": entity,
                "projectName": project,
                "digest": os.urandom(16).hex(),
            }
        },
    )["createArtifact"]["artifact"]["id"]
    fields = "artifactManifest { id file { uploadUrl uploadHeaders } }"
    created = graphql(
        "mutation M($input: CreateArtifactManifestInput!) "
        f"{{ createArtifactManifest(input: $input) {{ {fields} }} }}",
        {
            "input": {
                "artifactID": artifact_id,
                "name": "wandb_manifest.json",
                "digest": "",
                "entityName": entity,
                "projectName": project,
                "runName": None,
                "type": "FULL",
            }
        },
    )["createArtifactManifest"]["artifactManifest"]
    assert created["file"]["uploadHeaders"] == []
    body = b'{"version": 1, "contents": {}}'
    updated = graphql(
        "mutation U($input: UpdateArtifactManifestInput!) "
        f"{{ updateArtifactManifest(input: $input) {{ {fields} }} }}",
        {"input": {"artifactManifestID": created["id"], "digest": b64md5(body)}},
    )["updateArtifactManifest"]["artifactManifest"]
    assert updated["id"] == created["id"]
    assert updated["file"]["uploadHeaders"] == [f"Content-MD5:{b64md5(body)}"]
    url = updated["file"]["uploadUrl"]
    assert requests.put(url, data=body + b" ", timeout=10).status_code == 400
    assert requests.put(url, data=body, timeout=10).status_code == 200


# ---------------------------------------------------------------------- bad input


def test_missing_local_paths_are_refused(tmp_path: Path) -> None:
    draft = Artifact("d", "dataset")
    with pytest.raises(InvalidInputError, match="not an existing file"):
        draft.add_file(tmp_path / "nope.txt")
    with pytest.raises(InvalidInputError, match="not a directory"):
        draft.add_dir(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match="no such file or directory"):
        draft.add_reference(f"file://{tmp_path}/gone.csv")
    assert draft.file_count == 0


@pytest.mark.parametrize(
    "name", ["", "a/b", "a:b", "with space", "x" * 129, "caf\u00e9", "semi;colon", None, 3]
)
def test_artifact_names_w_and_b_would_reject(name: Any) -> None:
    with pytest.raises(InvalidInputError, match="invalid artifact name"):
        Artifact(name, "model")


@pytest.mark.parametrize(
    "type_name", ["", "a/b", "a:b", "with space", "t" * 129, None, 7, "wandb-history"]
)
def test_artifact_type_shapes_w_and_b_would_reject(type_name: Any) -> None:
    with pytest.raises(InvalidInputError, match="artifact type"):
        Artifact("ok-name", type_name)


def test_reserved_type_and_name_combinations_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="reserved"):
        Artifact("anything", "job")
    with pytest.raises(InvalidInputError, match="reserved"):
        Artifact("source-main", "code")
    assert Artifact("main", "code").type == "code"


@pytest.mark.parametrize("alias", ["", "a/b", "a:b", "v3", "x" * 129, 5])
def test_alias_names_w_and_b_would_reject(
    api: Api, server: LocalWandbServer, project: str, tree: Path, alias: Any
) -> None:
    draft = Artifact("d", "dataset")
    draft.add_file(tree / "model.json")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="alias"):
        api.log_artifact(draft, project=project, aliases=[alias])
    assert server.request_log.records == []


def test_aliases_as_a_string_are_refused(
    api: Api, server: LocalWandbServer, project: str, tree: Path
) -> None:
    draft = Artifact("d", "dataset")
    draft.add_file(tree / "model.json")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="list of strings"):
        api.log_artifact(draft, project=project, aliases="prod")  # type: ignore[arg-type]
    assert server.request_log.records == []


@pytest.mark.parametrize("tag", ["", "a/b", "a.b", " lead", "x:y", 1])
def test_bad_tags_are_refused_before_any_request(
    api: Api, server: LocalWandbServer, project: str, tree: Path, tag: Any
) -> None:
    server.create_run(server.store.viewer.entity, project, "r")
    run = api.run(f"{project}/r")
    draft = Artifact("d", "dataset")
    draft.add_file(tree / "model.json")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="invalid tag"):
        run.log_artifact(draft, tags=[tag])
    assert server.request_log.records == []


def test_an_empty_artifact_is_refused_before_any_request(
    api: Api, server: LocalWandbServer, project: str, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    draft = Artifact("nothing", "dataset")
    draft.add_dir(tmp_path / "empty")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="is empty"):
        api.log_artifact(draft, project=project)
    server.create_run(server.store.viewer.entity, project, "r")
    run = api.run(f"{project}/r")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="is empty"):
        run.log_artifact(draft)
    assert server.request_log.records == []


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt", "a//b", "./a", "C:x", "a\\b"])
def test_entry_names_outside_the_artifact_are_refused(tree: Path, name: str) -> None:
    draft = Artifact("d", "dataset")
    with pytest.raises(InvalidInputError, match="refusing file name"):
        draft.add_file(tree / "model.json", name=name)


@pytest.mark.parametrize(
    ("metadata", "match"),
    [([1, 2], "must be a dict"), ({"x": float("nan")}, "JSON"), ({"f": object()}, "JSON")],
)
def test_bad_metadata_is_refused(metadata: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Artifact("d", "dataset", metadata=metadata)


def test_bad_project_path_is_refused_before_any_request(
    api: Api, server: LocalWandbServer, tree: Path
) -> None:
    draft = Artifact("d", "dataset")
    draft.add_file(tree / "model.json")
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="project"):
        api.log_artifact(draft, project="a/b/c")
    assert server.request_log.records == []
