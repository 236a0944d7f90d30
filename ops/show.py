"""Print the logs stored in the local stack, one JSON object a line: `make logs [TENANT=acme]`.

With a tenant, reads only that tenant's partitions (DynamoDB Queries on `tenant_id`: its logs
and their originals); without, scans the whole table. Each log shows its original text where
one is still kept (`chalicelib.partitions`); tombstones are left out. Ends with the queues'
depths.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
from devstack.status import queue_depth


def _plain(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        name: int(value["N"]) if "N" in value else value["S"]
        for name, value in sorted(item.items())
    }


def _pages(dynamodb: Any, table: str, partition: str | None) -> list[dict[str, Any]]:
    if partition is None:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    else:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="tenant_id = :tenant",
            ExpressionAttributeValues={":tenant": {"S": partition}},
        )
    return [_plain(item) for page in pages for item in page["Items"]]


def _items(dynamodb: Any, table: str, tenant: str | None) -> list[dict[str, Any]]:
    from chalicelib.partitions import original_partition, with_originals

    if tenant is None:
        return with_originals(_pages(dynamodb, table, None))
    partitions = (tenant, original_partition(tenant))
    return with_originals([item for p in partitions for item in _pages(dynamodb, table, p)])


def _depth(sqs: Any, name: str) -> str:
    waiting, in_flight = queue_depth(sqs, sqs.get_queue_url(QueueName=name)["QueueUrl"])
    return f"{waiting} waiting, {in_flight} in flight"


def main() -> None:
    """Print stored items and queue depths from the running local stack."""
    from chalicelib.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--tenant", default=os.environ.get("TENANT") or None)
    args = parser.parse_args()
    emulator_url = f"http://{EMULATOR_HOST}:{os.environ.get('EMULATOR_PORT', '5000')}"
    environment = local_environment(args.stage, "worker", emulator_url)
    settings = load_settings(environment)
    try:
        dynamodb = emulator_client(environment, "dynamodb")
        sqs = emulator_client(environment, "sqs")
        items = _items(dynamodb, settings.table_name, args.tenant)
        depths = (_depth(sqs, settings.queue_name), _depth(sqs, settings.dead_letter_queue_name))
    except Exception as error:
        sys.exit(f"cannot read the local stack at {emulator_url} ({error}); is `make dev` running?")
    for item in items:
        print(json.dumps(item, ensure_ascii=False))
    scope = f"tenant {args.tenant}" if args.tenant else "all tenants"
    print(
        f"-- {len(items)} stored ({scope}); queue: {depths[0]}; dead-letter queue: {depths[1]}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
