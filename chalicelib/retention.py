"""How long a stored log and its original text live: the stage's defaults, narrowed per tenant.

DynamoDB's TTL deletes whole items, never one attribute, so the unredacted original lives in an
item of its own (see `chalicelib.partitions`) with an earlier `expires_at` than the redacted log:
each goes when its own time comes, with no sweeper of ours running on AWS. A stage or a tenant
may keep no original at all. Tenant settings, where a tenant has them, hold the same names as
the stage's variables in lower case: `retention_days`, `original_retention_days`,
`keep_original`, and `archive_original` (whether an expired original is archived; by default
the archive holds redacted text only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chalicelib.config import Settings

DAY_SECONDS: Final = 86_400
#: Bounds of a tenant's retention, in days: the stage's own bounds (`chalicelib.config`).
RETENTION_BOUNDS: Final = (1, 3650)
#: An erasure's tombstone outlives every copy of a message received before it: SQS keeps a
#: message's first timestamp when it moves to the dead-letter queue, so no copy is older than
#: the dead-letter queue's retention; a redrive may put it back once more, hence the queue's
#: retention on top, and a day of margin for clocks.
TOMBSTONE_MARGIN_SECONDS: Final = DAY_SECONDS


class RetentionError(ValueError):
    """A tenant's retention settings are outside their bounds or contradict each other."""


@dataclass(frozen=True)
class Expiries:
    """When a log's items expire, in epoch seconds, as DynamoDB's TTL reads them.

    `original_expires_at` is None when no original text is to be stored.
    """

    expires_at: int
    original_expires_at: int | None
    archive_original: bool


def _days(tenant: Mapping[str, object], field: str, default: int) -> int:
    value = tenant.get(field, default)
    low, high = RETENTION_BOUNDS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RetentionError(f"{field} must be a whole number of days from {low} to {high}")
    return value


def _flag(tenant: Mapping[str, object], field: str, default: bool) -> bool:
    value = tenant.get(field, default)
    if not isinstance(value, bool):
        raise RetentionError(f"{field} must be true or false")
    return value


def expiries(tenant: Mapping[str, object], defaults: Settings, now: float) -> Expiries:
    """When a log stored at `now` (epoch seconds) expires, and its original if one is kept.

    `tenant` is the tenant's settings (empty for a tenant without any): each field it sets
    replaces the stage's default. An original never outlives its log.
    """
    retention = _days(tenant, "retention_days", defaults.retention_days)
    original = _days(
        tenant, "original_retention_days", min(defaults.original_retention_days, retention)
    )
    if original > retention:
        raise RetentionError(
            f"original_retention_days ({original}) must not exceed retention_days ({retention})"
        )
    keep = _flag(tenant, "keep_original", defaults.keep_original)
    start = int(now)
    return Expiries(
        expires_at=start + retention * DAY_SECONDS,
        original_expires_at=start + original * DAY_SECONDS if keep else None,
        archive_original=keep and _flag(tenant, "archive_original", False),
    )


def tombstone_expires_at(settings: Settings, now: float) -> int:
    """When an erasure's tombstone may go: after every queued copy of an erased log is gone."""
    lifetime = (
        settings.dead_letter_retention_seconds
        + settings.queue_retention_seconds
        + TOMBSTONE_MARGIN_SECONDS
    )
    return int(now) + lifetime
