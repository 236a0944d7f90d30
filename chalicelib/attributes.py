"""Redacting a log's attributes: every string value goes through the same `redact` as the text.

Names are kept as sent (they are the shipper's schema: `host`, `level`, `user.email`); values,
however deeply nested in objects and arrays, are what may carry a phone number or an address.
"""

from __future__ import annotations

from typing import Any

from chalicelib.redact import redact


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {name: _redacted(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def redact_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """`attributes` with every string value, at any depth, redacted."""
    return {name: _redacted(value) for name, value in attributes.items()}
