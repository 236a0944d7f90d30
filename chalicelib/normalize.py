"""Turn a `POST /ingest` request into log messages, or say exactly what is wrong.

- `application/json`: one log object, or an array of them.
- `application/x-ndjson`: one log object a line (`chalicelib.batch`).
- `text/plain`: the body is the text; `X-Tenant-ID` names the tenant, `X-Log-ID` the log.

Any form may come compressed (`Content-Encoding: gzip` or `deflate`). A log object's own fields
are `tenant_id`, `log_id`, `text` and `timestamp`; every other field is kept as an attribute.
Input is rejected rather than guessed at: duplicate keys, a header that contradicts the body, a
timestamp that is not one. Anything silently dropped or reinterpreted would be a log lost.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chalice.app import BadRequestError, CaseInsensitiveMapping, ForbiddenError

from chalicelib.batch import Item, parse_json, parse_ndjson
from chalicelib.compression import decode_body
from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.message import (
    InvalidFieldError,
    LogMessage,
    Source,
    check_attributes,
    check_log_id,
    check_tenant_id,
    check_text,
    describe_type,
    utc_timestamp,
)

#: A log object's own fields; any other field is one of its attributes.
JSON_FIELDS: Final = ("tenant_id", "log_id", "text", "timestamp")
MEDIA_TYPES: Final[Mapping[str, Source]] = {
    "application/json": "json_upload",
    "application/x-ndjson": "ndjson_upload",
    "text/plain": "text_upload",
}
#: The request types API Gateway must pass on as binary, so that a compressed body (and OTLP's
#: protobuf, `POST /v1/logs`) reaches the function intact: as text it would be read as UTF-8
#: and mangled. Chalice applies this list to answers as well: a protobuf answer is
#: base64-encoded, as API Gateway needs. `application/json` is binary too, but it is set on the
#: API in the templates, not here: here it would base64-encode every JSON answer and refuse
#: requests without an `Accept` header.
BINARY_REQUEST_TYPES: Final = ("application/x-ndjson", "text/plain", "application/x-protobuf")
_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BOM = "\ufeff"
#: An `Idempotency-Key`: what the IETF draft's examples use (UUIDs, ULIDs, random tokens) and
#: more, printable ASCII without spaces, optionally a quoted structured-field string.
_IDEMPOTENCY_KEY = re.compile(r"[\x21\x23-\x7e]{1,255}")
IDEMPOTENCY_KEY_RULE: Final = "1 to 255 printable ASCII characters without spaces or quotes"
#: Epoch numbers below this are seconds, above it milliseconds: 1e11 seconds is the year 5138,
#: 1e11 milliseconds is March 1973, before any log a shipper still holds.
EPOCH_MILLISECONDS_FROM: Final = 1e11
_RFC_3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class LogContext:
    """What a request says about all of its logs, and what ingest knows of it."""

    request_id: str
    received_at: str
    source: Source
    #: The tenant of the request's API key, when ingest requires one.
    caller: str | None = None
    tenant_header: str | None = None
    log_header: str | None = None
    idempotency_key: str | None = None
    #: The one-log form (a JSON object, or text/plain): answered as a whole, as it always was.
    single: bool = True


@dataclass(frozen=True)
class Upload:
    """A request read up to its log objects: their context, and each object or its error."""

    context: LogContext
    items: list[Item]


def _media_type(content_type: str | None) -> Source:
    """Map a Content-Type header to the upload form it announces."""
    supported = ", ".join(MEDIA_TYPES)
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


def _decode(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestError(
            f"the body is not valid UTF-8 (bad byte at offset {error.start})"
        ) from None
    return text.removeprefix(_BOM)


def idempotency_key(header: str | None) -> str | None:
    """The request's `Idempotency-Key`, unquoted, or None; 400 if it breaks the rule."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        shown = key if len(key) <= 80 else key[:77] + "..."
        raise BadRequestError(
            f"the Idempotency-Key header must be {IDEMPOTENCY_KEY_RULE}; got {shown!r}"
        )
    return key


