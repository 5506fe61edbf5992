"""The local server's history: the lean `HistoryLog` store and the GraphQL fields built on it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.common import StoreError
from prefect_wandb_public.testing.history_log import HistoryLog


def make_log(rows: list[dict[str, Any]]) -> HistoryLog:
    log = HistoryLog()
    log.extend(rows)
    return log


def test_rows_are_stored_compactly_and_read_back_exactly() -> None:
    rows = [{"_step": 3, "a": 1.5, "name": "héllo"}, {"b": None}, {"_step": 9, "c": [1, {"d": 2}]}]
    log = make_log(rows)

    assert len(log) == len(log.rows) == 3
    assert list(log.steps) == [3, 4, 9]
    assert [json.loads(text) for text in log.rows] == [
        rows[0],
        {"b": None, "_step": 4},
        rows[2],
    ]
    assert log.rows[-1] == log.row(2) and log.rows[1:] == [log.row(1), log.row(2)]
    assert log.rows[::2] == [log.row(0), log.row(2)]
    with pytest.raises(IndexError):
        log.rows[3]


def test_steps_must_increase_and_be_integers() -> None:
    log = make_log([{"_step": 5}])

    with pytest.raises(StoreError, match="increase"):
        log.append({"_step": 5}, 0)
    with pytest.raises(StoreError, match="integer"):
        log.append({"_step": "6"}, 0)
    assert len(log) == 1 and log.last_step == 5


def test_key_types_flatten_nested_dicts_but_not_media() -> None:
    log = make_log(
        [
            {"loss": 1, "d": {"x": 1, "y": {"z": "s"}}, "img": {"_type": "image-file"}},
            {"loss": None, "flag": True},
        ]
    )

    assert log.key_types == {
        "loss": {"number": 1, "nil": 1},
        "d.x": {"number": 1},
        "d.y.z": {"string": 1},
        "img": {"map": 1},
        "_step": {"number": 2},
        "flag": {"boolean": 1},
    }
    assert log.previous["loss"] is None


def test_sample_spreads_evenly_and_keeps_both_ends() -> None:
    log = make_log([{"v": i} for i in range(101)])

    steps = [json.loads(text)["_step"] for text in log.sample(None, None, 5)]

    assert steps == [0, 25, 50, 75, 100]
    assert len(log.sample(10, 20, 500)) == 10
    assert log.sample(10, 20, 1) == [log.row(10)]
    assert log.sample(200, 300, 5) == []


def test_indexes_with_keys_pick_rows_by_shape() -> None:
    rows = [{"a": 1}, {"a": 2, "b": 1}, {"b": 2}, {"a": 3, "n": {"b": 1}}, {"a": 4, "b": 3}]
    log = make_log(rows)

    assert list(log.indexes_with(["a", "b"], 0, 5)) == [1, 4]
    assert list(log.indexes_with(["n.b"], 0, 5)) == [3]
    assert list(log.indexes_with(["a"], 1, 4)) == [1, 3]
    assert list(log.indexes_with(["zzz"], 0, 5)) == []
    assert log.indexes_with(["_step"], 1, 4) == range(1, 4)  # every row qualifies: no scan


# ---------------------------------------------------------------------------- GraphQL
RUN_FIELDS = """
query Fields($entity: String!, $project: String!, $run: String!, $specs: [JSONString!]!,
             $minStep: Int64, $maxStep: Int64) {
  project(name: $project, entityName: $entity) {
    run(name: $run) {
      historyLineCount
      historyKeys
      history(minStep: $minStep, maxStep: $maxStep, samples: 1000)
      sampledHistory(specs: $specs)
      parquetHistory(liveKeys: ["_step"]) { parquetUrls liveData }
    }
  }
}
"""


def query(server: LocalWandbServer, entity: str, project: str, **variables: Any) -> Any:
    body = server.engine.execute(
        RUN_FIELDS,
        {"entity": entity, "project": project, "run": "r", **variables},
        None,
        server.resolvers.root(),
    )
    assert "errors" not in body, body
    return body["data"]["project"]["run"]


def test_run_history_fields_follow_the_service(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"_step": 10 + i, "a": i} if i % 2 else {"_step": 10 + i, "b": i} for i in range(10)]
    server.create_run(entity, project, "r", history=rows, history_exports=False)
    spec = json.dumps({"keys": ["a", "_step"], "minStep": 11, "maxStep": 15, "samples": 100})

    node = query(server, entity, project, specs=[spec], minStep=11, maxStep=15)

    assert node["historyLineCount"] == 10
    assert node["historyKeys"]["lastStep"] == 19
    assert node["historyKeys"]["keys"]["a"]["typeCounts"] == [{"type": "number", "count": 5}]
    assert [json.loads(t)["_step"] for t in node["history"]] == [11, 12, 13, 14]  # exclusive
    assert node["sampledHistory"] == [
        [{"a": 1, "_step": 11}, {"a": 3, "_step": 13}, {"a": 5, "_step": 15}]
    ]  # inclusive maxStep
    assert node["parquetHistory"] == {
        "parquetUrls": [],
        "liveData": [{"_step": 10 + i} for i in range(10)],
    }


def test_sampled_history_samples_only_rows_holding_every_key(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"a": i, **({"b": -i} if i % 3 == 0 else {})} for i in range(300)]
    server.create_run(entity, project, "r", history=rows)
    spec = json.dumps({"keys": ["a", "b"], "samples": 4})

    node = query(server, entity, project, specs=[spec, json.dumps({"keys": ["nope"]})])

    assert node["sampledHistory"] == [
        [{"a": 0, "b": 0}, {"a": 99, "b": -99}, {"a": 198, "b": -198}, {"a": 297, "b": -297}],
        [],
    ]
