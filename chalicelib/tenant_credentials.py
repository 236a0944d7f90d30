"""Credentials that can read (and erase) one tenant's logs and nothing else.

Every read for a tenant goes through a DynamoDB client signed with credentials from STS
`AssumeRole` on the tenant reader role, with the tenant as a session tag. The role's own policy
(`infra.iam.reader_policy`) admits only items whose partition key equals that tag
(`dynamodb:LeadingKeys`) and only the attributes the API answers with, and its trust policy
refuses a session without the tag. A bug in our query code can then still not read another
tenant's items, nor any original text: AWS refuses it. Credentials are kept per tenant while
they are valid, so a warm function assumes the role once per tenant every few minutes, not
per request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chalicelib.clients import client, client_with
from chalicelib.config import get_settings
from chalicelib.errors import ConfigurationError
from chalicelib.process_state import on_forget

#: What a tenant's credentials may do, on the logs table only: read its logs, and erase them
#: (`chalicelib.erasure`: delete its logs and originals, write its tombstones).
READ_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:Query")
ERASE_ACTIONS: Final = ("dynamodb:DeleteItem", "dynamodb:PutItem")
#: The session tag naming the tenant, which the reader role's policy matches partition keys to.
TENANT_TAG: Final = "tenant"
#: The shortest session STS grants; a leaked set of credentials dies soonest.
SESSION_SECONDS: Final = 900
#: Credentials this close to expiring are replaced before a read uses them.
REFRESH_MARGIN: Final = timedelta(seconds=60)
#: Tenants whose clients one process keeps; the least recently used go first.
MAX_TENANTS: Final = 256

_clients: OrderedDict[str, tuple[Any, datetime]] = OrderedDict()
_lock = threading.Lock()


def tenant_table_client(tenant_id: str, now: datetime | None = None) -> Any:
    """A DynamoDB client that can read only `tenant_id`'s partition."""
    settings = get_settings()
    if not settings.tenant_read_role_arn:
        raise ConfigurationError("reads are not configured: set TENANT_READ_ROLE_ARN")
    now = now or datetime.now(UTC)
    with _lock:
        cached = _clients.get(tenant_id)
        if cached is not None and cached[1] - now > REFRESH_MARGIN:
            _clients.move_to_end(tenant_id)
            return cached[0]
    credentials = client("sts").assume_role(
        RoleArn=settings.tenant_read_role_arn,
        RoleSessionName=f"tenant-{tenant_id}"[:64],
        Tags=[{"Key": TENANT_TAG, "Value": tenant_id}],
        DurationSeconds=SESSION_SECONDS,
    )["Credentials"]
    scoped = client_with("dynamodb", credentials)
    with _lock:
        _clients[tenant_id] = (scoped, credentials["Expiration"])
        _clients.move_to_end(tenant_id)
        while len(_clients) > MAX_TENANTS:
            _clients.popitem(last=False)
    return scoped


@on_forget
def forget() -> None:
    """Drop every kept client, as a new process would start without them."""
    with _lock:
        _clients.clear()
