"""Archiving expired logs: TTL removals from the table's stream, to S3 as gzip NDJSON per tenant.

DynamoDB's TTL process deletes an expired item and writes a REMOVE record, with the old image,
whose `userIdentity` names the service (`type` "Service", `principalId`
"dynamodb.amazonaws.com"); a delete by anyone else (an erasure) has no `userIdentity` and is
never archived. Each batch of records becomes one object per tenant and kind, named after the
batch's first and last sequence numbers, so a batch the stream delivers again overwrites its own
objects instead of adding copies.

Objects hold redacted logs only (`<tenant>/logs/...`), unless the tenant's settings asked for its
originals to be archived too when the log was stored (the original's `archive` attribute):
those go under `<tenant>/originals/...`. Tombstones are never archived.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.partitions import owner
from chalicelib.telemetry import emit

#: Who DynamoDB's TTL process is, in a stream record.
TTL_IDENTITY: Final = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
#: Stream records per archiver invocation, and where a new mapping starts reading: from the
#: oldest record the stream still holds (24 hours), so nothing expired before it is lost.
BATCH_SIZE: Final = 100
STARTING_POSITION: Final = "TRIM_HORIZON"
#: The folders of a tenant's prefix, by the kind of item archived there.
FOLDERS: Final = {"log": "logs", "original": "originals"}


def stream_arn_pattern(table_name: str) -> str:
    """Any stream of the table: what the archiver is bound to until `LOGS_STREAM_ARN` is known.

    The SAM and Terraform stacks replace it with the table's stream; the plain `chalice deploy`
    path needs `LOGS_STREAM_ARN` set (Lambda refuses a pattern, so it fails loudly).
    """
    return f"arn:aws:dynamodb:*:*:table/{table_name}/stream/*"


def is_ttl_removal(record: Mapping[str, Any]) -> bool:
    """Whether a stream record is DynamoDB's TTL process deleting an expired item."""
    identity = record.get("userIdentity") or {}
    return record.get("eventName") == "REMOVE" and all(
        identity.get(name) == value for name, value in TTL_IDENTITY.items()
    )


def _plain(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream image as JSON values: our items hold strings and whole numbers only."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    plain = {name: deserialize(value) for name, value in image.items()}
    return {
        name: int(value) if isinstance(value, Decimal) else value for name, value in plain.items()
    }


def archived(record: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The tenant, folder and line a TTL removal is archived as; None if it is not archived."""
    if not is_ttl_removal(record):
        return None
    image = record.get("dynamodb", {}).get("OldImage")
    if not image:
        return None
    item = _plain(image)
    tenant_id, kind = owner(str(item.get("tenant_id", "")))
    if kind == "erased" or (kind == "original" and not item.pop("archive", 0)):
        return None
    item["tenant_id"] = tenant_id
    return tenant_id, FOLDERS[kind], item


def objects(records: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """The archive objects of a batch of stream records: key -> gzip NDJSON body."""
    lines: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    sequences: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in records:
        found = archived(record)
        if found is None:
            continue
        tenant_id, folder, line = found
        lines[tenant_id, folder].append(line)
        sequences[tenant_id, folder].append(str(record["dynamodb"]["SequenceNumber"]))
    bodies: dict[str, bytes] = {}
    for (tenant_id, folder), group in lines.items():
        first, last = sequences[tenant_id, folder][0], sequences[tenant_id, folder][-1]
        # The first item's expiry, not today: a batch delivered again keeps its objects' names.
        day = datetime.fromtimestamp(int(group[0].get("expires_at", 0)), UTC).strftime("%Y/%m/%d")
        text = "".join(
            json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n" for line in group
        )
        key = f"{tenant_id}/{folder}/{day}/{first}-{last}.ndjson.gz"
        bodies[key] = gzip.compress(text.encode("utf-8"), mtime=0)
    return bodies


def archive_records(records: Iterable[Mapping[str, Any]]) -> int:
    """Archive a batch of stream records; return how many objects were written.

    A failed write raises: Lambda then retries the batch, whose objects keep their names.
    """
    bodies = objects(records)
    bucket = get_settings().archive_bucket_name
    s3 = client("s3")
    for key, body in bodies.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )
    emit("archive", {"outcome": "archived", "objects": len(bodies)})
    return len(bodies)
