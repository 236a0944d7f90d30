"""Processing queued logs: a record is the unit of work, and each one fails alone.

`process_record` knows nothing of batches. `process_batch` walks a Lambda SQS batch, runs each
record it still has time for, and reports the rest as `batchItemFailures` so SQS redelivers
only those: the ones that failed, and the ones handed back before the function's timeout.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib import store
from chalicelib.config import Settings, get_settings
from chalicelib.limits import work_seconds
from chalicelib.message import InvalidFieldError, LogMessage, utc_timestamp
from chalicelib.redact import redact

logger = logging.getLogger(__name__)

BatchResponse = dict[str, list[dict[str, str]]]


class SimulatedCrashError(RuntimeError):
    """The crash `CRASH_PROBABILITY` asks for: the record's work is lost and SQS retries it."""


def worker_id() -> str:
    """Which worker wrote an item: the Lambda instance's log stream, or host, process, thread."""
    stream = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
    if stream:
        return stream
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def receive_count(record: Mapping[str, Any]) -> int:
    """How many times SQS has delivered this record, counting this delivery."""
    try:
        return int(record["attributes"]["ApproximateReceiveCount"])
    except (KeyError, TypeError, ValueError):
        return 1


def process_record(message: LogMessage, attempt: int, settings: Settings) -> bool:
    """Do the (simulated) heavy work, redact, and store; return False if already stored."""
    time.sleep(work_seconds(message.text, settings))
    if random.random() < settings.crash_probability:
        raise SimulatedCrashError(
            f"simulated crash (CRASH_PROBABILITY={settings.crash_probability})"
        )
    item = store.build_item(
        message,
        redacted=redact(message.text),
        processed_at=utc_timestamp(datetime.now(UTC)),
        worker_id=worker_id(),
        attempt=attempt,
    )
    return store.put_new(item)


def _run(record: Mapping[str, Any], seconds_left: float, settings: Settings) -> bool:
    """Process one SQS record; return whether it is done and may be deleted from the queue."""
    message_id = record.get("messageId")
    try:
        message = LogMessage.from_json(record["body"])
    except (InvalidFieldError, KeyError, TypeError) as error:
        logger.error("poison record %s: %s", message_id, error)
        return False
    needed = work_seconds(message.text, settings) + settings.worker_time_margin_seconds
    if needed > seconds_left:
        logger.warning(
            "handing back %s/%s: needs %.1f s, %.1f s left before the timeout",
            message.tenant_id,
            message.log_id,
            needed,
            seconds_left,
        )
        return False
    attempt = receive_count(record)
    try:
        stored = process_record(message, attempt, settings)
    except Exception:
        logger.exception("failed %s/%s on attempt %d", message.tenant_id, message.log_id, attempt)
        return False
    outcome = "stored" if stored else "duplicate, already stored"
    logger.info("%s %s/%s on attempt %d", outcome, message.tenant_id, message.log_id, attempt)
    return True


def process_batch(
    records: Sequence[Mapping[str, Any]], remaining_ms: Callable[[], float]
) -> BatchResponse:
    """Process a Lambda SQS batch and return the partial-batch response naming failed records.

    Records delivered most often go first, so one handed back for lack of time is not handed
    back again behind fresher neighbours until the redrive policy sends it to the dead-letter
    queue. `remaining_ms` is the Lambda context's `get_remaining_time_in_millis`.
    """
    settings = get_settings()
    failures = [
        {"itemIdentifier": str(record.get("messageId"))}
        for record in sorted(records, key=receive_count, reverse=True)
        if not _run(record, remaining_ms() / 1000, settings)
    ]
    return {"batchItemFailures": failures}
