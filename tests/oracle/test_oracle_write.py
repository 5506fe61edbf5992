"""The SDK as a writer: `wandb.init` ... `wandb.finish` in online mode against the local server,
then our client (and the SDK's own reader) read the run back: attributes, config, summary, the
full history, system metrics, files and the logged artifact.

One SDK run serves the module (wandb-core starts once per session). Every `WANDB_*` directory is
a temp dir, output is silent, the key never touches a netrc, and every URL the SDK may call is on
127.0.0.1 (the CoreWeave metadata probe included).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.testing import LocalWandbServer

from .conftest import plain, same

ENTITY = "oracle-writer"
PROJECT = "sdk-written"
PATH = f"{ENTITY}/{PROJECT}"
STEPS = 300
CONFIG = {"lr": 0.003, "epochs": 3, "arch": {"layers": [64, 32], "act": "gelu"}, "name": "w"}
ARTIFACT_FILES = {
    "model.json": b'{"layers": [64, 32]}',
    "weights/w.bin": bytes(range(256)) * 40,
}
EXTRA_FILE = b"saved with run.save\n"
CONSOLE_LINE = "hello from inside the SDK run"


def _row(step: int) -> dict[str, Any]:
    """What the script logs at `step`: several keys, a nested dict, some keys only now and then."""
    row: dict[str, Any] = {
        "loss": 1.0 / (step + 1),
        "acc": min(1.0, step / 250),
        "lr": CONFIG["lr"] * (0.99**step),
        "nested": {
            "grad": {"norm": step * 0.5, "max": step},
            "phase": "warm" if step < 50 else "on",
        },
    }
    if step % 25 == 0:
        row["val_loss"] = 2.0 / (step + 2)
    return row


@dataclass(frozen=True)
class Written:
    """What the SDK run did, as the script saw it."""

    run_id: str
    run_dir: Path
    logs_dir: Path
    summary: dict[str, Any]  # the SDK's own wandb-summary.json
    artifact_name: str
    artifact_digest: str
    requests: list[Any]
    graphql_errors: list[tuple[str | None, Any]]  # (operation, errors) the server answered


def _b64_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.fixture(scope="module")
def written(
    wandb_sdk: Any, session_server: LocalWandbServer, tmp_path_factory: pytest.TempPathFactory
) -> Written:
    wandb = wandb_sdk
    server = session_server
    work = tmp_path_factory.mktemp("sdk-writer")
    (work / "extra.txt").write_bytes(EXTRA_FILE)
    for name, data in ARTIFACT_FILES.items():
        (work / "artifact" / name).parent.mkdir(parents=True, exist_ok=True)
        (work / "artifact" / name).write_bytes(data)
    first_request = len(server.request_log.records)
    graphql_errors: list[tuple[str | None, Any]] = []
    execute = server.engine.execute

    def watched(query: str, variables: Any, operation: str | None, root: Any) -> Any:
        answer = execute(query, variables, operation, root)
        if answer.get("errors"):
            graphql_errors.append((server.engine.operation_name(query, operation), answer))
        return answer

    with pytest.MonkeyPatch.context() as env:
        env.setattr(server.engine, "execute", watched)
        env.chdir(work)
        env.setenv("WANDB_MODE", "online")
        env.setenv("WANDB_SILENT", "true")
        env.setenv("WANDB_BASE_URL", server.url)
        env.setenv("NETRC", str(work / "netrc"))
        env.delenv("WANDB_API_KEY", raising=False)
        settings = wandb.Settings(
            base_url=server.url,
            api_key=server.api_key,
            mode="online",
            disable_git=True,
            save_code=False,
            x_stats_sampling_interval=0.1,
            x_stats_coreweave_metadata_base_url=server.url,
            x_graphql_retry_max=2,
            x_graphql_retry_wait_min_seconds=0.1,
            x_graphql_retry_wait_max_seconds=0.5,
            x_file_stream_retry_max=2,
            x_file_stream_retry_wait_min_seconds=0.1,
            x_file_stream_retry_wait_max_seconds=0.5,
            x_file_transfer_retry_max=2,
            x_file_transfer_retry_wait_min_seconds=0.1,
            x_file_transfer_retry_wait_max_seconds=0.5,
            init_timeout=60,
        )
        run = wandb.init(
            entity=ENTITY,
            project=PROJECT,
            name="sdk writer",
            config=CONFIG,
            tags=["oracle", "write"],
            notes="written by wandb.init",
            group="writers",
            job_type="train",
            settings=settings,
        )
        for step in range(STEPS):
            run.log(_row(step))
        print(CONSOLE_LINE)
        run.save(str(work / "extra.txt"), base_path=str(work), policy="now")
        run.summary["best_acc"] = 0.97
        run.summary["report"] = {"verdict": "good", "scores": [1, 2, 3]}
        artifact = wandb.Artifact(
            "sdk-model", type="model", description="from the SDK", metadata={"k": [1, 2]}
        )
        artifact.add_dir(str(work / "artifact"))
        logged = run.log_artifact(artifact, aliases=["candidate"])
        logged.wait()
        run_id, run_dir = run.id, Path(run.dir)
        wandb.finish()
    return Written(
        run_id=run_id,
        run_dir=run_dir,
        logs_dir=run_dir.parent / "logs",
        summary=json.loads((run_dir / "wandb-summary.json").read_text()),
        artifact_name=f"sdk-model:{logged.version}",
        artifact_digest=logged.digest,
        requests=server.request_log.records[first_request:],
        graphql_errors=graphql_errors,
    )


def test_the_sdk_met_no_error(written: Written) -> None:
    """No GraphQL error (some probes fail silently in the SDK), no failed request, and nothing
    wandb-core logged at ERROR (failed uploads, file stream or artifact saves)."""
    assert written.graphql_errors == []
    errors = []
    for line in (written.logs_dir / "debug-internal.log").read_text().splitlines():
        record = json.loads(line)
        if record.get("level", "").startswith("ERROR"):
            errors.append(record)
    assert errors == []
    statuses = {(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in written.requests}
    assert not [s for s in statuses if s[2] >= 400], statuses
    assert any(r.path.endswith("/file_stream") for r in written.requests)


def test_run_reads_back(ours: Api, official: Any, written: Written) -> None:
    mine = ours.run(f"{PATH}/{written.run_id}")
    assert (mine.state, mine.name, mine.tags, mine.notes, mine.group, mine.job_type) == (
        "finished",
        "sdk writer",
        ["oracle", "write"],
        "written by wandb.init",
        "writers",
        "train",
    )
    assert mine.config == CONFIG
    assert mine.rawconfig["_wandb"]["cli_version"]
    assert same(mine.summary_metrics, written.summary)
    assert same(plain(mine.summary), written.summary)
    assert mine.summary["_step"] == STEPS - 1
    assert mine.summary["report"] == {"verdict": "good", "scores": [1, 2, 3]}
    assert mine.lastHistoryStep == STEPS - 1
    assert {"system.cpu", "system.memory_percent"} <= set(mine.system_metrics)
    theirs = official.run(f"{PATH}/{written.run_id}")
    for attribute in ("id", "name", "state", "tags", "notes", "group", "job_type", "created_at"):
        assert getattr(mine, attribute) == getattr(theirs, attribute), attribute
    assert mine.config == theirs.config and mine.rawconfig == plain(theirs.rawconfig)
    assert same(plain(mine.summary), plain(theirs.summary))
    assert mine.system_metrics == theirs.system_metrics
    assert mine.history_keys == theirs.history_keys


def test_full_history_reads_back(ours: Api, official: Any, written: Written) -> None:
    mine = ours.run(f"{PATH}/{written.run_id}")
    rows = list(mine.scan_history(page_size=64))
    assert [row["_step"] for row in rows] == list(range(STEPS))
    for step, row in enumerate(rows):
        logged = _row(step)
        assert same({k: row[k] for k in logged}, logged, exact_numbers=False), step
        assert set(row) - set(logged) == {"_step", "_runtime", "_timestamp"}
    theirs = official.run(f"{PATH}/{written.run_id}")
    assert same(rows, list(theirs.scan_history(page_size=64)), exact_numbers=False)
    sampled = mine.history(samples=1000, pandas=False)
    assert same(sampled, theirs.history(samples=1000, pandas=False)) and len(sampled) == STEPS
    assert same(
        mine.history(keys=["val_loss", "nested.grad.norm"], pandas=False),
        theirs.history(keys=["val_loss", "nested.grad.norm"], pandas=False),
    )
    assert same(
        mine.history(stream="system", pandas=False),
        theirs.history(stream="system", pandas=False),
    )
    assert mine.history(stream="system", pandas=False), "the system stream should have rows"
    frame = mine.history_frame()
    assert frame["_step"].tolist() == list(range(STEPS))


def test_files_read_back(ours: Api, official: Any, written: Written, tmp_path: Path) -> None:
    mine = ours.run(f"{PATH}/{written.run_id}")
    names = {f.name for f in mine.files()}
    assert {
        "config.yaml",
        "wandb-metadata.json",
        "wandb-summary.json",
        "requirements.txt",
        "output.log",
        "extra.txt",
    } <= names
    for name in sorted(names):
        local = (written.run_dir / name).read_bytes()
        with mine.file(name).download(root=str(tmp_path / "ours")) as handle:
            path = handle.name
        assert Path(path).read_bytes() == local, name
        assert mine.file(name).md5 == _b64_md5(local), name
    assert (written.run_dir / "extra.txt").read_bytes() == EXTRA_FILE
    assert CONSOLE_LINE in (written.run_dir / "output.log").read_text()
    theirs = official.run(f"{PATH}/{written.run_id}")
    assert sorted((f.name, f.size, f.md5) for f in mine.files()) == sorted(
        (f.name, f.size, f.md5) for f in theirs.files()
    )


def test_artifact_reads_back(ours: Api, official: Any, written: Written, tmp_path: Path) -> None:
    mine = ours.artifact(f"{PATH}/sdk-model:candidate")
    assert (mine.source_name, mine.type, mine.description, mine.metadata) == (
        written.artifact_name,
        "model",
        "from the SDK",
        {"k": [1, 2]},
    )
    assert sorted(mine.aliases) == ["candidate", "latest"]
    assert mine.digest == written.artifact_digest
    assert {p: (e.digest, e.size) for p, e in mine.manifest.entries.items()} == {
        p: (_b64_md5(d), len(d)) for p, d in ARTIFACT_FILES.items()
    }
    root = Path(mine.download(root=str(tmp_path / "ours")))
    mine.verify(str(root))
    for path, data in ARTIFACT_FILES.items():
        assert (root / path).read_bytes() == data
    assert mine.logged_by() is not None and mine.logged_by().id == written.run_id
    run = ours.run(f"{PATH}/{written.run_id}")
    assert [a.source_name for a in run.logged_artifacts()] == [written.artifact_name]
    theirs = official.artifact(f"{PATH}/sdk-model:candidate")
    assert (theirs.id, theirs.digest, sorted(theirs.aliases)) == (
        mine.id,
        mine.digest,
        sorted(mine.aliases),
    )
    sdk_root = theirs.download(root=str(tmp_path / "sdk"))
    theirs.verify(sdk_root)
    mine.verify(sdk_root)
