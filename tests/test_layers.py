"""The packages import downward only, and no module imports itself through others.

chalicelib (the deployed code) <- app (its routes and handlers) <- infra (the stack's model and
renderers) <- devstack (the local stack) <- ops (operator tools) <- soak (the chaos harness) and
bench <- tests. Every import is read with `ast`, those inside functions too, so a lazy import
cannot hide a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from infra.stage import PROJECT_DIR

#: What each package may import of the project's own packages, itself aside.
ALLOWED: Mapping[str, frozenset[str]] = {
    "chalicelib": frozenset(),
    "app": frozenset({"chalicelib"}),
    "infra": frozenset({"chalicelib", "app"}),
    "devstack": frozenset({"chalicelib", "app", "infra"}),
    "ops": frozenset({"chalicelib", "app", "infra", "devstack"}),
    "soak": frozenset({"chalicelib", "app", "infra", "devstack", "ops"}),
    "bench": frozenset({"chalicelib", "app", "infra", "devstack"}),
    "tests": frozenset({"chalicelib", "app", "infra", "devstack", "ops", "soak", "bench"}),
}


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name."""
    found = {"app": PROJECT_DIR / "app.py"}
    for package in ALLOWED:
        directory = PROJECT_DIR / package
        for path in sorted(directory.glob("*.py")) if directory.is_dir() else ():
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


MODULES = _modules()


def _imported(path: Path) -> Iterator[str]:
    """The project modules a file imports, anywhere in it."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name in MODULES)


GRAPH = {module: set(_imported(path)) - {module} for module, path in MODULES.items()}


def _package(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_found() -> None:
    assert {_package(module) for module in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_downward_only(module: str) -> None:
    package = _package(module)
    upward = sorted(
        imported
        for imported in GRAPH[module]
        if _package(imported) != package and _package(imported) not in ALLOWED[package]
    )
    assert not upward, f"{module} imports {upward}, above or beside its layer"


def _cycle_through(start: str, graph: Mapping[str, set[str]]) -> list[str] | None:
    """A path of imports that leads from `start` back to it, if there is one."""
    paths = [[start]]
    seen = {start}
    while paths:
        path = paths.pop()
        for imported in sorted(graph[path[-1]]):
            if imported == start:
                return [*path, start]
            if imported not in seen:
                seen.add(imported)
                paths.append([*path, imported])
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_itself_through_others(module: str) -> None:
    # A package's __init__ is imported by each of its modules; only what it imports counts.
    graph = {
        name: {i for i in imported if i != _package(name) or i == name}
        for name, imported in GRAPH.items()
    }
    assert _cycle_through(module, graph) is None, " -> ".join(_cycle_through(module, graph) or [])


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through("a", graph) == ["a", "b", "c", "a"]
    assert _cycle_through("d", graph) is None


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("tests.test_")))
def test_no_test_module_imports_another(module: str) -> None:
    # What tests share (strategies, builders, readers) lives in a helper module of its own.
    borrowed = sorted(m for m in GRAPH[module] if m.startswith("tests.test_"))
    assert not borrowed, f"{module} imports {borrowed}: move what it shares to a helper module"
