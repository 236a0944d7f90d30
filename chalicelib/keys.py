"""Tenant API keys: their format, their stored form, and resolving a presented key to its tenant.

A key reads `rdp_<key id>_<secret>`. The key id is public (it names the key in listings and
in `make revoke-key`) and is the tenants table's partition key, so resolving a key is one
`GetItem`. The secret is 256 random bits and only its SHA-256 is stored: a key that random
needs no slow hash, and a leaked table yields no usable key. Creating, listing and revoking
keys are operator actions and live in `infra/keys.py`, outside the deployed package.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.errors import KEY_REQUIRED

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
