"""Oracle tests: our QueryGenerator family against the official wandb 0.31.0 one.

Every case in the oracle tables is run through both implementations; where the official SDK
returns, ours must return an equal value, and where it raises (whatever the exception), ours
must raise `InvalidInputError`. Hand-written expectations pin the behaviour independently of
the oracle, and the deliberate differences are tested on their own.
"""

from __future__ import annotations

import copy
import inspect
import logging
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from prefect_wandb_public.api.query_generator import (
    PanelMetricsHelper,
    PythonMongoishQueryGenerator,
    QueryGenerator,
)
from prefect_wandb_public.errors import InvalidInputError

pytestmark = pytest.mark.oracle

RUN_SET = SimpleNamespace(_runs_config={"lr": 0.1, "batch_size": 32, "opt": "adam"})
CLASSES = {
    "qg": "QueryGenerator",
    "pm": "PythonMongoishQueryGenerator",
    "ph": "PanelMetricsHelper",
}


@pytest.fixture(scope="module")
def official() -> ModuleType:
    import wandb.apis.public as public

    return public


def _ours(target: str) -> Any:
    if target == "qg":
        return QueryGenerator()
    if target == "pm":
        return PythonMongoishQueryGenerator(RUN_SET)
    return PanelMetricsHelper()


def _theirs(public: ModuleType, target: str) -> Any:
    cls = getattr(public, CLASSES[target])
    return cls(RUN_SET) if target == "pm" else cls()


def _key(section: str, name: Any) -> dict[str, Any]:
    return {"section": section, "name": name}


def _ind(section: str, name: Any, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"key": _key(section, name), "op": op, "value": value, **extra}


