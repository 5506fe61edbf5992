"""The live-run endpoints of the local server: `file_stream` and presigned run-file uploads, plus
the run mutations and fields the SDK's writer relies on (`upsertBucket` with nulls, the
organization probe, strict JSON for NaN in JSON fields)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer


@pytest.fixture
def run_path(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_run(entity, project, "live", state="running")
    return f"{entity}/{project}/live"


def stream(
    server: LocalWandbServer,
    run_path: str,
    body: Any,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST a file_stream update: `body` as JSON, or raw `data` with `headers`."""
    return requests.post(
        f"{server.url}/files/{run_path}/file_stream",
        auth=("api", server.api_key),
        timeout=5,
        json=body if data is None else None,
        data=data,
        headers=headers,
    )


def history_chunk(offset: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"files": {"wandb-history.jsonl": {"offset": offset, "content": rows_text(rows)}}}


def rows_text(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(row) for row in rows]


def test_stream_appends_history_summary_events_and_logs(
    server: LocalWandbServer, api: Api, run_path: str
) -> None:
    rows = [{"_step": s, "loss": 1 / (s + 1), "deep": {"x": s}} for s in range(4)]
    events = [{"system.cpu": 5.0, "_wandb": True, "_runtime": 0.1}, {"system.gpu": 1}]
    body = {
        "files": {
            "wandb-history.jsonl": {"offset": 0, "content": rows_text(rows)},
            "wandb-events.jsonl": {"offset": 0, "content": rows_text(events)},
            "wandb-summary.json": {"offset": 0, "content": ['{"loss": 0.25, "_step": 3}']},
            "output.log": {"offset": 0, "content": ["first", "second"]},
        }
    }
    answer = stream(server, run_path, body)
    assert answer.status_code == 200 and isinstance(answer.json(), dict)

    run = api.run(run_path)
    assert list(run.scan_history()) == rows
    assert run.summary == {"loss": 0.25, "_step": 3}
    assert run.system_metrics == {
        "system.cpu": 5.0,
        "system.gpu": 1,
        "_wandb": True,
        "_runtime": 0.1,
    }
    assert run.history(stream="system", pandas=False) == events
    assert run.state == "running"
    stored = server.store.require_run(*run_path.split("/"))
    assert stored.log_lines == ["first", "second"]


def test_a_retried_chunk_is_not_stored_twice(
    server: LocalWandbServer, api: Api, run_path: str
) -> None:
    rows = [{"_step": s, "v": s} for s in range(5)]
    assert stream(server, run_path, history_chunk(0, rows[:3])).status_code == 200
    assert stream(server, run_path, history_chunk(0, rows[:3])).status_code == 200
    assert stream(server, run_path, history_chunk(2, rows[2:])).status_code == 200
    assert list(api.run(run_path).scan_history()) == rows


def test_console_lines_are_overwritten_from_their_offset(
    server: LocalWandbServer, run_path: str
) -> None:
    log = {"output.log": {"offset": 0, "content": ["a", "progress 10%"]}}
    stream(server, run_path, {"files": log})
    log = {"output.log": {"offset": 1, "content": ["progress 100%", "done"]}}
    stream(server, run_path, {"files": log})
    assert server.store.require_run(*run_path.split("/")).log_lines == [
        "a",
        "progress 100%",
        "done",
    ]


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        ({"complete": True, "exitcode": 0}, "finished"),
        ({"complete": True, "exitcode": 1}, "failed"),
        ({"preempting": True}, "preempting"),
        ({}, "running"),
    ],
)
def test_completion_sets_the_state(
    server: LocalWandbServer, api: Api, run_path: str, flags: dict[str, Any], state: str
) -> None:
    before = api.run(run_path).heartbeat_at
    assert stream(server, run_path, flags).status_code == 200
    run = api.run(run_path)
    assert run.state == state
    assert run.heartbeat_at is not None and run.heartbeat_at >= (before or "")


