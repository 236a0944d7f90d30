"""Per-tenant limits at ingest: a rate and a daily quota, counted in logs and bytes.

`admit(tenant, sizes)` is the one entry point: ingest calls it once per request with the byte
size of each of its logs and learns how many of them, in request order, are admitted, and if not
all, which limit refused the rest and when it resets (the 429's `Retry-After`). A batch that
names several tenants (open ingest) goes through `admit_each`: one `admit` per tenant, and a
verdict per log in request order.

How it counts, for cost: each instance takes *leases* from shared counters in the usage table,
one conditional `UpdateItem` (`ADD`) per lease, and spends them locally, so a log costs no write
of its own. A tenant has two counters: its aligned rate window (`RATE_WINDOW_SECONDS`) and its
UTC day; a lease is a share of the counter's allowance (`LEASE_PARTS`), or what the request
needs when that is more. Counters expire by the table's TTL.

What it guarantees across concurrent instances: a lease is granted only on the condition that
the counter stays within the allowance, so all instances together never admit more logs or bytes
than a plan allows in a window. Leases still unspent when a window ends, or when an instance
stops, are counted but unused: a tenant may be refused early by at most (instances x lease) in
a window. The rate is counted in aligned windows, so a tenant may send up to two windows'
allowance across a window boundary.

When the limiter cannot decide (the tenant's settings or the usage table cannot be read or
written), it fails *open*: the logs are admitted, and a `limiter` event line at ERROR with the
`LimiterUnavailable` metric says so. A quota is a commercial limit, not a safety one (the 413s
of `chalicelib.limits` are): refusing logs because a counter is out of reach would lose data
that shippers drop on a 429, to protect nothing. On AWS, the usage plans' request throttle
still bounds each tenant while the counters are down.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import accumulate
from typing import Any, Final

from chalicelib.clients import client
from chalicelib.config import get_settings
from chalicelib.metrics import LIMITER_UNAVAILABLE
from chalicelib.plans import RATE_WINDOW_SECONDS, Plan, plan_named
from chalicelib.process_state import on_forget
from chalicelib.telemetry import describe_error, emit
from chalicelib.tenant_settings import TenantSettingsUnavailableError, settings_of

#: A lease is this share of a window's allowance (or what a request needs, if more).
LEASE_PARTS: Final = {"rate": 10, "day": 100}
#: The usage table's TTL attribute: DynamoDB deletes a counter some time after it.
USAGE_EXPIRY_ATTRIBUTE: Final = "expires_at"
#: The usage table's partition key: one counter a tenant and window.
USAGE_COUNTER_KEY: Final = "counter_id"
#: Counters outlive their window by this much before the table's TTL may delete them.
COUNTER_GRACE_SECONDS: Final = 3600


@dataclass(frozen=True)
class Window:
    """One counted limit of one tenant: its counter, its allowance and when it resets."""

    kind: str  # "rate" or "day"
    counter_id: str
    logs: int
    bytes: int | None  # None: this window does not count bytes
    resets_at: float  # epoch seconds
    describe: str

    def lease(self, logs: int, size: int) -> tuple[int, int]:
        """How much to ask for: a share of the allowance, or the need if more, within it."""
        parts = LEASE_PARTS[self.kind]
        lease_logs = min(self.logs, max(logs, math.ceil(self.logs / parts)))
        if self.bytes is None:
            return lease_logs, 0
        return lease_logs, min(self.bytes, max(size, math.ceil(self.bytes / parts)))


def windows(tenant_id: str, plan: Plan, now: float) -> tuple[Window, Window]:
    """The rate window and the day that `now` falls in, for a tenant on `plan`. Pure."""
    return _windows(tenant_id, plan, int(now // RATE_WINDOW_SECONDS), int(now // _DAY_SECONDS))


_DAY_SECONDS: Final = 86_400  # a UTC day in epoch seconds, which leave out leap seconds


@lru_cache(maxsize=256)  # a request's tenant keeps its windows for seconds to a day
def _windows(tenant_id: str, plan: Plan, window: int, day_number: int) -> tuple[Window, Window]:
    day = datetime.fromtimestamp(day_number * _DAY_SECONDS, UTC).date()
    return (
        Window(
            "rate",
            f"usage#{tenant_id}#rate#{window}",
            plan.logs_per_rate_window,
            None,
            float((window + 1) * RATE_WINDOW_SECONDS),
            f"the rate of plan {plan.name}, {plan.logs_per_second} logs a second with a burst "
            f"of {plan.burst_logs} ({plan.logs_per_rate_window} logs a "
            f"{RATE_WINDOW_SECONDS}-second window)",
        ),
        Window(
            "day",
            f"usage#{tenant_id}#day#{day.isoformat()}",
            plan.daily_logs,
            plan.daily_bytes,
            float((day_number + 1) * _DAY_SECONDS),
            f"the daily quota of plan {plan.name}, {plan.daily_logs:,} logs and "
            f"{plan.daily_bytes:,} bytes a UTC day",
        ),
    )


on_forget(_windows.cache_clear)


@dataclass
class Lease:
    """What this instance may still admit against one counter without asking the table."""

    resets_at: float
    logs: int = 0
    bytes: int = 0
    exhausted: bool = False  # the counter had nothing left to lease: no need to ask again


def admitted_prefix(sizes: Sequence[int], leases: Sequence[tuple[Lease, Window]]) -> int:
    """How many of `sizes`, from the first, every lease can cover at once. Pure.

    Sizes are never negative, so their running totals only grow: the bytes a lease covers end
    where a search of the totals says, without a step per log in Python.
    """
    admitted = len(sizes)
    totals: list[int] = []
    for lease, window in leases:
        admitted = min(admitted, max(lease.logs, 0))
        if window.bytes is not None:
            totals = totals or list(accumulate(sizes))
            admitted = min(admitted, bisect_right(totals, lease.bytes))
    return admitted


@dataclass(frozen=True)
class Refusal:
    """Why the rest of a request was refused: the 429's message and `Retry-After`."""

    limit: str
    resets_at: float
    retry_after_seconds: int
    message: str


