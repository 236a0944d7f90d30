"""What the pipeline can carry and finish, checked at ingest so a log is refused, not lost.

A log accepted with 202 must fit in one queue message, in one DynamoDB item holding both its
original and its redacted text, and in one worker invocation's time. Anything larger would
fail in the worker on every retry and end in the dead-letter queue; a 413 tells the client now.
"""

from __future__ import annotations

from chalicelib.config import Settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.message import LogMessage
from chalicelib.redact import GROWTH_FACTOR, max_growth, redact
from chalicelib.store import ITEM_MAX_BYTES, WORKER_ID_MAX_LENGTH, build_item, item_size, utf8_size

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


def _size_without_texts(message: LogMessage, settings: Settings) -> int:
    """Size of the worker's item, its own fields at their largest, less the two texts."""
    worst = build_item(
        message,
        redacted="",
        processed_at=message.received_at,
        worker_id="w" * WORKER_ID_MAX_LENGTH,
        attempt=settings.max_receive_count,
    )
    worst["original_text"] = ""
    return item_size(worst)


def _check_item(message: LogMessage, settings: Settings) -> None:
    # The redacted text is at most `GROWTH_FACTOR` times the original, and at most
    # `max_growth` bytes longer. When either bound fits, skip redacting here and keep ingest as
    # fast as the queue call allows.
    text_bytes = utf8_size(message.text)
    room = ITEM_MAX_BYTES - _size_without_texts(message, settings) - text_bytes
    if text_bytes * GROWTH_FACTOR <= room:
        return
    if text_bytes + max_growth(message.text) <= room:
        return
    redacted_bytes = utf8_size(redact(message.text))
    if redacted_bytes > room:
        size = ITEM_MAX_BYTES - room + redacted_bytes
        raise PayloadTooLargeError(
            f"the log is too large to store: its item, with the original and the redacted text, "
            f"would be {size} bytes, DynamoDB's limit is {ITEM_MAX_BYTES} bytes"
        )


def check_fits(message: LogMessage, body: str, settings: Settings) -> None:
    """Raise `PayloadTooLargeError`, naming the limit, if the pipeline could not finish this log."""
    _check_queue_message(body, settings)
    _check_work(message.text, settings)
    _check_item(message, settings)
