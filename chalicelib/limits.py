"""What the pipeline can carry and finish, checked at ingest so a log is refused, not lost.

A log accepted with 202 must fit in one queue message, in one DynamoDB item holding both its
original and its redacted text, and in one worker invocation's time. Anything larger would
fail in the worker on every retry and end in the dead-letter queue; a 413 tells the client now.
"""

from __future__ import annotations

from chalicelib.attributes import redact_attributes
from chalicelib.config import Settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.message import LogMessage
from chalicelib.redact import MIN_MATCH_LENGTH, REPLACEMENT, max_growth, redact
from chalicelib.store import (
    ITEM_MAX_BYTES,
    WORKER_ID_MAX_LENGTH,
    attributes_json,
    build_item,
    item_size,
    utf8_size,
)

_GROWTH_BOUND = len(REPLACEMENT) / MIN_MATCH_LENGTH
#: Every match `redact` replaces is at least this long but for addresses with an `@` (from
#: `MIN_MATCH_LENGTH`, `a@b.co`): phone numbers (`555-0199`; with a country code at least 9)
#: and addresses written with `%40` (`a%40b.co`).
_LONG_MATCH_LENGTH = 8
#: Floating-point slack when comparing seconds of work, far below a character's worth.
_ROUNDING = 1e-9


def work_seconds(text: str, settings: Settings) -> float:
    """Simulated processing time of one log: `len(text) * WORK_SECONDS_PER_CHAR`."""
    return len(text) * settings.work_seconds_per_char


def _check_queue_message(body: str, settings: Settings) -> None:
    size = utf8_size(body)
    if size > settings.queue_message_max_bytes:
        raise PayloadTooLargeError(
            f"the log is too large for the queue: its message would be {size} bytes, the limit "
            f"is {settings.queue_message_max_bytes} bytes (QUEUE_MESSAGE_MAX_BYTES)"
        )


def _check_work(text: str, settings: Settings) -> None:
    needed = work_seconds(text, settings)
    budget = settings.worker_work_budget_seconds
    if needed > budget + _ROUNDING:  # 1158 * 0.05 is 57.900000000000006, and may pass
        most = int(budget / settings.work_seconds_per_char + _ROUNDING)
        raise PayloadTooLargeError(
            f"the log is too long to process: {len(text)} characters need {needed:.1f} s of "
            f"work at {settings.work_seconds_per_char} s a character, the worker has "
            f"{budget:g} s (WORKER_TIMEOUT_SECONDS less WORKER_TIME_MARGIN_SECONDS and 0.1 s for "
            "the invocation to start), "
            f"so at most {most} characters"
        )


def _size_without_redacted(message: LogMessage, settings: Settings) -> int:
    """Size of the worker's item, its own fields at their largest, less its redacted parts.

    The attribute's name is counted here when there are attributes; its value is redacted.
    """
    worst = build_item(
        message,
        redacted="",
        processed_at=message.received_at,
        worker_id="w" * WORKER_ID_MAX_LENGTH,
        attempt=settings.max_receive_count,
        redacted_attributes="-" if message.attributes else "",
    )
    return item_size(worst) - (1 if message.attributes else 0)


def _redacted_size(message: LogMessage) -> int:
    text = utf8_size(redact(message.text))
    if not message.attributes:
        return text
    return text + utf8_size(attributes_json(redact_attributes(message.attributes)))


def at_sign_growth(text: str) -> int:
    """At most how many bytes `redact` adds to `text`, from one count of its `@`s.

    Matches do not overlap, and a character is at least one UTF-8 byte. A match shorter than
    `_LONG_MATCH_LENGTH` is an address holding its own `@`, and grows the text by at most
    `len(REPLACEMENT) - MIN_MATCH_LENGTH`; there are at most `len(text) // _LONG_MATCH_LENGTH`
    others, each growing it by at most `len(REPLACEMENT) - _LONG_MATCH_LENGTH`. One count of a
    character costs a fraction of `max_growth`'s count of digits, and decides a large log of
    ordinary lines, where digits are many and addresses few.
    """
    short = len(REPLACEMENT) - MIN_MATCH_LENGTH
    long = len(REPLACEMENT) - _LONG_MATCH_LENGTH
    return short * text.count("@") + long * (len(text) // _LONG_MATCH_LENGTH)


def _check_item(message: LogMessage, settings: Settings) -> None:
    # The redacted text is at most `_GROWTH_BOUND` times the original, at most
    # `at_sign_growth` and at most `max_growth` bytes longer; so are the attributes' strings
    # (their JSON grows by as much). Each bound costs more to compute and is tighter for some
    # texts; the first that fits spares redacting here, and keeps ingest as fast as the queue
    # call allows.
    room = ITEM_MAX_BYTES - _size_without_redacted(message, settings)
    redactable = utf8_size(message.text)
    attributes = attributes_json(message.attributes)
    redactable += utf8_size(attributes)
    if redactable * _GROWTH_BOUND <= room:
        return
    for bound in (at_sign_growth, max_growth):
        if redactable + bound(message.text) + bound(attributes) <= room:
            return
    redacted_bytes = _redacted_size(message)
    if redacted_bytes > room:
        size = ITEM_MAX_BYTES - room + redacted_bytes
        raise PayloadTooLargeError(
            "the log is too large to store: its item, with the original and the redacted text "
            "and the redacted attributes, "
            f"would be {size} bytes, DynamoDB's limit is {ITEM_MAX_BYTES} bytes"
        )


def check_fits(message: LogMessage, body: str, settings: Settings) -> None:
    """Raise `PayloadTooLargeError`, naming the limit, if the pipeline could not finish this log."""
    _check_queue_message(body, settings)
    _check_work(message.text, settings)
    _check_item(message, settings)