@dataclass(frozen=True)
class Admission:
    """The limiter's answer: the first `admitted` logs may be queued; the rest get `refusal`."""

    admitted: int
    refusal: Refusal | None = None


def refusal(tenant_id: str, window: Window, now: float) -> Refusal:
    """The 429 details of a tenant over `window`'s limit."""
    reset = datetime.fromtimestamp(window.resets_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    retry_after = max(1, math.ceil(window.resets_at - now))
    return Refusal(
        limit=f"{window.kind}_limit",
        resets_at=window.resets_at,
        retry_after_seconds=retry_after,
        message=f"tenant {tenant_id!r} is over {window.describe}; it resets at {reset} "
        f"(retry after {retry_after} s)",
    )


class _Counters:
    """The usage table edge: take a lease from one counter with one conditional UpdateItem."""

    def take(self, window: Window, logs: int, size: int) -> tuple[int, int]:
        """Lease what the window allows of (logs, size): a full lease, else what is left."""
        want_logs, want_bytes = window.lease(logs, size)
        granted, used = self._add(window, want_logs, want_bytes)
        if granted:
            return want_logs, want_bytes
        take_logs = max(0, min(logs, window.logs - used[0]))
        take_bytes = 0 if window.bytes is None else max(0, min(size, window.bytes - used[1]))
        if take_logs == 0 and take_bytes == 0:
            return 0, 0
        granted, _ = self._add(window, take_logs, take_bytes)
        return (take_logs, take_bytes) if granted else (0, 0)

    def _add(self, window: Window, logs: int, size: int) -> tuple[bool, tuple[int, int]]:
        """Add to the counter if it stays within the allowance; else what it holds already."""
        dynamodb = client("dynamodb")
        values = {
            ":logs": {"N": str(logs)},
            ":logs_room": {"N": str(window.logs - logs)},
            ":expires": {"N": str(int(window.resets_at) + COUNTER_GRACE_SECONDS)},
        }
        # `#logs` and `#bytes`: the attribute names, kept out of DynamoDB's reserved words.
        update = "ADD #logs :logs SET expires_at = if_not_exists(expires_at, :expires)"
        condition = "attribute_not_exists(#logs) OR #logs <= :logs_room"
        names = {"#logs": "logs"}
        if window.bytes is not None:
            values |= {":bytes": {"N": str(size)}, ":bytes_room": {"N": str(window.bytes - size)}}
            update = update.replace("ADD #logs :logs", "ADD #logs :logs, #bytes :bytes")
            condition = (
                "attribute_not_exists(#logs) OR (#logs <= :logs_room AND #bytes <= :bytes_room)"
            )
            names["#bytes"] = "bytes"
        try:
            dynamodb.update_item(
                TableName=get_settings().usage_table_name,
                Key={USAGE_COUNTER_KEY: {"S": window.counter_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ExpressionAttributeNames=names,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as error:
            item = error.response.get("Item", {})
            used = (int(item.get("logs", {}).get("N", 0)), int(item.get("bytes", {}).get("N", 0)))
            return False, used
        return True, (0, 0)


class Limiter:
    """This instance's leases, per counter, and the decision for one request."""

    def __init__(self) -> None:
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._counters = _Counters()

    def forget(self) -> None:
        """Drop every lease, as a new instance would start with none."""
        with self._lock:
            self._leases.clear()

    def admit(self, tenant_id: str, sizes: Sequence[int], now: float) -> Admission:
        """Decide one request; the leases it needs are taken from the table first."""
        plan = plan_named(settings_of(tenant_id).plan())
        current = windows(tenant_id, plan, now)
        with self._lock:
            self._leases = {c: lease for c, lease in self._leases.items() if lease.resets_at > now}
            held = [(self._lease_for(window, sizes), window) for window in current]
            each = [admitted_prefix(sizes, [pair]) for pair in held]
            admitted, spent = min(each), sum(sizes[: min(each)])
            for lease, _ in held:
                lease.logs -= admitted
                lease.bytes -= spent
        if admitted == len(sizes):
            return Admission(admitted)
        limiting = held[each.index(admitted)][1]
        return Admission(admitted, refusal(tenant_id, limiting, now))

    def _lease_for(self, window: Window, sizes: Sequence[int]) -> Lease:
        """The instance's lease on `window`, topped up from the table if it cannot cover all."""
        lease = self._leases.get(window.counter_id)
        if lease is None:
            lease = self._leases[window.counter_id] = Lease(window.resets_at)
        logs, size = len(sizes), sum(sizes)
        short_logs = max(0, logs - lease.logs)
        short_bytes = 0 if window.bytes is None else max(0, size - lease.bytes)
        if (short_logs or short_bytes) and not lease.exhausted:
            got_logs, got_bytes = self._counters.take(window, short_logs, short_bytes)
            lease.logs += got_logs
            lease.bytes += got_bytes
            lease.exhausted = (short_logs > 0 and got_logs == 0) or (
                short_bytes > 0 and got_bytes == 0
            )
        return lease


_limiter = Limiter()
on_forget(_limiter.forget)


def admit(tenant_id: str, sizes: Sequence[int], now: float | None = None) -> Admission:
    """How many of a request's logs (their sizes in bytes, in order) the tenant's plan admits.

    Never raises for the limiter's own failures: it admits everything and says so (see the
    module docstring for why it fails open).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    moment = time.time() if now is None else now
    try:
        return _limiter.admit(tenant_id, sizes, moment)
    except (TenantSettingsUnavailableError, BotoCoreError, ClientError) as error:
        fields: dict[str, Any] = {
            "outcome": "failed_open",
            "tenant_id": tenant_id,
            "logs": len(sizes),
            **describe_error(error),
        }
        emit("limiter", fields, "ERROR", {LIMITER_UNAVAILABLE: 1}, "failed_open")
        return Admission(len(sizes))


def admit_each(logs: Sequence[tuple[str, int]]) -> list[Refusal | None]:
    """Per log of a batch, in request order: None if admitted, else the 429 that refuses it.

    `logs` are (tenant, bytes) pairs. The limiter is asked once per tenant of the batch, so a
    batch of 1,000 logs of one tenant costs one decision; within a tenant, the first logs are
    admitted and the rest refused, as `admit` decides.
    """
    positions: dict[str, list[int]] = {}
    for position, (tenant_id, _) in enumerate(logs):
        positions.setdefault(tenant_id, []).append(position)
    verdicts: list[Refusal | None] = [None] * len(logs)
    for tenant_id, indexes in positions.items():
        admission = admit(tenant_id, [logs[index][1] for index in indexes])
        for index in indexes[admission.admitted :]:
            verdicts[index] = admission.refusal
    return verdicts
