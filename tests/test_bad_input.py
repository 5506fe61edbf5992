"""Bad input: malformed paths, filters, page sizes and orders fail with InvalidInputError naming
the input before any request; missing objects fail with NotFoundError naming their path; a filter
only the server can judge fails with the server's own message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.errors import CommError, InvalidInputError, NotFoundError
from prefect_wandb_public.testing import LocalWandbServer

MALFORMED_PATHS = ["", "a/b/c/d/e", "/x", "e//r", "x/", " padded", "has space/r1"]


def assert_nothing_sent(server: LocalWandbServer) -> None:
    assert server.request_log.records == [], "a request was sent before the input was checked"


# ---------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", MALFORMED_PATHS)
@pytest.mark.parametrize(
    "call",
    [
        lambda api, path: api.run(path),
        lambda api, path: api.sweep(path),
        lambda api, path: api.runs(path),
    ],
    ids=["run", "sweep", "runs"],
)
def test_malformed_path_is_refused_before_any_request(
    api: Api, server: LocalWandbServer, call: Callable[[Api, str], Any], path: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        call(api, path)
    assert repr(path) in str(info.value)
    assert_nothing_sent(server)


@pytest.mark.parametrize(
    "path", ["e/p/r/x", "a b", "e/p/bad name", "e/p/runs/", "e:p:r", "e/p/r:x"]
)
def test_malformed_run_path_is_refused_before_any_request(
    api: Api, server: LocalWandbServer, path: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        api.run(path)
    assert repr(path) in str(info.value)
    assert_nothing_sent(server)


def test_runs_path_with_three_parts_is_refused(api: Api, server: LocalWandbServer) -> None:
    with pytest.raises(InvalidInputError, match="'e/p/r'"):
        api.runs("e/p/r")
    assert_nothing_sent(server)


@pytest.mark.parametrize("path", [None, 5, ["e", "p"]])
def test_path_that_is_not_a_string_is_refused(
    api: Api, server: LocalWandbServer, path: Any
) -> None:
    with pytest.raises(InvalidInputError, match="string"):
        api.run(path)
    with pytest.raises(InvalidInputError, match="string"):
        api.sweep(path)
    assert_nothing_sent(server)


# ---------------------------------------------------------------------- missing objects


def test_run_of_unknown_entity_is_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError, match="nobody-here/some-project/r1"):
        api.run("nobody-here/some-project/r1")


def test_unknown_run_is_not_found(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r1")
    path = f"{entity}/{project}/missing-run"
    with pytest.raises(NotFoundError, match=path) as info:
        api.run(path)
    assert "does not exist" not in str(info.value)  # the project exists; the run does not


def test_run_of_unknown_project_is_not_found(api: Api, entity: str, project: str) -> None:
    with pytest.raises(NotFoundError, match=f"{entity}/{project}/r1") as info:
        api.run(f"{entity}/{project}/r1")
    assert f"project {entity}/{project} does not exist" in str(info.value)


def test_runs_of_unknown_project_are_not_found(api: Api, entity: str, project: str) -> None:
    runs = api.runs(f"{entity}/{project}")
    with pytest.raises(NotFoundError, match=f"{entity}/{project}"):
        list(runs)
    with pytest.raises(NotFoundError, match="nobody-here/nothing"):
        len(api.runs("nobody-here/nothing"))


def test_unknown_sweep_is_not_found(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r1")
    with pytest.raises(NotFoundError, match=f"{entity}/{project}/no-sweep"):
        api.sweep(f"{entity}/{project}/no-sweep")
    with pytest.raises(NotFoundError, match="nobody-here/nothing/s1"):
        api.sweep("nobody-here/nothing/s1")


def test_not_found_is_not_retried(
    api: Api, server: LocalWandbServer, entity: str, project: str
) -> None:
    with pytest.raises(NotFoundError):
        api.run(f"{entity}/{project}/r1")
    assert server.request_log.count(operation="Run") == 1


# ---------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "filters",
    [[("name", "r1")], "name == r1", 5, {"name", "r1"}],
    ids=["list", "string", "int", "set"],
)
def test_filters_that_are_not_a_dict_are_refused(
    api: Api, server: LocalWandbServer, entity: str, project: str, filters: Any
) -> None:
    with pytest.raises(InvalidInputError, match="filters must be a dict"):
        api.runs(f"{entity}/{project}", filters=filters)
    assert_nothing_sent(server)


@pytest.mark.parametrize(
    ("filters", "operator"),
    [
        ({"$where": "1"}, "$where"),
        ({"config.lr": {"$gt": 0.1, "$between": [0, 1]}}, "$between"),
        ({"$and": [{"state": "finished"}, {"tags": {"$contains": "x"}}]}, "$contains"),
        ({"$or": [{"$not": {"name": {"$like": "r%"}}}]}, "$like"),
    ],
)
def test_unknown_filter_operator_is_refused(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    filters: dict[str, Any],
    operator: str,
) -> None:
    with pytest.raises(InvalidInputError, match=f"unknown filter operator '\\{operator}'"):
        api.runs(f"{entity}/{project}", filters=filters)
    assert_nothing_sent(server)


@pytest.mark.parametrize(
    "filters",
    [{"summary_metrics.loss": float("nan")}, {"name": object()}, {1: "x"}],
    ids=["nan", "object", "int-key"],
)
def test_filters_that_cannot_be_sent_are_refused(
    api: Api, server: LocalWandbServer, entity: str, project: str, filters: Any
) -> None:
    with pytest.raises(InvalidInputError):
        api.runs(f"{entity}/{project}", filters=filters)
    assert_nothing_sent(server)


@pytest.mark.parametrize(
    ("filters", "server_says"),
    [
        ({"name": {"$regex": "("}}, "invalid $regex '('"),
        ({"name": {"$regex": 5}}, "$regex for field 'name' needs a string"),
        ({"name": {"$options": "i"}}, "$options without $regex"),
    ],
)
def test_filter_refused_by_the_server_surfaces_its_message(
    api: Api,
    server: LocalWandbServer,
    entity: str,
    project: str,
    filters: dict[str, Any],
    server_says: str,
) -> None:
    server.create_run(entity, project, "r1")
    runs = api.runs(f"{entity}/{project}", filters=filters)
    with pytest.raises(CommError) as info:
        list(runs)
    assert server_says in str(info.value)
    assert not isinstance(info.value, NotFoundError)
    assert server.request_log.count(operation="Runs") == 1  # a refusal is not retried


# ---------------------------------------------------------------------- page sizes and order


@pytest.mark.parametrize("per_page", [0, -1, 10001, 2.5, "10", True, None])
def test_bad_per_page_is_refused(
    api: Api, server: LocalWandbServer, entity: str, project: str, per_page: Any
) -> None:
    with pytest.raises(InvalidInputError, match="per_page") as info:
        api.runs(f"{entity}/{project}", per_page=per_page)
    assert repr(per_page) in str(info.value) or str(per_page) in str(info.value)
    with pytest.raises(InvalidInputError, match="per_page"):
        api.projects(entity, per_page=per_page)
    with pytest.raises(InvalidInputError, match="per_page"):
        api.reports(f"{entity}/{project}", per_page=per_page)
    assert_nothing_sent(server)


@pytest.mark.parametrize("per_page", [1, 10000])
def test_per_page_bounds_are_accepted(
    api: Api, server: LocalWandbServer, entity: str, project: str, per_page: int
) -> None:
    server.create_run(entity, project, "r1")
    assert [run.id for run in api.runs(f"{entity}/{project}", per_page=per_page)] == ["r1"]


@pytest.mark.parametrize("order", ["", "+", "-", "created at", "+-", 5, None])
def test_bad_order_is_refused(
    api: Api, server: LocalWandbServer, entity: str, project: str, order: Any
) -> None:
    with pytest.raises(InvalidInputError, match="order"):
        api.runs(f"{entity}/{project}", order=order)
    assert_nothing_sent(server)
