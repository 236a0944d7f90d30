"""The erasure soak, short: a tenant erased mid-flood, under faults, stays erased."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from soak.erasure import DEFAULTS, ErasureFigures, figures, run


@pytest.mark.e2e
def test_a_tenant_erased_mid_flood_stays_erased_and_nothing_else_goes(tmp_path: Path) -> None:
    found = run(replace(DEFAULTS, logs=160, time_limit_seconds=240, log_dir=tmp_path))
    assert found.passed, found
    assert found.erased["logs"] + found.accepted_after > 0


class _Erased:
    """An eraser that erased at a fixed moment, for the reconciliation alone."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        from ops.erase import Erased

        self.erased_at = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
        self.attempts = 2
        self.erased = Erased("a", logs=1)


def _item(tenant: str, log_id: str, received_at: str) -> dict[str, Any]:
    return {"tenant_id": tenant, "log_id": log_id, "received_at": received_at, "original_text": "x"}


def test_a_log_received_before_the_erasure_and_stored_is_a_resurrection() -> None:
    items = [
        _item("a", "old", "2026-11-21T10:59:59.000Z"),
        _item("a#original", "old", "2026-11-21T10:59:59.000Z"),
        _item("a", "new", "2026-11-21T11:00:01.000Z"),
    ]
    found: ErasureFigures = figures([], items, [], _Erased(), ("a", "b"), drained=True)  # type: ignore[arg-type]
    assert (found.resurrected, found.originals_resurrected) == (1, 1)
    assert not found.passed
    clean = figures([], items[2:], [], _Erased(), ("a", "b"), drained=True)  # type: ignore[arg-type]
    assert clean.passed
