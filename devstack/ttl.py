"""DynamoDB's TTL process, played locally: moto keeps a table's TTL setting but never expires.

`TtlSweeper.sweep` deletes the items whose `expires_at` has passed, as the service does (in the
service, within days of it; here, at once), and remembers which keys it deleted. Its deletes are
the emulator's ordinary DeleteItem, so the stream records they make carry no `userIdentity`:
`devstack.stream_consumer` marks the records of swept keys as the service marks TTL deletions
(`chalicelib.archive.TTL_IDENTITY`), and only those. Each delete is conditional on the item
still being expired, so an item rewritten in between is not swept.
"""

from __future__ import annotations

import threading
from typing import Any

Key = tuple[str, str]


class SweptKeys:
    """The keys the sweeper deleted and the stream consumer has not yet seen removed."""

    def __init__(self) -> None:
        """Start with none."""
        self._keys: set[Key] = set()
        self._lock = threading.Lock()

    def add(self, key: Key) -> None:
        """Remember a key the sweeper deleted."""
        with self._lock:
            self._keys.add(key)

    def claim(self, key: Key) -> bool:
        """Whether `key` was swept; it is forgotten, as its removal is now seen."""
        with self._lock:
            if key in self._keys:
                self._keys.remove(key)
                return True
            return False


class TtlSweeper:
    """Deletes a table's expired items, as DynamoDB's TTL process does."""

    def __init__(self, dynamodb: Any, table_name: str, swept: SweptKeys) -> None:
        """Sweep `table_name` with `dynamodb`, telling `swept` what was deleted."""
        self._dynamodb = dynamodb
        self._table = table_name
        self._swept = swept

    def _expired(self, now: int) -> list[Key]:
        keys: list[Key] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "expires_at < :now",
            "ExpressionAttributeValues": {":now": {"N": str(now)}},
            "ProjectionExpression": "tenant_id, log_id",
        }
        while True:
            page = self._dynamodb.scan(**request)
            keys += [(i["tenant_id"]["S"], i["log_id"]["S"]) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return keys
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def sweep(self, now: int) -> int:
        """Delete every item expired at `now` (epoch seconds); return how many were deleted."""
        deleted = 0
        for tenant_id, log_id in self._expired(now):
            # Remembered first: the stream record may be read before the delete returns.
            self._swept.add((tenant_id, log_id))
            try:
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key={"tenant_id": {"S": tenant_id}, "log_id": {"S": log_id}},
                    ConditionExpression="expires_at < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
            except self._dynamodb.exceptions.ConditionalCheckFailedException:
                self._swept.claim((tenant_id, log_id))
                continue
            deleted += 1
        return deleted
