"""Erasing a log: `DELETE /logs/{log_id}` removes it and keeps a queued copy from coming back.

The tombstone goes first, then the items: a crash between the two leaves a tombstone that a
retried `DELETE` finds and completes, never a log without one. The tombstone refuses only copies
received before the erasure (`chalicelib.store.put_unless_erased`), so the tenant may post the
same `log_id` again later, and it expires once no such copy can still be queued
(`chalicelib.retention.tombstone_expires_at`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import BadRequestError, NotFoundError

from chalicelib.config import Settings, get_settings
from chalicelib.errors import unavailable_on_aws_failure
from chalicelib.message import InvalidFieldError, check_log_id, utc_timestamp
from chalicelib.partitions import erased_partition, original_partition
from chalicelib.reads import Reader, request_event
from chalicelib.retention import tombstone_expires_at
from chalicelib.tenant_credentials import tenant_table_client


def tombstone(
    tenant_id: str, sort_key: str, erased: datetime, settings: Settings
) -> dict[str, Any]:
    """The typed item that marks `sort_key` of `tenant_id` (a log id, or the tenant) erased."""
    return {
        "tenant_id": {"S": erased_partition(tenant_id)},
        "log_id": {"S": sort_key},
        "erased_at": {"S": utc_timestamp(erased)},
        "expires_at": {"N": str(tombstone_expires_at(settings, erased.timestamp()))},
    }


def erase_log(reader: Reader, log_id: str, request_id: str, now: datetime | None = None) -> None:
    """Erase one of the reader's logs and its original; 404 if nothing of it was stored.

    Writes one `erase` event line, answered or refused. A 404 still leaves the tombstone: a copy
    of the log that is still queued will not be stored.
    """
    trace: dict[str, object] = {"request_id": request_id, "route": "/logs/{log_id}"}
    with request_event("erase", trace, status=204):
        tenant_id = reader()
        trace["tenant_id"] = tenant_id
        try:
            trace["log_id"] = check_log_id(log_id)
        except InvalidFieldError as error:
            raise BadRequestError(str(error)) from None
        _erase(tenant_id, log_id, now or datetime.now(UTC))


def _erase(tenant_id: str, log_id: str, erased: datetime) -> None:
    settings = get_settings()
    with unavailable_on_aws_failure(
        "logs table",
        refused="the log could not be erased ({code}); retry the DELETE",
        unreachable="the log could not be erased; retry the DELETE",
    ):
        # With the tenant's own credentials, which can erase nothing of another tenant.
        dynamodb = tenant_table_client(tenant_id)
        dynamodb.put_item(
            TableName=settings.table_name, Item=tombstone(tenant_id, log_id, erased, settings)
        )
        found = [
            _delete(dynamodb, settings.table_name, partition, log_id)
            for partition in (tenant_id, original_partition(tenant_id))
        ]
    if not any(found):
        raise NotFoundError(f"tenant {tenant_id!r} has no processed log {log_id!r}")


def _delete(dynamodb: Any, table: str, partition: str, log_id: str) -> bool:
    """Delete one item if it exists, without reading it; return whether it existed."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key={"tenant_id": {"S": partition}, "log_id": {"S": log_id}},
            ConditionExpression="attribute_exists(log_id)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True
