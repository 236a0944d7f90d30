"""The redaction policy of a tenant's logs: the stage's default with the tenant's choices.

The stage sets the default classes and placeholder (`REDACTION_CLASSES`,
`REDACTION_PLACEHOLDER`); a tenant's `redaction` setting turns classes on or off, picks the
placeholder and adds its own terms and RE2 patterns. `policy_for` is what the worker redacts a
record's text and attributes with. It keeps each tenant's compiled policy for
`TENANT_SETTINGS_TTL_SECONDS`, so the tenants table is read once per tenant and TTL, never per
record, and RE2 compiles the tenant's rules once per read. A read that fails, or a stored value
that does not build a policy, raises `TenantSettingsUnavailableError`: the worker fails the
record (SQS retries it) rather than store it redacted by a policy the tenant did not choose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.process_state import kept, on_forget
from chalicelib.redaction_policy import RedactionPolicy, policy_from_settings
from chalicelib.tenant_settings import (
    TenantSettingsUnavailableError,
    from_item,
    item_key,
    reading,
    settings_of,
)


@kept
def stage_policy() -> RedactionPolicy:
    """The stage's default policy, for tenants that chose nothing."""
    settings = get_settings()
    return RedactionPolicy(settings.redaction_classes, settings.redaction_placeholder)


#: The settings the worker applies besides redaction: how long the tenant's logs are kept.
RETENTION_FIELDS = (
    "retention_days",
    "original_retention_days",
    "keep_original",
    "archive_original",
)


def _read_settings(tenant_id: str) -> Mapping[str, Any]:
    """The tenant's stored settings (empty if none), read with the worker's role.

    Its own read, not `tenant_settings.settings_of`: that cache serves ingest's limiter with the
    API's role, and this one keeps compiled policies. `from_item` checks the value as a write
    does, so one that would not build a policy raises `TenantSettingsUnavailableError`.
    """
    with reading(tenant_id):
        answer = client("dynamodb").get_item(
            TableName=get_settings().tenants_table_name, Key=item_key(tenant_id)
        )
    return from_item(tenant_id, answer.get("Item")).values


def _policy_of(stored: Mapping[str, Any]) -> RedactionPolicy:
    """The policy a tenant's stored settings choose: the stage's, with their `redaction`."""
    if "redaction" not in stored:
        return stage_policy()
    return policy_from_settings(stored["redaction"], base=stage_policy())


def _built(tenant_id: str) -> tuple[RedactionPolicy, Mapping[str, Any]]:
    stored = _read_settings(tenant_id)
    retention = {name: stored[name] for name in RETENTION_FIELDS if name in stored}
    return _policy_of(stored), retention


_cache: dict[str, tuple[float, RedactionPolicy, Mapping[str, Any]]] = {}
_cache_lock = threading.Lock()
on_forget(_cache.clear)


def processing_for(tenant_id: str) -> tuple[RedactionPolicy, Mapping[str, Any]]:
    """The policy of `tenant_id`'s logs and its retention settings (`chalicelib.retention`).

    Built at most once every `TENANT_SETTINGS_TTL_SECONDS`; a failed read is not cached: the
    next record of the tenant tries again.
    """
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    policy, retention = _built(tenant_id)
    with _cache_lock:
        _cache[tenant_id] = (now + get_settings().tenant_settings_ttl_seconds, policy, retention)
    return policy, retention


def policy_for(tenant_id: str) -> RedactionPolicy:
    """The policy of `tenant_id`'s logs (see `processing_for`)."""
    return processing_for(tenant_id)[0]


_ingest_policies: dict[str, tuple[Mapping[str, Any], RedactionPolicy]] = {}
on_forget(_ingest_policies.clear)


def ingest_policy(tenant_id: str) -> RedactionPolicy:
    """The policy ingest bounds a large log's redacted size with, before the worker redacts it.

    It comes from the settings the limiter reads (`tenant_settings.settings_of`, cached with
    the API's role), so it costs no read of its own, and is built again only when they were
    read again. Settings that cannot be read give the stage's policy: ingest fails open, as the
    limiter does, and the worker, which must not, reads them itself.
    """
    try:
        stored = settings_of(tenant_id).values
    except TenantSettingsUnavailableError:
        return stage_policy()
    cached = _ingest_policies.get(tenant_id)
    if cached is not None and cached[0] is stored:
        return cached[1]
    policy = _policy_of(stored)
    _ingest_policies[tenant_id] = (stored, policy)
    return policy
