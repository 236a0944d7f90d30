"""What ingest refuses with 413 so that nothing accepted can fail for its size in the worker."""

from __future__ import annotations

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.limits import check_fits
from chalicelib.message import LogMessage
from chalicelib.redact import redact
from chalicelib.store import ITEM_MAX_BYTES, build_item, item_size


def message(text: str) -> LogMessage:
    return LogMessage("acme", "101", "text_upload", text, "2026-11-21T10:00:00.000Z", "req-1")


def check(text: str, **env: str) -> None:
    log = message(text)
    check_fits(log, log.to_json(), load_settings({"WORK_SECONDS_PER_CHAR": "0", **env}))


def test_work_limit_is_the_workers_timeout_less_its_margin() -> None:
    env = {"WORK_SECONDS_PER_CHAR": "0.05", "WORKER_TIMEOUT_SECONDS": "60"}
    check("x" * 1160, **env)
    with pytest.raises(PayloadTooLargeError, match="at most 1160 characters"):
        check("x" * 1161, **env)


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
