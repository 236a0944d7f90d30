"""Create, list and revoke tenants' API keys in a stage's tenants table.

    python -m infra.keys --stage dev create acme      # `make tenant-key TENANT=acme`
    python -m infra.keys --stage dev list [--tenant acme]
    python -m infra.keys --stage dev revoke KEY_ID    # `make revoke-key KEY_ID=...`

Against the local emulator by default (`EMULATOR_PORT`, as `make dev` runs it); with `--aws`,
against AWS with the usual credential chain. A key is printed once, at creation, and only its
hash is stored. These are operator actions: they stay out of the deployed package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.keys import NewKey, new_key
from chalicelib.message import InvalidFieldError, check_tenant_id, utc_timestamp


class UnknownKeyError(LookupError):
    """No key has this id in the stage's tenants table."""


def create_key(dynamodb: Any, table: str, tenant_id: str, now: datetime) -> NewKey:
    """Store a new key for `tenant_id` and return it; its secret is never stored."""
    made = new_key(check_tenant_id(tenant_id), utc_timestamp(now))
    dynamodb.put_item(
        TableName=table,
        Item={name: {"S": value} for name, value in made.record.items()},
        ConditionExpression="attribute_not_exists(key_id)",  # 64 random bits: never, but never
    )
    return made


def list_keys(dynamodb: Any, table: str, tenant_id: str | None = None) -> list[dict[str, str]]:
    """Every key's public record (never its hash), optionally one tenant's, oldest first."""
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "key_id, tenant_id, created_at, revoked_at",
    }
    if tenant_id is not None:
        request["FilterExpression"] = "tenant_id = :tenant"
        request["ExpressionAttributeValues"] = {":tenant": {"S": tenant_id}}
    pages = dynamodb.get_paginator("scan").paginate(**request)
    records = [
        {name: value["S"] for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]
    return sorted(records, key=lambda record: (record["created_at"], record["key_id"]))


def revoke_key(dynamodb: Any, table: str, key_id: str, now: datetime) -> dict[str, str]:
    """Mark a key revoked (once: a second revocation keeps the first time) and return it."""
    try:
        answer = dynamodb.update_item(
            TableName=table,
            Key={"key_id": {"S": key_id}},
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
            ConditionExpression="attribute_exists(key_id)",
            ExpressionAttributeValues={":now": {"S": utc_timestamp(now)}},
            ReturnValues="ALL_NEW",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        raise UnknownKeyError(f"no key {key_id!r} in {table}") from None
    attributes = answer["Attributes"]
    return {name: attributes[name]["S"] for name in ("key_id", "tenant_id", "revoked_at")}


def _tenants_table(stage: str, aws: bool) -> tuple[Any, str]:
    """The DynamoDB client and tenants table name of `stage`, locally or on AWS."""
    from chalicelib.config import load_settings
    from devstack.stage import EMULATOR_HOST, emulator_client, local_environment, stage_settings

    if aws:
        import boto3

        table = stage_settings(stage, "api_key_authorizer").tenants_table_name
        return boto3.client("dynamodb"), table
    emulator_url = f"http://{EMULATOR_HOST}:{os.environ.get('EMULATOR_PORT', '5000')}"
    environment = local_environment(stage, "api_key_authorizer", emulator_url)
    return emulator_client(environment, "dynamodb"), load_settings(environment).tenants_table_name


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: create, list or revoke keys; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.keys", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--aws", action="store_true", help="use AWS, not the local emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="make a key for a tenant").add_argument("tenant")
    commands.add_parser("list", help="list keys").add_argument("--tenant")
    commands.add_parser("revoke", help="revoke a key by its id").add_argument("key_id")
    args = parser.parse_args(argv)
    dynamodb, table = _tenants_table(args.stage, args.aws)
    now = datetime.now(UTC)
    try:
        if args.command == "create":
            made = create_key(dynamodb, table, args.tenant, now)
            public = {name: value for name, value in made.record.items() if name != "key_hash"}
            print(json.dumps({"key": made.key, **public}))
            print("Keep the key now: it is not stored and cannot be shown again.", file=sys.stderr)
        elif args.command == "list":
            for record in list_keys(dynamodb, table, args.tenant):
                print(json.dumps(record))
        else:
            print(json.dumps(revoke_key(dynamodb, table, args.key_id, now)))
    except (InvalidFieldError, UnknownKeyError) as error:
        sys.exit(f"infra.keys: {error}")
    except Exception as error:  # the table or the emulator is out of reach
        where = "AWS" if args.aws else "the local emulator; is `make dev` running?"
        sys.exit(f"infra.keys: cannot use {table} on {where} ({error})")


if __name__ == "__main__":
    main()
