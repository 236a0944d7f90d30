"""Redacting a log's attributes: every string value goes through the same `redact` as the text.

Names are kept as sent (they are the shipper's schema: `host`, `level`, `user.email`); values,
however deeply nested in objects and arrays, are what may carry a phone number or an address.
"""

from __future__ import annotations

from typing import Any

from chalicelib.redact import redact
from chalicelib.redaction_policy import DEFAULT_POLICY, RedactionPolicy


def _redacted(value: Any, policy: RedactionPolicy) -> Any:
    if isinstance(value, str):
        return redact(value, policy)
    if isinstance(value, dict):
        return {name: _redacted(item, policy) for name, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, policy) for item in value]
    return value


def redact_attributes(
    attributes: dict[str, Any], policy: RedactionPolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """`attributes` with every string value, at any depth, redacted by `policy` (the tenant's)."""
    return {name: _redacted(value, policy) for name, value in attributes.items()}
