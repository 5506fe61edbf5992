"""What the Prefect UI shows of the tasks and flows: parameter descriptions from the docstrings,
the queried-runs table, the promotion event's labels and curve picture, progress artifacts on
single transfers and scans, and the async variants of the tasks."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prefect import Task, flow, unmapped
from prefect.artifacts import Artifact as PrefectArtifact
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - pytest fixture
from prefect.utilities.callables import parameter_schema

import prefect_wandb_public.flows as packaged_flows
import prefect_wandb_public.tasks as tasks
from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.errors import NotFoundError
from prefect_wandb_public.tasks import artifact_key
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("prefect_harness")

SYNC_TASKS = [name for name in tasks.__all__ if isinstance(getattr(tasks, name), Task)]
SYNC_TASKS = [name for name in SYNC_TASKS if not name.startswith("a") or name == "artifact_key"]


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    for index, loss in enumerate([0.9, 0.4]):
        server.create_run(
            entity,
            project,
            f"r{index}",
            config={"lr": 0.01 * (index + 1)},
            summary={"val_loss": loss, "acc": 1 - loss},
            history=[{"val_loss": loss + 1.0 / (step + 1)} for step in range(30)],
        )
        server.create_artifact(
            entity,
            project,
            "model",
            "model",
            {"w.bin": f"{project}-{index}".encode() * 50},
            created_by=f"r{index}",
            aliases=("production",) if index == 0 else (),
        )
    return f"{entity}/{project}"


@pytest.mark.parametrize(
    "name",
    [*sorted(tasks.__all__), *(f"flows.{n}" for n in packaged_flows.__all__)],
)
def test_every_parameter_has_a_description(name: str) -> None:
    """Google-style `Args:` give the deployment's run form a description per parameter."""
    if name.startswith("flows."):
        target: Any = getattr(packaged_flows, name[6:])
    else:
        target = getattr(tasks, name)
        if not isinstance(target, Task):
            return
    schema = parameter_schema(target.fn).model_dump()
    described = {key: p.get("description") for key, p in schema["properties"].items()}
    assert described and all(described.values()), (name, described)
    assert "Returns:" in (target.fn.__doc__ or "") and "Example:" in (target.fn.__doc__ or "")


def test_the_runs_table_names_the_project_and_carries_the_metric_columns(
    credentials: WandbCredentials, seeded: str
) -> None:
    @flow
    def pipeline() -> list[dict[str, Any]]:
        return tasks.query_runs(
            credentials,
            seeded,
            order="+summary_metrics.val_loss",
            columns=["config.lr"],
            filters={"summary_metrics.acc": {"$gt": 0}},
        )

    pipeline()
    table = PrefectArtifact.get(artifact_key("wandb-runs", seeded))
    assert table is not None and table.type == "table"
    assert table.description is not None and seeded in table.description
    rows = json.loads(str(table.data))
    assert [row["id"] for row in rows] == ["r1", "r0"]
    assert rows[0]["summary.val_loss"] == 0.4 and rows[0]["config.lr"] == 0.02
    assert rows[0]["summary.acc"] == pytest.approx(0.6)


def test_no_run_with_the_metric_names_the_default_project(
    server: LocalWandbServer, seeded: str
) -> None:
    entity, project = seeded.split("/")
    block = WandbCredentials(
        api_key=server.api_key, base_url=server.url, entity=entity, project=project
    )

    @flow
    def pipeline() -> dict[str, Any]:
        return tasks.best_run(block, metric="f1")

    with pytest.raises(NotFoundError, match=f"no run in {seeded} reports the metric 'f1'"):
        pipeline()


def test_the_promotion_event_carries_labels_and_the_summary_pictures_the_curves(
    credentials: WandbCredentials,
    seeded: str,
    asserting_events_worker: EventsWorker,  # noqa: F811 - pytest fixture
) -> None:
    @flow
    def promote() -> dict[str, Any] | None:
        return tasks.promote_artifact(
            credentials, f"{seeded}/model:v1", "production", metric="val_loss"
        )

    previous = promote()
    assert previous is not None and previous["version"] == "v0"
    asserting_events_worker.drain()
    events = [
        e
        for client in AssertingEventsClient.all
        for e in client.events
        if e.event == "wandb.artifact.promoted" and e.resource.id.endswith(f"{seeded}/model:v1")
    ]
    assert len(events) == 1
    labels = dict(events[0].resource.items())
    assert labels["wandb.alias"] == "production"
    assert labels["wandb.collection"] == "model"
    assert f"{labels['wandb.entity']}/{labels['wandb.project']}" == seeded
    assert labels["wandb.type"] == "model"
    summary = PrefectArtifact.get(artifact_key("wandb-promotion", "model", "production"))
    assert summary is not None and summary.type == "markdown"
    found = re.search(
        r"!\[([^\]]*)\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", summary.data
    )
    assert found is not None, summary.data
    assert found.group(1) == "val_loss curves of v1 (promoted) and v0 (before)"
    svg = base64.b64decode(found.group(2)).decode()
    assert svg.count("<polyline") == 2 and "v1 (promoted)" in svg and "v0 (before)" in svg


def test_single_transfers_and_scans_have_progress_artifacts(
    credentials: WandbCredentials, seeded: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "w.bin").write_bytes(seeded.encode() * 99)

    @flow
    def pipeline() -> None:
        tasks.download_artifact(credentials, f"{seeded}/model:v1", root=str(tmp_path / "dl"))
        tasks.publish_artifact(
            credentials, "uploaded", "model", [str(model_dir)], project_path=seeded
        )
        tasks.fetch_run_history(credentials, f"{seeded}/r0")
        tasks.export_run_history(credentials, f"{seeded}/r1", str(tmp_path / "r1.parquet"))

    pipeline()
    for key in (
        artifact_key("wandb-download", "model"),
        artifact_key("wandb-upload", "uploaded"),
        artifact_key("wandb-history", f"{seeded}/r0"),
        artifact_key("wandb-export", f"{seeded}/r1"),
    ):
        progress = PrefectArtifact.get(key)
        assert progress is not None and progress.type == "progress", key
        assert progress.data == 100.0, key


def test_async_flows_await_the_tasks_and_sync_flows_are_unchanged(
    credentials: WandbCredentials, seeded: str, tmp_path: Path
) -> None:
    @flow
    async def async_pipeline() -> tuple[Any, Any]:
        best = await tasks.best_run(credentials, seeded, metric="val_loss")  # dispatched
        record = await tasks.adownload_artifact(
            credentials, f"{seeded}/model:v0", root=str(tmp_path / "a")
        )
        return best, record

    best, record = asyncio.run(async_pipeline())
    assert best["id"] == "r1" and record["version"] == "v0"
    assert (tmp_path / "a" / "w.bin").exists()

    @flow
    def sync_pipeline() -> list[Any]:
        futures = tasks.best_run.map(unmapped(credentials), [seeded, seeded], metric="val_loss")
        return [future.result()["id"] for future in futures]

    assert sync_pipeline() == ["r1", "r1"]
    for name in SYNC_TASKS:
        sync_task = getattr(tasks, name)
        variant = getattr(tasks, "a" + name)
        assert sync_task.aio is variant and variant.isasync and not sync_task.isasync
        assert parameter_schema(variant.fn) == parameter_schema(sync_task.fn), name
