"""The command line against the local server: every command and flag, exit codes, `--json`
output, progress lines (CI) and the progress bar (a terminal), one-line failures."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from prefect_wandb_public.cli import main
from prefect_wandb_public.testing import LocalWandbServer

PARENT = Path(__file__).resolve().parents[1]


class Cli:
    """Runs `prefect-wandb-public ARGS` in-process (the real `main`, real HTTP)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(
    server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PREFECT_WANDB_PROGRESS_INTERVAL", "0")
    monkeypatch.chdir(tmp_path)
    for name in ("WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return Cli(capsys)


@pytest.fixture
def seeded(server: LocalWandbServer, entity: str, project: str) -> str:
    """A project with three runs (histories, summaries) and a two-version model."""
    for index in range(3):
        server.create_run(
            entity,
            project,
            f"r{index}",
            config={"lr": 0.1 * (index + 1)},
            summary={"acc": 0.5 + 0.1 * index},
            tags=["baseline"] if index < 2 else [],
            history=[{"loss": 1.0 / (step + 1 + index)} for step in range(40)],
        )
    server.create_artifact(
        entity, project, "model", "model", {"w.bin": b"v0" * 100}, created_by="r0"
    )
    server.create_artifact(
        entity,
        project,
        "model",
        "model",
        {"w.bin": b"v1" * 100, "cfg.json": b"{}"},
        created_by="r1",
        aliases=("production",),
    )
    return f"{entity}/{project}"


def test_version_and_help(cli: Cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("prefect-wandb-public 0.")
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("artifact", "runs", "history", "check", "whoami", "server", "demo"):
        assert command in out


def test_check_and_whoami(cli: Cli, server: LocalWandbServer) -> None:
    code, out, err = cli("check")
    assert code == 0 and err == ""
    assert out.strip() == (
        f"{server.url}: the key belongs to {server.store.viewer.username} "
        f"(entity {server.store.viewer.entity})"
    )
    who = cli.json("whoami")
    assert who["base_url"] == server.url and who["entity"] == server.store.viewer.entity


def test_check_says_when_the_key_is_refused_or_the_url_is_no_w_and_b_server(
    cli: Cli, server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "r" * 40)
    code, out, err = cli("check")
    assert (code, out) == (3, "")
    # The transport names the operation first (changed on purpose: "GraphQL Viewer(): ...").
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert f"the API key was rejected by {server.url}" in err
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", f"{server.url}/storage")  # answers, but no GraphQL
    code, _, err = cli("check")
    assert code == 2 and err.count("\n") == 1
    assert f"{server.url}/storage is not a W&B server (POST /graphql answered HTTP 404)" in err


def test_artifact_get_downloads_verifies_and_prints_the_path(
    cli: Cli, seeded: str, tmp_path: Path
) -> None:
    code, out, err = cli("artifact", "get", f"{seeded}/model:production", "--root", "got")
    assert code == 0 and out == "got\n"
    assert (Path("got") / "w.bin").read_bytes() == b"v1" * 100
    lines = err.splitlines()  # not a terminal: plain progress lines, the first and the last
    assert lines[0] == f"download {seeded}/model:v1: progress 0 B/202 B, 0/2 files"
    assert lines[-1] == f"download {seeded}/model:v1: done 202 B/202 B, 2/2 files"
    record = cli.json(
        "artifact", "get", f"{seeded}/model:v0", "--root", str(tmp_path / "v0"), "--type", "model"
    )
    assert record["qualified_name"] == f"{seeded}/model:v0"
    assert record["root"] == str(tmp_path / "v0") and record["file_count"] == 1
    code, out, err = cli("artifact", "get", f"{seeded}/model:v0", "--no-verify", "--quiet")
    assert code == 0 and err == "" and out.strip().endswith("model:v0")


def test_artifact_get_failures_exit_with_their_codes(cli: Cli, seeded: str) -> None:
    code, out, err = cli("artifact", "get", f"{seeded}/nope:v0")
    assert (code, out) == (4, "") and err.count("\n") == 1 and "not found" in err
    code, _, err = cli("artifact", "get", f"{seeded}/model:v0", "--type", "dataset")
    assert code == 2 and "has type 'model', not 'dataset'" in err
    code, _, err = cli("artifact", "get")
    assert code == 2 and err.startswith("error: Missing argument")
    assert "Traceback" not in err


def test_artifact_put_publishes_with_lineage(
    cli: Cli, seeded: str, server: LocalWandbServer, tmp_path: Path
) -> None:
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w" * 64)
    (tmp_path / "notes.txt").write_text("notes")
    args = [
        "artifact",
        "put",
        str(folder),
        str(tmp_path / "notes.txt"),
        "--project",
        seeded,
        "--name",
        "ci-model",
        "--type",
        "model",
        "--alias",
        "candidate",
        "--alias",
        "nightly",
        "--description",
        "from CI",
        "--metadata",
        '{"commit": "abc"}',
        "--run",
        "r2",
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    name, url = out.split()
    assert name == f"{seeded}/ci-model:v0" and url.endswith("/artifacts/model/ci-model/v0")
    assert err.splitlines()[-1] == f"upload {seeded}/ci-model: done 69 B/69 B, 2/2 files"
    record = cli.json(*args)
    assert record["version"] == "v0", "identical content reuses the version"
    assert sorted(record["aliases"]) == ["candidate", "latest", "nightly"]
    assert record["metadata"] == {"commit": "abc"}
    entity, project = seeded.split("/")
    stored = server.store.resolve_artifact(entity, project, "ci-model:v0")
    assert stored is not None and stored.created_by == "r2"
    assert stored.description == "from CI"

    code, _, err = cli(*args[:2], str(tmp_path / "missing"), *args[4:])
    assert code == 2 and "no file or folder" in err
    code, _, err = cli(*args[:-4], "--metadata", "[1]")
    assert code == 2 and "--metadata must be a JSON object" in err


def test_artifact_put_without_a_run(cli: Cli, seeded: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    record = cli.json(
        "artifact", "put", str(tmp_path / "a.txt"), "--project", seeded, "--name", "docs",
        "--type", "doc",
    )  # fmt: skip
    assert record["qualified_name"] == f"{seeded}/docs:v0"


def test_artifact_promote_prints_the_previous_holder(
    cli: Cli, seeded: str, server: LocalWandbServer
) -> None:
    code, out, err = cli("artifact", "promote", f"{seeded}/model:v0", "--alias", "production")
    assert code == 0 and out == f"{seeded}/model:v1\n"
    assert "moved 'production'" in err
    entity, project = seeded.split("/")
    assert (
        server.store.require_project(entity, project).collections["model"].aliases["production"]
        == 0
    )
    again = cli.json("artifact", "promote", f"{seeded}/model:v0", "--alias", "production")
    assert again["moved"] is False and again["previous"]["version"] == "v0"
    code, out, _ = cli("artifact", "promote", f"{seeded}/model:v1", "--alias", "staging", "-q")
    assert (code, out) == (0, "none\n")
    code, _, err = cli("artifact", "promote", f"{seeded}/model:v1", "--alias", "latest")
    assert code == 2 and "cannot promote to 'latest'" in err


def test_artifact_ls(cli: Cli, seeded: str, server: LocalWandbServer) -> None:
    entity, project = seeded.split("/")
    server.create_artifact(entity, project, "data", "dataset", {"d.csv": b"1,2"})
    code, out, _ = cli("artifact", "ls", seeded)
    lines = out.splitlines()
    assert code == 0 and lines[0].split("\t") == [
        "name", "type", "aliases", "size", "file_count", "created_at"
    ]  # fmt: skip
    assert {line.split("\t")[0] for line in lines[1:]} == {"data:v0", "model:v0", "model:v1"}
    models = cli.json("artifact", "ls", seeded, "--type", "model")
    assert [row["name"] for row in models] == ["model:v1", "model:v0"]
    assert models[0]["aliases"] == ["latest", "production"] or set(models[0]["aliases"]) == {
        "latest",
        "production",
    }
    code, _, err = cli("artifact", "ls", f"{entity}/no-such-project")
    assert code == 4 and err.count("\n") == 1


def test_runs_ls_with_filters_order_fields_and_limit(cli: Cli, seeded: str) -> None:
    code, out, _ = cli(
        "runs", "ls", seeded, "--fields", "id,summary.acc,config.lr", "--order",
        "-summary_metrics.acc",
    )  # fmt: skip
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == ["id", "r2", "r1", "r0"]
    rows = cli.json(
        "runs", "ls", seeded, "--filters", '{"tags": "baseline"}', "--fields",
        "id,name,summary.acc,config.lr,summary.missing", "--order", "+summary_metrics.acc",
        "--limit", "1",
    )  # fmt: skip
    assert rows == [
        {"id": "r0", "name": "r0", "summary.acc": 0.5, "config.lr": 0.1, "summary.missing": None}
    ]
    code, _, err = cli("runs", "ls", seeded, "--filters", "{not json")
    assert code == 2 and "--filters is not valid JSON" in err
    code, _, err = cli("runs", "ls", seeded, "--fields", "id,colour")
    assert code == 2 and "unknown run field 'colour'" in err
    code, _, err = cli("runs", "ls", f"{seeded.split('/')[0]}/no-such-project")
    assert code == 4 and "no-such-project" in err


def test_history_export_of_a_project_and_of_one_run(cli: Cli, seeded: str, tmp_path: Path) -> None:
    code, out, err = cli(
        "history", "export", seeded, "--to", str(tmp_path / "all"), "--workers", "2"
    )
    assert code == 0 and out == f"exported 3 runs, 120 rows to {tmp_path / 'all'}\n"
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "r0.parquet", "r1.parquet", "r2.parquet"
    ]  # fmt: skip
    assert err.splitlines()[-1] == f"export {seeded}: done 3/3 runs"
    rows = cli.json(
        "history", "export", seeded, "--to", f"memory://{seeded}", "--format", "csv",
        "--filters", '{"tags": "baseline"}',
    )  # fmt: skip
    assert [(r["run"], r["rows"]) for r in rows] == [(f"{seeded}/r0", 40), (f"{seeded}/r1", 40)]
    code, out, err = cli("history", "export", f"{seeded}/r1", "--to", str(tmp_path / "r1.csv"))
    assert code == 0 and out == f"exported 1 run, 40 rows to {tmp_path / 'r1.csv'}\n"
    assert err.splitlines()[-1] == f"export {seeded}/r1: done 40/40 rows"
    assert len(pd.read_csv(tmp_path / "r1.csv")) == 40
    code, _, err = cli("history", "export", seeded, "--to", "x", "--format", "xlsx")
    assert code == 2 and "--format must be parquet or csv" in err
    code, _, err = cli("history", "export", f"{seeded}/r1", "--to", "x", "--filters", "{}")
    assert code == 2 and "a run path names one" in err
    code, _, err = cli("history", "export", f"{seeded}/nope", "--to", str(tmp_path))
    assert code == 4


def test_credentials_from_a_saved_block(
    cli: Cli,
    seeded: str,
    server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: None,
) -> None:
    from prefect_wandb_public import WandbCredentials

    WandbCredentials(api_key=server.api_key, base_url=server.url).save("cli-block", overwrite=True)
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    assert cli.json("check", "--block", "cli-block")["base_url"] == server.url
    code, _, err = cli("check", "--block", "no-such-block")
    assert code == 4 and "no saved WandbCredentials block named 'no-such-block'" in err


def test_server_reports_a_port_in_use_in_one_line(cli: Cli, server: LocalWandbServer) -> None:
    code, out, err = cli("server", "--port", str(server.port))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"port {server.port} on 127.0.0.1 is in use" in err


def test_the_installed_command_shows_a_bar_on_a_terminal(
    seeded: str, server: LocalWandbServer, tmp_path: Path
) -> None:
    """Under a pseudo-terminal the download draws rich's bar (on stderr), not log lines."""
    env = {
        **os.environ,
        "WANDB_API_KEY": server.api_key,
        "WANDB_BASE_URL": server.url,
        "PREFECT_WANDB_CACHE_DIR": str(tmp_path / "cache"),
        "COLUMNS": "120",
    }
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect_wandb_public.cli", "artifact", "get",
         f"{seeded}/model:v1", "--root", str(tmp_path / "tty")],
        stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=tmp_path,
    )  # fmt: skip
    os.close(child_fd)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    os.close(main_fd)
    assert process.wait(timeout=30) == 0
    text = screen.decode(errors="replace")
    assert "download" in text and "2/2 files" in text and "━" in text, text
    assert "done 202 B" not in text, "a terminal gets the bar, not CI lines"
    assert str(tmp_path / "tty") in text
