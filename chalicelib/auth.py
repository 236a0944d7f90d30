"""Who is calling: the authorizer's verdict on a key, and the tenant a route acts for.

The authorizer lets every request through to the routes and hands them either the key's tenant
or the reason the key was refused, so that the refusal reaches the caller as our own 401 with a
message instead of API Gateway's bare one; `caller_tenant` turns a refusal into that 401. A
missing header never reaches the authorizer: API Gateway (and `chalice local`) answer 401 first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chalice.app import AuthRequest, AuthResponse, ForbiddenError, UnauthorizedError

from chalicelib.config import get_settings
from chalicelib.keys import KeyRejectedError, resolve
from chalicelib.plans import usage_identifier_key

#: Every route behind the authorizer. API Gateway caches one verdict per key for all of them.
PROTECTED_ROUTES: Final = ("/ingest", "/logs", "/logs/*")
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


def authorize(token: str | None) -> AuthResponse:
    """The authorizer's answer for one `Authorization` header value."""
    try:
        tenant_id, key_id = resolve(token)
    except KeyRejectedError as rejected:
        return AuthResponse(list(PROTECTED_ROUTES), ANONYMOUS, {"rejection": str(rejected)})
    usage_key = usage_identifier_key(get_settings().stage, tenant_id)
    verdict = {"tenant_id": tenant_id, "key_id": key_id}
    return MeteredAuthResponse(list(PROTECTED_ROUTES), tenant_id, verdict, usage_key)


def caller_tenant(request_context: Mapping[str, Any] | None, named: str | None = None) -> str:
    """The tenant the authorizer resolved for this request, else a 401 saying why not.

    `named` is a tenant the request itself names (a read's `X-Tenant-ID`): another tenant's
    is a 403, so a client that means another tenant learns so instead of getting its own data.
    """
    verdict = (request_context or {}).get("authorizer") or {}
    tenant_id = verdict.get("tenant_id")
    if not (isinstance(tenant_id, str) and tenant_id):
        raise UnauthorizedError(verdict.get("rejection") or "an API key is required")
    if named is not None and named != tenant_id:
        raise ForbiddenError(f"this API key belongs to tenant {tenant_id!r}, not {named!r}")
    return tenant_id
