"""Sending accepted logs to the ingest queue: the only durable step before answering 202.

One log is one message (the worker stays per record); a request of many logs sends them in
SendMessageBatch calls, which IAM authorizes as `sqs:SendMessage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.errors import ServiceUnavailableError, unavailable_on_aws_failure
from chalicelib.process_state import kept
from chalicelib.store import utf8_size


@kept
def queue_url() -> str:
    """The ingest queue's URL: `QUEUE_URL` when set, else looked up once from `QUEUE_NAME`."""
    settings = get_settings()
    if settings.queue_url:
        return settings.queue_url
    return str(client("sqs").get_queue_url(QueueName=settings.queue_name)["QueueUrl"])


def send(body: str, tenant_id: str) -> str:
    """Put one message body on the ingest queue, in its tenant's group; return its message id.

    `MessageGroupId` = tenant makes the standard queue a fair queue: SQS delivers a quiet
    tenant's logs ahead of a flooding tenant's backlog (docs/capacity.md).

    Any failure (queue missing, throttled, unreachable, timing out) becomes a 503: the client
    must not believe a log was accepted unless SQS acknowledged it. Nor may it believe the log
    was refused: SQS may have queued it and lost the answer (a 500, a read timeout), so the 503
    asks for a retry with the same log_id, which the worker stores once.
    """
    with unavailable_on_aws_failure(
        "ingest queue",
        refused="the ingest queue answered {code}; the log is not known to be accepted: "
        "retry with the same log_id",
        unreachable="the ingest queue is unreachable or did not answer; the log is not known "
        "to be accepted: retry with the same log_id",
    ):
        response = client("sqs").send_message(
            QueueUrl=queue_url(), MessageBody=body, MessageGroupId=tenant_id
        )
    return str(response["MessageId"])


#: Limits on one SendMessageBatch call: entries, and their bodies' bytes together. SQS takes
#: 1 MiB a call since 2025; 256 KiB, its long-standing limit and our queue's message limit
#: (QUEUE_MESSAGE_MAX_BYTES), still holds ten typical logs many times over.
BATCH_MAX_ENTRIES: Final = 10
BATCH_MAX_BYTES: Final = 262_144
#: Calls in flight at once for one request: 1,000 logs make about 100 calls, and SQS answers
#: each in a few milliseconds, so a few threads hide the round trips without crowding the
#: connection pool (botocore keeps 10 connections).
PARALLEL_CALLS: Final = 4

_REFUSED = (
    "the ingest queue refused this log ({code}); it is not known to be accepted: retry with "
    "the same log_id"
)
_UNREACHABLE = (
    "the ingest queue is unreachable or did not answer; the log is not known to be accepted: "
    "retry with the same log_id"
)


def batches(bodies: Sequence[str]) -> list[list[int]]:
    """Positions of `bodies` grouped into SendMessageBatch calls, in order, within SQS's limits.

    A body is never larger than one call may carry: ingest refuses larger logs with a 413.
    """
    calls: list[list[int]] = []
    size = 0
    for position, body in enumerate(bodies):
        body_size = utf8_size(body)
        if not calls or len(calls[-1]) == BATCH_MAX_ENTRIES or size + body_size > BATCH_MAX_BYTES:
            calls.append([])
            size = 0
        calls[-1].append(position)
        size += body_size
    return calls


@kept
def _pool() -> Any:
    """The threads that send a request's calls side by side, started on the first batch."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(PARALLEL_CALLS, thread_name_prefix="sqs-send")


#: Entries of one call by their id: the message body and its tenant (its `MessageGroupId`).
Entries = dict[str, tuple[str, str]]


def _send_entries(entries: Entries) -> dict[str, ServiceUnavailableError | None]:
    """One SendMessageBatch call: each entry id's outcome, None when SQS acknowledged it."""
    try:
        with unavailable_on_aws_failure("ingest queue", _REFUSED, _UNREACHABLE):
            response = client("sqs").send_message_batch(
                QueueUrl=queue_url(),
                Entries=[
                    {"Id": key, "MessageBody": body, "MessageGroupId": tenant_id}
                    for key, (body, tenant_id) in entries.items()
                ],
            )
    except ServiceUnavailableError as error:
        return dict.fromkeys(entries, error)
    outcomes: dict[str, ServiceUnavailableError | None] = {
        entry["Id"]: None for entry in response.get("Successful", [])
    }
    for failed in response.get("Failed", []):
        outcomes[failed["Id"]] = ServiceUnavailableError(_REFUSED.format(code=failed["Code"]))
    # An entry SQS named in neither list is not known to be queued either.
    missing = ServiceUnavailableError(_UNREACHABLE)
    return {key: outcomes.get(key, missing) for key in entries}


def _send_call(entries: Entries) -> dict[str, ServiceUnavailableError | None]:
    """One call, and once more for the entries SQS refused: throttling passes in milliseconds."""
    outcomes = _send_entries(entries)
    refused = {key: entries[key] for key, outcome in outcomes.items() if outcome is not None}
    if refused:
        outcomes |= _send_entries(refused)
    return outcomes


def send_all(bodies: Sequence[str], tenants: Sequence[str]) -> list[ServiceUnavailableError | None]:
    """Put every body on the ingest queue; per body, in order, None if queued, else its 503.

    `tenants` names each body's tenant, its `MessageGroupId` as with `send`. Bodies go out in
    SendMessageBatch calls (`batches`), side by side when there are several; an entry SQS
    refuses is sent once more before it counts as not queued. As with `send`, a 503 means *not
    known to be accepted*.
    """
    calls = [{str(p): (bodies[p], tenants[p]) for p in positions} for positions in batches(bodies)]
    # One call is made on the request's own thread: no hand-over for the common small batch.
    single = len(calls) == 1
    results = [_send_call(calls[0])] if single else list(_pool().map(_send_call, calls))
    outcomes: list[ServiceUnavailableError | None] = [None] * len(bodies)
    for result in results:
        for key, outcome in result.items():
            outcomes[int(key)] = outcome
    return outcomes
