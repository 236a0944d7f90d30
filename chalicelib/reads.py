"""Reading a tenant's processed logs: `GET /logs` pages and `GET /logs/{log_id}`.

Logs are listed in ascending `log_id` order (the table's sort key, compared as UTF-8 bytes),
so a listing is keyset-paginated: the cursor names the last log returned, and logs written
while a client pages appear in their place without shifting or repeating any other. The cursor
is opaque to clients and carries its tenant; it only ever positions a query inside the caller's
own partition. Answers carry the redacted text and attributes, never `original_text`. Every
read, answered or refused, writes one `read` event line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

from chalice.app import BadRequestError, ForbiddenError, NotFoundError

from chalicelib.config import get_settings
from chalicelib.errors import unavailable_on_aws_failure
from chalicelib.message import InvalidFieldError, check_log_id
from chalicelib.telemetry import describe_error, elapsed_ms, emit
from chalicelib.tenant_credentials import tenant_table_client

PAGE_DEFAULT: Final = 50
PAGE_MAX: Final = 100
QUERY_PARAMETERS: Final = ("limit", "cursor")
#: What a reader sees of a stored log.
FIELDS: Final = (
    "tenant_id",
    "log_id",
    "source",
    "modified_data",
    "received_at",
    "processed_at",
    "request_id",
    "event_time",
    "attributes",
)
#: Read with each log, never answered: DynamoDB's TTL deletes an expired item within days, not
#: at once, so reads leave out what has expired by their own clock.
EXPIRY: Final = "expires_at"
_NAMES: Final = {f"#{field}": field for field in (*FIELDS, EXPIRY)}
_PROJECTION: Final = ", ".join(_NAMES)
_UNEXPIRED: Final = f"attribute_not_exists(#{EXPIRY}) OR #{EXPIRY} > :now"

T = TypeVar("T")
Reader = Callable[[], str]  # the tenant the caller may read, or the 401/403 saying why not


def encode_cursor(tenant_id: str, after: str) -> str:
    """The cursor that continues `tenant_id`'s listing after log `after`."""
    raw = json.dumps({"tenant_id": tenant_id, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


#: The longest cursor this API returns: a longer one is refused before it is decoded, so no
#: forged cursor can nest JSON deep enough to exhaust the parser's recursion.
CURSOR_MAX_CHARS: Final = len(encode_cursor("t" * 64, "l" * 128))


def decode_cursor(cursor: str, tenant_id: str) -> str:
    """The log a cursor continues after: 400 if it is not one of ours, 403 if not the tenant's."""
    invalid = BadRequestError("cursor is not one this API returned: start again without it")
    if len(cursor) > CURSOR_MAX_CHARS:
        raise invalid
    try:
        fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(fields, dict) or set(fields) != {"tenant_id", "after"}:
        raise invalid
    if fields["tenant_id"] != tenant_id:
        raise ForbiddenError("cursor belongs to another tenant's listing")
    try:
        return check_log_id(fields["after"], "cursor")
    except InvalidFieldError:
        raise invalid from None


def _page_size(raw: str | None) -> int:
    if raw is None:
        return PAGE_DEFAULT
    # Without its leading zeros, a number longer than PAGE_MAX is larger: int() is never asked
    # to parse more digits than its limit (4,300) allows.
    digits = raw.lstrip("0")
    if (
        not (raw.isascii() and raw.isdigit())
        or len(digits) > len(str(PAGE_MAX))
        or not 1 <= int(digits or "0") <= PAGE_MAX
    ):
        shown = raw if len(raw) <= 20 else raw[:17] + "..."
        raise BadRequestError(f"limit must be a whole number from 1 to {PAGE_MAX}, got {shown!r}")
    return int(digits)


def _plain(item: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """A stored item as a reader sees it: strings, and the attributes as the object they are."""
    log: dict[str, Any] = {name: value["S"] for name, value in item.items() if name != EXPIRY}
    if "attributes" in log:
        log["attributes"] = json.loads(log["attributes"])
    return log


def _expired(item: Mapping[str, Mapping[str, str]], now: float) -> bool:
    return EXPIRY in item and int(item[EXPIRY]["N"]) <= now


def _read(call: Callable[[], T]) -> T:
    """Run one read; any AWS failure becomes a 503 the client can retry."""
    with unavailable_on_aws_failure(
        "logs table",
        refused="logs could not be read ({code}); retry later",
        unreachable="logs could not be read; retry later",
    ):
        return call()


@contextlib.contextmanager
def request_event(
    event: str, trace: dict[str, object], status: int = 200
) -> Iterator[dict[str, object]]:
    """Write the `event` line of the request inside the block; it adds its fields to `trace`.

    `status` is the answer's when the block ends without raising.
    """
    started = time.perf_counter()
    try:
        yield trace
    except Exception as error:
        code = getattr(error, "STATUS_CODE", 500)
        refused = {"outcome": "refused", "status": code, "duration_ms": elapsed_ms(started)}
        # A client error's message echoes the query; a server error's says what broke.
        refused |= describe_error(error) if code >= 500 else {"error": type(error).__name__}
        emit(event, trace | refused, "ERROR" if code >= 500 else "WARNING")
        raise
    answered = {"outcome": "answered", "status": status, "duration_ms": elapsed_ms(started)}
    emit(event, trace | answered)


def list_logs(reader: Reader, query: Mapping[str, str] | None, request_id: str) -> dict[str, Any]:
    """One page of the reader's logs and the cursor of the next page (None after the last)."""
    with request_event("read", {"request_id": request_id, "route": "/logs"}) as trace:
        tenant_id = trace["tenant_id"] = reader()
        page = _page(tenant_id, query or {})
        trace["returned"] = len(page["logs"])
    return page


def _page(tenant_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    unknown = sorted(set(query) - set(QUERY_PARAMETERS))
    if unknown:
        raise BadRequestError(
            f"unknown query parameter {unknown[0]!r}: use {' and '.join(QUERY_PARAMETERS)}"
        )
    limit = _page_size(query.get("limit"))
    request: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "KeyConditionExpression": "#tenant_id = :tenant",
        "FilterExpression": _UNEXPIRED,
        "ExpressionAttributeValues": {
            ":tenant": {"S": tenant_id},
            ":now": {"N": str(int(time.time()))},
        },
        "ExpressionAttributeNames": _NAMES,
        "ProjectionExpression": _PROJECTION,
        # Said out loud: the reader role's policy admits only SPECIFIC_ATTRIBUTES.
        "Select": "SPECIFIC_ATTRIBUTES",
        # One more than asked: if it comes back, there is a next page and no trailing empty one.
        "Limit": limit + 1,
    }
    if "cursor" in query:
        after = decode_cursor(query["cursor"], tenant_id)
        request["ExclusiveStartKey"] = {"tenant_id": {"S": tenant_id}, "log_id": {"S": after}}
    answer = _read(lambda: tenant_table_client(tenant_id).query(**request))
    logs = [_plain(item) for item in answer["Items"]]
    last: str | None = None
    if len(logs) > limit:
        logs = logs[:limit]
        last = logs[-1]["log_id"]
    elif "LastEvaluatedKey" in answer:  # stopped at 1 MB, or at Limit with expired logs left out
        last = answer["LastEvaluatedKey"]["log_id"]["S"]
    return {
        "tenant_id": tenant_id,
        "logs": logs,
        "next_cursor": None if last is None else encode_cursor(tenant_id, last),
    }


def get_log(reader: Reader, log_id: str, request_id: str) -> dict[str, Any]:
    """One of the reader's logs, or 404."""
    with request_event("read", {"request_id": request_id, "route": "/logs/{log_id}"}) as trace:
        tenant_id = trace["tenant_id"] = reader()
        try:
            trace["log_id"] = check_log_id(log_id)
        except InvalidFieldError as error:
            raise BadRequestError(str(error)) from None
        return _one(tenant_id, log_id)


def _one(tenant_id: str, log_id: str) -> dict[str, Any]:
    answer = _read(
        lambda: tenant_table_client(tenant_id).get_item(
            TableName=get_settings().table_name,
            Key={"tenant_id": {"S": tenant_id}, "log_id": {"S": log_id}},
            ExpressionAttributeNames=_NAMES,
            ProjectionExpression=_PROJECTION,
        )
    )
    if "Item" not in answer or _expired(answer["Item"], time.time()):
        raise NotFoundError(f"tenant {tenant_id!r} has no processed log {log_id!r}")
    return _plain(answer["Item"])
