"""Who is calling: the authorizer's verdict on a key, and the tenant a route acts for.

The authorizer itself denies a refused key, so no route behind it runs for a caller without a
valid key, whether or not the route asks who is calling. The denial carries its reason in the
authorizer's context (`errors.REASON_KEY`), which the gateway response for `ACCESS_DENIED`
echoes in our 401 (`errors.GATEWAY_REFUSALS`). A missing header never reaches the authorizer:
API Gateway answers `UNAUTHORIZED` first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from chalice.app import (
    AuthRequest,
    AuthResponse,
    ChaliceViewError,
    ForbiddenError,
    UnauthorizedError,
)

from chalicelib.config import get_settings
from chalicelib.errors import KEY_REQUIRED, REASON_KEY, unavailable_on_aws_failure
from chalicelib.keys import KeyRejectedError, resolve
from chalicelib.plans import usage_identifier_key
from chalicelib.telemetry import describe_error, elapsed_ms, emit

#: Every route behind the authorizer. API Gateway caches one verdict per key for all of them.
PROTECTED_ROUTES: Final = ("/ingest", "/v1/logs", "/logs", "/logs/*")
ANONYMOUS: Final = "anonymous"


class MeteredAuthResponse(AuthResponse):
    """An answer that also names the API Gateway key metering the tenant (`usageIdentifierKey`).

    Chalice 1.34's `AuthResponse.to_dict` writes only `principalId`, `policyDocument` and
    `context`; API Gateway reads `usageIdentifierKey` beside them when the API's key source is
    `AUTHORIZER`, to apply the tenant's usage plan.
    """

    def __init__(
        self, routes: list[str], principal_id: str, context: dict[str, str], usage_key: str
    ) -> None:
        super().__init__(list(routes), principal_id, context)
        self.usage_key = usage_key

    def to_dict(self, request: AuthRequest) -> dict[str, Any]:
        """Chalice's answer plus `usageIdentifierKey`."""
        return super().to_dict(request) | {"usageIdentifierKey": self.usage_key}


def _whole_api(method_arn: str) -> str:
    """`arn:...:<api id>/<stage>/*` from one method's ARN: a verdict API Gateway may cache."""
    api, stage, _ = method_arn.split("/", 2)
    return f"{api}/{stage}/*"


def denial(method_arn: str, reason: str) -> dict[str, Any]:
    """The authorizer's answer refusing every route of the API, saying why in its context."""
    statement = {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": [_whole_api(method_arn)],
    }
    return {
        "principalId": ANONYMOUS,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {REASON_KEY: reason},
    }


def authorize(request: AuthRequest) -> dict[str, Any]:
    """The authorizer's answer: the key's tenant on every protected route, or a denial saying why.

    A table that cannot be read raises (a 503 or, misconfigured, a 500): API Gateway does not
    cache a failure as it would a denial.
    """
    started = time.perf_counter()
    try:
        with unavailable_on_aws_failure(
            "tenants table",
            refused="API keys could not be checked ({code}); retry later",
            unreachable="API keys could not be checked; retry later",
        ):
            tenant_id, key_id = resolve(request.token)
    except KeyRejectedError as rejected:
        refused = {"outcome": "refused", "reason": str(rejected), "status": 401}
        emit("auth", refused | {"duration_ms": elapsed_ms(started)}, "WARNING")
        return denial(request.method_arn, str(rejected))
    except ChaliceViewError as error:
        failed = {"outcome": "failed", "status": error.STATUS_CODE, **describe_error(error)}
        emit("auth", failed | {"duration_ms": elapsed_ms(started)}, "ERROR")
        raise
    usage_key = usage_identifier_key(get_settings().stage, tenant_id)
    context = {"tenant_id": tenant_id, "key_id": key_id}
    verdict = MeteredAuthResponse(list(PROTECTED_ROUTES), tenant_id, context, usage_key)
    return verdict.to_dict(request)


def caller_tenant(request_context: Mapping[str, Any] | None, named: str | None = None) -> str:
    """The tenant the authorizer resolved for this request; a 401 on a route without one.

    `named` is a tenant the request itself names (a read's `X-Tenant-ID`): another tenant's
    is a 403, so a client that means another tenant learns so instead of getting its own data.
    """
    verdict = (request_context or {}).get("authorizer") or {}
    tenant_id = verdict.get("tenant_id")
    if not (isinstance(tenant_id, str) and tenant_id):
        raise UnauthorizedError(KEY_REQUIRED)
    if named is not None and named != tenant_id:
        raise ForbiddenError(f"this API key belongs to tenant {tenant_id!r}, not {named!r}")
    return tenant_id
