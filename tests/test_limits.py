"""What ingest refuses with 413 so that nothing accepted can fail for its size in the worker."""

from __future__ import annotations

import pytest

from chalicelib import limits
from chalicelib.config import load_settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.limits import check_fits, work_seconds
from chalicelib.message import LogMessage
from chalicelib.redact import redact
from chalicelib.store import ITEM_MAX_BYTES, build_item, item_size


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
    # Each "a@b.co " (7 bytes) becomes "[REDACTED] " (11 bytes): the log's item outgrows the
    # text, though the original's item, stored apart, would fit.
    grows = "a@b.co " * 40_000
    assert len(grows.encode()) < ITEM_MAX_BYTES < len(redact(grows).encode())
    with pytest.raises(PayloadTooLargeError, match="DynamoDB's limit"):
        check(grows, QUEUE_MESSAGE_MAX_BYTES="1048576")
    check("x" * 150_000, QUEUE_MESSAGE_MAX_BYTES="1048576")


def test_the_original_is_sized_in_its_own_item() -> None:
    # Original and redacted text together would outgrow one item; stored apart, each fits.
    both = "a@b.co " * 25_000
    assert len(both.encode()) + len(redact(both).encode()) > ITEM_MAX_BYTES
    check(both, QUEUE_MESSAGE_MAX_BYTES="1048576")


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
