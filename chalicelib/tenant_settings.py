"""Tenant settings: one item per tenant in the tenants table, validated, cached per process.

Each tenant's settings (its plan today; retention and redaction choices join the same way) are
one item of the tenants table, beside its API keys, under the partition key `tenant#<tenant>`.
Key ids are 16 hex digits, so the two kinds of item can never share a key. The operator tool
writes the item (`ops/tenants.py`); the functions read it at most once per tenant every
`TENANT_SETTINGS_TTL_SECONDS` and never per record.

`FIELDS` is the one table of what a tenant may set: a field's name, what it means and the check
its values must pass, applied when a value is written and again when it is read back, so a value
edited by hand in the table fails loudly instead of steering the pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.message import check_tenant_id, utc_timestamp
from chalicelib.plans import PLANS
from chalicelib.process_state import on_forget

#: The partition key prefix of settings items; key ids are hex digits and never contain `#`.
ITEM_PREFIX: Final = "tenant#"


class InvalidSettingError(ValueError):
    """A setting's value is outside its bounds; the text names the field and the bounds."""


class TenantSettingsUnavailableError(RuntimeError):
    """A tenant's settings could not be read, or what is stored is invalid.

    Callers must not guess: the worker fails the record (SQS retries it), and the ingest
    limiter applies its documented failure rule.
    """


@dataclass(frozen=True)
class Field:
    """One setting: what it is for, and the check that names its bounds when it fails."""

    description: str
    check: Callable[[Any], Any]


def _plan(value: Any) -> str:
    if not isinstance(value, str) or value not in PLANS:
        raise InvalidSettingError(f"plan must be one of {', '.join(PLANS)}, not {value!r}")
    return value


def _redaction(value: Any) -> dict[str, Any]:
    """A tenant's redaction choices, refused (naming the rule) if they would not build a policy."""
    from chalicelib.redaction_policy import RuleError, policy_from_settings

    if not isinstance(value, Mapping):
        raise InvalidSettingError(f"redaction must be a JSON object, not {value!r}")
    try:
        policy_from_settings(value)
    except RuleError as error:
        raise InvalidSettingError(f"redaction: {error}") from None
    return dict(value)


def _days(name: str) -> Callable[[Any], int]:
    """The check of a retention in days, within the stage's own bounds."""
    from chalicelib.retention import RETENTION_BOUNDS

    def check(value: Any) -> int:
        low, high = RETENTION_BOUNDS
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)  # DynamoDB's numbers come back as Decimal
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidSettingError(
                f"{name} must be a whole number of days from {low} to {high}, not {value!r}"
            )
        return value

    return check


def _switch(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidSettingError(f"{name} must be true or false, not {value!r}")
        return value

    return check


#: Every tenant setting. Adding one is one entry: its name, meaning and check.
FIELDS: Final[dict[str, Field]] = {
    "plan": Field("the tenant's plan: its ingest rate and daily quota", _plan),
    "redaction": Field(
        "classes on or off, the placeholder, and the tenant's own terms and RE2 patterns",
        _redaction,
    ),
    "retention_days": Field(
        "days its logs are kept, the stage's by default", _days("retention_days")
    ),
    "original_retention_days": Field(
        "days its original texts are kept, never more than its logs",
        _days("original_retention_days"),
    ),
    "keep_original": Field("false: no original text is stored", _switch("keep_original")),
    "archive_original": Field(
        "true: expired originals are archived beside the redacted logs", _switch("archive_original")
    ),
}


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The checked values of `changes`, or an error naming the first bad field and its bounds."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        field = FIELDS.get(name)
        if field is None:
            raise InvalidSettingError(
                f"{name!r} is not a tenant setting; the settings are {', '.join(FIELDS)}"
            )
        checked[name] = field.check(value)
    return checked


@dataclass(frozen=True)
class TenantSettings:
    """What one tenant has set; a field it has not set is absent and the stage's default holds."""

    tenant_id: str
    values: Mapping[str, Any]

    def plan(self, default: str | None = None) -> str:
        """The tenant's plan, else `default`, else this process's stage's `DEFAULT_PLAN`."""
        return str(self.values.get("plan") or default or get_settings().default_plan)


def item_key(tenant_id: str) -> dict[str, Any]:
    """The tenants table key of a tenant's settings item."""
    return {"key_id": {"S": ITEM_PREFIX + tenant_id}}


def from_item(tenant_id: str, item: Mapping[str, Any] | None) -> TenantSettings:
    """Settings from a stored item (None: nothing set), validated as a write would be."""
    from boto3.dynamodb.types import TypeDeserializer

    if item is None:
        return TenantSettings(tenant_id, {})
    deserialize = TypeDeserializer().deserialize
    stored = {name: deserialize(value) for name, value in item.items() if name in FIELDS}
    try:
        return TenantSettings(tenant_id, validate(stored))
    except InvalidSettingError as error:
        raise TenantSettingsUnavailableError(
            f"tenant {tenant_id!r} has an invalid stored setting: {error}"
        ) from None


@contextmanager
def reading(tenant_id: str) -> Iterator[None]:
    """Turn a failed read of `tenant_id`'s settings into `TenantSettingsUnavailableError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise TenantSettingsUnavailableError(
            f"the settings of tenant {tenant_id!r} could not be read: {error}"
        ) from None


def read(tenant_id: str) -> TenantSettings:
    """Read a tenant's settings from the table, or `TenantSettingsUnavailableError` saying why."""
    with reading(tenant_id):
        answer = client("dynamodb").get_item(
            TableName=get_settings().tenants_table_name, Key=item_key(tenant_id)
        )
    return from_item(tenant_id, answer.get("Item"))


_cache: dict[str, tuple[float, TenantSettings]] = {}
_cache_lock = threading.Lock()
on_forget(_cache.clear)


def settings_of(tenant_id: str) -> TenantSettings:
    """A tenant's settings, read at most once every `TENANT_SETTINGS_TTL_SECONDS` per process.

    A failed read is not cached: the next call tries again.
    """
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    fresh = read(tenant_id)
    with _cache_lock:
        _cache[tenant_id] = (now + get_settings().tenant_settings_ttl_seconds, fresh)
    return fresh


def write(
    dynamodb: Any, table: str, tenant_id: str, changes: Mapping[str, Any], now: datetime
) -> TenantSettings:
    """Set some of a tenant's settings (an operator action) and return them all.

    Values are checked before anything is written; fields not named keep their values.
    """
    from boto3.dynamodb.types import TypeSerializer

    checked = validate(changes)
    if not checked:
        raise InvalidSettingError(f"nothing to set; the settings are {', '.join(FIELDS)}")
    serialize = TypeSerializer().serialize
    assignments = {"tenant_id": check_tenant_id(tenant_id), "updated_at": utc_timestamp(now)}
    assignments |= checked
    names = {f"#f{index}": name for index, name in enumerate(assignments)}
    values = {f":v{index}": serialize(value) for index, value in enumerate(assignments.values())}
    answer = dynamodb.update_item(
        TableName=table,
        Key=item_key(tenant_id),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(assignments))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return from_item(tenant_id, answer["Attributes"])


def stored(dynamodb: Any, table: str, tenant_id: str) -> TenantSettings:
    """A tenant's settings read with the operator's client, for `ops/tenants.py show`."""
    answer = dynamodb.get_item(
        TableName=table, Key=item_key(check_tenant_id(tenant_id)), ConsistentRead=True
    )
    return from_item(tenant_id, answer.get("Item"))
