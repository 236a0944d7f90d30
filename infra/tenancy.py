"""The resources tenants' limits need, declared once as data for the renderers.

- The usage table: the limiter's counters (`chalicelib.limiter`), one item per tenant and
  window, deleted by DynamoDB's TTL.
- One API Gateway usage plan per plan of `chalicelib.plans`, throttling requests per tenant;
  the REST API reads the tenant's API key from the authorizer's `usageIdentifierKey`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chalicelib.limiter import USAGE_EXPIRY_ATTRIBUTE
from chalicelib.plans import PLANS

#: The REST API's API key source: the key comes from the authorizer, never from the client.
API_KEY_SOURCE: Final = "AUTHORIZER"
#: The usage table's partition key and TTL attribute.
USAGE_TABLE_KEY: Final = "counter_id"
USAGE_TABLE_TTL: Final = USAGE_EXPIRY_ATTRIBUTE


@dataclass(frozen=True)
class UsagePlan:
    """One API Gateway usage plan: a plan's request throttle for one stage."""

    resource: str  # the logical id / resource name
    name: str
    description: str
    rate_limit: int  # requests a second
    burst_limit: int  # requests


def usage_plan_name(app_name: str, stage: str, plan: str) -> str:
    """The usage plan's name, which the operator tool looks tenants' plans up by."""
    return f"{app_name}-{stage}-{plan}"


def usage_plans(app_name: str, stage: str) -> tuple[UsagePlan, ...]:
    """A usage plan per plan: its request rate is the plan's log rate (a request is >= 1 log)."""
    return tuple(
        UsagePlan(
            resource=f"UsagePlan{plan.name.title()}",
            name=usage_plan_name(app_name, stage, plan.name),
            description=f"Requests of tenants on plan {plan.describe()}",
            rate_limit=plan.requests_per_second,
            burst_limit=plan.burst_logs,
        )
        for plan in PLANS.values()
    )