def derived_log_id(key: str, position: int) -> str:
    """The log id of the log at `position` (from 0) of a request sent with Idempotency-Key `key`.

    The same key and position give the same id on every retry, so the worker stores the log
    once; the key is hashed, so any key makes a valid id and none shows in the table.
    """
    digest = hashlib.sha256(key.encode("ascii")).hexdigest()[:32]
    return f"idem:{digest}:{position}"


def lowered_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` to look up by lower-case name: Chalice's request headers already are."""
    if isinstance(headers, CaseInsensitiveMapping):
        return headers
    return {name.lower(): value for name, value in headers.items()}


def read_request(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    received_at: datetime,
    caller: str | None = None,
) -> Upload:
    """Read a `POST /ingest` request up to its log objects, without judging any of them.

    Raises, for the whole request, `UnsupportedMediaTypeError` (415: content type, charset or
    content coding), `PayloadTooLargeError` (413: decoded size, logs a request) or
    `BadRequestError` (400: compressed data, UTF-8, an envelope that is no JSON or NDJSON, a
    header that cannot apply).
    """
    lowered = lowered_headers(headers)
    source = _media_type(lowered.get("content-type"))
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    text = _decode(decode_body(lowered.get("content-encoding"), raw))
    if source == "text_upload":
        items: list[Item] = [text]
        single = True
    else:
        envelope = parse_json(text) if source == "json_upload" else parse_ndjson(text)
        items, single = envelope.items, envelope.single
    if not single and "x-log-id" in lowered:
        raise BadRequestError(
            "the X-Log-ID header names one log; the logs of a batch carry their own log_id, "
            "or take one from the Idempotency-Key header"
        )
    context = LogContext(
        request_id=request_id,
        received_at=utc_timestamp(received_at),
        source=source,
        caller=caller,
        tenant_header=lowered.get("x-tenant-id"),
        log_header=lowered.get("x-log-id"),
        idempotency_key=idempotency_key(lowered.get("idempotency-key")),
        single=single,
    )
    _own_tenant(caller, context.tenant_header)
    return Upload(context, items)


def _own_tenant(caller: str | None, named: object) -> None:
    """Refuse, with a key, a request that names a tenant other than the key's."""
    if caller is not None and named is not None and named != caller:
        shown = repr(named) if isinstance(named, str) else describe_type(named)
        raise ForbiddenError(
            f"this API key belongs to tenant {caller!r}; it cannot write logs for {shown}"
        )


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


def event_time(value: object) -> str:
    """A log's `timestamp` as a stored timestamp: RFC 3339 text, or epoch seconds/milliseconds.

    A number below `EPOCH_MILLISECONDS_FROM` counts seconds, any larger one milliseconds.
    """
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.upper()) if _RFC_3339.fullmatch(value) else None
        except ValueError:  # the shape of a date and time, but no such day or hour
            moment = None
        if moment is None:
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise InvalidFieldError(
                "timestamp",
                "must be an RFC 3339 date and time with its offset (2026-11-21T10:00:00Z) or "
                f"epoch seconds or milliseconds; got {shown!r}",
            )
        return utc_timestamp(moment)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFieldError(
            "timestamp",
            f"must be an RFC 3339 string or an epoch number, got {describe_type(value)}",
        )
    try:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(value)
        if value < EPOCH_MILLISECONDS_FROM:
            return utc_timestamp(datetime.fromtimestamp(value, UTC))
        seconds, milliseconds = divmod(value, 1000)  # exact for integers, unlike value / 1000
        moment = datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=milliseconds)
        return utc_timestamp(moment)
    except (ValueError, OverflowError, OSError):  # beyond datetime's year 9999
        raise InvalidFieldError(
            "timestamp", "as an epoch number must fall between 1970 and the year 9999"
        ) from None


def _text_message(text: str, context: LogContext) -> LogMessage:
    if context.tenant_header is None and context.caller is None:
        raise BadRequestError("the X-Tenant-ID header is required with text/plain")
    tenant = context.caller if context.tenant_header is None else context.tenant_header
    log_header = context.log_header
    return LogMessage(
        tenant_id=check_tenant_id(tenant, "X-Tenant-ID"),
        log_id=_log_id(
            None if log_header is None else check_log_id(log_header, "X-Log-ID"), 0, context
        ),
        source=context.source,
        text=check_text(text, "the body (the log text)"),
        received_at=context.received_at,
        request_id=context.request_id,
    )


def _log_id(given: str | None, position: int, context: LogContext) -> str:
    if given is not None:
        return given
    if context.idempotency_key is not None:
        return derived_log_id(context.idempotency_key, position)
    return str(uuid.uuid4())


def _tenant(fields: Mapping[str, Any], context: LogContext) -> str:
    """The log's tenant: its own `tenant_id`, else the key's, else (in a batch) X-Tenant-ID."""
    named = fields.get("tenant_id")
    _own_tenant(context.caller, named)
    if context.single:
        if named is None and context.caller is None:
            raise BadRequestError("tenant_id is required")
        tenant = check_tenant_id(context.caller if named is None else named)
        _agree("X-Tenant-ID", context.tenant_header, "tenant_id", tenant)
        return tenant
    if named is None:
        named = context.caller or context.tenant_header
        if named is None:
            raise BadRequestError("tenant_id is required (or an X-Tenant-ID header for all logs)")
        return check_tenant_id(named)
    tenant = check_tenant_id(named)
    if context.tenant_header is not None and context.tenant_header != tenant:
        raise BadRequestError(
            f"tenant_id ({tenant!r}) contradicts the X-Tenant-ID header ({context.tenant_header!r})"
        )
    return tenant


def _object_message(fields: Mapping[str, Any], position: int, context: LogContext) -> LogMessage:
    tenant_id = _tenant(fields, context)
    given = None if fields.get("log_id") is None else check_log_id(fields["log_id"])
    if context.single:
        _agree("X-Log-ID", context.log_header, "log_id", given)
    if "text" not in fields:
        raise BadRequestError("text is required")
    text = check_text(fields["text"])
    stamp = fields.get("timestamp")
    attributes = {name: value for name, value in fields.items() if name not in JSON_FIELDS}
    return LogMessage(
        tenant_id=tenant_id,
        log_id=_log_id(given, position, context),
        source=context.source,
        text=text,
        received_at=context.received_at,
        request_id=context.request_id,
        event_time=None if stamp is None else event_time(stamp),
        attributes=check_attributes(attributes) if attributes else {},
    )


def log_message(item: Item, position: int, context: LogContext) -> LogMessage:
    """Validate the log at `position` (from 0) of a request and return the message to enqueue.

    `item` is a log object (a dict, as JSON gives it), a text/plain body (a str), or the error
    that kept its line from parsing. Raises `BadRequestError` (400) or, for a log naming a
    tenant other than the key's, `ForbiddenError` (403), with a message naming the field or
    header at fault.
    """
    if isinstance(item, Exception):
        raise item
    try:
        if context.source == "text_upload" and isinstance(item, str):
            return _text_message(item, context)
        if not isinstance(item, dict):
            what = "the body" if context.single else "a log"
            raise BadRequestError(
                f"{what} must be a JSON object with tenant_id and text, got {describe_type(item)}"
            )
        return _object_message(item, position, context)
    except InvalidFieldError as error:
        raise BadRequestError(str(error)) from None


def normalize(
    headers: Mapping[str, str],
    body: str | bytes | None,
    request_id: str,
    received_at: datetime,
    caller: str | None = None,
) -> LogMessage:
    """Validate a one-log request (a JSON object or text/plain) and return its message.

    Raises as `read_request` and `log_message` do, and `BadRequestError` for a batch.
    """
    upload = read_request(headers, body, request_id, received_at, caller)
    if not upload.context.single:
        raise BadRequestError("the body is a batch of logs, where one log was expected")
    return log_message(upload.items[0], 0, upload.context)
