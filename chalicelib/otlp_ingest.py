"""`POST /v1/logs`: an OTLP/HTTP logs export, queued log by log as `/ingest` queues a batch.

Each LogRecord becomes one log object (`chalicelib.otlp`) and goes through `enqueue_logs`, the
same validation, limits and queueing as every other ingest form; only the answer is OTLP's:

- 200 with `partial_success` counting the records that could not become a log or that ingest
  refused (the exporter never resends them);
- 503 with `Retry-After` when SQS did not take every valid log, and 429 with `Retry-After` when
  the tenant's plan did not admit them all: the exporter resends the whole export, and each
  record's stable `log_id` makes the worker store it once;
- 400 for a body that is no export at all, 413 and 415 as `/ingest` answers them, each with a
  `google.rpc.Status` body in the request's encoding.

A protobuf answer is a binary body, which Chalice (and API Gateway) send only to a request whose
`Accept` admits it; every SDK we ran sends `Accept: */*`. To a request that does not, the answer
has its status and no body, which OTLP clients read as the empty message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalice.app import BadRequestError, ChaliceViewError, ForbiddenError

from chalicelib import otlp
from chalicelib.compression import decode_body
from chalicelib.errors import ServiceUnavailableError, TooManyLogsError
from chalicelib.ingest import (
    RETRY_AFTER_SECONDS,
    Outcome,
    emit_batch_lines,
    emit_refused,
    enqueue_logs,
)
from chalicelib.message import utc_timestamp
from chalicelib.normalize import LogContext, lowered_headers


@dataclass(frozen=True)
class ExportAnswer:
    """The HTTP answer to an export: status, body (bytes for protobuf) and headers."""

    status: int
    body: str | bytes
    headers: dict[str, str | list[str]] = field(default_factory=dict)


def _answer(
    status: int,
    encoded: tuple[bytes, str],
    accept: str | None,
    retry_after: int | None = None,
) -> ExportAnswer:
    body, content_type = encoded
    headers: dict[str, str | list[str]] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if content_type == "application/json":
        return ExportAnswer(status, body.decode("utf-8"), headers | {"Content-Type": content_type})
    admitted = accept is not None and any(
        kind.split(";")[0].strip() in ("*/*", "application/*", content_type)
        for kind in accept.lower().split(",")
    )
    if not admitted:
        return ExportAnswer(status, "", headers)
    return ExportAnswer(status, body, headers | {"Content-Type": content_type})


def _items(records: Sequence[otlp.Outcome]) -> list[dict[str, object] | ChaliceViewError]:
    """Log objects for `enqueue_logs`, each record that is none as the 400 it is."""
    return [
        BadRequestError(str(record)) if isinstance(record, otlp.RejectedRecord) else record
        for record in records
    ]


def _reasons(outcomes: Sequence[Outcome], records: Sequence[otlp.Outcome]) -> list[str]:
    """Why each refused record was refused, in request order, for `partial_success`."""
    return [
        str(record) if isinstance(record, otlp.RejectedRecord) else str(outcome.error)
        for outcome, record in zip(outcomes, records, strict=True)
        if outcome.error is not None
    ]


def _context(lowered: Mapping[str, str], request_id: str, caller: str | None) -> LogContext:
    """What applies to every log of the export; 403 for a header naming another tenant."""
    tenant_header = lowered.get("x-tenant-id")
    if caller is not None and tenant_header is not None and tenant_header != caller:
        raise ForbiddenError(
            f"this API key belongs to tenant {caller!r}; it cannot write logs for {tenant_header!r}"
        )
    return LogContext(
        request_id=request_id,
        received_at=utc_timestamp(datetime.now(UTC)),
        source="otlp_upload",
        caller=caller,
        tenant_header=tenant_header,
        single=False,
    )


def accept_export(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    caller: Callable[[], str] | None = None,
) -> ExportAnswer:
    """Queue every log of one export and answer as the OTLP specification says.

    Raises only the 415 of a Content-Type that is no OTLP encoding, answered in our JSON form
    because the request names no encoding to answer in.
    """
    started = time.perf_counter()
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    trace: dict[str, object] = {"request_id": request_id, "body_bytes": len(raw)}
    lowered = lowered_headers(headers)
    try:
        encoding = otlp.request_encoding(lowered.get("content-type"))
    except ChaliceViewError as error:
        emit_refused(error, started, trace)
        raise
    accept = lowered.get("accept")
    try:
        context = _context(lowered, request_id, caller() if caller else None)
        decoded = decode_body(lowered.get("content-encoding"), raw)
        records = otlp.decode_request(decoded, encoding)
        outcomes = enqueue_logs(_items(records), context)
    except otlp.OtlpDecodeError as error:
        message = f"the body is not an OTLP logs export: {error}"
        emit_refused(BadRequestError(message), started, trace)
        return _answer(400, otlp.encode_status(encoding, message, error.field), accept)
    except ChaliceViewError as error:
        emit_refused(error, started, trace)
        status = error.STATUS_CODE
        wait = RETRY_AFTER_SECONDS if status == 503 else None
        return _answer(status, otlp.encode_status(encoding, str(error)), accept, wait)
    unqueued = sum(isinstance(o.error, ServiceUnavailableError) for o in outcomes)
    if unqueued:
        emit_batch_lines(outcomes, 503, started, trace)
        message = (
            f"{unqueued} of {len(outcomes)} logs are not known to be queued: send the export "
            f"again after {RETRY_AFTER_SECONDS} s; logs already queued are stored once"
        )
        return _answer(503, otlp.encode_status(encoding, message), accept, RETRY_AFTER_SECONDS)
    throttled = [o.error for o in outcomes if isinstance(o.error, TooManyLogsError)]
    if throttled:  # the exporter resends the export after Retry-After; stable ids store it once
        emit_batch_lines(outcomes, 429, started, trace)
        wait = max(error.retry_after_seconds for error in throttled)
        message = (
            f"{len(throttled)} of {len(outcomes)} logs are over the tenant's plan: {throttled[0]}"
        )
        return _answer(429, otlp.encode_status(encoding, message), accept, retry_after=wait)
    emit_batch_lines(outcomes, 200, started, trace)
    reasons = _reasons(outcomes, records)
    message = otlp.rejection_message(reasons) if reasons else ""
    return _answer(200, otlp.encode_response(encoding, len(reasons), message), accept)
