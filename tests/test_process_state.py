"""Every cache a process keeps is registered, so one call starts a test over as a new process."""

from __future__ import annotations

import ast

import pytest

from chalicelib import config, process_state
from infra.stage import PROJECT_DIR

_CACHES = ("cache", "lru_cache")


def _decorated_caches(tree: ast.AST) -> set[str]:
    """Functions decorated with functools.cache or lru_cache."""
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if any(
            isinstance(part, ast.Attribute) and part.attr in _CACHES for part in ast.walk(decorator)
        )
    }


def _cleared(tree: ast.AST) -> set[str]:
    """Names whose `cache_clear` the code mentions: registered, or called by hand."""
    return {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "cache_clear"
        and isinstance(node.value, ast.Name)
    }


def _unregistered_caches() -> list[str]:
    """Caches in chalicelib no `on_forget` registers, and caches cleared by hand anywhere else."""
    found = []
    for path in sorted(PROJECT_DIR.glob("*/*.py")):
        if path.name == "process_state.py" or path.parts[-2].startswith("."):
            continue
        tree = ast.parse(path.read_text())
        where = f"{path.parent.name}/{path.name}"
        if path.parent.name == "chalicelib":
            found += [f"{where}: {name}" for name in _decorated_caches(tree) - _cleared(tree)]
        elif any(
            isinstance(node, ast.Attribute) and node.attr == "cache_clear"
            for node in ast.walk(tree)
        ):
            found.append(f"{where}: clears a cache by hand")
    return sorted(found)


def test_every_cache_goes_through_process_state() -> None:
    assert _unregistered_caches() == [], "use chalicelib.process_state.kept or on_forget"


def test_forget_all_drops_kept_values(monkeypatch: pytest.MonkeyPatch) -> None:
    first = config.get_settings()
    assert config.get_settings() is first
    monkeypatch.setenv("WORKER_BATCH_SIZE", "7")
    process_state.forget_all()
    assert config.get_settings().worker_batch_size == 7


def test_kept_caches_and_is_registered() -> None:
    calls: list[int] = []

    @process_state.kept
    def answer() -> int:
        calls.append(1)
        return 42

    assert (answer(), answer()) == (42, 42)
    assert calls == [1]
    process_state.forget_all()
    assert answer() == 42
    assert calls == [1, 1]