# (target, method, args): valid inputs, for which the official SDK returns a value.
VALID: list[tuple[str, str, tuple[Any, ...]]] = [
    # format_order_key
    *[
        ("qg", "format_order_key", (k,))
        for k in [
            "loss",
            "+loss",
            "-loss",
            "name",
            "+createdAt",
            "-updatedAt",
            "sweep",
            "config.lr",
            "+summary_metrics.acc",
            "tags.best",
            "foo.bar",
            "-a.b.c",
            "config",
            "",
            "+",
        ]
    ],
    # key_to_server_path / server_path_to_key
    *[
        ("qg", "key_to_server_path", (_key(s, "x.y"),))
        for s in ["config", "summary", "keys_info", "run", "tags"]
    ],
    *[
        ("qg", "server_path_to_key", (p,))
        for p in [
            "config.lr",
            "summary_metrics.acc.top1",
            "keys_info.keys.loss",
            "tags.best",
            "state",
            "config",
            "",
            "config.config.x",
        ]
    ],
    # keys_to_order / order_to_keys
    (
        "qg",
        "keys_to_order",
        (
            {
                "keys": [
                    {"key": _key("summary", "acc"), "ascending": True},
                    {"key": _key("run", "createdAt")},
                    {"key": _key("config", "lr"), "ascending": False},
                    {"key": _key("keys_info", "k"), "ascending": 1},
                ]
            },
        ),
    ),
    ("qg", "keys_to_order", ({"keys": []},)),
    ("qg", "order_to_keys", (["+name", "-createdAt", "+summary_metrics.acc"],)),
    ("qg", "order_to_keys", ([],)),
    ("qg", "order_to_keys", (("+", "-"),)),
    # filter_to_mongo: individual filters, every op
    *[
        ("qg", "filter_to_mongo", (_ind("config", "lr", op, 0.1),))
        for op in ["=", "!=", ">", ">=", "<", "<=", "IN", "NIN", "REGEX"]
    ],
    ("qg", "filter_to_mongo", (_ind("summary", "acc", ">", 0.5),)),
    ("qg", "filter_to_mongo", (_ind("run", "state", "IN", ["running", "finished"]),)),
    ("qg", "filter_to_mongo", (_ind("keys_info", "loss", "=", "x"),)),
    # skipped filters
    ("qg", "filter_to_mongo", (_ind("config", "", "=", 1),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", ">", None),)),
    ("qg", "filter_to_mongo", ({"key": _key("config", "lr"), "op": ">"},)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "=", None),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "!=", None),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "=", 1, disabled=True),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "=", 1, disabled=False),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "BOGUS", 1, disabled=True),)),
    ("qg", "filter_to_mongo", (_ind("run", None, "=", 1),)),
    ("qg", "filter_to_mongo", ({},)),
    ("qg", "filter_to_mongo", ({"op": "AND"},)),
    # tags
    ("qg", "filter_to_mongo", (_ind("tags", "best", "=", True),)),
    ("qg", "filter_to_mongo", (_ind("tags", "best", "=", False),)),
    ("qg", "filter_to_mongo", (_ind("tags", "best", "=", None),)),
    ("qg", "filter_to_mongo", (_ind("tags", "best", "!=", 0),)),
    ("qg", "filter_to_mongo", (_ind("tags", "x", "IN", ["a", "b"]),)),
    ("qg", "filter_to_mongo", (_ind("tags", "x", "IN", None),)),
    # groups
    (
        "qg",
        "filter_to_mongo",
        (
            {
                "op": "OR",
                "filters": [
                    {
                        "op": "AND",
                        "filters": [
                            _ind("config", "lr", ">=", 0.01),
                            _ind("run", "state", "=", "finished"),
                            _ind("config", "", "=", 1),
                            _ind("tags", "best", "=", False),
                        ],
                    },
                    _ind("summary", "loss", "<", 1.5),
                ],
            },
        ),
    ),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": []},)),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": ()},)),
    ("qg", "filter_to_mongo", ({"op": "OR", "filters": [{"op": "AND", "filters": []}]},)),
    # mongo_to_filter
    ("qg", "mongo_to_filter", (None,)),
    ("qg", "mongo_to_filter", ({},)),
    ("qg", "mongo_to_filter", ({"config.lr": 0.1},)),
    ("qg", "mongo_to_filter", ({"summary_metrics.acc": {"$gt": 0.5}},)),
    ("qg", "mongo_to_filter", ({"tags": {"$in": ["a", "b"]}},)),
    ("qg", "mongo_to_filter", ({"state": {"$ne": None}},)),
    ("qg", "mongo_to_filter", ({"a": 1, "b": {"$lt": 2}},)),
    ("qg", "mongo_to_filter", ({"a": 1, "$or": [{"b": 2}]},)),
    ("qg", "mongo_to_filter", ({"$and": [None, {"keys_info.keys.x": {"$regex": "^a"}}]},)),
    (
        "qg",
        "mongo_to_filter",
        (
            {
                "$or": [
                    {
                        "$and": [
                            {"config.lr": {"$gte": 0.01}},
                            {"state": "finished"},
                            {"summary_metrics.loss": {"$nin": [1, 2]}},
                        ]
                    }
                ]
            },
        ),
    ),
    ("qg", "mongo_to_filter", ({"config.lr": {"$lte": 1, "$gt": 0}},)),
    ("qg", "mongo_to_filter", ({"$and": ""},)),
    # PythonMongoishQueryGenerator.python_to_mongo
    *[
        ("pm", "python_to_mongo", (expr,))
        for expr in [
            "lr > 0.1",
            "acc >= 0.5 and State == 'finished'",
            "a < 1 or b > 2",
            "State == 'running' or State == 'finished' or State == 'crashed'",
            "a in (1, 2)",
            "a not in [1, 'x', b]",
            "a is None",
            "a is not None",
            "a != 'x'",
            "x == True",
            "'config.lr' > 1",
            "'lr.sub' > 2",
            "x > 1.",
            "x > .5",
            "x <= 10. and y > 3",
            "x == 'v1.2'",
            "x == 'a.b'",
            "x == 'a;;;b'",
            "Step <= 100",
            "ID == 'abc'",
            "displayName == 'n'",
            "a == b",
            "'a' == 1",
            "a < b < c",
            "batch_size in [16, 32]",
            "(lr > 0.1) or (opt == 'adam')",
            "lr>0.1",
        ]
    ],
    # name translations
    *[
        ("pm", "front_to_back", (n,))
        for n in ["State", "state", "lr", "lr.x", "acc", "acc.top1", "Step.x", "Wall Time", ""]
    ],
    *[
        ("pm", "back_to_front", (n,))
        for n in [
            "state",
            "State",
            "config.lr.value",
            "config.lr.value.sub",
            "summary_metrics.acc",
            "summary_metrics.summary_metrics.x",
            "unknown",
            "config.lr",
        ]
    ],
    *[
        ("pm", "pc_front_to_back", (n,))
        for n in ["Step", "State", "state", "lr", "lr.x", "acc", "acc.y.z", "Relative Time (Wall)"]
    ],
    *[
        ("pm", "pc_back_to_front", (n,))
        for n in [
            None,
            "summary:_step",
            "summary:acc",
            "state",
            "Name",
            "config:lr.value",
            "summary_metrics.x",
            "other",
        ]
    ],
    *[("ph", "front_to_back", (n,)) for n in ["Step", "acc", None, 3]],
    *[("ph", "back_to_front", (n,)) for n in ["_step", "_timestamp", "acc", None]],
    *[
        ("ph", "special_front_to_back", (n,))
        for n in [
            None,
            "c::lr",
            "c::lr.sub",
            "s::acc",
            "s::a.b",
            "Created Timestamp",
            "Latest Timestamp",
            "Step",
            "Index",
            "acc",
            "acc.x",
        ]
    ],
    *[
        ("ph", "special_back_to_front", (n,))
        for n in [
            None,
            "config:lr.value",
            "config:lr.value.sub.deeper",
            "summary:acc",
            "summary:a:b",
            "run:createdAt",
            "run:heartbeatAt",
            "foo:bar",
            "x:summary:_step",
        ]
    ],
]

