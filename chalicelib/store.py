"""The logs table: one item per (tenant_id, log_id), written once and never overwritten."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.message import LogMessage

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
    return json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))


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


def put_new(item: Item) -> bool:
    """Write `item` unless its key is already stored; return False for such a duplicate.

    The condition makes redelivery harmless: a second copy of a message never overwrites
    or duplicates the first one's item.
    """
    table = client("dynamodb")
    try:
        table.put_item(
            TableName=get_settings().table_name,
            Item=_typed(item),
            ConditionExpression="attribute_not_exists(log_id)",
        )
    except table.exceptions.ConditionalCheckFailedException:
        return False
    return True
