"""Issue 14 members where our client's own behaviour matters (the SDK comparisons are in
tests/oracle/test_oracle_compat_*.py): nothing changes silently, bad input is a typed error."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api.files import s3_uri
from prefect_wandb_public.api.summary import SummaryKeyError
from prefect_wandb_public.errors import (
    CommError,
    InvalidInputError,
    NotFoundError,
    WaitTimeoutError,
)
from prefect_wandb_public.tasks._common import run_record
from prefect_wandb_public.testing import LocalWandbServer


@pytest.fixture
def run_path(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_run(
        entity, project, "r", state="running", summary={"acc": 0.5, "eval": {"f1": 0.1}}
    )
    return f"{entity}/{project}/r"


def _stored(server: LocalWandbServer, path: str) -> dict[str, Any]:
    return server.store.require_run(*path.split("/")).summary


def test_a_local_only_summary_change_says_so_once(
    api: Api, server: LocalWandbServer, run_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    summary = api.run(run_path).summary
    server.request_log.clear()
    with caplog.at_level(logging.WARNING, logger="prefect_wandb_public.api.summary"):
        summary["acc"] = 0.9
        summary["loss"] = 1.0
    assert server.request_log.count() == 0 and _stored(server, run_path)["acc"] == 0.5
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "changed locally only" in warnings[0]
    assert "summary.update()" in warnings[0]
    summary.update()
    assert server.request_log.count(operation="UpsertBucket") == 1
    assert _stored(server, run_path) == {"acc": 0.9, "loss": 1.0, "eval": {"f1": 0.1}}


def test_summary_is_a_mapping_that_iterates_and_counts(api: Api, run_path: str) -> None:
    summary = api.run(run_path).summary
    assert isinstance(summary, Mapping) and isinstance(summary["eval"], Mapping)
    assert sorted(summary) == ["acc", "eval"] and len(summary) == 2
    assert summary == {"acc": 0.5, "eval": {"f1": 0.1}}
    assert getattr(summary, "missing", None) is None and not hasattr(summary, "missing")
    with pytest.raises(SummaryKeyError):
        summary.missing  # noqa: B018
    assert run_record(api.run(run_path))["summary"] == {"acc": 0.5, "eval": {"f1": 0.1}}


def test_summary_values_without_a_json_form_are_refused(api: Api, run_path: str) -> None:
    summary = api.run(run_path).summary
    with pytest.raises(InvalidInputError, match="'when' is a object"):
        summary["when"] = object()
    with pytest.raises(InvalidInputError, match="takes a dict"):
        summary.update([("a", 1)])  # type: ignore[arg-type]
    pandas = pytest.importorskip("pandas")
    summary["series"] = pandas.Series([1, 2])  # array-likes become lists
    assert summary["series"] == [1, 2]


def test_summary_load_drops_local_edits(api: Api, run_path: str) -> None:
    run = api.run(run_path)
    summary = run.summary
    summary["acc"] = 0.0
    summary.load()
    assert summary["acc"] == 0.5 and summary._json_dict is run.summary_metrics


def test_nan_survives_a_summary_round_trip(api: Api, server: LocalWandbServer, run_path: str):
    summary = api.run(run_path).summary
    summary.update({"loss": math.nan})
    assert math.isnan(_stored(server, run_path)["loss"])
    assert math.isnan(api.run(run_path).summary["loss"])


def test_wait_until_finished_times_out(api: Api, run_path: str) -> None:
    with pytest.raises(WaitTimeoutError, match="still 'running'"):
        api.run(run_path).wait_until_finished(timeout=0.2, poll_interval=0.05)
    with pytest.raises(InvalidInputError, match="poll_interval"):
        api.run(run_path).wait_until_finished(poll_interval=0)
    assert issubclass(WaitTimeoutError, TimeoutError)


def test_update_state_of_a_sweep_run_is_refused(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_sweep(entity, project, "sw", {"method": "grid"})
    server.create_run(entity, project, "in-sweep", sweep="sw", state="running")
    with pytest.raises(CommError, match="belongs to sweep sw"):
        api.run(f"{entity}/{project}/in-sweep").update_state("failed")
    with pytest.raises(InvalidInputError):
        api.run(f"{entity}/{project}/in-sweep").update_state("")


def test_console_logs_page_with_cursors(api: Api, server: LocalWandbServer, run_path: str) -> None:
    server.store.require_run(*run_path.split("/")).log_lines[:] = [f"line {i}" for i in range(7)]
    server.request_log.clear()
    logs = api.run(run_path).console_logs(per_page=3)
    assert [line.content for line in logs] == [f"line {i}" for i in range(7)]
    assert [line.number for line in logs] == list(range(7))
    assert server.request_log.count(operation="RunConsoleLogPage") == 3
    assert [x.content for x in api.run(run_path).console_logs(last=2)] == ["line 5", "line 6"]
    with pytest.raises(InvalidInputError, match="last"):
        api.run(run_path).console_logs(last=0)


def test_console_logs_of_a_deleted_run(api: Api, server: LocalWandbServer, run_path: str):
    run = api.run(run_path)
    server.store.delete_run(server.store.require_run(*run_path.split("/")))
    with pytest.raises(NotFoundError, match="not found"):
        list(run.console_logs())


def test_metadata_of_a_run_whose_file_is_not_json(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    server.put_run_file(*run_path.split("/"), "wandb-metadata.json", b"not json")
    assert api.run(run_path).metadata is None


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("https://bucket.s3.amazonaws.com/a/b.txt?X-Amz-Signature=s", "s3://bucket/a/b.txt"),
        ("https://bucket.s3.us-west-2.amazonaws.com/k", "s3://bucket/k"),
        ("https://s3.amazonaws.com/bucket/key/x", "s3://bucket/key/x"),
        ("https://storage.googleapis.com/bucket/key", None),
        ("http://127.0.0.1:8080/storage/blobs/abc", None),
    ],
)
def test_s3_uri(url: str, uri: str | None) -> None:
    assert s3_uri(url) == uri
