"""`docs/compatibility.md` stays true: regenerated from live objects of both clients, it must
equal the committed file (run `.venv/bin/python scripts/compat_table.py` after changing the
client's surface)."""

from __future__ import annotations

from typing import Any

from script_loader import CHECKOUT, load_script


def test_compatibility_table_is_current(wandb_sdk: Any) -> None:
    script = load_script(CHECKOUT / "scripts" / "compat_table.py")
    generated = script.build()
    committed = (CHECKOUT / "docs" / "compatibility.md").read_text()
    assert generated == committed, (
        "docs/compatibility.md is stale: run .venv/bin/python scripts/compat_table.py"
    )
    assert "in-scope members present" in committed


def test_the_table_sees_a_missing_member(wandb_sdk: Any) -> None:
    """Presence is read from live objects: a member ours lacks shows as missing."""
    script = load_script(CHECKOUT / "scripts" / "compat_table.py")

    class Bare:
        pass

    assert script.has_member(Bare(), "summary") is False
    assert script.has_member(
        type("WithProperty", (), {"summary": property(lambda s: 1)})(), "summary"
    )
