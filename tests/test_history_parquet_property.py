"""Property: a run's history reads the same whether parquet exports or GraphQL pages serve it.

For each seed, a random history (sparse keys, nested dicts, NaN and infinities, logged Nones,
strings, booleans, lists, media, gaps between steps, a late first step) is seeded three times:
exported whole, all live, and exported up to a random step with the rest live. Random scans
(keys, parents of nested keys, step windows, page sizes), DataFrames, file exports and sampled
histories of the three must agree. The one allowed difference: a key logged both as ints and as
floats is one DOUBLE column in an export, so those ints come back as floats of equal value.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Run, export_history
from prefect_wandb_public.testing import LocalWandbServer

SEEDS = range(12)
SCANS_PER_SEED = 6


def random_history(rng: random.Random) -> list[dict[str, Any]]:
    count = rng.randint(0, 160)
    step = rng.choice([0, 1, 17, 5_000])  # a late start
    rows = []
    for _ in range(count):
        row: dict[str, Any] = {"_step": step}
        if rng.random() < 0.9:
            row["loss"] = rng.choice([rng.random(), math.nan, math.inf, -math.inf, 0.5])
        if rng.random() < 0.4:
            row["count"] = rng.randint(-5, 5)
        if rng.random() < 0.3:
            row["lr"] = rng.choice([0, 1, 1e-3, 0.25])  # ints and floats under one key
        if rng.random() < 0.3:
            row["val"] = {"acc": rng.random(), "deep": {"f1": rng.choice([1.5, math.nan])}}
            if rng.random() < 0.3:
                row["val"]["tag"] = rng.choice(["a", "b"])
        if rng.random() < 0.15:
            row["phase"] = rng.choice(["train", "eval"])
        if rng.random() < 0.15:
            row["done"] = rng.random() < 0.5
        if rng.random() < 0.05:
            row["note"] = None
        if rng.random() < 0.05:
            row["status"] = rng.choice([1, "ok"])  # one key, two types
        if rng.random() < 0.05:
            row["sizes"] = [rng.randint(0, 9) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.03:
            row["image"] = {"_type": "image-file", "path": f"media/{step}.png"}
        rows.append(row)
        step += rng.choice([1, 1, 1, 2, 3, 40, 900])  # gaps
    return rows


def same(a: Any, b: Any) -> bool:
    """Deep equality with types, NaN equal to NaN, an int equal to the float of its value."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if type(a) in numbers and type(b) in numbers:
        return bool(a == b) and (type(a) is type(b) or float(a).is_integer())
    return type(a) is type(b) and a == b


def random_scan(rng: random.Random, rows: list[dict[str, Any]]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"page_size": rng.choice([1, 3, 10, 1000])}
    if rng.random() < 0.5:
        names = ["loss", "count", "lr", "val", "val.acc", "val.deep.f1", "phase", "done", "note"]
        kwargs["keys"] = rng.sample(names, rng.randint(1, 2))
    steps = [row["_step"] for row in rows] or [0]
    if rng.random() < 0.4:
        kwargs["min_step"] = rng.randint(steps[0] - 2, steps[-1] + 2)
    if rng.random() < 0.4:
        low = kwargs.get("min_step", steps[0])
        kwargs["max_step"] = rng.randint(low, steps[-1] + 3)
    return kwargs


def frame_rows(run: Run, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """A history frame's rows without absent cells, as plain values."""
    frame = run.history_frame(**kwargs)
    return [
        {k: _plain(v) for k, v in row.items() if not _absent(v)} for row in frame.to_dict("records")
    ]


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not _absent(v)}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@pytest.mark.filterwarnings("ignore:run .* has no history key")
@pytest.mark.parametrize("seed", SEEDS)
def test_parquet_and_graphql_serve_the_same_history(
    api: Api, server: LocalWandbServer, entity: str, project: str, seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    rows = random_history(rng)
    cut = rng.randint(0, len(rows))
    server.create_run(entity, project, "exported", history=rows)
    server.create_run(entity, project, "live", history=rows, history_exports=False)
    server.create_run(entity, project, "partial", history=rows[:cut], state="running")
    server.export_history(entity, project, "partial")
    server.log_history(entity, project, "partial", rows[cut:])
    exported, live, partial = (
        api.run(f"{entity}/{project}/{name}") for name in ("exported", "live", "partial")
    )

    assert same(list(live.scan_history()), rows)
    for _ in range(SCANS_PER_SEED):
        kwargs = random_scan(rng, rows)
        truth = list(live.scan_history(**kwargs))
        for run in (exported, partial):
            got = list(run.scan_history(**kwargs))
            assert same(got, truth), (seed, run.id, kwargs, got[:3], truth[:3])

    kwargs = random_scan(rng, rows)
    kwargs.pop("page_size")
    truth_frame = frame_rows(live, kwargs)
    for run in (exported, partial):
        assert same(frame_rows(run, kwargs), truth_frame), (seed, run.id, kwargs)

    keys = kwargs.get("keys")
    written = {
        run.id: export_history(run, tmp_path / f"{run.id}.parquet", keys=keys)
        for run in (live, exported, partial)
    }
    tables = {name: pq.read_table(tmp_path / f"{name}.parquet") for name in written}
    assert written["exported"] == written["partial"] == written["live"]
    for name in ("exported", "partial"):
        assert tables[name].schema == tables["live"].schema, (seed, name)
        assert same(tables[name].to_pylist(), tables["live"].to_pylist()), (seed, name)


@pytest.mark.parametrize("seed", range(4))
def test_sampled_histories_of_exported_runs_match_graphql(
    api: Api, server: LocalWandbServer, entity: str, project: str, seed: int
) -> None:
    rng = random.Random(100 + seed)
    for index in range(3):
        rows = random_history(rng)
        server.create_run(entity, project, f"e{index}", history=rows, group="exported")
        server.create_run(
            entity, project, f"l{index}", history=rows, group="live", history_exports=False
        )
    samples = rng.choice([1, 2, 9, 500])
    keys = rng.choice([None, ["loss"], ["val.acc", "count"], ["val"]])
    exported = api.runs(f"{entity}/{project}", filters={"group": "exported"}, order="+created_at")
    live = api.runs(f"{entity}/{project}", filters={"group": "live"}, order="+created_at")

    mine = exported.histories(samples=samples, keys=keys)
    truth = live.histories(samples=samples, keys=keys)

    assert isinstance(mine, list) and isinstance(truth, list)
    for row in truth:
        row["run_id"] = "e" + row["run_id"][1:]
    assert same(mine, truth), (seed, samples, keys)
