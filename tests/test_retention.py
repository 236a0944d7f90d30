"""Retention: expiries from the stage's defaults and a tenant's settings, bounds refused by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.config import ConfigError, Settings, load_settings
from chalicelib.retention import (
    DAY_SECONDS,
    RETENTION_BOUNDS,
    RetentionError,
    expiries,
    tombstone_expires_at,
)

NOW = 1_800_000_000
days = st.integers(*RETENTION_BOUNDS)


def test_the_stage_defaults_keep_the_original_a_week_and_the_log_a_month() -> None:
    made = expiries({}, Settings(), NOW)
    assert made.expires_at == NOW + 30 * DAY_SECONDS
    assert made.original_expires_at == NOW + 7 * DAY_SECONDS
    assert made.archive_original is False


def test_a_stage_may_keep_no_original() -> None:
    settings = load_settings({"KEEP_ORIGINAL": "false"})
    assert expiries({}, settings, NOW).original_expires_at is None


def test_a_tenant_keeping_no_original_archives_none() -> None:
    made = expiries({"keep_original": False, "archive_original": True}, Settings(), NOW)
    assert (made.original_expires_at, made.archive_original) == (None, False)


@given(retention=days, original=days)
def test_an_original_never_outlives_its_log(retention: int, original: int) -> None:
    tenant = {"retention_days": retention, "original_retention_days": original}
    if original > retention:
        with pytest.raises(RetentionError, match="must not exceed retention_days"):
            expiries(tenant, Settings(), NOW)
        return
    made = expiries(tenant, Settings(), NOW)
    assert made.original_expires_at is not None
    assert NOW < made.original_expires_at <= made.expires_at == NOW + retention * DAY_SECONDS


def test_a_short_tenant_retention_shortens_the_default_original() -> None:
    made = expiries({"retention_days": 2}, Settings(), NOW)
    assert made.original_expires_at == made.expires_at == NOW + 2 * DAY_SECONDS


@pytest.mark.parametrize("value", [0, 3651, -1, 1.5, "30", True, None])
def test_a_retention_outside_its_bounds_names_them(value: object) -> None:
    with pytest.raises(RetentionError, match="days from 1 to 3650"):
        expiries({"retention_days": value}, Settings(), NOW)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS='0' must be between 1 and 3650"),
        ({"ORIGINAL_RETENTION_DAYS": "4000"}, "between 1 and 3650"),
        ({"RETENTION_DAYS": "3", "ORIGINAL_RETENTION_DAYS": "5"}, "must not exceed"),
        ({"KEEP_ORIGINAL": "maybe"}, "KEEP_ORIGINAL='maybe' must be true or false"),
    ],
)
def test_stage_retention_outside_its_bounds_is_refused(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(variables)


def test_a_tombstone_outlives_every_queued_copy() -> None:
    settings = Settings()
    lifetime = tombstone_expires_at(settings, NOW) - NOW
    assert lifetime > settings.dead_letter_retention_seconds + settings.queue_retention_seconds
