"""Bind a tenant to its plan's API Gateway usage plan on a deployed stage.

The REST API reads each request's API key from the authorizer (`usageIdentifierKey`), so every
tenant needs an API Gateway key, in exactly one of the stage's usage plans, before its requests
pass on AWS. `make tenant-plan AWS=1` and `make tenant-key AWS=1` call this.
"""

from __future__ import annotations

from typing import Any

from chalicelib.plans import PLANS, usage_identifier_key
from infra.model import usage_plan_name


def put_in_usage_plan(apigateway: Any, app_name: str, stage: str, tenant_id: str, plan: str) -> str:
    """Make the tenant's API Gateway key (once) and put it in `plan`'s usage plan alone.

    Returns the key's id. The key's value is the tenant's `usageIdentifierKey`, which the
    authorizer answers; clients never see or send it.
    """
    value = usage_identifier_key(stage, tenant_id)
    name = f"{app_name}-{stage}-{tenant_id}"
    found = apigateway.get_api_keys(nameQuery=name, includeValues=True)["items"]
    matching = [key for key in found if key.get("value") == value]
    if matching:
        key_id = str(matching[0]["id"])
    else:
        key_id = str(apigateway.create_api_key(name=name, value=value, enabled=True)["id"])
    wanted = usage_plan_name(app_name, stage, plan)
    names = {usage_plan_name(app_name, stage, other): other for other in PLANS}
    plans = apigateway.get_usage_plans(keyId=key_id)["items"]
    for usage_plan in plans:
        if usage_plan["name"] in names and usage_plan["name"] != wanted:
            apigateway.delete_usage_plan_key(usagePlanId=usage_plan["id"], keyId=key_id)
    if not any(usage_plan["name"] == wanted for usage_plan in plans):
        every = apigateway.get_usage_plans()["items"]
        target = [usage_plan for usage_plan in every if usage_plan["name"] == wanted]
        if not target:
            raise LookupError(f"no usage plan {wanted!r}: is stage {stage!r} deployed?")
        apigateway.create_usage_plan_key(
            usagePlanId=target[0]["id"], keyId=key_id, keyType="API_KEY"
        )
    return key_id


def bind_usage_plan(stage: str, tenant_id: str, plan: str) -> str:
    """`put_in_usage_plan` on AWS, with the usual credential chain; returns the key's id."""
    import boto3

    from infra.stage import chalice_config

    app_name = chalice_config(stage, "api_handler").app_name
    return put_in_usage_plan(boto3.client("apigateway"), app_name, stage, tenant_id, plan)
