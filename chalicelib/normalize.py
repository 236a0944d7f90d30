"""Turn either upload form of `POST /ingest` into one `LogMessage`, or say exactly what is wrong.

- `application/json`: `{"tenant_id": ..., "text": ..., "log_id": ...}` (`log_id` optional).
- `text/plain`: the body is the text; `X-Tenant-ID` names the tenant, `X-Log-ID` the log.

Input is rejected rather than guessed at: unknown JSON fields, duplicate keys, a header that
contradicts the body. Anything silently dropped or reinterpreted would be a log lost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from chalice.app import BadRequestError, ForbiddenError

from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.message import (
    InvalidFieldError,
    LogMessage,
    Source,
    check_log_id,
    check_tenant_id,
    check_text,
    describe_type,
    utc_timestamp,
)

JSON_FIELDS = ("tenant_id", "log_id", "text")
MEDIA_TYPES: Mapping[str, Source] = {
    "application/json": "json_upload",
    "text/plain": "text_upload",
}
_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BOM = "\ufeff"


def _media_type(content_type: str | None) -> Source:
    """Map a Content-Type header to the upload form it announces."""
    supported = " or ".join(MEDIA_TYPES)
    if not content_type:
        raise UnsupportedMediaTypeError(f"a Content-Type header is required: {supported}")
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    source = MEDIA_TYPES.get(media_type.lower())
    if source is None:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type!r} is not supported: {supported}"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _CHARSETS:
            raise UnsupportedMediaTypeError(f"charset {charset!r} is not supported: send UTF-8")
    return source


def _decode(body: str | bytes | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequestError(
                f"the body is not valid UTF-8 (bad byte at offset {error.start})"
            ) from None
    return body.removeprefix(_BOM)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise BadRequestError(f"the JSON object has the key {key!r} more than once")
        fields[key] = value
    return fields


def _reject_constant(name: str) -> NoReturn:
    raise BadRequestError(f"the body is not valid JSON: {name} is not a JSON number")


# No field is a number, so a number is only ever named in an error: reading integers as floats
# spares int()'s 4300-digit limit (a ValueError, not a JSONDecodeError) and its quadratic time
# on a long run of digits. Made once: `json.loads` with options builds a decoder every call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_int=float
)


def _parse_json_object(text: str, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        fields = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise BadRequestError(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BadRequestError("the body is not valid JSON: it is nested too deeply") from None
    if not isinstance(fields, dict):
        raise BadRequestError(
            f"the body must be a JSON object with tenant_id and text, got {describe_type(fields)}"
        )
    unknown = sorted(set(fields) - set(JSON_FIELDS))
    if unknown:
        raise BadRequestError(
            f"unknown field {unknown[0]!r}: a log has only {', '.join(JSON_FIELDS)}"
        )
    for field in required:
        if field not in fields:
            raise BadRequestError(f"{field} is required")
    return fields


def _agree(header: str, from_header: str | None, field: str, from_body: str | None) -> None:
    """Refuse a JSON upload whose identifying header names something other than its body."""
    if from_header is None or from_header == from_body:
        return
    if from_body is None:
        raise BadRequestError(
            f"the {header} header is set but the body has no {field}: with application/json "
            f"the body names the {field}"
        )
    raise BadRequestError(
        f"the {header} header ({from_header!r}) contradicts the body's {field} ({from_body!r})"
    )


def _own_tenant(caller: str | None, named: object) -> None:
    """Refuse, with a key, a request that names a tenant other than the key's."""
    if caller is not None and named is not None and named != caller:
        shown = repr(named) if isinstance(named, str) else describe_type(named)
        raise ForbiddenError(
            f"this API key belongs to tenant {caller!r}; it cannot write logs for {shown}"
        )


def _identifiers(
    source: Source, body: str, headers: Mapping[str, str], caller: str | None
) -> tuple[str, str | None, str]:
    """Find tenant id, log id (if given) and text in the form the client used.

    With a key, `caller` is its tenant and stands in for a tenant id the request leaves out.
    """
    tenant_header = headers.get("x-tenant-id")
    log_header = headers.get("x-log-id")
    _own_tenant(caller, tenant_header)
    if source == "text_upload":
        if tenant_header is None and caller is None:
            raise BadRequestError("the X-Tenant-ID header is required with text/plain")
        tenant_id = check_tenant_id(
            caller if tenant_header is None else tenant_header, "X-Tenant-ID"
        )
        log_id = None if log_header is None else check_log_id(log_header, "X-Log-ID")
        return tenant_id, log_id, check_text(body, "the body (the log text)")
    fields = _parse_json_object(body, ("text",) if caller else ("tenant_id", "text"))
    _own_tenant(caller, fields.get("tenant_id"))
    tenant_id = check_tenant_id(fields.get("tenant_id", caller))
    log_id = None if fields.get("log_id") is None else check_log_id(fields["log_id"])
    _agree("X-Tenant-ID", tenant_header, "tenant_id", tenant_id)
    _agree("X-Log-ID", log_header, "log_id", log_id)
    return tenant_id, log_id, check_text(fields["text"])


def normalize(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    received_at: datetime,
    caller: str | None = None,
) -> LogMessage:
    """Validate one `POST /ingest` request and return the message to enqueue.

    `caller` is the tenant of the request's API key, when ingest requires one. Raises
    `BadRequestError` (400), `UnsupportedMediaTypeError` (415) or, for a request naming a
    tenant other than its key's, `ForbiddenError` (403), with a message that names the field
    or header at fault.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    source = _media_type(lowered.get("content-type"))
    try:
        tenant_id, log_id, text = _identifiers(source, _decode(body), lowered, caller)
    except InvalidFieldError as error:
        raise BadRequestError(str(error)) from None
    return LogMessage(
        tenant_id=tenant_id,
        log_id=log_id or str(uuid.uuid4()),
        source=source,
        text=text,
        received_at=utc_timestamp(received_at),
        request_id=request_id,
    )
