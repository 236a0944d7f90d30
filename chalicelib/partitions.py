"""Where a tenant's items live in the logs table: its logs, their originals, its erasures.

Three partitions a tenant, told apart by a suffix that no tenant id can contain (`#` is outside
`chalicelib.message`'s tenant id rule):

- `<tenant>`: the redacted logs, the only partition a tenant's read credentials can reach
  (`dynamodb:LeadingKeys` equals the tenant);
- `<tenant>#original`: one item a log holding its unredacted text, expiring sooner (or never
  written, `chalicelib.retention`); out of the tenant's reach by its key alone;
- `<tenant>#erased`: tombstones, one per erased log and `TENANT_MARKER` for a whole-tenant
  erasure, which the worker's write checks so a queued copy of an erased log is not stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

Kind = Literal["log", "original", "erased"]
ORIGINAL_SUFFIX: Final = "#original"
ERASED_SUFFIX: Final = "#erased"
#: The sort key of a whole-tenant erasure's tombstone: `#` is outside the log id rule too.
TENANT_MARKER: Final = "#tenant"


def original_partition(tenant_id: str) -> str:
    """The partition of `tenant_id`'s original texts."""
    return tenant_id + ORIGINAL_SUFFIX


def erased_partition(tenant_id: str) -> str:
    """The partition of `tenant_id`'s erasure tombstones."""
    return tenant_id + ERASED_SUFFIX


def owner(partition: str) -> tuple[str, Kind]:
    """The tenant a partition key belongs to, and what the partition holds."""
    if partition.endswith(ORIGINAL_SUFFIX):
        return partition.removesuffix(ORIGINAL_SUFFIX), "original"
    if partition.endswith(ERASED_SUFFIX):
        return partition.removesuffix(ERASED_SUFFIX), "erased"
    return partition, "log"


def with_originals(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The logs among a table's plain items, each with its original text where one is kept.

    For tools that reconcile or show what was stored (the soak, `make logs`): tombstones are
    left out, and originals are folded into their logs.
    """
    logs: dict[tuple[str, str], dict[str, Any]] = {}
    originals: dict[tuple[str, str], Any] = {}
    for item in items:
        tenant_id, kind = owner(str(item["tenant_id"]))
        key = (tenant_id, str(item["log_id"]))
        if kind == "log":
            logs[key] = dict(item)
        elif kind == "original":
            originals[key] = item["original_text"]
    return [
        log | ({"original_text": originals[key]} if key in originals else {})
        for key, log in sorted(logs.items())
    ]
