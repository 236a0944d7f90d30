"""Sending accepted logs to the ingest queue: the only durable step before answering 202."""

from __future__ import annotations

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.errors import unavailable_on_aws_failure
from chalicelib.process_state import kept


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
