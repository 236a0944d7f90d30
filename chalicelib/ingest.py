"""Accepting a log: validate, normalize, check it can be finished, and enqueue it durably."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from chalicelib import queue
from chalicelib.config import get_settings
from chalicelib.errors import TooManyLogsError
from chalicelib.limiter import admit
from chalicelib.limits import check_fits
from chalicelib.metrics import INGEST_ACCEPTED, INGEST_DURATION, INGEST_REJECTED
from chalicelib.normalize import normalize
from chalicelib.telemetry import describe_error, elapsed_ms, emit

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def rejection_reason(error: Exception) -> str:
    """The `Reason` of a refusal: its error type in snake case, `BadRequestError` -> bad_request.

    Anything but Chalice's view errors is a bug answered with a 500: `internal_error`.
    """
    if not hasattr(error, "STATUS_CODE"):
        return "internal_error"
    return _WORD_START.sub("_", type(error).__name__.removesuffix("Error")).lower()


def accept(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    caller: Callable[[], str] | None = None,
) -> dict[str, str]:
    """Enqueue one `POST /ingest` request and return the 202 answer.

    `caller` resolves the tenant of the request's API key (or raises the 401) when the stage
    requires one. Returns only after SQS has acknowledged the message; every failure before that
    raises a Chalice view error (400, 401, 403, 413, 415, 429 or 503). Only a 503 may hide a queued
    log (SQS stored it but its answer was lost), which is why clients retry with the same
    `log_id`. Either way one `ingest` event line says what happened.
    """
    started = time.perf_counter()
    trace: dict[str, object] = {"request_id": request_id, "body_bytes": len(body or "")}
    try:
        tenant = caller() if caller else None
        message = normalize(headers, body, request_id, datetime.now(UTC), tenant)
        trace |= {"tenant_id": message.tenant_id, "log_id": message.log_id}
        queue_body = message.to_json()
        check_fits(message, queue_body, get_settings())
        refused = admit(message.tenant_id, [len(message.text.encode())]).refusal
        if refused is not None:
            raise TooManyLogsError(refused.message, refused.retry_after_seconds)
        queue.send(queue_body, message.tenant_id)
    except Exception as error:
        reason = rejection_reason(error)
        status = getattr(error, "STATUS_CODE", 500)
        rejected = {"outcome": "rejected", "status": status, "duration_ms": elapsed_ms(started)}
        # A client error's message echoes the client's input, which may be the text itself.
        rejected |= trace | (describe_error(error) if status >= 500 else {})
        emit(
            "ingest",
            rejected,
            "ERROR" if status >= 500 else "WARNING",
            {INGEST_REJECTED: 1},
            reason,
        )
        raise
    duration = elapsed_ms(started)
    accepted = {"outcome": "accepted", "status": 202, "duration_ms": duration, **trace}
    emit("ingest", accepted, metrics={INGEST_ACCEPTED: 1, INGEST_DURATION: duration})
    return {
        "status": "accepted",
        "tenant_id": message.tenant_id,
        "log_id": message.log_id,
        "request_id": message.request_id,
    }
