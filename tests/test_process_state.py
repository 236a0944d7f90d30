"""Every cache a process keeps is registered, so one call starts a test over as a new process."""

from __future__ import annotations

import ast

import pytest

from chalicelib import config, process_state
from infra.stage import PROJECT_DIR


def _unregistered_caches() -> list[str]:
    found = []
    for path in sorted((PROJECT_DIR / "chalicelib").glob("*.py")):
        if path.name == "process_state.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("cache", "lru_cache"):
                found.append(f"{path.name}:{node.lineno}")
    return found


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