# (target, method, args): invalid inputs, for which the official SDK raises.
INVALID: list[tuple[str, str, tuple[Any, ...]]] = [
    ("qg", "format_order_key", (None,)),
    ("qg", "key_to_server_path", (_key("bogus", "x"),)),
    ("qg", "key_to_server_path", ({"name": "x"},)),
    ("qg", "key_to_server_path", ({"section": "config"},)),
    ("qg", "key_to_server_path", (_key("config", 5),)),
    ("qg", "key_to_server_path", ("config.lr",)),
    ("qg", "server_path_to_key", (None,)),
    ("qg", "keys_to_order", ({"keys": [{"key": _key("nope", "x")}]},)),
    ("qg", "keys_to_order", ({"keys": [{"ascending": True}]},)),
    ("qg", "keys_to_order", ([],)),
    ("qg", "order_to_keys", (["name"],)),
    ("qg", "order_to_keys", ([""],)),
    ("qg", "order_to_keys", (["+a", "*b"],)),
    ("qg", "order_to_keys", ("+created_at",)),
    ("qg", "filter_to_mongo", ("config.lr > 1",)),
    ("qg", "filter_to_mongo", (None,)),
    ("qg", "filter_to_mongo", ([_ind("config", "lr", "=", 1)],)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "BOGUS", 1),)),
    ("qg", "filter_to_mongo", (_ind("config", "lr", "==", 1),)),
    ("qg", "filter_to_mongo", (_ind("bogus", "lr", "=", 1),)),
    ("qg", "filter_to_mongo", (_ind("config", 5, "=", 1),)),
    ("qg", "filter_to_mongo", ({"key": "lr", "op": "=", "value": 1},)),
    ("qg", "filter_to_mongo", ({"key": {"section": "config"}, "op": "=", "value": 1},)),
    ("qg", "filter_to_mongo", ({"key": {"name": "lr"}, "op": "=", "value": 1},)),
    ("qg", "filter_to_mongo", ({"key": _key("config", "lr"), "value": None},)),
    ("qg", "filter_to_mongo", ({"key": _key("config", "lr"), "op": "="},)),
    ("qg", "filter_to_mongo", ({"key": _key("tags", "best"), "op": "="},)),
    ("qg", "filter_to_mongo", ({"key": _key("config", "lr"), "value": 1},)),
    ("qg", "filter_to_mongo", ({"op": "XOR", "filters": []},)),
    ("qg", "filter_to_mongo", ({"filters": []},)),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": ["lr > 1"]},)),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": [None]},)),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": 5},)),
    ("qg", "filter_to_mongo", ({"op": "AND", "filters": [_ind("config", "lr", "?", 1)]},)),
    ("qg", "mongo_to_filter", ("config.lr",)),
    ("qg", "mongo_to_filter", ([{"a": 1}],)),
    ("qg", "mongo_to_filter", ({"a": {"$exists": True}},)),
    ("qg", "mongo_to_filter", ({"a": {"$eq": 1}},)),
    ("qg", "mongo_to_filter", ({"a": {}},)),
    ("qg", "mongo_to_filter", ({"$and": [5]},)),
    ("qg", "mongo_to_filter", ({"$and": 5},)),
    ("qg", "mongo_to_filter", ({"$or": ["a"]},)),
    ("qg", "mongo_to_filter", ({5: 1},)),
    *[
        ("pm", "python_to_mongo", (expr,))
        for expr in [
            "",
            "a",
            "a >",
            "a = 1",
            "lr.sub > 2",
            "config.lr > 0.1",
            "a > -1",
            "a in {1, 2}",
            "a and b",
            "not a",
            "a + 1",
            "1 < x",
            "[a] == 1",
            "a > 1 and b < 2 or c == 3",
            "a > 1, b < 2",
            "f(a) > 1",
            None,
        ]
    ],
    ("pm", "front_to_back", (None,)),
    ("pm", "back_to_front", (None,)),
    ("pm", "pc_front_to_back", (None,)),
    ("pm", "pc_back_to_front", (5,)),
    ("ph", "front_to_back", (["Step"],)),
    ("ph", "special_front_to_back", (5,)),
    ("ph", "special_back_to_front", ("nocolon",)),
    ("ph", "special_back_to_front", ("config:lr",)),
    ("ph", "special_back_to_front", ("run:bogus",)),
]


