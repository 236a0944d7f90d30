"""What the pipeline can carry and finish, checked at ingest so a log is refused, not lost.

A log accepted with 202 must fit in one queue message, in one DynamoDB item holding both its
original and its redacted text, and in one worker invocation's time. Anything larger would
fail in the worker on every retry and end in the dead-letter queue; a 413 tells the client now.
"""

from __future__ import annotations

from chalicelib.config import Settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.message import LogMessage
from chalicelib.redact import MIN_MATCH_LENGTH, REPLACEMENT, redact
from chalicelib.store import ITEM_MAX_BYTES, WORKER_ID_MAX_LENGTH, build_item, item_size

_GROWTH_BOUND = len(REPLACEMENT) / MIN_MATCH_LENGTH


def work_seconds(text: str, settings: Settings) -> float:
    """Simulated processing time of one log: `len(text) * WORK_SECONDS_PER_CHAR`."""
    return len(text) * settings.work_seconds_per_char


def _check_queue_message(body: str, settings: Settings) -> None:
    size = len(body.encode("utf-8"))
    if size > settings.queue_message_max_bytes:
        raise PayloadTooLargeError(
            f"the log is too large for the queue: its message would be {size} bytes, the limit "
            f"is {settings.queue_message_max_bytes} bytes (QUEUE_MESSAGE_MAX_BYTES)"
        )


def _check_work(text: str, settings: Settings) -> None:
    needed = work_seconds(text, settings)
    budget = settings.worker_work_budget_seconds
    if needed > budget:
        most = int(budget / settings.work_seconds_per_char)
        raise PayloadTooLargeError(
            f"the log is too long to process: {len(text)} characters need {needed:.1f} s of "
            f"work at {settings.work_seconds_per_char} s a character, the worker has "
            f"{budget:g} s (WORKER_TIMEOUT_SECONDS less WORKER_TIME_MARGIN_SECONDS), "
            f"so at most {most} characters"
        )


def _stored_size(message: LogMessage, redacted: str, settings: Settings) -> int:
    """Size of the item the worker will write, with its own fields at their largest."""
    worst = build_item(
        message,
        redacted=redacted,
        processed_at=message.received_at,
        worker_id="w" * WORKER_ID_MAX_LENGTH,
        attempt=settings.max_receive_count,
    )
    return item_size(worst)


def _check_item(message: LogMessage, settings: Settings) -> None:
    # Redaction can only grow a text by REPLACEMENT per shortest match: when even that bound
    # fits, skip redacting here and keep ingest as fast as the queue call allows.
    without_redacted = _stored_size(message, "", settings)
    text_bytes = len(message.text.encode("utf-8"))
    if without_redacted + text_bytes * _GROWTH_BOUND <= ITEM_MAX_BYTES:
        return
    size = _stored_size(message, redact(message.text), settings)
    if size > ITEM_MAX_BYTES:
        raise PayloadTooLargeError(
            f"the log is too large to store: its item, with the original and the redacted text, "
            f"would be {size} bytes, DynamoDB's limit is {ITEM_MAX_BYTES} bytes"
        )


def check_fits(message: LogMessage, body: str, settings: Settings) -> None:
    """Raise `PayloadTooLargeError`, naming the limit, if the pipeline could not finish this log."""
    _check_queue_message(body, settings)
    _check_work(message.text, settings)
    _check_item(message, settings)
