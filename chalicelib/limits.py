"""What the pipeline can carry and finish, checked at ingest so a log is refused, not lost.

A log accepted with 202 must fit in one queue message, in the DynamoDB items the worker writes
(its redacted text and attributes in one, its original text in another), and in one worker
invocation's time. Anything larger would
fail in the worker on every retry and end in the dead-letter queue; a 413 tells the client now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from chalicelib.attributes import redact_attributes
from chalicelib.config import Settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.message import LogMessage, Source
from chalicelib.process_state import kept
from chalicelib.redact import GROWTH_FACTOR, max_growth, redact
from chalicelib.redaction_policy import DEFAULT_POLICY, RedactionPolicy
from chalicelib.retention import Expiries
from chalicelib.store import (
    ITEM_MAX_BYTES,
    WORKER_ID_MAX_LENGTH,
    attributes_json,
    build_item,
    item_size,
    split_original,
    utf8_size,
)

#: Floating-point slack when comparing seconds of work, far below a character's worth.
_ROUNDING = 1e-9


def work_seconds(text: str, settings: Settings) -> float:
    """Simulated processing time of one log: `len(text) * WORK_SECONDS_PER_CHAR`."""
    return len(text) * settings.work_seconds_per_char


def _check_queue_message(body: str, settings: Settings) -> int:
    """The body's size in bytes, if the queue takes it."""
    size = utf8_size(body)
    if size > settings.queue_message_max_bytes:
        raise PayloadTooLargeError(
            f"the log is too large for the queue: its message would be {size} bytes, the limit "
            f"is {settings.queue_message_max_bytes} bytes (QUEUE_MESSAGE_MAX_BYTES)"
        )
    return size


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


#: Expiries at their widest (epoch seconds in ten digits), with an original that is archived:
#: the items sized below are the largest the worker may write.
_WORST_EXPIRIES: Final = Expiries(
    expires_at=9_999_999_999, original_expires_at=9_999_999_999, archive_original=True
)


@kept
def _fixed_sizes(
    source: Source, attempt: int, event_time: bool, attributes: bool
) -> tuple[int, int]:
    """Sizes of the worker's two items, their own fields at their largest, the log's left empty.

    What a log of this shape adds to them is `_worst_items`'s: it depends on the log's own
    strings, and this part, the same for every log, is built once.
    """
    empty = LogMessage(
        tenant_id="",
        log_id="",
        source=source,
        text="",
        received_at="",
        request_id="",
        event_time="" if event_time else None,
        attributes={"": None} if attributes else {},
    )
    worst = build_item(
        empty,
        redacted="",
        processed_at="",
        worker_id="w" * WORKER_ID_MAX_LENGTH,
        attempt=attempt,
        redacted_attributes="-" if attributes else "",
    )
    log, *original = split_original(worst, _WORST_EXPIRIES)
    return item_size(log) - (1 if attributes else 0), sum(item_size(item) for item in original)


def _worst_items(message: LogMessage, settings: Settings) -> tuple[int, int]:
    """Sizes of the worker's two items, their own fields at their largest.

    The log's item is sized less its redacted parts (its attribute's name is counted when there
    are attributes; the value is redacted); the original's item is whole: its text is as sent.
    Both hold the tenant, the log id and when it was received; the log's item also its source,
    request, event time and when it was processed, sized as `received_at` (the same form).
    """
    log, original = _fixed_sizes(
        message.source,
        settings.max_receive_count,
        message.event_time is not None,
        bool(message.attributes),
    )
    shared = utf8_size(message.tenant_id) + utf8_size(message.log_id)
    shared += utf8_size(message.received_at)
    log += shared + utf8_size(message.received_at) + utf8_size(message.request_id)
    if message.event_time is not None:
        log += utf8_size(message.event_time)
    return log, original + shared + utf8_size(message.text)


def _redacted_size(message: LogMessage, policy: RedactionPolicy) -> int:
    text = utf8_size(redact(message.text, policy))
    if not message.attributes:
        return text
    return text + utf8_size(attributes_json(redact_attributes(message.attributes, policy)))


def _check_item(
    message: LogMessage,
    body_bytes: int,
    settings: Settings,
    policy_of: Callable[[], RedactionPolicy],
) -> None:
    # The log and its original are stored as two items (`store.split_original`), each within
    # DynamoDB's limit. The original's is known now. The log's redacted text is at most
    # `GROWTH_FACTOR` times the original, and at most `max_growth` bytes longer; so are the
    # attributes' strings (their JSON grows by as much). When either bound fits, skip redacting
    # here and keep ingest as fast as the queue call allows. The queue message holds the text
    # and the attributes' JSON, escaped (never in fewer bytes): when its size times the factor
    # fits, so do they, without serializing the attributes once more.
    log_fields, original = _worst_items(message, settings)
    if original > ITEM_MAX_BYTES:
        raise PayloadTooLargeError(
            f"the log is too large to store: its original text's item would be {original} "
            f"bytes, DynamoDB's limit is {ITEM_MAX_BYTES} bytes"
        )
    room = ITEM_MAX_BYTES - log_fields
    if body_bytes * GROWTH_FACTOR <= room:
        return
    redactable = utf8_size(message.text)
    attributes = attributes_json(message.attributes)
    redactable += utf8_size(attributes)
    if redactable * GROWTH_FACTOR <= room:
        return
    policy = policy_of()
    spare = room - redactable - max_growth(attributes, policy)
    if max_growth(message.text, policy, enough=spare) <= spare:
        return
    redacted_bytes = _redacted_size(message, policy)
    if redacted_bytes > room:
        size = ITEM_MAX_BYTES - room + redacted_bytes
        raise PayloadTooLargeError(
            "the log is too large to store: its item, with the redacted text and the redacted "
            f"attributes, would be {size} bytes, DynamoDB's limit is {ITEM_MAX_BYTES} bytes"
        )


def check_fits(
    message: LogMessage,
    body: str,
    settings: Settings,
    policy_of: Callable[[], RedactionPolicy] = lambda: DEFAULT_POLICY,
) -> None:
    """Raise `PayloadTooLargeError`, naming the limit, if the pipeline could not finish this log.

    `body` is the log's queue message, `message.to_json()`. `policy_of` gives the redaction
    policy the worker will apply (the tenant's placeholders and rules may grow the text more
    than the default's); it is asked only for a log large enough to need it.
    """
    body_bytes = _check_queue_message(body, settings)
    _check_work(message.text, settings)
    _check_item(message, body_bytes, settings, policy_of)
