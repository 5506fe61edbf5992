"""The sample flows' scripts: saved block, environment credentials, `--demo`, and no silent
fallback to the embedded server when there are no credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_loader import CHECKOUT, load_script

from prefect_wandb_public.demo import export_summary
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("PREFECT_WANDB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", ["ci_lineage", "history_export", "model_promotion"])
def test_without_credentials_the_script_fails_and_says_what_to_do(
    name: str, no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script(CHECKOUT / "flows" / f"{name}.py")
    with pytest.raises(SystemExit) as stopped:
        script.main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "no W&B credentials" in err and "--credentials" in err and "--demo" in err
    assert err.count("\n") == 1


def test_with_credentials_in_the_environment_the_script_uses_them(
    no_credentials: None,
    server: LocalWandbServer,
    entity: str,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server.create_run(entity, project, "seed-run")
    server.create_artifact(entity, project, "mnist", "dataset", {"d.txt": project.encode()})
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_ENTITY", entity)
    monkeypatch.setenv("WANDB_PROJECT", project)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights")
    script = load_script(CHECKOUT / "flows" / "ci_lineage.py")
    result = script.main(["--model", "env-model", "--model-dir", str(tmp_path / "model")])
    assert result["artifact"] == f"{entity}/{project}/env-model:v0"
    assert server.store.resolve_artifact(entity, project, "env-model:v0") is not None, (
        "published to the server the environment names, not to a throwaway one"
    )


def test_demo_runs_on_the_embedded_server(no_credentials: None, tmp_path: Path) -> None:
    script = load_script(CHECKOUT / "flows" / "history_export.py")
    rows = script.main(["--demo", "--destination", str(tmp_path / "out")])
    assert len(rows) == 12 and {row["status"] for row in rows} == {"exported"}
    with pytest.raises(SystemExit) as stopped:
        script.main(["--demo", "--credentials", "wandb"])
    assert stopped.value.code == 2


def test_the_demo_report_says_what_the_export_did() -> None:
    fresh = [{"status": "exported", "rows": 60}] * 12
    again = [{"status": "skipped (exists)", "rows": None}] * 12
    assert export_summary(fresh) == "12 runs exported (720 rows)"
    assert export_summary(again) == "12 runs already exported, skipped"
    assert export_summary(fresh[:1] + again[:2]) == (
        "1 run exported (60 rows); 2 runs already exported, skipped"
    )
    assert export_summary([]) == "0 runs exported (0 rows)"
