"""What ingest refuses with 413 so that nothing accepted can fail for its size in the worker."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import limits
from chalicelib.attributes import redact_attributes
from chalicelib.config import Settings, load_settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.limits import at_sign_growth, check_fits, work_seconds
from chalicelib.message import LogMessage
from chalicelib.redact import redact
from chalicelib.store import (
    ITEM_MAX_BYTES,
    WORKER_ID_MAX_LENGTH,
    attributes_json,
    build_item,
    item_size,
)


def message(text: str) -> LogMessage:
    return LogMessage("acme", "101", "text_upload", text, "2026-11-21T10:00:00.000Z", "req-1")


def check(text: str, **env: str) -> None:
    log = message(text)
    check_fits(log, log.to_json(), load_settings({"WORK_SECONDS_PER_CHAR": "0", **env}))


def test_work_limit_is_the_workers_timeout_less_its_margin_and_start() -> None:
    env = {"WORK_SECONDS_PER_CHAR": "0.05", "WORKER_TIMEOUT_SECONDS": "60"}
    check("x" * 1158, **env)
    with pytest.raises(PayloadTooLargeError, match="at most 1158 characters"):
        check("x" * 1159, **env)


@pytest.mark.parametrize("timeout", ["5", "60", "900"])
def test_the_longest_accepted_log_is_started_by_a_fresh_invocation(timeout: str) -> None:
    # A log exactly at the limit once passed ingest yet was handed back by every invocation
    # (its work and margin were the whole timeout) until it reached the dead-letter queue.
    settings = load_settings({"WORK_SECONDS_PER_CHAR": "0.05", "WORKER_TIMEOUT_SECONDS": timeout})
    longest = int(settings.worker_work_budget_seconds / settings.work_seconds_per_char)
    check("x" * longest, WORK_SECONDS_PER_CHAR="0.05", WORKER_TIMEOUT_SECONDS=timeout)
    needed = work_seconds("x" * longest, settings) + settings.worker_time_margin_seconds
    fresh_invocation_left = settings.worker_timeout_seconds - 0.05  # 50 ms spent starting
    assert needed <= fresh_invocation_left


def test_queue_limit_counts_the_serialized_message_in_utf8_bytes() -> None:
    check("é" * 1500, QUEUE_MESSAGE_MAX_BYTES="4096")
    with pytest.raises(PayloadTooLargeError, match="QUEUE_MESSAGE_MAX_BYTES"):
        check("é" * 2100, QUEUE_MESSAGE_MAX_BYTES="4096")


def test_item_limit_counts_the_redacted_text_that_may_grow() -> None:
    # Each "a@b.co " (7 bytes) becomes "[REDACTED] " (11 bytes): the item outgrows the text.
    grows = "a@b.co " * 25_000
    assert len(grows.encode()) * 2 < ITEM_MAX_BYTES
    assert len(redact(grows)) > len(grows)
    with pytest.raises(PayloadTooLargeError, match="DynamoDB's limit"):
        check(grows, QUEUE_MESSAGE_MAX_BYTES="1048576")
    check("x" * 150_000, QUEUE_MESSAGE_MAX_BYTES="1048576")


def test_item_size_counts_names_and_utf8_values() -> None:
    item = build_item(message("é"), "é", "2026-11-21T10:00:01.000Z", "w", attempt=12)
    names = sum(len(name) for name in item)
    values = 4 + 3 + 11 + 2 + 2 + 24 + 24 + 5 + 1 + 2
    assert item_size(item) == names + values


def test_a_large_log_with_few_possible_matches_is_sized_without_redacting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_needed(text: str) -> str:
        raise AssertionError("redacted at ingest although the bound fits")

    monkeypatch.setattr(limits, "redact", not_needed)
    check("x" * 200_000 + " call 555-0199", QUEUE_MESSAGE_MAX_BYTES="1048576")


#: Pieces that make redaction grow a text the most, and near-misses around them.
PIECES = [
    "a@b.co",
    "a%40b.co",
    "555-0199",
    "+12345678",
    "%2B12345678",
    "(800) 555-0199",
    "1 800 555 0199",
    "é@b.co",
    "@",
    "%",
    "%40",
    " ",
    "-",
    ".",
    "0",
    "x",
    "é",
    "😀",
]


@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_at_sign_growth_bounds_what_redaction_adds(text: str) -> None:
    added = len(redact(text).encode()) - len(text.encode())
    assert added <= at_sign_growth(text)


def worst_item_size(log: LogMessage, settings: Settings) -> int:
    """The size of the item the worker would write for `log`, its own fields at their largest."""
    item = build_item(
        log,
        redact(log.text),
        log.received_at,
        "w" * WORKER_ID_MAX_LENGTH,
        settings.max_receive_count,
        attributes_json(redact_attributes(log.attributes)),
    )
    return item_size(item)


def fits(log: LogMessage, settings: Settings) -> bool:
    try:
        check_fits(log, log.to_json(), settings)
    except PayloadTooLargeError:
        return False
    return True


@pytest.mark.parametrize("attributes", [False, True])
@pytest.mark.parametrize(
    "unit",
    ["a@b.co ", "a%40b.co ", "555-0199 ", "+12345678 ", "x555-0199 a@b.co ", "é@b.co ", "word "],
)
def test_the_largest_log_accepted_fits_in_its_item(
    unit: str, attributes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table limit of 40 KB keeps the texts small; every bound scales with it.
    limit = 40_960
    monkeypatch.setattr(limits, "ITEM_MAX_BYTES", limit)
    settings = load_settings({"WORK_SECONDS_PER_CHAR": "0", "QUEUE_MESSAGE_MAX_BYTES": "1048576"})

    def log(repeats: int) -> LogMessage:
        text = unit * repeats
        extra = {"host": unit * (repeats // 8), "tags": [unit * 3]} if attributes else {}
        return LogMessage(
            "acme", "101", "json_upload", text, "2026-11-21T10:00:00.000Z", "r", None, extra
        )

    low, high = 1, limit  # fits with one unit, not with the limit's worth of them
    assert fits(log(low), settings)
    assert not fits(log(high), settings)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(log(middle), settings):
            low = middle
        else:
            high = middle
    assert worst_item_size(log(low), settings) <= limit
    assert worst_item_size(log(high), settings) > limit  # refused only when it would not fit


def test_a_large_log_of_ordinary_lines_is_sized_without_counting_digits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_needed(text: str) -> int:
        raise AssertionError("digits counted although one count of `@` decides")

    monkeypatch.setattr(limits, "max_growth", not_needed)
    line = '10.0.3.17 - - [21/Nov/2026:10:00:00 +0000] "GET /api/v2/orders/123456 HTTP/1.1" 200\n'
    text = (line * 4 + "mail to ann@example.com\n") * 500  # 180 KB, one address in 5 lines
    assert len(text) * 10 / 6 > ITEM_MAX_BYTES - len(text)  # the first bound cannot decide
    check(text, QUEUE_MESSAGE_MAX_BYTES="1048576")
