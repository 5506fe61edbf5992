"""Import a script of this checkout (`flows/*.py`, `blocks/*.py`) as a module, as Prefect does
with a deployment's entrypoint file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CHECKOUT = Path(__file__).resolve().parents[1]


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"checkout_script_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