def _case_id(case: tuple[str, str, tuple[Any, ...]]) -> str:
    target, method, args = case
    return f"{target}.{method}{args!r}"[:90]


@pytest.mark.parametrize("case", VALID, ids=[_case_id(c) for c in VALID])
def test_matches_official(case: tuple[str, str, tuple[Any, ...]], official: ModuleType) -> None:
    target, method, args = case
    expected = getattr(_theirs(official, target), method)(*copy.deepcopy(args))
    got = getattr(_ours(target), method)(*copy.deepcopy(args))
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("case", INVALID, ids=[_case_id(c) for c in INVALID])
def test_invalid_input_raises(case: tuple[str, str, tuple[Any, ...]], official: ModuleType) -> None:
    target, method, args = case
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises assorted exception types
        getattr(_theirs(official, target), method)(*copy.deepcopy(args))
    with pytest.raises(InvalidInputError):
        getattr(_ours(target), method)(*copy.deepcopy(args))


def test_roundtrip_matches_official(official: ModuleType) -> None:
    theirs, ours = official.QueryGenerator(), QueryGenerator()
    for target, method, args in VALID:
        if (target, method) != ("qg", "filter_to_mongo"):
            continue
        mongo = ours.filter_to_mongo(copy.deepcopy(args[0]))
        if mongo is None or any(v is None for v in mongo.values()):
            continue
        try:
            expected = theirs.mongo_to_filter(copy.deepcopy(mongo))
        except Exception:
            with pytest.raises(InvalidInputError):
                ours.mongo_to_filter(mongo)
        else:
            assert ours.mongo_to_filter(mongo) == expected


