"""The local server's parquet history exports: when runs are exported, the file layout, the
`parquetHistory` answer (signed URLs, `liveData` and its `liveKeys`), and the storage route's
HTTP behaviour (HEAD, Range, signatures that expire)."""

from __future__ import annotations

import io
import math
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from prefect_wandb_public.testing import LocalWandbServer
from prefect_wandb_public.testing.history_exports import EXPORT_METADATA, write_parquet

PARQUET_QUERY = """
query P($entity: String!, $project: String!, $keys: [String!]!) {
  project(name: $project, entityName: $entity) {
    run(name: "r") { parquetHistory(liveKeys: $keys) { parquetUrls liveData } }
  }
}
"""


def parquet_history(
    server: LocalWandbServer, entity: str, project: str, keys: list[str] | None = None
) -> dict[str, Any]:
    answer = requests.post(
        f"{server.url}/graphql",
        json={
            "query": PARQUET_QUERY,
            "variables": {
                "entity": entity,
                "project": project,
                "keys": ["_step"] if keys is None else keys,
            },
        },
        auth=("api", server.api_key),
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    return dict(answer["data"]["project"]["run"]["parquetHistory"])


def read(url: str) -> pa.Table:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return pq.read_table(io.BytesIO(response.content))


# ---------------------------------------------------------------------------- lifecycle
def test_a_finished_run_is_exported_and_a_running_one_is_live(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"loss": i / 10} for i in range(5)]
    server.create_run(entity, project, "r", history=rows)
    server.create_run(entity, project, "running", history=rows, state="running")
    server.create_run(entity, project, "opted-out", history=rows, history_exports=False)

    finished = parquet_history(server, entity, project)
    assert len(finished["parquetUrls"]) == 1 and finished["liveData"] == []
    assert read(finished["parquetUrls"][0]).column("loss").to_pylist() == [r["loss"] for r in rows]
    for run_id in ("running", "opted-out"):
        run = server.store.require_run(entity, project, run_id)
        assert run.exports.files == [] and run.exports.live_indexes(run.history) == range(5)


