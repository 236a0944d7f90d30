"""Who is calling: the authorizer's verdict on a key, and the tenant a route acts for.

The authorizer lets every request through to the routes and hands them either the key's tenant
or the reason the key was refused, so that the refusal reaches the caller as our own 401 with a
message instead of API Gateway's bare one; `caller_tenant` turns a refusal into that 401. A
missing header never reaches the authorizer: API Gateway (and `chalice local`) answer 401 first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chalice.app import AuthResponse, ForbiddenError, UnauthorizedError

from chalicelib.keys import KeyRejectedError, resolve

#: Every route behind the authorizer. API Gateway caches one verdict per key for all of them.
PROTECTED_ROUTES: Final = ("/ingest", "/logs", "/logs/*")
ANONYMOUS: Final = "anonymous"


def authorize(token: str | None) -> AuthResponse:
    """The authorizer's answer for one `Authorization` header value."""
    try:
        tenant_id, key_id = resolve(token)
    except KeyRejectedError as rejected:
        return AuthResponse(list(PROTECTED_ROUTES), ANONYMOUS, {"rejection": str(rejected)})
    return AuthResponse(
        list(PROTECTED_ROUTES), tenant_id, {"tenant_id": tenant_id, "key_id": key_id}
    )


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
