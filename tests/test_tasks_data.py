"""The history, file and artifact tasks inside real flows (Prefect test harness)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prefect import flow
from prefect.artifacts import Artifact as PrefectArtifact

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.api import ExportError
from prefect_wandb_public.errors import InvalidInputError
from prefect_wandb_public.tasks import (
    download_artifact,
    download_run_files,
    export_project_histories,
    export_run_history,
    fetch_run_history,
    promote_artifact,
    publish_artifact,
    use_artifact,
)
from prefect_wandb_public.tasks._common import artifact_key
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    for name, offset in (("r1", 0), ("r2", 10)):
        server.create_run(
            entity,
            project,
            name,
            history=[{"_step": offset + s, "loss": 1 / (s + 1), "acc": s / 10} for s in range(25)],
            files={"notes.txt": f"notes of {name}".encode(), "cfg/a.json": b'{"a": 1}'},
            tags=["keep"] if name == "r1" else [],
        )
    server.create_artifact(entity, project, "model", "model", {"w.bin": b"v0"}, created_by="r1")
    return f"{entity}/{project}"


def test_fetch_and_export_run_history(
    credentials: WandbCredentials, seeded: str, tmp_path: Path
) -> None:
    @flow
    def pipeline() -> tuple[pd.DataFrame, dict[str, Any], list[dict[str, Any]]]:
        frame = fetch_run_history(credentials, f"{seeded}/r2", keys=["loss"], min_step=15)
        one = export_run_history(credentials, f"{seeded}/r1", str(tmp_path / "r1.csv"))
        project = export_project_histories(
            credentials, seeded, str(tmp_path / "all"), filters={"tags": "keep"}, max_workers=2
        )
        return frame, one, project

    frame, one, project = pipeline()
    assert list(frame["_step"]) == list(range(15, 35))
    assert frame["loss"].iloc[0] == pytest.approx(1 / 6)
    assert one["rows"] == 25 and len(pd.read_csv(tmp_path / "r1.csv")) == 25
    assert [row["run"] for row in project] == [f"{seeded}/r1"]
    assert len(pd.read_parquet(tmp_path / "all" / "r1.parquet")) == 25


def test_a_project_export_asks_for_few_graphql_requests(
    credentials: WandbCredentials,
    server: LocalWandbServer,
    entity: str,
    project: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [{"loss": i / 10, "nested": {"acc": i}} for i in range(30)]
    for index in range(12):
        server.create_run(entity, project, f"done-{index}", history=rows)
    server.create_run(entity, project, "running", history=rows, state="running")
    server.export_history(entity, project, "running")
    server.log_history(entity, project, "running", [{"loss": 9.0}] * 5)  # 5 live steps
    server.request_log.clear()

    @flow
    def pipeline() -> list[dict[str, Any]]:
        return export_project_histories(credentials, f"{entity}/{project}", str(tmp_path))

    results = pipeline()

    assert [r["rows"] for r in results] == [30] * 12 + [35]
    assert pd.read_parquet(tmp_path / "running.parquet")["loss"].tolist()[-5:] == [9.0] * 5
    frame = pd.read_parquet(tmp_path / "done-3.parquet")
    assert frame["nested.acc"].tolist() == [float(i) for i in range(30)]
    # The listing, one request for all 13 plans, one live page: nothing per exported run.
    graphql = [r.operation for r in server.request_log.records if r.path == "/graphql"]
    assert sorted(graphql) == ["HistoryPage", "RunHistoryPlans", "Runs"]
    assert server.request_log.count(path="/storage/history/") == 13
    assert "with 3 GraphQL requests" in caplog.text


def test_export_project_histories_stops_at_the_first_failure(
    credentials: WandbCredentials, seeded: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the export directory should be")
    fast = export_project_histories.with_options(retries=0)

    @flow
    def pipeline() -> list[dict[str, Any]]:
        return fast(credentials, seeded, str(blocker), max_workers=1)

    with pytest.raises(ExportError, match="not-a-dir"):
        pipeline()
    assert blocker.read_text().startswith("a file")


def test_download_run_files(
    credentials: WandbCredentials, seeded: str, server: LocalWandbServer, tmp_path: Path
) -> None:
    @flow
    def pipeline() -> tuple[list[str], list[str]]:
        every = download_run_files(credentials, f"{seeded}/r1", str(tmp_path / "all"))
        some = download_run_files(
            credentials, f"{seeded}/r2", str(tmp_path / "json"), pattern="%.json"
        )
        return every, some

    every, some = pipeline()
    assert sorted(Path(p).relative_to(tmp_path / "all").as_posix() for p in every) == [
        "cfg/a.json",
        "notes.txt",
    ]
    assert (tmp_path / "all" / "notes.txt").read_bytes() == b"notes of r1"
    assert [Path(p).name for p in some] == ["a.json"]
    progress = PrefectArtifact.get(artifact_key("wandb-run-files", f"{seeded}/r2"))
    assert progress is not None and progress.type == "progress" and progress.data == 100.0


def test_download_artifact_caches_pinned_versions_only(
    credentials: WandbCredentials,
    seeded: str,
    server: LocalWandbServer,
    tmp_path: Path,
    entity: str,
    project: str,
) -> None:
    root = str(tmp_path / "model")
    Path(root).mkdir()  # the cache only answers for a root that exists

    @flow
    def pipeline(name: str) -> dict[str, Any]:
        return download_artifact(credentials, name, root=root)

    first = pipeline(f"{seeded}/model:v0")
    assert first["version"] == "v0" and Path(root, "w.bin").read_bytes() == b"v0"
    server.request_log.clear()
    assert pipeline(f"{seeded}/model:v0") == first
    assert server.request_log.count(path="/graphql") == 0, "a pinned version is cached"
    shutil.rmtree(root)
    assert pipeline(f"{seeded}/model:v0")["version"] == "v0"
    assert Path(root, "w.bin").read_bytes() == b"v0", "a vanished root is downloaded again"

    latest = pipeline(f"{seeded}/model:latest")
    assert latest["version"] == "v0"
    server.create_artifact(entity, project, "model", "model", {"w.bin": b"v1"})
    moved = pipeline(f"{seeded}/model:latest")
    assert moved["version"] == "v1", "an alias is never served from the cache"
    assert json.loads(json.dumps(moved))["root"] == root


def test_publish_use_and_promote(
    credentials: WandbCredentials, seeded: str, server: LocalWandbServer, tmp_path: Path
) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "card.md").write_text("# model card")

    @flow
    def pipeline() -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
        published = publish_artifact(
            credentials,
            "model",
            "model",
            [str(tmp_path / "model"), str(tmp_path / "card.md")],
            run_path=f"{seeded}/r2",
            aliases=["candidate"],
        )
        used = use_artifact(credentials, f"{seeded}/r1", f"{seeded}/model:candidate")
        previous = promote_artifact(credentials, f"{seeded}/model:candidate", "production")
        again = promote_artifact(credentials, f"{seeded}/model:candidate", "production")
        return published, used, previous, again

    published, used, previous, again = pipeline()
    assert published["version"] == "v1" and "candidate" in published["aliases"]
    assert used["id"] == published["id"]
    assert previous is None, "nobody held production before"
    assert again is not None and again["version"] == "v1", "already held: a no-op"
    api = credentials.get_client()
    assert api.artifact(f"{seeded}/model:production").version == "v1"
    assert [a.version for a in api.run(f"{seeded}/r1").used_artifacts()] == ["v1"]


@pytest.mark.parametrize("alias", ["latest", "v3", "a/b", "x:y", ""])
def test_promote_refuses_reserved_or_malformed_aliases(
    credentials: WandbCredentials, seeded: str, alias: str
) -> None:
    @flow
    def pipeline() -> Any:
        return promote_artifact.with_options(retries=0)(credentials, f"{seeded}/model:v0", alias)

    with pytest.raises(InvalidInputError):
        pipeline()
