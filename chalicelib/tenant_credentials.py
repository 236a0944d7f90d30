"""Credentials that can read one tenant's partition of the logs table and nothing else.

Every read for a tenant goes through a DynamoDB client signed with credentials from STS
`AssumeRole` on the tenant reader role, narrowed by a session policy to items whose partition
key is that tenant (`dynamodb:LeadingKeys`). A bug in our query code can then still not read
another tenant's items: AWS refuses it. Credentials are kept per tenant while they are valid,
so a warm function assumes the role once per tenant every few minutes, not per request.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chalicelib.clients import client, client_with
from chalicelib.config import get_settings
from chalicelib.errors import ConfigurationError
from chalicelib.process_state import on_forget

#: What a tenant's read credentials may do, on the logs table only.
READ_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:Query")
#: The shortest session STS grants; a leaked set of credentials dies soonest.
SESSION_SECONDS: Final = 900
#: Credentials this close to expiring are replaced before a read uses them.
REFRESH_MARGIN: Final = timedelta(seconds=60)
#: Tenants whose clients one process keeps; the least recently used go first.
MAX_TENANTS: Final = 256

_clients: OrderedDict[str, tuple[Any, datetime]] = OrderedDict()
_lock = threading.Lock()


def table_arn(table_name: str) -> str:
    """The table's ARN in whichever region and account the function runs."""
    return f"arn:aws:dynamodb:*:*:table/{table_name}"


def session_policy(tenant_id: str, table_name: str) -> dict[str, Any]:
    """The policy that narrows the reader role to `tenant_id`'s items."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOneTenant",
                "Effect": "Allow",
                "Action": list(READ_ACTIONS),
                "Resource": table_arn(table_name),
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [tenant_id]}},
            }
        ],
    }


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
        Policy=json.dumps(session_policy(tenant_id, settings.table_name)),
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
