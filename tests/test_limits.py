"""What ingest refuses with 413 so that nothing accepted can fail for its size in the worker."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import limits
from chalicelib.attributes import redact_attributes
from chalicelib.config import load_settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.limits import check_fits, work_seconds
from chalicelib.message import LogMessage
from chalicelib.redact import redact
from chalicelib.redaction_policy import RedactionPolicy, policy_from_settings
from chalicelib.retention import Expiries
from chalicelib.store import (
    ITEM_MAX_BYTES,
    attributes_json,
    build_item,
    item_size,
    split_original,
    utf8_size,
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
    # Each "a@b.co " (7 bytes) becomes "[REDACTED] " (11 bytes): the log's item outgrows the
    # text, though the original's item, stored apart, would fit.
    grows = "a@b.co " * 40_000
    assert len(grows.encode()) < ITEM_MAX_BYTES < len(redact(grows).encode())
    with pytest.raises(PayloadTooLargeError, match="DynamoDB's limit"):
        check(grows, QUEUE_MESSAGE_MAX_BYTES="1048576")
    check("x" * 150_000, QUEUE_MESSAGE_MAX_BYTES="1048576")


def test_item_limit_counts_the_growth_of_the_policy_the_worker_applies() -> None:
    # "[REDACTED] " adds 4 bytes to "a@b.co ", a typed "[REDACTED:EMAIL] " adds 10: the same
    # log fits as the default redacts it, not as its tenant's typed placeholders would.
    grows = "a@b.co " * 30_000
    typed = policy_from_settings({"placeholder": "typed"})
    assert len(redact(grows).encode()) < ITEM_MAX_BYTES < len(redact(grows, typed).encode())
    log = message(grows)
    settings = load_settings({"WORK_SECONDS_PER_CHAR": "0", "QUEUE_MESSAGE_MAX_BYTES": "1048576"})
    check_fits(log, log.to_json(), settings)
    with pytest.raises(PayloadTooLargeError, match="DynamoDB's limit"):
        check_fits(log, log.to_json(), settings, lambda: typed)


def test_the_policy_is_asked_for_only_when_a_log_is_large_enough_to_need_it() -> None:
    def unreachable() -> RedactionPolicy:
        raise AssertionError("a small log needs no policy")

    log = message("a@b.co " * 100)
    check_fits(log, log.to_json(), load_settings({"WORK_SECONDS_PER_CHAR": "0"}), unreachable)


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


#: Shapes of a log, each sized by the worker's own items below: what ingest sizes per shape once
#: must come to what the worker would write for each log.
SHAPES = [
    pytest.param({}, id="plain"),
    pytest.param({"event_time": "2026-11-21T09:59:59.123Z"}, id="event-time"),
    pytest.param({"attributes": {"host": "web", "é": ["ü", None, 1.5]}}, id="attributes"),
    pytest.param(
        {
            "tenant_id": "t" * 64,
            "log_id": "idem:" + "f" * 32 + ":999",
            "source": "ndjson_upload",
            "request_id": "r" * 90,
            "event_time": "2026-11-21T09:59:59.123Z",
            "attributes": {"severity": "info"},
        },
        id="long-ids",
    ),
]


def shaped(text: str, shape: dict[str, object], attempts: str) -> tuple[LogMessage, int, int]:
    """A log of `shape`, and the sizes of the worker's items for it at their largest."""
    log = LogMessage(
        **{
            "tenant_id": "acme",
            "log_id": "101",
            "source": "json_upload",
            "text": text,
            "received_at": "2026-11-21T10:00:00.000Z",
            "request_id": "req-1",
            **shape,
        }  # type: ignore[arg-type]
    )
    item = build_item(
        log,
        redacted=redact(text),
        processed_at="2026-11-21T10:00:59.999Z",
        worker_id="w" * 500,
        attempt=int(attempts),
        redacted_attributes=attributes_json(redact_attributes(log.attributes)),
    )
    stored, original = split_original(item, Expiries(9_999_999_999, 9_999_999_999, True))
    return log, item_size(stored), item_size(original)


def check_log(log: LogMessage, attempts: str) -> None:
    settings = {"QUEUE_MESSAGE_MAX_BYTES": "1048576", "MAX_RECEIVE_COUNT": attempts}
    check_fits(log, log.to_json(), load_settings({"WORK_SECONDS_PER_CHAR": "0", **settings}))


@pytest.mark.parametrize("attempts", ["5", "1000"])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_logs_item_is_refused_one_byte_over_the_limit(
    shape: dict[str, object], attempts: str
) -> None:
    # Text without anything to redact is stored as sent: the item is its size, to the byte.
    _, fields, _ = shaped("", shape, attempts)
    largest, _, _ = shaped("x" * (ITEM_MAX_BYTES - fields), shape, attempts)
    check_log(largest, attempts)
    over, size, _ = shaped("x" * (ITEM_MAX_BYTES - fields + 1), shape, attempts)
    assert size == ITEM_MAX_BYTES + 1
    with pytest.raises(PayloadTooLargeError, match=f"would be {size} bytes"):
        check_log(over, attempts)


@pytest.mark.parametrize("attempts", ["5", "1000"])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_originals_item_is_refused_one_byte_over_the_limit(
    shape: dict[str, object], attempts: str
) -> None:
    # A private key redacts to a placeholder: only the original's item is near the limit.
    key = "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----"
    _, _, fields = shaped(key.format(""), shape, attempts)
    largest, _, _ = shaped(key.format("A" * (ITEM_MAX_BYTES - fields)), shape, attempts)
    check_log(largest, attempts)
    over, _, size = shaped(key.format("A" * (ITEM_MAX_BYTES - fields + 1)), shape, attempts)
    assert size == ITEM_MAX_BYTES + 1
    with pytest.raises(PayloadTooLargeError, match=f"original text's item would be {size} bytes"):
        check_log(over, attempts)


texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1)
attribute_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


@given(text=texts, attributes=st.dictionaries(texts, attribute_values, max_size=4))
def test_the_queue_message_is_never_smaller_than_what_redaction_reads(
    text: str, attributes: dict[str, Any]
) -> None:
    # The item check's first bound reads the message's size for the text's and attributes'.
    log = LogMessage("acme", "101", "json_upload", text, "2026-11-21T10:00:00.000Z", "req-1")
    log = LogMessage(**{**vars(log), "attributes": attributes})
    redactable = utf8_size(text) + utf8_size(attributes_json(attributes))
    assert utf8_size(log.to_json()) >= redactable


def test_a_log_the_queue_message_bounds_is_sized_without_serializing_its_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_needed(attributes: dict[str, Any]) -> str:
        raise AssertionError("attributes serialized at ingest although the message bounds them")

    monkeypatch.setattr(limits, "attributes_json", not_needed)
    log, _, _ = shaped("call 555-0199", {"attributes": {"host": "web-1"}}, "5")
    check_log(log, "5")
