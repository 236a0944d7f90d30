"""Processing queued logs: a record is the unit of work, and each one fails alone.

`process_record` knows nothing of batches. `process_batch` walks a Lambda SQS batch, runs each
record it still has time for, and reports the rest as `batchItemFailures` so SQS redelivers
only those: the ones that failed, and the ones handed back before the function's timeout.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import store
from chalicelib.attributes import redact_attributes
from chalicelib.config import Settings, get_settings
from chalicelib.limits import work_seconds
from chalicelib.message import InvalidFieldError, LogMessage, utc_timestamp
from chalicelib.metrics import (
    DUPLICATES,
    ERASED_SKIPPED,
    LOGS_STORED,
    PROCESSING_LAG,
    RECORD_DURATION,
    RECORDS_FAILED,
    REDACTIONS,
    FailureReason,
    Metric,
)
from chalicelib.redact import redact_counted
from chalicelib.retention import expiries as expiries_of
from chalicelib.telemetry import Level, describe_error, elapsed_ms, emit
from chalicelib.tenant_redaction import processing_for
from chalicelib.tenant_settings import TenantSettingsUnavailableError

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


@dataclass(frozen=True)
class Processed:
    """What processing one log came to: stored (or found already stored or erased), its figures."""

    outcome: store.Outcome
    redactions: int
    lag_ms: float | None


def _lag_ms(received_at: str, processed_at: datetime) -> float | None:
    """Milliseconds from ingest's `received_at` to now; None if it is not a timestamp."""
    try:
        received = datetime.fromisoformat(received_at)
    except ValueError:
        return None
    if received.tzinfo is None:
        return None
    return round((processed_at - received).total_seconds() * 1000, 1)


def process_record(
    message: LogMessage,
    attempt: int,
    settings: Settings,
    tenant: Mapping[str, object] | None = None,
) -> Processed:
    """Do the (simulated) heavy work, redact text and attributes, and store if new and unerased.

    The tenant's settings come first: if they cannot be read, no work is wasted. `tenant`
    replaces the retention settings stored for the tenant, which replace the stage's.
    """
    policy, stored = processing_for(message.tenant_id)
    keep = stored if tenant is None else tenant
    time.sleep(work_seconds(message.text, settings))
    if random.random() < settings.crash_probability:
        raise SimulatedCrashError(
            f"simulated crash (CRASH_PROBABILITY={settings.crash_probability})"
        )
    redacted, redactions = redact_counted(message.text, policy)
    processed_at = datetime.now(UTC)
    item = store.build_item(
        message,
        redacted=redacted,
        processed_at=utc_timestamp(processed_at),
        worker_id=worker_id(),
        attempt=attempt,
        redacted_attributes=store.attributes_json(redact_attributes(message.attributes, policy)),
    )
    expiries = expiries_of(keep, settings, processed_at.timestamp())
    outcome = store.put_unless_erased(store.split_original(item, expiries))
    return Processed(outcome, redactions, _lag_ms(message.received_at, processed_at))


def _handed_back(
    reason: FailureReason, started: float, trace: dict[str, object], **details: object
) -> bool:
    """Report a record going back to the queue, and say it is not done."""
    level: Level = "ERROR" if reason in ("error", "poison", "settings_unavailable") else "WARNING"
    fields = {"outcome": "failed", "duration_ms": elapsed_ms(started), **trace, **details}
    emit("record", fields, level, {RECORDS_FAILED: 1}, reason)
    return False


def _run(record: Mapping[str, Any], seconds_left: float, settings: Settings) -> bool:
    """Process one SQS record; return whether it is done and may be deleted from the queue."""
    started = time.perf_counter()
    attempt = receive_count(record)
    trace: dict[str, object] = {"message_id": record.get("messageId"), "attempt": attempt}
    try:
        message = LogMessage.from_json(record["body"])
    except (InvalidFieldError, KeyError, TypeError) as error:
        return _handed_back("poison", started, trace, **describe_error(error))
    trace |= {
        "request_id": message.request_id,
        "tenant_id": message.tenant_id,
        "log_id": message.log_id,
    }
    needed = work_seconds(message.text, settings) + settings.worker_time_margin_seconds
    if needed > seconds_left:
        return _handed_back(
            "out_of_time",
            started,
            trace,
            needed_seconds=round(needed, 1),
            seconds_left=round(seconds_left, 1),
        )
    try:
        processed = process_record(message, attempt, settings)
    except TenantSettingsUnavailableError as error:  # never stored unredacted: retried
        return _handed_back("settings_unavailable", started, trace, **describe_error(error))
    except SimulatedCrashError as error:
        return _handed_back("simulated_crash", started, trace, **describe_error(error))
    except Exception as error:
        return _handed_back("error", started, trace, **describe_error(error, with_traceback=True))
    duration = elapsed_ms(started)
    metrics: dict[Metric, float] = {RECORD_DURATION: duration}
    stored = processed.outcome == "stored"
    if stored:
        metrics |= {LOGS_STORED: 1, REDACTIONS: processed.redactions}
        if processed.lag_ms is not None:
            metrics[PROCESSING_LAG] = processed.lag_ms
    else:
        metrics[DUPLICATES if processed.outcome == "duplicate" else ERASED_SKIPPED] = 1
    fields = {
        "outcome": processed.outcome,
        "duration_ms": duration,
        "lag_ms": processed.lag_ms if stored else None,
        "redactions": processed.redactions if stored else None,
        **trace,
    }
    emit("record", fields, metrics=metrics)
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
    started = time.perf_counter()
    failures = [
        {"itemIdentifier": str(record.get("messageId"))}
        for record in sorted(records, key=receive_count, reverse=True)
        if not _run(record, remaining_ms() / 1000, settings)
    ]
    summary = {
        "outcome": "partial" if failures else "complete",
        "records": len(records),
        "failed": len(failures),
        "duration_ms": elapsed_ms(started),
    }
    emit("batch", summary)
    return {"batchItemFailures": failures}
