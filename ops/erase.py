"""Erase a whole tenant: its logs, originals and archive, and on request its API keys.

    python -m ops.erase --stage dev acme            # `make erase-tenant TENANT=acme`
    python -m ops.erase --stage prod --aws acme --keys

Against the local emulator by default (`EMULATOR_PORT`, as `make dev` runs it); with `--aws`,
against AWS with the usual credential chain. The tenant's erasure marker goes first (a tombstone
that refuses every log of the tenant received before it, `chalicelib.store.put_unless_erased`),
so logs still queued are not stored afterwards; then every item of the tenant's partitions, its
archive objects and, with `--keys`, its keys are deleted. Each step deletes what is there now,
so a run interrupted halfway finishes when run again, and each count is of deletions the service
confirmed: a run never reports more than it erased. An unknown tenant (nothing stored, archived,
keyed or erased before) is refused and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import Settings
from chalicelib.erasure import tombstone
from chalicelib.keys import list_keys
from chalicelib.message import InvalidFieldError, check_tenant_id
from chalicelib.partitions import TENANT_MARKER, erased_partition, original_partition

#: S3's DeleteObjects limit.
_DELETE_BATCH = 1000


class UnknownTenantError(LookupError):
    """Nothing of the tenant exists to erase."""


@dataclass
class Erased:
    """What one run erased, by kind, each a count of confirmed deletions."""

    tenant_id: str
    logs: int = 0
    originals: int = 0
    archive_objects: int = 0
    keys: int = 0


@dataclass(frozen=True)
class Stores:
    """The clients and names an erasure works on."""

    dynamodb: Any
    s3: Any
    settings: Settings


def _partition_keys(stores: Stores, partition: str, limit: int | None = None) -> Iterator[str]:
    """The sort keys of a partition, read consistently, page by page."""
    request: dict[str, Any] = {
        "TableName": stores.settings.table_name,
        "KeyConditionExpression": "tenant_id = :partition",
        "ExpressionAttributeValues": {":partition": {"S": partition}},
        "ProjectionExpression": "log_id",
        "ConsistentRead": True,
    }
    if limit is not None:
        request["Limit"] = limit
    while True:
        page = stores.dynamodb.query(**request)
        yield from (item["log_id"]["S"] for item in page["Items"])
        if limit is not None or "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _archive_keys(stores: Stores, tenant_id: str) -> Iterator[list[str]]:
    """The tenant's archive objects, a page at a time."""
    paginator = stores.s3.get_paginator("list_objects_v2")
    bucket = stores.settings.archive_bucket_name
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{tenant_id}/"):
        keys = [item["Key"] for item in page.get("Contents", [])]
        if keys:
            yield keys


def _tenant_keys(stores: Stores, tenant_id: str) -> list[str]:
    records = list_keys(stores.dynamodb, stores.settings.tenants_table_name, tenant_id)
    return [record["key_id"] for record in records]


def known(stores: Stores, tenant_id: str) -> bool:
    """Whether anything of the tenant exists: items, archive, keys, or an earlier erasure."""
    partitions = (tenant_id, original_partition(tenant_id))
    if any(next(_partition_keys(stores, p, limit=1), None) for p in partitions):
        return True
    marker = stores.dynamodb.get_item(
        TableName=stores.settings.table_name,
        Key={"tenant_id": {"S": erased_partition(tenant_id)}, "log_id": {"S": TENANT_MARKER}},
        ConsistentRead=True,
    )
    if "Item" in marker:
        return True
    return bool(next(_archive_keys(stores, tenant_id), None) or _tenant_keys(stores, tenant_id))


def _delete_items(stores: Stores, partition: str) -> int:
    deleted = 0
    for log_id in _partition_keys(stores, partition):
        answer = stores.dynamodb.delete_item(
            TableName=stores.settings.table_name,
            Key={"tenant_id": {"S": partition}, "log_id": {"S": log_id}},
            ReturnValues="ALL_OLD",
        )
        deleted += "Attributes" in answer
    return deleted


def _delete_archive(stores: Stores, tenant_id: str) -> int:
    deleted = 0
    bucket = stores.settings.archive_bucket_name
    for keys in _archive_keys(stores, tenant_id):
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            answer = stores.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise RuntimeError(f"S3 refused to delete {first['Key']}: {first['Message']}")
            deleted += len(answer.get("Deleted", []))
    return deleted


def _delete_keys(stores: Stores, tenant_id: str) -> int:
    deleted = 0
    for key_id in _tenant_keys(stores, tenant_id):
        answer = stores.dynamodb.delete_item(
            TableName=stores.settings.tenants_table_name,
            Key={"key_id": {"S": key_id}},
            ReturnValues="ALL_OLD",
        )
        deleted += "Attributes" in answer
    return deleted


def erase_tenant(stores: Stores, tenant_id: str, keys: bool, now: datetime) -> Erased:
    """Erase `tenant_id`; raise `UnknownTenantError` (erasing nothing) if nothing of it exists."""
    if not known(stores, tenant_id):
        raise UnknownTenantError(f"tenant {tenant_id!r} has nothing stored: erased nothing")
    marker = tombstone(tenant_id, TENANT_MARKER, now, stores.settings)
    stores.dynamodb.put_item(TableName=stores.settings.table_name, Item=marker)
    erased = Erased(tenant_id)
    erased.logs = _delete_items(stores, tenant_id)
    erased.originals = _delete_items(stores, original_partition(tenant_id))
    erased.archive_objects = _delete_archive(stores, tenant_id)
    if keys:
        erased.keys = _delete_keys(stores, tenant_id)
    return erased


def _stores(stage: str, aws: bool) -> Stores:
    """The stage's clients and names, on AWS or in the local emulator."""
    from chalicelib.config import load_settings
    from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
    from infra.stage import chalice_config

    if aws:
        import boto3

        environment = dict(chalice_config(stage, "api_handler").environment_variables)
        return Stores(boto3.client("dynamodb"), boto3.client("s3"), load_settings(environment))
    emulator_url = f"http://{EMULATOR_HOST}:{os.environ.get('EMULATOR_PORT', '5000')}"
    environment = local_environment(stage, "api_handler", emulator_url)
    return Stores(
        emulator_client(environment, "dynamodb"),
        emulator_client(environment, "s3"),
        load_settings(environment),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: erase one tenant; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m ops.erase", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--aws", action="store_true", help="use AWS, not the local emulator")
    parser.add_argument("--keys", action="store_true", help="delete the tenant's API keys too")
    parser.add_argument("tenant")
    args = parser.parse_args(argv)
    try:
        tenant_id = check_tenant_id(args.tenant, "tenant")
    except InvalidFieldError as error:
        sys.exit(f"ops.erase: {error}")
    stores = _stores(args.stage, args.aws)
    try:
        erased = erase_tenant(stores, tenant_id, args.keys, datetime.now(UTC))
    except UnknownTenantError as error:
        print(f"ops.erase: {error}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(asdict(erased)))


if __name__ == "__main__":
    main()
