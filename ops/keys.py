"""Create, list and revoke tenants' API keys in a stage's tenants table.

    python -m ops.keys --stage dev create acme      # `make tenant-key TENANT=acme`
    python -m ops.keys --stage dev list [--tenant acme]
    python -m ops.keys --stage dev revoke KEY_ID    # `make revoke-key KEY_ID=...`

Against the local emulator by default (`EMULATOR_PORT`, as `make dev` runs it); with `--aws`,
against AWS with the usual credential chain, where `create` also puts the tenant in its plan's
API Gateway usage plan (`ops.usage_plans`). A key is printed once, at creation, and only its
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

from chalicelib.keys import UnknownKeyError, create_key, list_keys, revoke_key
from chalicelib.message import InvalidFieldError
from chalicelib.tenant_settings import stored
from ops.usage_plans import bind_usage_plan


def tenants_table(stage: str, aws: bool) -> tuple[Any, str]:
    """The DynamoDB client and tenants table name of `stage`, locally or on AWS."""
    from chalicelib.config import load_settings
    from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
    from infra.stage import stage_settings

    if aws:
        import boto3

        table = stage_settings(stage, "api_key_authorizer").tenants_table_name
        return boto3.client("dynamodb"), table
    emulator_url = f"http://{EMULATOR_HOST}:{os.environ.get('EMULATOR_PORT', '5000')}"
    environment = local_environment(stage, "api_key_authorizer", emulator_url)
    return emulator_client(environment, "dynamodb"), load_settings(environment).tenants_table_name


def default_plan(stage: str) -> str:
    """The plan of `stage`'s tenants that have none of their own (`DEFAULT_PLAN`)."""
    from infra.stage import stage_settings

    return stage_settings(stage, "api_handler").default_plan


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: create, list or revoke keys; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m ops.keys", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--aws", action="store_true", help="use AWS, not the local emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="make a key for a tenant").add_argument("tenant")
    commands.add_parser("list", help="list keys").add_argument("--tenant")
    commands.add_parser("revoke", help="revoke a key by its id").add_argument("key_id")
    args = parser.parse_args(argv)
    dynamodb, table = tenants_table(args.stage, args.aws)
    now = datetime.now(UTC)
    try:
        if args.command == "create":
            made = create_key(dynamodb, table, args.tenant, now)
            public = {name: value for name, value in made.record.items() if name != "key_hash"}
            print(json.dumps({"key": made.key, **public}))
            print("Keep the key now: it is not stored and cannot be shown again.", file=sys.stderr)
            if args.aws:  # API Gateway lets a tenant's requests through only with a usage plan
                plan = stored(dynamodb, table, args.tenant).plan(default_plan(args.stage))
                bind_usage_plan(args.stage, args.tenant, plan)
        elif args.command == "list":
            for record in list_keys(dynamodb, table, args.tenant):
                print(json.dumps(record))
        else:
            print(json.dumps(revoke_key(dynamodb, table, args.key_id, now)))
    except (InvalidFieldError, UnknownKeyError) as error:
        sys.exit(f"ops.keys: {error}")
    except Exception as error:  # the table or the emulator is out of reach
        where = "AWS" if args.aws else "the local emulator; is `make dev` running?"
        sys.exit(f"ops.keys: cannot use {table} on {where} ({error})")


if __name__ == "__main__":
    main()
