"""Accepting logs: validate each, check it can be finished, enqueue it durably, say so per log.

`enqueue_logs` is the core every ingest route shares: given a request's log objects it returns
one `Outcome` per log, in order, each queued or refused with its own error. `accept` is
`POST /ingest` around it: reading the body, answering in `/ingest`'s shapes, and the request's
event line.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from chalice.app import ChaliceViewError

from chalicelib import queue
from chalicelib.batch import Item, check_count
from chalicelib.config import get_settings
from chalicelib.errors import ServiceUnavailableError, TooManyLogsError
from chalicelib.limiter import admit_each
from chalicelib.limits import check_fits
from chalicelib.metrics import INGEST_ACCEPTED, INGEST_DURATION, INGEST_REJECTED, Metric
from chalicelib.normalize import LogContext, log_message, read_request
from chalicelib.store import utf8_size
from chalicelib.telemetry import Level, describe_error, elapsed_ms, emit
from chalicelib.tenant_redaction import ingest_policy

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")
#: Seconds a client should wait before retrying a request the queue did not take whole.
RETRY_AFTER_SECONDS: Final = 1


def rejection_reason(error: Exception) -> str:
    """The `Reason` of a refusal: its error type in snake case, `BadRequestError` -> bad_request.

    Anything but Chalice's view errors is a bug answered with a 500: `internal_error`.
    """
    if not hasattr(error, "STATUS_CODE"):
        return "internal_error"
    return _WORD_START.sub("_", type(error).__name__.removesuffix("Error")).lower()


@dataclass(frozen=True)
class Outcome:
    """What became of one log of a request: queued (no `error`) or refused with `error`.

    `tenant_id` and `log_id` are known once the log passed validation: a log refused for its
    size, or not known to be queued, keeps them, so the client can tell which it was.
    """

    tenant_id: str | None
    log_id: str | None
    error: ChaliceViewError | None = None

    @property
    def status(self) -> int:
        """The log's own HTTP status: 202 when queued, else its error's."""
        return 202 if self.error is None else self.error.STATUS_CODE


def _send(bodies: list[str], tenants: list[str]) -> list[ServiceUnavailableError | None]:
    """Queue `bodies`, each in its tenant's message group (`MessageGroupId`).

    One log keeps the single `SendMessage`, its fastest path.
    """
    if len(bodies) != 1:
        return queue.send_all(bodies, tenants) if bodies else []
    try:
        queue.send(bodies[0], tenants[0])
    except ServiceUnavailableError as error:
        return [error]
    return [None]


def _over_limits(outcomes: list[Outcome], waiting: list[int], sizes: list[int]) -> list[int]:
    """Refuse, as 429 outcomes, the waiting logs their tenants' plans do not admit now.

    The limiter decides once per tenant of the request, in logs and bytes of text; returns the
    positions still to send.
    """
    logs = [(str(outcomes[p].tenant_id), size) for p, size in zip(waiting, sizes, strict=True)]
    verdicts = admit_each(logs)
    admitted = []
    for position, refusal in zip(waiting, verdicts, strict=True):
        if refusal is None:
            admitted.append(position)
        else:
            error = TooManyLogsError(refusal.message, refusal.retry_after_seconds)
            outcomes[position] = replace(outcomes[position], error=error)
    return admitted


def enqueue_logs(items: Sequence[Item], context: LogContext) -> list[Outcome]:
    """Validate, size and durably queue each log of a request; one `Outcome` per item, in order.

    `items` are log objects as JSON gives them (`tenant_id` optional where the context names
    the tenant, `log_id`, `text`, `timestamp`, and any other field as an attribute), a
    text/plain body, or the `ChaliceViewError` that kept an item from parsing. Each item is
    judged alone (400, 403, 413) and nothing refused is queued. The valid ones are sent
    together; one SQS did not acknowledge is a 503 outcome: not known to be queued, safe to
    send again with the same `log_id`. Raises only for the whole request: `PayloadTooLargeError`
    when it holds more than `batch.MAX_LOGS_PER_REQUEST` logs.
    """
    check_count(len(items))
    settings = get_settings()
    outcomes: list[Outcome] = []
    bodies: dict[int, str] = {}
    sizes: list[int] = []
    for position, item in enumerate(items):
        try:
            message = log_message(item, position, context)
        except ChaliceViewError as error:
            outcomes.append(Outcome(None, None, error))
            continue
        outcome = Outcome(message.tenant_id, message.log_id)
        try:
            body = message.to_json()
            check_fits(message, body, settings, partial(ingest_policy, message.tenant_id))
        except ChaliceViewError as error:
            outcome = replace(outcome, error=error)
        else:
            bodies[position] = body
            sizes.append(utf8_size(message.text))
        outcomes.append(outcome)
    waiting = _over_limits(outcomes, list(bodies), sizes)
    tenants = [str(outcomes[position].tenant_id) for position in waiting]
    for position, failure in zip(
        waiting, _send([bodies[p] for p in waiting], tenants), strict=True
    ):
        if failure is not None:
            outcomes[position] = replace(outcomes[position], error=failure)
    return outcomes


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a `POST /ingest`: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str | list[str]] = field(default_factory=dict)


def _item_answer(outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": outcome.status}
    if outcome.tenant_id is not None:
        entry |= {"tenant_id": outcome.tenant_id, "log_id": outcome.log_id}
    if outcome.error is not None:
        entry |= {"Code": type(outcome.error).__name__, "Message": str(outcome.error)}
    return entry


def batch_answer(outcomes: Sequence[Outcome], request_id: str) -> Answer:
    """A batch's answer: every log's outcome in request order, and the request's status.

    202 when every valid log the tenants' plans admitted was queued and there was one (logs over
    a limit are listed as 429s, with `Retry-After`); 429 when the plans admitted none; 503 with
    `Retry-After` when any valid log is not known to be queued (the body says which were); 400
    when none was valid.
    The 400 and 503 also carry the top-level `Code` and `Message` every error has.
    """
    items = [_item_answer(outcome) for outcome in outcomes]
    accepted = sum(1 for outcome in outcomes if outcome.error is None)
    unavailable = [o for o in outcomes if isinstance(o.error, ServiceUnavailableError)]
    body: dict[str, Any] = {
        "status": "accepted",
        "request_id": request_id,
        "accepted": accepted,
        "rejected": len(outcomes) - accepted,
        "items": items,
    }
    throttled = [o.error for o in outcomes if isinstance(o.error, TooManyLogsError)]
    if throttled and accepted == 0 and not unavailable:
        body |= {"status": "throttled", "Code": TooManyLogsError.__name__}
        body["Message"] = f"no log was queued: {throttled[0]}"
        return Answer(429, body, _retry_after(throttled))
    if unavailable:
        body |= {
            "status": "unavailable",
            "Code": ServiceUnavailableError.__name__,
            "Message": f"{len(unavailable)} of the request's logs are not known to be queued: "
            "send the request again with the same log_ids or Idempotency-Key (the items say "
            "which logs were queued)",
        }
        return Answer(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    if accepted == 0:
        first = next(i for i, outcome in enumerate(outcomes) if outcome.error is not None)
        body |= {
            "status": "rejected",
            "Code": "BadRequestError",
            "Message": f"no log of the request is valid; log {first}: {outcomes[first].error}",
        }
        return Answer(400, body)
    return Answer(202, body, _retry_after(throttled) if throttled else {})


def _retry_after(throttled: Sequence[TooManyLogsError]) -> dict[str, str | list[str]]:
    """`Retry-After` for logs refused over their plans: when the last of their limits resets."""
    return {"Retry-After": str(max(error.retry_after_seconds for error in throttled))}


def _single_answer(outcome: Outcome, request_id: str) -> Answer:
    """The one-log answer of old: 202 with the log's ids, or its error for the whole request."""
    if isinstance(outcome.error, ServiceUnavailableError):
        body = {"Code": type(outcome.error).__name__, "Message": str(outcome.error)}
        return Answer(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(outcome.error, TooManyLogsError):
        body = {"Code": type(outcome.error).__name__, "Message": str(outcome.error)}
        return Answer(429, body, _retry_after([outcome.error]))
    if outcome.error is not None:
        raise outcome.error
    return Answer(
        202,
        {
            "status": "accepted",
            "tenant_id": outcome.tenant_id,
            "log_id": outcome.log_id,
            "request_id": request_id,
        },
    )


def emit_refused(error: Exception, started: float, trace: dict[str, object]) -> None:
    """The event line of a request refused as a whole (or a one-log request's refusal)."""
    reason = rejection_reason(error)
    status = getattr(error, "STATUS_CODE", 500)
    rejected = {"outcome": "rejected", "status": status, "duration_ms": elapsed_ms(started)}
    # A client error's message echoes the client's input, which may be the text itself.
    rejected |= trace | (describe_error(error) if status >= 500 else {})
    level: Level = "ERROR" if status >= 500 else "WARNING"
    emit("ingest", rejected, level, {INGEST_REJECTED: 1}, reason)


def emit_batch_lines(
    outcomes: Sequence[Outcome], status: int, started: float, trace: dict[str, object]
) -> None:
    """A batch's `ingest` line, with its logs counted, and one line per reason logs were refused.

    Metrics count logs, not requests: `IngestAccepted` is the logs queued, `IngestRejected` the
    logs refused, each reason on a line of its own so that it is the metric's `Reason`. `status`
    is the request's, however the route answers (202 for `/ingest`, 200 for OTLP); `trace`
    holds at least `request_id` (and `body_bytes`); `started` is the request's
    `time.perf_counter()`. Any route taking batches writes these lines, so every batch is
    counted alike.
    """
    duration = elapsed_ms(started)
    reasons = Counter(rejection_reason(o.error) for o in outcomes if o.error is not None)
    accepted = len(outcomes) - sum(reasons.values())
    tenants = {o.tenant_id for o in outcomes if o.tenant_id is not None}
    fields: dict[str, object] = {
        "outcome": "accepted" if status < 300 and not reasons else "partial",
        "status": status,
        "duration_ms": duration,
        "logs": len(outcomes),
        "accepted": accepted,
        "rejected": sum(reasons.values()),
        "rejected_by_reason": dict(reasons) or None,
        **trace,
        "tenant_id": next(iter(tenants)) if len(tenants) == 1 else None,
    }
    if not accepted:
        fields["outcome"] = "rejected"
    unavailable = [o.error for o in outcomes if isinstance(o.error, ServiceUnavailableError)]
    if unavailable:  # our own words on the queue's failure, never the client's input
        fields |= describe_error(unavailable[0])
    level: Level = "ERROR" if status >= 500 else "WARNING" if reasons else "INFO"
    metrics: dict[Metric, float] = {INGEST_ACCEPTED: accepted}
    if status < 300:
        metrics[INGEST_DURATION] = duration
    emit("ingest", fields, level, metrics)
    for reason, count in reasons.items():
        line = {"request_id": trace["request_id"], "logs": count, "status": status}
        emit("ingest_rejected", line, level, {INGEST_REJECTED: count}, reason)


def accept(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    caller: Callable[[], str] | None = None,
) -> Answer:
    """Enqueue the logs of one `POST /ingest` request and return its answer.

    `caller` resolves the tenant of the request's API key (or raises the 401) when the stage
    requires one. A one-log request (a JSON object, text/plain) is answered as it always was:
    202 with its ids, or its error for the whole request. A batch is answered by
    `batch_answer`. A request refused as a whole raises a Chalice view error (400, 401, 403,
    413, 415). Either way one `ingest` event line says what happened, without any text.
    """
    started = time.perf_counter()
    trace: dict[str, object] = {"request_id": request_id, "body_bytes": len(body or "")}
    try:
        tenant = caller() if caller else None
        upload = read_request(headers, body, request_id, datetime.now(UTC), tenant)
        outcomes = enqueue_logs(upload.items, upload.context)
    except Exception as error:
        emit_refused(error, started, trace)
        raise
    if upload.context.single:
        [outcome] = outcomes
        trace |= {"tenant_id": outcome.tenant_id, "log_id": outcome.log_id}
        if outcome.error is not None:
            emit_refused(outcome.error, started, trace)
            return _single_answer(outcome, request_id)
        duration = elapsed_ms(started)
        accepted = {"outcome": "accepted", "status": 202, "duration_ms": duration, **trace}
        emit("ingest", accepted, metrics={INGEST_ACCEPTED: 1, INGEST_DURATION: duration})
        return _single_answer(outcome, request_id)
    answer = batch_answer(outcomes, request_id)
    emit_batch_lines(outcomes, answer.status, started, trace)
    return answer