@pytest.mark.parametrize("name", list(CLASSES.values()))
def test_public_surface_matches(name: str, official: ModuleType) -> None:
    theirs = getattr(official, name)
    ours = {
        "QueryGenerator": QueryGenerator,
        "PythonMongoishQueryGenerator": PythonMongoishQueryGenerator,
        "PanelMetricsHelper": PanelMetricsHelper,
    }[name]
    for attr in dir(theirs):
        if attr.startswith("__"):
            continue
        official_value = inspect.getattr_static(theirs, attr)
        if callable(official_value) or isinstance(official_value, (classmethod, staticmethod)):
            if attr.startswith("_"):
                continue
            assert hasattr(ours, attr), attr
            assert isinstance(inspect.getattr_static(ours, attr), type(official_value)), attr
            ours_params = list(inspect.signature(getattr(ours, attr)).parameters)
            assert ours_params == list(inspect.signature(getattr(theirs, attr)).parameters), attr
        else:
            assert getattr(ours, attr) == official_value, attr
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)


# ------------------------------------------------------------------ hand-written expectations


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("loss", "-summary_metrics.loss"),
        ("+loss", "+summary_metrics.loss"),
        ("name", None),
        ("+createdAt", None),
        ("config.lr", "-config.lr"),
        ("+tags.best", "+tags.best"),
        ("val.loss", "-summary_metrics.val.loss"),
    ],
)
def test_format_order_key_by_hand(key: str, expected: str | None) -> None:
    assert QueryGenerator.format_order_key(key) == expected


def test_filter_to_mongo_by_hand() -> None:
    qg = QueryGenerator()
    group = {
        "op": "OR",
        "filters": [
            {
                "op": "AND",
                "filters": [
                    _ind("config", "lr", ">=", 0.01),
                    _ind("run", "state", "=", "finished"),
                    _ind("tags", "baseline", "=", False),
                    _ind("summary", "acc", "IN", [1, 2], disabled=True),
                ],
            },
            _ind("tags", "", "IN", ["a"]),
        ],
    }
    assert qg.filter_to_mongo(group) == {
        "$or": [
            {
                "$and": [
                    {"config.lr": {"$gte": 0.01}},
                    {"state": "finished"},
                    {"$or": [{"tags": None}, {"tags": {"$ne": "baseline"}}]},
                    None,
                ]
            },
            None,
        ]
    }
    assert qg.filter_to_mongo(_ind("tags", "x", "IN", ["a"])) == {"tags": {"$in": ["a"]}}
    assert qg.filter_to_mongo(_ind("tags", "x", "=", True)) == {"tags": "x"}
    assert qg.filter_to_mongo(_ind("keys_info", "k", "REGEX", "^a")) == {
        "keys_info.keys.k": {"$regex": "^a"}
    }


def test_paths_and_orders_by_hand() -> None:
    qg = QueryGenerator()
    assert qg.key_to_server_path(_key("summary", "acc")) == "summary_metrics.acc"
    assert qg.key_to_server_path(_key("keys_info", "k")) == "keys_info.keys.k"
    assert qg.server_path_to_key("tags.best") == {"section": "tags", "name": "best"}
    assert qg.server_path_to_key("createdAt") == {"section": "run", "name": "createdAt"}
    assert qg.keys_to_order({"keys": [{"key": _key("config", "lr"), "ascending": True}]}) == [
        "+config.lr"
    ]
    assert qg.order_to_keys(["-createdAt"]) == {
        "keys": [{"key": {"section": "run", "name": "createdAt"}, "ascending": False}]
    }
    assert qg.mongo_to_filter({"$and": [{"config.lr": {"$gt": 0.1}}, {"state": "running"}]}) == {
        "op": "AND",
        "filters": [
            {"key": {"section": "config", "name": "lr"}, "op": ">", "value": 0.1},
            {"key": {"section": "run", "name": "state"}, "op": "=", "value": "running"},
        ],
    }


