"""Accepting a log: validate, normalize, check it can be finished, and enqueue it durably."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from chalicelib import queue
from chalicelib.config import get_settings
from chalicelib.limits import check_fits
from chalicelib.normalize import normalize


def accept(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    caller: str | None = None,
) -> dict[str, str]:
    """Enqueue one `POST /ingest` request and return the 202 answer.

    `caller` is the tenant of the request's API key when the stage requires one. Returns only
    after SQS has acknowledged the message; every failure before that raises a Chalice view
    error (400, 403, 413, 415 or 503). Only a 503 may hide a queued log (SQS stored it but its
    answer was lost), which is why clients retry with the same `log_id`.
    """
    message = normalize(headers, body, request_id, datetime.now(UTC), caller)
    queue_body = message.to_json()
    check_fits(message, queue_body, get_settings())
    queue.send(queue_body)
    return {
        "status": "accepted",
        "tenant_id": message.tenant_id,
        "log_id": message.log_id,
        "request_id": message.request_id,
    }
