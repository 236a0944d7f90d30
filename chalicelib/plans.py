"""The plans a tenant can be on: how many logs and bytes it may send, per second and per day.

Pure data, shared by the ingest limiter (which counts logs and bytes), the stage's default plan
(`DEFAULT_PLAN`), the operator tool that puts a tenant on a plan, and the API Gateway usage plans
rendered from it (which count requests, the one thing API Gateway can count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The rate limit is counted in aligned windows this long: short enough that a burst is felt
#: within seconds, long enough that an instance leases its share at most a few times a window.
RATE_WINDOW_SECONDS: Final = 10


@dataclass(frozen=True)
class Plan:
    """One tier: a rate in logs a second with a burst on top, and a daily quota."""

    name: str
    logs_per_second: int
    burst_logs: int
    daily_logs: int
    daily_bytes: int

    @property
    def logs_per_rate_window(self) -> int:
        """What one rate window admits: the steady rate for the window, plus the burst."""
        return self.logs_per_second * RATE_WINDOW_SECONDS + self.burst_logs

    @property
    def requests_per_second(self) -> int:
        """API Gateway's request throttle for the plan: a request carries at least one log."""
        return self.logs_per_second

    def describe(self) -> str:
        """The plan in words, for messages and the operator tool."""
        return (
            f"{self.name}: {self.logs_per_second} logs/s (burst {self.burst_logs}), "
            f"{self.daily_logs:,} logs and {self.daily_bytes:,} bytes a day"
        )


PLANS: Final[dict[str, Plan]] = {
    plan.name: plan
    for plan in (
        Plan("free", logs_per_second=5, burst_logs=50, daily_logs=10_000, daily_bytes=10**7),
        Plan(
            "team",
            logs_per_second=100,
            burst_logs=1_000,
            daily_logs=2 * 10**6,
            daily_bytes=2 * 10**9,
        ),
        Plan(
            "business",
            logs_per_second=1_000,
            burst_logs=10_000,
            daily_logs=50 * 10**6,
            daily_bytes=50 * 10**9,
        ),
    )
}


class UnknownPlanError(ValueError):
    """A plan name that is not one of `PLANS`."""


def plan_named(name: str) -> Plan:
    """The plan called `name`, or an error naming the plans there are."""
    try:
        return PLANS[name]
    except KeyError:
        raise UnknownPlanError(f"plan must be one of {', '.join(PLANS)}, not {name!r}") from None


def usage_identifier_key(stage: str, tenant_id: str) -> str:
    """The API Gateway API key value that meters `tenant_id` in `stage`'s usage plans.

    With the REST API's key source set to `AUTHORIZER`, clients never send it: the authorizer
    answers it as `usageIdentifierKey`, so it names the tenant and needs no secrecy. Derived,
    not stored, so the authorizer needs no second read. API Gateway wants 20 to 128 characters.
    """
    return f"robust-data-processor-{stage}-tenant-{tenant_id}"
