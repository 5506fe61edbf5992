"""The run tasks inside real flows (Prefect test harness) against the local server."""

from __future__ import annotations

import re
import socket

import pandas as pd
import pytest
from prefect import flow
from prefect.artifacts import Artifact

from prefect_wandb_public import WandbCredentials
from prefect_wandb_public.errors import CommError, NotFoundError, RateLimitError
from prefect_wandb_public.tasks import best_run, query_runs
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_sweep(entity, project, "sw", {"metric": {"name": "acc", "goal": "maximize"}})
    for i, acc in enumerate([0.5, 0.9, 0.7, None]):
        server.create_run(
            entity,
            project,
            f"Run_{i}",
            config={"lr": 0.1 * (i + 1)},
            summary={} if acc is None else {"acc": acc, "loss": 1 - acc},
            tags=["t"] if i % 2 else [],
            sweep="sw" if i < 3 else None,
        )
    return f"{entity}/{project}"


def test_query_runs_returns_records_and_a_table_artifact(
    credentials: WandbCredentials, seeded: str
) -> None:
    @flow
    def pipeline() -> list[dict]:
        return query_runs(credentials, seeded, filters={"tags": "t"}, order="+created_at")

    records = pipeline()
    assert [r["id"] for r in records] == ["Run_1", "Run_3"]
    assert records[0]["config"] == {"lr": pytest.approx(0.2)}
    assert records[0]["summary"]["acc"] == 0.9
    assert records[0]["url"].endswith(f"/{seeded}/runs/Run_1")
    table = Artifact.get(f"wandb-runs-{seeded.lower().replace('/', '-').replace('_', '-')}")
    assert table is not None and table.type == "table"
    assert "Run_3" in str(table.data)


def test_query_runs_max_runs_and_dataframe(credentials: WandbCredentials, seeded: str) -> None:
    @flow
    def pipeline() -> pd.DataFrame:
        return query_runs(credentials, seeded, max_runs=2, output="dataframe")

    frame = pipeline()
    assert list(frame["id"]) == ["Run_3", "Run_2"]
    assert "config.lr" in frame.columns and "summary.acc" in frame.columns


def test_best_run_by_metric_and_by_sweep(credentials: WandbCredentials, seeded: str) -> None:
    @flow
    def pipeline() -> tuple[dict, dict, dict]:
        return (
            best_run(credentials, seeded, metric="loss"),
            best_run(credentials, seeded, metric="acc", goal="maximize"),
            best_run(credentials, seeded, sweep="sw"),
        )

    by_loss, by_acc, by_sweep = pipeline()
    assert by_loss["id"] == "Run_1" and by_loss["value"] == pytest.approx(0.1)
    assert by_acc["id"] == "Run_1" and by_sweep["id"] == "Run_1"
    assert by_sweep["metric"] == "acc"


def test_best_run_without_the_metric_fails_clearly(
    credentials: WandbCredentials, seeded: str
) -> None:
    @flow
    def pipeline() -> dict:
        return best_run(credentials, seeded, metric="f1")

    with pytest.raises(NotFoundError, match="reports the metric 'f1'"):
        pipeline()


def test_a_429_burst_the_client_retried_is_not_retried_again_by_the_task(
    credentials: WandbCredentials, seeded: str, server: LocalWandbServer
) -> None:
    # Changed on purpose (issue 10): one retry budget per operation. The block allows 2 HTTP
    # attempts per request; once they are spent, the task's own retries do not multiply them.
    server.inject_fault("/graphql", status=429, times=3, operation="Runs")
    fast = query_runs.with_options(retry_delay_seconds=0, retry_jitter_factor=None)

    @flow
    def pipeline() -> list[dict]:
        return fast(credentials, seeded)

    with pytest.raises(RateLimitError, match=r"retries exhausted: gave up after 2 attempts"):
        pipeline()
    assert server.request_log.count(operation="Runs") == 2  # not 2 x (1 + 3 task retries)
    server.faults.clear()
    server.inject_fault("/graphql", status=429, times=1, operation="Runs")
    assert len(pipeline()) == 4  # a burst within the budget is absorbed by the client


@pytest.mark.parametrize("host", ["dead", "misspelled"])
def test_a_flow_on_a_dead_or_misspelled_host_fails_after_two_attempts(host: str) -> None:
    if host == "dead":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    else:
        url = "http://api.wandb.invalid"
    credentials = WandbCredentials(api_key="k" * 40, base_url=url)  # default retry budget

    @flow
    def pipeline() -> list[dict]:
        return query_runs(credentials, "acme/proj")

    with pytest.raises(CommError) as info:
        pipeline()
    message = str(info.value)
    assert f"{url}/graphql" in message and "GraphQL Runs(" in message
    assert re.search(r"retries exhausted: gave up after 2 attempts in \d+\.\d s", message)
    assert ("never answered" if host == "dead" else "does not resolve") in message
    assert "k" * 40 not in message


def test_a_404_is_not_retried(
    credentials: WandbCredentials, seeded: str, server: LocalWandbServer
) -> None:
    server.inject_fault("/graphql", status=404, times=5, operation="Runs")
    fast = query_runs.with_options(retry_delay_seconds=0)

    @flow
    def pipeline() -> list[dict]:
        return fast(credentials, seeded)

    with pytest.raises(NotFoundError):
        pipeline()
    assert server.request_log.count(operation="Runs") == 1