def test_python_to_mongo_by_hand() -> None:
    pm = PythonMongoishQueryGenerator(RUN_SET)
    assert pm.python_to_mongo("lr > 0.1 and State == 'finished'") == {
        "$or": [{"$and": [{"config.lr.value": {"$gt": 0.1}}, {"state": "finished"}]}]
    }
    assert pm.python_to_mongo("acc >= .5 or Step in (1, 2)") == {
        "$or": [{"$or": [{"summary_metrics.acc": {"$gte": 0.5}}, {"_step": {"$in": [1, 2]}}]}]
    }
    assert pm.python_to_mongo("name is not None") == {"$or": [{"$and": [{"name": {"$ne": None}}]}]}
    assert pm.front_to_back("lr.inner") == "config.lr.value.inner"
    assert pm.back_to_front("config.lr.value") == "lr"
    assert pm.pc_front_to_back("Step") == "summary:_step"
    assert pm.pc_back_to_front("config:lr.value") == "lr"
    helper = PanelMetricsHelper()
    assert helper.special_front_to_back("c::lr.x") == "config:lr.value.x"
    assert helper.special_back_to_front("config:lr.value.x") == "c::lr.x"
    assert helper.special_back_to_front("run:heartbeatAt") == "Latest Timestamp"


# ----------------------------------------------------------------------------- error details


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: QueryGenerator().filter_to_mongo("lr > 1"), "'lr > 1'"),  # type: ignore[arg-type]
        (lambda: QueryGenerator().filter_to_mongo(_ind("config", "lr", "BOGUS", 1)), "BOGUS"),
        (lambda: QueryGenerator().filter_to_mongo({"op": "XOR", "filters": []}), "XOR"),
        (lambda: QueryGenerator().mongo_to_filter({"a": {"$exists": True}}), "$exists"),
        (lambda: QueryGenerator().key_to_server_path(_key("bogus", "x")), "bogus"),
        (lambda: QueryGenerator().order_to_keys(["name"]), "'name'"),
        (lambda: PythonMongoishQueryGenerator(RUN_SET).python_to_mongo("a >"), "'a >'"),
        (lambda: PythonMongoishQueryGenerator(RUN_SET).python_to_mongo("a > -1"), "-1"),
    ],
)
def test_errors_name_the_input(call: Any, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------- deliberate differences


def test_order_to_keys_rejects_a_bare_string(official: ModuleType) -> None:
    # The SDK iterates the characters of a string; "+-" happens to succeed there.
    assert official.QueryGenerator().order_to_keys("+-")["keys"][0]["key"]["name"] == ""
    with pytest.raises(InvalidInputError, match="list"):
        QueryGenerator().order_to_keys("+-")


def test_run_key_name_must_be_a_string(official: ModuleType) -> None:
    assert official.QueryGenerator().key_to_server_path(_key("run", 5)) == 5
    with pytest.raises(InvalidInputError):
        QueryGenerator().key_to_server_path(_key("run", 5))
    # ...but a run filter with no name is skipped, exactly as in the SDK.
    assert QueryGenerator().filter_to_mongo(_ind("run", None, "=", 1)) is None


def test_run_set_may_be_none() -> None:
    pm = PythonMongoishQueryGenerator(None)
    assert pm.front_to_back("lr") == "summary_metrics.lr"
    assert pm.python_to_mongo("lr < 1") == {"$or": [{"$and": [{"summary_metrics.lr": {"$lt": 1}}]}]}
    assert PythonMongoishQueryGenerator().pc_front_to_back("lr") == "summary:lr"
    with pytest.raises(InvalidInputError, match="_runs_config"):
        PythonMongoishQueryGenerator(object()).front_to_back("lr")


def test_unknown_backend_token_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="prefect_wandb_public.api.query_generator"):
        assert PythonMongoishQueryGenerator(RUN_SET).back_to_front("mystery") == "mystery"
    assert "Unknown token: mystery" in caplog.text