def test_log_then_export_makes_another_file_and_the_rest_stays_live(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r", history=[{"x": i} for i in range(3)], state="running")
    assert parquet_history(server, entity, project) == {
        "parquetUrls": [],
        "liveData": [{"_step": 0}, {"_step": 1}, {"_step": 2}],
    }

    assert server.export_history(entity, project, "r") == 3
    assert server.log_history(entity, project, "r", [{"x": 3}, {"_step": 10, "x": 4}]) == 10
    middle = parquet_history(server, entity, project)
    assert server.export_history(entity, project, "r") == 2
    assert server.export_history(entity, project, "r") == 0  # nothing new: no file
    server.log_history(entity, project, "r", [{"x": 5}])
    last = parquet_history(server, entity, project)

    assert len(middle["parquetUrls"]) == 1 and middle["liveData"] == [{"_step": 3}, {"_step": 10}]
    assert len(last["parquetUrls"]) == 2 and last["liveData"] == [{"_step": 11}]
    steps = [read(url).column("_step").to_pylist() for url in last["parquetUrls"]]
    assert steps == [[0.0, 1.0, 2.0], [3.0, 10.0]]


def test_an_empty_finished_run_has_an_empty_export(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r")

    answer = parquet_history(server, entity, project)

    [url] = answer["parquetUrls"]
    table = read(url)
    assert (table.num_columns, table.num_rows) == (0, 0) and answer["liveData"] == []
    assert pq.ParquetFile(io.BytesIO(requests.get(url, timeout=30).content)).metadata.metadata == (
        EXPORT_METADATA
    )


def test_live_keys_pick_the_keys_each_live_row_holds(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    rows = [{"a": 1, "n": {"b": 2}}, {"a": float("nan")}, {"c": 3}]
    server.create_run(entity, project, "r", history=rows, state="running")

    answer = parquet_history(server, entity, project, ["_step", "a", "n.b", "zzz"])
    steps_only = parquet_history(server, entity, project, ["_step"])
    nothing = parquet_history(server, entity, project, [])

    assert answer["liveData"] == [
        {"_step": 0, "a": 1, "n.b": 2},
        {"_step": 1, "a": "NaN"},  # a JSON field: NaN spelled as the service spells it
        {"_step": 2},
    ]
    assert steps_only["liveData"] == [{"_step": 0}, {"_step": 1}, {"_step": 2}]
    assert nothing["liveData"] == [{}, {}, {}]


def test_a_server_without_exports_answers_nothing(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r", history=[{"x": 1}])
    server.parquet_history = False
    try:
        assert parquet_history(server, entity, project) == {"parquetUrls": [], "liveData": []}
    finally:
        server.parquet_history = True


# ---------------------------------------------------------------------------- layout
def test_the_file_layout() -> None:
    rows: list[dict[str, Any]] = [
        {
            "_step": 0,
            "i": 1,
            "f": 0.5,
            "mixed": 1,
            "b": True,
            "s": "x",
            "n": {"x": 1, "y": {"z": 2}},
        },
        {"_step": 1, "i": 2, "f": math.nan, "mixed": 2.5, "none": None, "empty": {}},
        {"_step": 5, "f": math.inf, "l": [1, 2], "media": {"_type": "image-file", "path": "a"}},
        {"_step": 7, "f": -math.inf, "odd": 1, "l": [3]},
        {"_step": 8, "odd": "one", "big": 2**70},
    ]

    table = pq.read_table(io.BytesIO(write_parquet(rows)))
    types = {field.name: field.type for field in table.schema}

    assert types["_step"] == pa.float64()
    assert (
        types["i"] == pa.int64() and types["f"] == pa.float64() and types["mixed"] == pa.float64()
    )
    assert types["b"] == pa.bool_() and types["s"] == pa.string()
    assert types["n.x"] == pa.int64() and types["n.y.z"] == pa.int64()  # nested: dotted names
    assert types["l"] == pa.list_(pa.int64())
    assert pa.types.is_struct(types["media"])
    for json_text in ("none", "empty", "odd", "big"):  # kept exactly as JSON text
        assert types[json_text] == pa.binary(), json_text
    assert table.column("_step").to_pylist() == [0.0, 1.0, 5.0, 7.0, 8.0]
    floats = table.column("f").to_pylist()
    assert math.isnan(floats[1]) and floats[2:4] == [math.inf, -math.inf]  # IEEE values
    assert table.column("none").to_pylist() == [None, b"null", None, None, None]
    assert table.column("odd").to_pylist() == [None, None, None, b"1", b'"one"']
    assert pq.ParquetFile(io.BytesIO(write_parquet(rows))).metadata.metadata == EXPORT_METADATA


def test_files_are_written_on_first_read_only(
    server: LocalWandbServer, entity: str, project: str
) -> None:
    server.create_run(entity, project, "r", history=[{"x": i} for i in range(20_500)])
    run = server.store.require_run(entity, project, "r")
    assert run.exports.files[0].data is None

    file = pq.ParquetFile(
        io.BytesIO(
            requests.get(
                parquet_history(server, entity, project)["parquetUrls"][0], timeout=30
            ).content
        )
    )

    assert run.exports.files[0].data is not None
    assert [file.metadata.row_group(i).num_rows for i in range(3)] == [10_000, 10_000, 500]


# ---------------------------------------------------------------------------- HTTP
def test_head_range_and_signatures(server: LocalWandbServer, entity: str, project: str) -> None:
    server.create_run(entity, project, "r", history=[{"x": i} for i in range(100)])
    [url] = parquet_history(server, entity, project)["parquetUrls"]
    body = requests.get(url, timeout=30).content
    path = urlsplit(url).path
    query = parse_qs(urlsplit(url).query)

    head = requests.head(url, timeout=30)
    tail = requests.get(
        url, headers={"Range": f"bytes={len(body) - 8}-{len(body) - 1}"}, timeout=30
    )
    unsigned = requests.get(f"{server.url}{path}", timeout=30)
    forged = requests.get(
        f"{server.url}{path}?expires={query['expires'][0]}&signature=00", timeout=30
    )
    later = requests.get(
        f"{server.url}{path}?expires={int(query['expires'][0]) + 60}"
        f"&signature={query['signature'][0]}",
        timeout=30,
    )
    missing = requests.get(
        server.url + server.urls.sign(path.replace("/0.parquet", "/9.parquet")), timeout=30
    )

    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(body)
    assert head.content == b""
    assert tail.status_code == 206 and tail.content == body[-8:] and tail.content.endswith(b"PAR1")
    assert tail.headers["Content-Range"] == f"bytes {len(body) - 8}-{len(body) - 1}/{len(body)}"
    assert [unsigned.status_code, forged.status_code, later.status_code] == [403, 403, 403]
    assert "signature" in forged.text
    assert missing.status_code == 404


def test_signed_urls_expire(server: LocalWandbServer, entity: str, project: str) -> None:
    server.create_run(entity, project, "r", history=[{"x": 1}])
    server.urls.url_ttl = 2.0  # expiries are whole seconds: the URL lives 1 to 2 s
    try:
        [url] = parquet_history(server, entity, project)["parquetUrls"]
        assert requests.get(url, timeout=30).status_code == 200
        time.sleep(3.1)
        expired = requests.get(url, timeout=30)
    finally:
        server.urls.url_ttl = 3600.0

    assert expired.status_code == 403 and "expired" in expired.text
    [fresh] = parquet_history(server, entity, project)["parquetUrls"]
    assert urlsplit(fresh).path == urlsplit(url).path and fresh != url
    assert requests.get(fresh, timeout=30).status_code == 200


@pytest.mark.parametrize("value", ["abc", ""])
def test_a_malformed_expiry_is_refused(
    server: LocalWandbServer, entity: str, project: str, value: str
) -> None:
    server.create_run(entity, project, "r", history=[{"x": 1}])
    [url] = parquet_history(server, entity, project)["parquetUrls"]
    path = urlsplit(url).path
    signature = parse_qs(urlsplit(url).query)["signature"][0]

    answer = requests.get(f"{server.url}{path}?expires={value}&signature={signature}", timeout=30)

    assert answer.status_code == 403
