"""Table-driven tests for the local server's MongoDB-subset filter and order evaluator."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from prefect_wandb_public.testing.filters import (
    FilterError,
    compile_filter,
    compile_order,
    sort_documents,
)


def _run(seq: int, name: str, **fields: Any) -> dict[str, Any]:
    """A run document with server defaults, overridden by ``fields``."""
    doc: dict[str, Any] = {
        "name": name,
        "displayName": name.upper(),
        "state": "finished",
        "tags": [],
        "group": None,
        "jobType": None,
        "sweep": None,
        "createdAt": f"2024-01-0{seq + 1}T00:00:00",
        "heartbeatAt": f"2024-01-0{seq + 1}T01:00:00",
        "username": "ann",
        "host": "h1",
        "duration": 60.0,
        "config": {},
        "summary_metrics": {},
        "_seq": seq,
    }
    doc.update(fields)
    return doc


def _wrap(value: Any) -> dict[str, Any]:
    """A config entry as W&B stores it."""
    return {"value": value, "desc": None}


RUNS = [
    _run(
        0,
        "a",
        displayName="alpha",
        tags=["baseline", "gpu"],
        group="g1",
        jobType="train",
        sweep="sw1",
        duration=3600.0,
        config={
            "lr": _wrap(0.1),
            "batch": _wrap(32),
            "opt": _wrap({"name": "adam", "lr": 0.001}),
            "model": _wrap("resnet"),
        },
        summary_metrics={"loss": 0.5, "acc": 0.9, "eval": {"f1": 0.8}, "train/loss": 0.4},
    ),
    _run(
        1,
        "b",
        displayName="beta",
        state="running",
        tags=["gpu"],
        group="g1",
        jobType="eval",
        sweep="sw1",
        duration=None,
        config={
            "lr": _wrap(0.01),
            "batch": _wrap(64),
            "opt": _wrap({"name": "sgd", "lr": 0.1}),
            "model": _wrap("vit"),
        },
        summary_metrics={"loss": 0.3, "acc": 0.95, "eval": {"f1": 0.9}},
    ),
    _run(
        2,
        "c",
        displayName=None,
        state="crashed",
        config={"lr": 1, "batch": _wrap("64"), "flag": {"value": True}},
        summary_metrics={"loss": float("nan"), "acc": "n/a"},
    ),
    _run(3, "d", displayName="delta", state="failed", tags=["Baseline"]),
    _run(
        4,
        "e",
        displayName="epsilon",
        tags=["cpu", "baseline"],
        config={"lr": {"value": 0.1}, "batch": _wrap(True)},
        summary_metrics={"loss": 1, "acc": True},
    ),
    _run(
        5,
        "f",
        displayName="zeta",
        tags=["gpu", "large"],
        config={"lr": _wrap(None)},
        summary_metrics={"loss": None, "acc": 0.9, "eval": {"f1": None}},
    ),
    _run(
        6,
        "g",
        displayName="eta",
        state="running",
        tags=["cpu"],
        createdAt="2024-01-07T12:30:00",
        config={"model": _wrap(["a", "b"])},
        summary_metrics={"loss": 0.3, "eval": {"f1": "bad"}, "hist": {"_type": "histogram"}},
    ),
    _run(
        7,
        "h",
        displayName="theta",
        state="killed",
        tags=["gpu"],
        sweep="sw2",
        config={"lr": _wrap(0.001), "raw": {"value": 1, "extra": 2}},
        summary_metrics={"loss": 0.7, "acc": 0.9},
    ),
]
del RUNS[7]["duration"]

ALL = set("abcdefgh")

FILTER_CASES: list[tuple[str, Mapping[str, Any] | None, set[str]]] = [
    ("none", None, ALL),
    ("empty", {}, ALL),
    ("implicit-eq", {"state": "finished"}, {"a", "e", "f"}),
    ("eq-op", {"state": {"$eq": "running"}}, {"b", "g"}),
    ("ne", {"state": {"$ne": "finished"}}, {"b", "c", "d", "g", "h"}),
    ("implicit-and", {"state": "running", "tags": "cpu"}, {"g"}),
    ("tags-contains", {"tags": "gpu"}, {"a", "b", "f", "h"}),
    ("tags-case-sensitive", {"tags": "baseline"}, {"a", "e"}),
    ("tags-in", {"tags": {"$in": ["cpu", "large"]}}, {"e", "f", "g"}),
    ("tags-nin", {"tags": {"$nin": ["gpu", "cpu"]}}, {"c", "d"}),
    ("tags-ne", {"tags": {"$ne": "gpu"}}, {"c", "d", "e", "g"}),
    ("tags-eq-whole-list", {"tags": {"$eq": ["gpu", "large"]}}, {"f"}),
    ("tags-eq-list-order-matters", {"tags": ["large", "gpu"]}, set()),
    ("tags-empty-list", {"tags": []}, {"c"}),
    ("tags-regex-any-element", {"tags": {"$regex": "^base"}}, {"a", "e"}),
    ("tags-regex-options-i", {"tags": {"$regex": "^base", "$options": "i"}}, {"a", "d", "e"}),
    ("in-scalar", {"state": {"$in": ["crashed", "killed"]}}, {"c", "h"}),
    ("in-empty", {"state": {"$in": []}}, set()),
    ("nin-empty", {"state": {"$nin": []}}, ALL),
    ("in-none-matches-missing", {"summary_metrics.acc": {"$in": [None, 0.95]}}, {"b", "d", "g"}),
    ("or", {"$or": [{"state": "crashed"}, {"tags": "large"}]}, {"c", "f"}),
    ("and", {"$and": [{"tags": "gpu"}, {"state": "finished"}]}, {"a", "f"}),
    ("nor", {"$nor": [{"tags": "gpu"}, {"state": "finished"}]}, {"c", "d", "g"}),
    (
        "nested-logic",
        {"$and": [{"$or": [{"sweep": "sw1"}, {"sweep": "sw2"}]}, {"$nor": [{"jobType": "eval"}]}]},
        {"a", "h"},
    ),
    ("sweepName-alias", {"sweepName": "sw1"}, {"a", "b"}),
    ("display_name-alias", {"display_name": "eta"}, {"g"}),
    ("job_type-alias", {"job_type": "train"}, {"a"}),
    ("display-name-null", {"displayName": None}, {"c"}),
    ("display-name-regex-skips-null", {"displayName": {"$regex": "eta$"}}, {"b", "g", "f", "h"}),
    ("regex-search-not-match", {"displayName": {"$regex": "lph"}}, {"a"}),
    ("not-regex", {"displayName": {"$not": {"$regex": "eta$"}}}, {"a", "c", "d", "e"}),
    ("config-shorthand", {"config.lr": 0.1}, {"a", "e"}),
    ("config-dot-value", {"config.lr.value": 0.1}, {"a", "e"}),
    ("config-unwrapped-entry", {"config.lr": 1}, {"c"}),
    ("config-unwrapped-entry-dot-value", {"config.lr.value": 1.0}, {"c"}),
    ("config-int-float-equal", {"config.batch.value": 32.0}, {"a"}),
    ("config-bool-not-number", {"config.batch": 1}, set()),
    ("config-bool-eq", {"config.batch": True}, {"e"}),
    ("config-string-not-number", {"config.batch": "64"}, {"c"}),
    ("config-gt-skips-other-types", {"config.batch.value": {"$gt": 0}}, {"a", "b"}),
    ("config-gte-lt", {"config.lr": {"$gte": 0.01, "$lt": 0.5}}, {"a", "b", "e"}),
    ("config-nested-shorthand", {"config.opt.lr": 0.001}, {"a"}),
    ("config-nested-dot-value", {"config.opt.value.name": "sgd"}, {"b"}),
    ("config-whole-dict", {"config.opt": {"lr": 0.1, "name": "sgd"}}, {"b"}),
    ("config-null-value", {"config.lr": None}, {"d", "f", "g"}),
    ("config-exists-null-value", {"config.lr": {"$exists": True}}, {"a", "b", "c", "e", "f", "h"}),
    ("config-ne-null", {"config.lr": {"$ne": None}}, {"a", "b", "c", "e", "h"}),
    ("config-array-value-contains", {"config.model": "a"}, {"g"}),
    ("config-non-wrapped-dict-as-is", {"config.raw.extra": 2}, {"h"}),
    ("config-non-wrapped-dict-value-key", {"config.raw.value": 1}, {"h"}),
    ("config-not-wrapped-with-only-value", {"config.flag": True}, {"c"}),
    ("exists-false", {"duration": {"$exists": False}}, {"h"}),
    ("exists-true-includes-null", {"duration": {"$exists": True}}, ALL - {"h"}),
    ("eq-null-missing-or-null", {"duration": None}, {"b", "h"}),
    ("gt-float", {"duration": {"$gt": 100}}, {"a"}),
    ("summary-gt", {"summary_metrics.loss": {"$gt": 0.4}}, {"a", "e", "h"}),
    ("summary-alias", {"summary.loss": {"$lte": 0.3}}, {"b", "g"}),
    ("summary-nan-never-compares", {"summary_metrics.loss": {"$lt": 100}}, ALL - {"c", "d", "f"}),
    ("summary-bool-not-number", {"summary_metrics.acc": {"$gte": 0}}, {"a", "b", "f", "h"}),
    ("summary-str-vs-number", {"summary_metrics.acc": {"$gt": "a"}}, {"c"}),
    ("summary-nan-equals-nan", {"summary_metrics.loss": float("nan")}, {"c"}),
    ("summary-nested", {"summary_metrics.eval.f1": {"$gte": 0.85}}, {"b"}),
    ("summary-slash-key", {"summary_metrics.train/loss": 0.4}, {"a"}),
    ("summary-walk-through-scalar", {"summary_metrics.loss.x": {"$exists": True}}, set()),
    ("summary-nested-null", {"summary_metrics.eval.f1": None}, {"c", "d", "e", "f", "h"}),
    ("summary-dict-field", {"summary_metrics.hist._type": "histogram"}, {"g"}),
    ("nin-missing-matches", {"summary_metrics.acc": {"$nin": [0.9]}}, {"b", "c", "d", "e", "g"}),
    ("created-gt-date-only", {"createdAt": {"$gt": "2024-01-06"}}, {"g", "h"}),
    ("created_at-alias-z-suffix", {"created_at": {"$gte": "2024-01-07T12:30:00Z"}}, {"g", "h"}),
    ("created-offset", {"createdAt": "2024-01-07T14:30:00.000+02:00"}, {"g"}),
    ("updated_at-alias", {"updated_at": {"$lt": "2024-01-02T00:00:00"}}, {"a"}),
    ("created-regex-raw-string", {"createdAt": {"$regex": "T12:"}}, {"g"}),
    # The W&B public-API guide's hour-only form, alone and as its `$and` pair.
    ("created-hour-only", {"createdAt": {"$gt": "2024-01-07T12"}}, {"g", "h"}),
    (
        "created-hour-only-guide-pair",
        {"$and": [{"created_at": {"$lt": "2024-01-08T00", "$gt": "2024-01-06T00"}}]},
        {"g"},
    ),
    ("created-hour-minute", {"createdAt": {"$lte": "2024-01-07T12:30"}}, ALL - {"h"}),
    ("created-compact-offset", {"createdAt": {"$gt": "2024-01-07T14+0200"}}, {"g", "h"}),
    ("empty-and-matches-all", {"$and": []}, ALL),
    ("report-run-set-without-filters", {"$or": [{"$and": []}]}, ALL),
    ("empty-nor-matches-all", {"$nor": []}, ALL),
    ("group-null", {"group": None}, ALL - {"a", "b"}),
    ("unknown-field-is-missing", {"nope": {"$exists": False}}, ALL),
    ("not-gt-matches-missing", {"summary_metrics.acc": {"$not": {"$gt": 0.9}}}, ALL - {"b"}),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [pytest.param(f, e, id=i) for i, f, e in FILTER_CASES],
)
def test_filter_matches_exact_set(filters: Mapping[str, Any] | None, expected: set[str]) -> None:
    predicate = compile_filter(filters)
    assert {run["name"] for run in RUNS if predicate(run)} == expected


def _names(order: str | None, docs: list[dict[str, Any]] | None = None) -> list[str]:
    return [doc["name"] for doc in sort_documents(RUNS if docs is None else docs, order)]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param(None, "abcdefgh", id="default-createdAt"),
        pytest.param("", "abcdefgh", id="empty-createdAt"),
        pytest.param("-created_at", "hgfedcba", id="created-desc"),
        pytest.param("+heartbeat_at", "abcdefgh", id="heartbeat-asc"),
        pytest.param("name", "abcdefgh", id="no-prefix-asc"),
        pytest.param("-state", "bghaefdc", id="state-desc-ties-by-seq"),
        pytest.param("+display_name", "abdeghf" + "c", id="display-asc-null-last"),
        pytest.param("-displayName", "fhgedba" + "c", id="display-desc-null-last"),
        # loss: b=.3 g=.3 tie, a=.5 h=.7 e=1; c NaN, d missing, f None stay last.
        pytest.param("+summary_metrics.loss", "bgahe" + "cdf", id="summary-asc"),
        pytest.param("-summary.loss", "ehabg" + "cdf", id="summary-desc-missing-last"),
        # acc: numbers (a=f=h=.9, b=.95) < strings (c) < bools (e); d, g missing.
        pytest.param("+summary_metrics.acc", "afhbce" + "dg", id="mixed-types-asc"),
        pytest.param("-summary_metrics.acc", "ecbafh" + "dg", id="mixed-types-desc"),
        pytest.param("+config.lr", "hbaec" + "dfg", id="config-asc"),
        pytest.param("-config.lr.value", "caebh" + "dfg", id="config-dot-value-desc"),
        pytest.param("+summary_metrics.eval.f1", "abg" + "cdefh", id="nested-summary"),
    ],
)
def test_order(order: str | None, expected: str) -> None:
    assert "".join(_names(order)) == expected


def test_sort_ties_follow_seq_not_input_order() -> None:
    shuffled = [RUNS[6], RUNS[1], RUNS[7], RUNS[0]]
    assert _names("-state", shuffled) == ["b", "g", "h", "a"]
    assert _names("+summary_metrics.acc", shuffled) == ["a", "h", "b", "g"]


def test_best_run_with_one_per_page_never_lacks_metric() -> None:
    for order in ("+summary_metrics.loss", "-summary_metrics.loss"):
        best = sort_documents(RUNS, order)[0]
        assert isinstance(best["summary_metrics"]["loss"], (int, float))
        assert best["summary_metrics"]["loss"] == best["summary_metrics"]["loss"]  # not NaN


def test_sort_returns_copy() -> None:
    docs = list(reversed(RUNS))
    result = sort_documents(docs, None)
    assert [doc["name"] for doc in docs] == list("hgfedcba")
    assert result is not docs


@pytest.mark.parametrize(
    ("order", "reverse"),
    [(None, False), ("+name", False), ("name", False), ("-name", True)],
)
def test_compile_order_reverse_flag(order: str | None, reverse: bool) -> None:
    sort_key, got = compile_order(order)
    assert got is reverse
    assert sort_key(RUNS[0]) < sort_key(RUNS[1])
    assert sort_key({"_seq": 9}) == (1, 0, 0)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        pytest.param({"state": {"$foo": 1}}, "$foo", id="unknown-field-operator"),
        pytest.param({"$where": "1"}, "$where", id="unknown-top-level-operator"),
        pytest.param(["state"], "list", id="non-dict-filter"),
        pytest.param("state", "str", id="string-filter"),
        pytest.param({"$or": {"state": "x"}}, "$or", id="or-not-list"),
        pytest.param({"$or": []}, "$or must be a non-empty", id="or-empty"),
        pytest.param(
            {"createdAt": {"$gt": "last tuesday"}}, "not an ISO 8601 date", id="date-not-a-date"
        ),
        pytest.param({"created_at": "20250110"}, "'created_at'", id="date-compact-digits"),
        pytest.param({"$nor": ["x"]}, "$nor[0]", id="nor-element-not-dict"),
        pytest.param({"tags": {"$in": "gpu"}}, "$in", id="in-not-list"),
        pytest.param({"tags": {"$nin": 3}}, "$nin", id="nin-not-list"),
        pytest.param({"name": {"$regex": "("}}, "$regex", id="bad-regex"),
        pytest.param({"name": {"$regex": 3}}, "$regex", id="regex-not-string"),
        pytest.param({"name": {"$regex": "a", "$options": "q"}}, "$options", id="bad-options"),
        pytest.param({"name": {"$options": "i"}}, "$options", id="options-without-regex"),
        pytest.param({"name": {"$exists": "yes"}}, "$exists", id="exists-not-bool"),
        pytest.param({"name": {"$not": "a"}}, "$not", id="not-not-operator-object"),
        pytest.param({"name": {"$gt": 1, "x": 2}}, "mixes", id="mixed-operator-object"),
        pytest.param({"config..lr": 1}, "config..lr", id="empty-path-segment"),
        pytest.param({"$or": [{"a": {"$not": {"$bar": 1}}}]}, "$bar", id="nested-unknown"),
    ],
)
def test_filter_errors(filters: Any, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        compile_filter(filters)


@pytest.mark.parametrize("order", ["+", "-", "--name", "+-name", " name", "name.", "$name"])
def test_order_errors(order: str) -> None:
    with pytest.raises(FilterError, match=r"^invalid "):
        compile_order(order)


def test_filter_error_is_value_error() -> None:
    assert issubclass(FilterError, ValueError)


def test_order_must_be_a_string() -> None:
    with pytest.raises(FilterError, match="order must be a string"):
        compile_order(5)  # type: ignore[arg-type]
