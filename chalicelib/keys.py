"""Tenant API keys: their format, their stored form, and resolving a presented key to its tenant.

A key reads `rdp_<key id>_<secret>`. The key id is public (it names the key in listings and
in `make revoke-key`) and is the tenants table's partition key, so resolving a key is one
`GetItem`. The secret is 256 random bits and only its SHA-256 is stored: a key that random
needs no slow hash, and a leaked table yields no usable key. Creating, listing and revoking
keys are operator actions (`ops/keys.py`, and `make dev`'s demo keys); they are here beside the
format they write, but the deployed functions never call them and their roles may not write the
table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.errors import KEY_REQUIRED
from chalicelib.message import check_tenant_id, utc_timestamp

PREFIX: Final = "rdp"
_KEY_ID_BYTES: Final = 8
_SECRET_BYTES: Final = 32
_KEY = re.compile(r"rdp_(?P<key_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_\-]{43})")
_BEARER = re.compile(r"Bearer[ \t]+(?P<key>\S+)[ \t]*", re.IGNORECASE)


class KeyRejectedError(Exception):
    """The presented credentials resolve to no tenant; the text is safe to show the caller."""


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: `key` is shown once, `record` is what the tenants table keeps."""

    key: str
    record: dict[str, str]


def key_hash(key: str) -> str:
    """What the table stores instead of the key."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def new_key(tenant_id: str, created_at: str) -> NewKey:
    """Make a random key for `tenant_id` and the record that lets it be resolved later."""
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    record = {
        "key_id": key_id,
        "tenant_id": tenant_id,
        "key_hash": key_hash(key),
        "created_at": created_at,
    }
    return NewKey(key=key, record=record)


def parse_authorization(header: str | None) -> tuple[str, str]:
    """Split an `Authorization: Bearer <key>` value into the key id and the whole key."""
    if not header:
        raise KeyRejectedError(KEY_REQUIRED)
    bearer = _BEARER.fullmatch(header)
    if bearer is None:
        raise KeyRejectedError("the Authorization header must read 'Bearer <key>'")
    key = _KEY.fullmatch(bearer["key"])
    if key is None:
        raise KeyRejectedError("the API key is malformed: keys read 'rdp_<id>_<secret>'")
    return key["key_id"], key.string


def tenant_of(record: dict[str, Any] | None, key: str) -> str:
    """The tenant a stored key record grants, if `key` is its key and it is not revoked."""
    # Unknown and wrong-secret keys answer alike, so a caller learns nothing about key ids.
    if record is None or not hmac.compare_digest(record["key_hash"], key_hash(key)):
        raise KeyRejectedError("the API key is not valid for this service")
    if record.get("revoked_at"):
        raise KeyRejectedError(f"the API key was revoked at {record['revoked_at']}")
    return str(record["tenant_id"])


def resolve(authorization: str | None) -> tuple[str, str]:
    """The tenant and key id of an `Authorization` header, or `KeyRejectedError` saying why.

    Failures to reach the table propagate: API Gateway answers them with a 500 that it does not
    cache, where a rejection would be cached for the authorizer's TTL.
    """
    key_id, key = parse_authorization(authorization)
    answer = client("dynamodb").get_item(
        TableName=get_settings().tenants_table_name,
        Key={"key_id": {"S": key_id}},
        ConsistentRead=True,
    )
    stored = answer.get("Item")
    record = None if stored is None else {name: value["S"] for name, value in stored.items()}
    return tenant_of(record, key), key_id


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
    # The table also holds one settings item per tenant (`chalicelib.tenant_settings`), keyed
    # `tenant#<tenant>`: a prefix no key id (hex digits) can have.
    condition, values = "NOT begins_with(key_id, :settings)", {":settings": {"S": "tenant#"}}
    if tenant_id is not None:
        condition += " AND tenant_id = :tenant"
        values[":tenant"] = {"S": tenant_id}
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "key_id, tenant_id, created_at, revoked_at",
        "FilterExpression": condition,
        "ExpressionAttributeValues": values,
    }
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