def test_a_gzip_body_is_accepted(server: LocalWandbServer, api: Api, run_path: str) -> None:
    body = gzip.compress(json.dumps(history_chunk(0, [{"_step": 0, "a": 1}])).encode())
    answer = stream(
        server,
        run_path,
        None,
        data=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert list(api.run(run_path).scan_history()) == [{"_step": 0, "a": 1}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"files": []}, "files must be an object"),
        ({"files": {"wandb-history.jsonl": []}}, "must be an object with offset"),
        ({"files": {"wandb-history.jsonl": {"offset": -1, "content": []}}}, "non-negative"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": [1]}}}, "list of strings"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["{"]}}}, "is not JSON"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1]"]}}}, "JSON object"),
        (history_chunk(0, [{"_step": 3}, {"_step": 1}]), "steps must increase"),
        ({"exitcode": "zero"}, "exitcode must be an integer"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_problem(
    server: LocalWandbServer, run_path: str, body: Any, message: str
) -> None:
    answer = stream(server, run_path, body)
    assert answer.status_code == 400
    assert message in answer.json()["errors"][0]["message"]


def test_a_body_that_is_not_json_is_a_400(server: LocalWandbServer, run_path: str) -> None:
    answer = stream(server, run_path, None, data=b"{nope")
    assert answer.status_code == 400 and "not JSON" in answer.text


def test_unknown_run_is_404_and_no_key_is_401(server: LocalWandbServer, entity: str) -> None:
    assert stream(server, f"{entity}/nowhere/none", {}).status_code == 404
    answer = requests.post(f"{server.url}/files/{entity}/p/r/file_stream", json={}, timeout=5)
    assert answer.status_code == 401
    other = requests.post(
        f"{server.url}/files/{entity}/p/r/other", json={}, auth=("api", server.api_key), timeout=5
    )
    assert other.status_code == 404


# ---------------------------------------------------------------------------- presigned uploads
CREATE_RUN_FILES = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) { runID files { name uploadUrl } }
}"""


def upload_urls(api: Api, run_path: str, names: list[str]) -> dict[str, str]:
    entity, project, run = run_path.split("/")
    data = api.transport.graphql(
        CREATE_RUN_FILES, {"entity": entity, "project": project, "run": run, "files": names}
    )
    return {f["name"]: f["uploadUrl"] for f in data["createRunFiles"]["files"]}


def test_upload_urls_are_presigned(server: LocalWandbServer, api: Api, run_path: str) -> None:
    url = upload_urls(api, run_path, ["dir/a b.txt"])["dir/a b.txt"]
    assert url.startswith(f"{server.url}/storage/run-files/") and "signature=" in url
    assert requests.put(url, data=b"no key needed", timeout=5).status_code == 200
    assert api.run(run_path).file("dir/a b.txt").size == len(b"no key needed")


@pytest.mark.parametrize("tamper", ["signature", "name", "missing", "not-ascii"])
def test_a_tampered_upload_url_is_403(
    server: LocalWandbServer, api: Api, run_path: str, tamper: str
) -> None:
    url = upload_urls(api, run_path, ["a.txt"])["a.txt"]
    if tamper == "signature":
        url = url[:-4] + "0000"
    elif tamper == "name":
        url = url.replace("/a.txt?", "/b.txt?")
    elif tamper == "missing":
        url = url.split("?")[0]
    else:
        url = url.split("?")[0] + "?signature=%C3%A9t%C3%A9"
    assert requests.put(url, data=b"x", timeout=5).status_code == 403
    assert [f.name for f in api.run(run_path).files()] == []


# ---------------------------------------------------------------------------- run mutations
UPSERT = """
mutation UpsertBucket($id: String, $notes: String, $host: String, $tags: [String!],
                      $displayName: String) {
  upsertBucket(input: {id: $id, notes: $notes, host: $host, tags: $tags,
                       displayName: $displayName}) {
    bucket { notes host tags displayName } inserted
  }
}"""


def test_upsert_bucket_leaves_null_fields_alone(api: Api, run_path: str) -> None:
    run = api.run(run_path)
    variables = {"id": run.storage_id, "notes": "n", "host": "h", "tags": ["t"]}
    api.transport.graphql(UPSERT, {**variables, "displayName": "shown"})
    nulls = {"id": run.storage_id, "notes": None, "host": None, "tags": None, "displayName": None}
    data = api.transport.graphql(UPSERT, nulls)
    assert data["upsertBucket"] == {
        "bucket": {"notes": "n", "host": "h", "tags": ["t"], "displayName": "shown"},
        "inserted": False,
    }


def test_entity_organization_is_null_for_a_personal_entity(api: Api, entity: str) -> None:
    query = "query($e: String!) { entity(name: $e) { organization { coreWeaveOrganizationId } } }"
    assert api.transport.graphql(query, {"e": entity}) == {"entity": {"organization": None}}


def test_non_finite_numbers_in_json_fields_are_strings(
    server: LocalWandbServer, api: Api, entity: str, project: str
) -> None:
    server.create_run(
        entity,
        project,
        "odd",
        history=[{"a": float("nan"), "b": float("inf")}, {"a": 1.0, "b": -float("inf")}],
    )
    query = """
    query($e: String!, $p: String!) { project(name: $p, entityName: $e) { run(name: "odd") {
      historyKeys sampledHistory(specs: ["{\\"keys\\": [\\"a\\", \\"b\\"]}"]) } } }"""
    answer = requests.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": {"e": entity, "p": project}},
        auth=("api", server.api_key),
        timeout=5,
    )
    data = json.loads(answer.text, parse_constant=lambda token: pytest.fail(f"bare {token}"))
    run = data["data"]["project"]["run"]
    assert run["sampledHistory"] == [[{"a": "NaN", "b": "Infinity"}, {"a": 1.0, "b": "-Infinity"}]]
    assert run["historyKeys"]["keys"]["b"]["previousValue"] == "-Infinity"
