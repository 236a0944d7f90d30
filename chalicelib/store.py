"""The logs table: one item per (tenant_id, log_id), written once and never overwritten."""

from __future__ import annotations

import logging
from typing import Any, Final, Literal

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.message import LogMessage, compact_json
from chalicelib.partitions import TENANT_MARKER, erased_partition, original_partition
from chalicelib.retention import Expiries

logger = logging.getLogger(__name__)

#: DynamoDB's limit on one item: attribute names and values together.
ITEM_MAX_BYTES: Final = 400 * 1024
#: Worker ids longer than this are cut, so an item's size is known before the worker runs.
WORKER_ID_MAX_LENGTH: Final = 128

Item = dict[str, str | int]


def attributes_json(attributes: dict[str, Any]) -> str:
    """Attributes as the item stores them: one JSON string, "" for none.

    A string rather than a DynamoDB map keeps every value exactly as sent (integers beyond
    DynamoDB's 38 digits, floats without a detour through Decimal, empty objects), sizes it as
    plainly as the text, and costs one parse when read; no query filters on attributes.
    """
    if not attributes:
        return ""
    return compact_json(attributes)


def build_item(
    message: LogMessage,
    redacted: str,
    processed_at: str,
    worker_id: str,
    attempt: int,
    redacted_attributes: str = "",
) -> Item:
    """The stored form of a processed log; `redacted_attributes` from `attributes_json`."""
    item: Item = {
        "tenant_id": message.tenant_id,
        "log_id": message.log_id,
        "source": message.source,
        "original_text": message.text,
        "modified_data": redacted,
        "received_at": message.received_at,
        "processed_at": processed_at,
        "request_id": message.request_id,
        "worker_id": worker_id[:WORKER_ID_MAX_LENGTH],
        "attempt": attempt,
    }
    if message.event_time is not None:
        item["event_time"] = message.event_time
    if redacted_attributes:
        item["attributes"] = redacted_attributes
    return item


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8, without encoding it when it is ASCII (a flag Python keeps)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def item_size(item: Item) -> int:
    """Bytes DynamoDB counts for `item`: UTF-8 names and strings, numbers by their digits."""
    size = 0
    for name, value in item.items():
        size += utf8_size(name)
        if isinstance(value, int):
            size += (len(str(abs(value))) + 1) // 2 + 1
        else:
            size += utf8_size(value)
    return size


def _typed(item: Item) -> dict[str, dict[str, str]]:
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": value}
        for name, value in item.items()
    }


#: What a tombstone-aware write came to.
Outcome = Literal["stored", "duplicate", "erased"]
#: A tombstone refuses logs received before its erasure; timestamps compare as strings, all being
#: `chalicelib.message.utc_timestamp`'s fixed-width UTC form.
_NOT_ERASED = "attribute_not_exists(erased_at) OR erased_at < :received_at"


def split_original(item: Item, expiries: Expiries) -> list[Item]:
    """The items a processed log is stored as: the redacted log, then its original if kept.

    The original goes to its own partition (`chalicelib.partitions`) with its own, earlier,
    expiry: DynamoDB's TTL removes whole items only.
    """
    log = {name: value for name, value in item.items() if name != "original_text"}
    log["expires_at"] = expiries.expires_at
    if expiries.original_expires_at is None:
        return [log]
    original: Item = {
        "tenant_id": original_partition(str(item["tenant_id"])),
        "log_id": item["log_id"],
        "original_text": item["original_text"],
        "received_at": item["received_at"],
        "expires_at": expiries.original_expires_at,
    }
    if expiries.archive_original:
        original["archive"] = 1
    return [log, original]


def _tombstone_check(table: str, tenant_id: str, sort_key: str, received_at: str) -> Any:
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": {"tenant_id": {"S": erased_partition(tenant_id)}, "log_id": {"S": sort_key}},
            "ConditionExpression": _NOT_ERASED,
            "ExpressionAttributeValues": {":received_at": {"S": received_at}},
        }
    }


def put_unless_erased(items: list[Item]) -> Outcome:
    """Write a log's items at once, unless the log is stored already or was erased.

    One transaction: each item only if its key is new (redelivery stays harmless), and only if
    neither the log's tombstone nor its tenant's marks an erasure after the log was received,
    so a copy still queued when its log or tenant was erased is not stored again.
    """
    log = items[0]
    tenant_id, log_id, received_at = (str(log[k]) for k in ("tenant_id", "log_id", "received_at"))
    table = get_settings().table_name
    writes = [
        {
            "Put": {
                "TableName": table,
                "Item": _typed(item),
                "ConditionExpression": "attribute_not_exists(log_id)",
            }
        }
        for item in items
    ]
    checks = [
        _tombstone_check(table, tenant_id, key, received_at) for key in (log_id, TENANT_MARKER)
    ]
    dynamodb = client("dynamodb")
    try:
        dynamodb.transact_write_items(TransactItems=writes + checks)
    except dynamodb.exceptions.TransactionCanceledException as cancelled:
        reasons = cancelled.response.get("CancellationReasons", [])
        failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
        if len(failed) != len(writes) + len(checks) or not any(failed):
            raise  # a conflict or throttling: SQS redelivers the record
        return "erased" if any(failed[len(writes) :]) else "duplicate"
    return "stored"
