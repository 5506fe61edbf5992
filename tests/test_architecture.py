"""The shape of the package: no import cycles, one-way layers, bounded module sizes.

The import graph counts every `import` statement of a module, at module level and inside
functions alike (a lazy import is still a dependency), except those under `if TYPE_CHECKING:`,
which never run. `from package import name` is an edge to the submodule `name` when it is one,
else to the package's `__init__`.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = "prefect_wandb_public"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
MAX_MODULE_LINES = 800


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(child)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def dependencies(name: str) -> set[str]:
    """The package modules `name` imports (itself excluded)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in MODULES else base)
    return {dep for dep in found if dep in MODULES and dep != name}


GRAPH = {name: dependencies(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One import cycle among `nodes`, as a path that returns to its start, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node] & nodes):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


@pytest.mark.parametrize("layer", ["api", "testing", ""])
def test_no_import_cycles(layer: str) -> None:
    prefix = f"{PACKAGE}.{layer}" if layer else PACKAGE
    nodes = {n for n in MODULES if n == prefix or n.startswith(prefix + ".")}
    assert nodes
    assert find_cycle(GRAPH, nodes) is None, (
        f"import cycle: {' -> '.join(find_cycle(GRAPH, nodes) or [])}"
    )


def test_the_cycle_check_sees_function_level_imports() -> None:
    graph = {"a": {"b"}, "b": {"a"}}
    assert find_cycle(graph, {"a", "b"}) == ["a", "b", "a"]
    tree = ast.parse("def f():\n    import x\nif TYPE_CHECKING:\n    import y\n")
    assert [a.name for node in _imports(tree) for a in node.names] == ["x"]


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_layers_point_one_way() -> None:
    """The client imports no Prefect and none of the server; the server imports no client."""
    for name, deps in GRAPH.items():
        layer = _layer(name)
        if layer == "api":
            assert all(_layer(d) in ("api", "errors", "_version") for d in deps), (name, deps)
        if layer == "testing":
            assert all(_layer(d) in ("testing", "_version") for d in deps), (name, deps)


def test_no_module_imports_names_from_its_own_package_init() -> None:
    """Modules inside `api/` and `testing/` import their siblings directly."""
    for name, deps in GRAPH.items():
        for package in (f"{PACKAGE}.api", f"{PACKAGE}.testing"):
            if name.startswith(package + "."):
                assert package not in deps, f"{name} imports from {package}/__init__"


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_MODULE_LINES} == {}


def _import_alone(name: str) -> tuple[str, int, str]:
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        timeout=120,
    )
    return name, result.returncode, result.stderr[-2000:]


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Any module can be the first one imported (no hidden order dependency)."""
    with ThreadPoolExecutor(4) as pool:
        failures = [r for r in pool.map(_import_alone, sorted(MODULES)) if r[1] != 0]
    assert failures == []


def test_flows_and_scripts_use_only_the_public_surface() -> None:
    """A flow copied into a user's repository must not depend on an underscore module."""
    checkout = ROOT.parent
    scripts = [
        *sorted((checkout / "flows").glob("*.py")),
        *sorted((checkout / "blocks").glob("*.py")),
    ]
    users = {name: GRAPH[name] for name in MODULES if name.startswith(f"{PACKAGE}.flows")}
    for script in scripts:
        tree = ast.parse(script.read_text(), str(script))
        users[str(script)] = {
            node.module or "" for node in _imports(tree) if isinstance(node, ast.ImportFrom)
        } | {a.name for node in _imports(tree) if isinstance(node, ast.Import) for a in node.names}
    assert len(users) >= 6
    for user, deps in users.items():
        ours = [d for d in deps if d == PACKAGE or d.startswith(PACKAGE + ".")]
        private = [d for d in ours if any(part.startswith("_") for part in d.split("."))]
        assert private == [], f"{user} imports {private}"
