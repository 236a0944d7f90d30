"""OTLP/HTTP logs (OTLP 1.x): an `ExportLogsServiceRequest` in, log objects out, OTLP's answers.

`decode_request` turns a request body into one outcome per LogRecord, in request order: a log
object (the JSON form of a log that batch ingest takes) or a `RejectedRecord` saying why the
record cannot be a log. A body that is not a request at all raises `OtlpDecodeError`.

A log object has `log_id` and `text` always, and each other key only when the record has it:

    tenant_id           the resource attribute `tenant.id`, as sent (ingest validates it)
    log_id              the record's `log.record.uid` attribute when it is a valid log id, else
                        "otlp:" and 32 hex digits of a SHA-256 over everything below (resource
                        and scope included): the same record sent again gets the same id
    text                the body: a string as is, bytes as base64, anything else as compact JSON
    timestamp           time_unix_nano, else observed_time_unix_nano, as RFC 3339 UTC with all
                        nine digits of nanoseconds ("2026-11-29T20:00:00.123456789Z"): exact,
                        fixed width so it sorts as text, and read by `datetime.fromisoformat`
    observed_timestamp  observed_time_unix_nano, in the same form
    severity            severity_text ("INFO", "WARN", ... as the sender names it)
    severity_number     severity_number, 1 to 24 in OTLP
    event_name          event_name
    trace_id, span_id   lowercase hex (an all-zero id is no id)
    flags               the record's flags (W3C trace flags in the low 8 bits)
    attributes          the record's attributes, as a JSON object
    resource            the resource's attributes, as a JSON object
    scope               {"name", "version", "attributes"}, each when set

The `resource` and `scope` objects of one scope's records are one object, made once: treat log
objects as read-only. Values become plain JSON: bytes as base64 text, doubles as numbers (NaN and
the infinities as the strings "NaN", "Infinity", "-Infinity", as protobuf's JSON mapping writes
them), integers as numbers while a JavaScript reader keeps them exact (|n| < 2**53), as decimal
strings beyond; a key given twice in a key-value list keeps its last value.

Answers, from the OTLP specification ("OTLP/HTTP Response"), for the route:

- Every answer has the request's Content-Type (`application/x-protobuf` or `application/json`);
  a Content-Type that is neither is a 415 (`request_encoding`), answered in our JSON form.
- 200 with `encode_response`: `partial_success` set only when records were rejected, with their
  count (ours and those ingest refused) and `rejection_message`; clients never retry it. An empty
  request is a success, and so is one whose every record was rejected: the records were read,
  and each was refused on its own account.
- 400 for a body that cannot be decoded (`OtlpDecodeError`), with `encode_status(encoding,
  message, error.field)`: a `google.rpc.Status` whose details hold a `BadRequest`. Clients drop
  the data and never retry.
- 413 when the body, decompressed, exceeds the limit (the spec recommends 64 MiB; ours is
  Lambda's). Not retried: of all 4xx and 5xx (401 and 403 included), clients retry only these:
- 429 (throttled) and 503 (overloaded, or the queue did not take every log) with `Retry-After`,
  in seconds or as an HTTP-date; 502 and 504 come from gateways. Clients resend the same body
  after Retry-After if given, else with exponential backoff; derived log ids make that resend
  store each log once. The Python exporter gives up when Retry-After outlasts what remains of its
  export timeout (10 s by default): keep Retry-After to a few seconds.
- Every 4xx and 5xx body is a `google.rpc.Status` in the request's encoding; `Status.code` is
  unused by the spec and left out.

Protobuf is imported inside the functions that need it (about 90 ms, once per process, on the
first protobuf request): importing this module loads none of it and takes about 1 ms, which the
route spares `/ingest` by importing it inside its view. JSON requests, and every answer but a
protobuf 200, never load protobuf.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.message import InvalidFieldError, check_log_id, describe_type
from chalicelib.process_state import on_forget

if TYPE_CHECKING:
    from _hashlib import HASH

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

Encoding = Literal["protobuf", "json"]
MEDIA_TYPES: Final[Mapping[str, Encoding]] = {
    "application/x-protobuf": "protobuf",
    "application/json": "json",
}
UID_ATTRIBUTE: Final = "log.record.uid"
TENANT_ATTRIBUTE: Final = "tenant.id"
DERIVED_ID_PREFIX: Final = "otlp:"
# As deep as protobuf's parser lets a record's body nest arrays (it stops at 100 messages, two a
# level): deeper JSON is refused too, so neither encoding recurses without end.
MAX_NESTING: Final = 48

_JSON_SAFE = 2**53
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
_UINT32 = (0, 2**32 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_DOUBLE_NAMES: Final[Mapping[str, float]] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}
_ID_VERSION = "otlp-log-id/1"  # how ids are derived: change it with `_Record`'s fields
_SHOWN_REASONS = 5
_REASON_CHARS = 300
_BAD_REQUEST_TYPE: Final = "type.googleapis.com/google.rpc.BadRequest"


class OtlpDecodeError(ValueError):
    """The body is not an `ExportLogsServiceRequest` in the encoding it claims: a 400.

    `field` names where decoding failed ("" for the body as a whole), for the BadRequest detail.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class RejectedRecord(NamedTuple):
    """A LogRecord that cannot become a log; the route counts it in `partial_success`.

    `field` is where the record sits in the request, down to the field at fault.
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


Outcome = dict[str, Any] | RejectedRecord


class _FieldError(ValueError):
    """A malformed value; `field` is its path below whatever catches it ("" for itself)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason

    def within(self, segment: str) -> _FieldError:
        """The same error, its path prefixed by the container it was found in."""
        if not self.field:
            return _FieldError(segment, self.reason)
        joiner = "" if self.field.startswith("[") else "."
        return _FieldError(f"{segment}{joiner}{self.field}", self.reason)


class _Scope(NamedTuple):
    """What the records of one scope share: their resource and instrumentation scope.

    `resource` is typed (see `_Record`), for `tenant.id`; `plain_resource` and `plain_scope` are
    the log objects' `resource` and `scope`, made once and shared by the scope's records;
    `digest` is a SHA-256 already fed with the typed resource and scope, copied for each id.
    """

    resource: dict[str, Any]
    plain_resource: dict[str, Any]
    plain_scope: dict[str, Any]
    digest: HASH


def _scope(resource: dict[str, Any], name: str, version: str, attributes: dict[str, Any]) -> _Scope:
    identity = ascii((_ID_VERSION, resource, name, version, attributes)).encode("ascii")
    named = {"name": name, "version": version, "attributes": _plain(attributes)}
    plain_scope = {key: value for key, value in named.items() if value}
    return _Scope(resource, _plain(resource), plain_scope, hashlib.sha256(identity))


class _Record(NamedTuple):
    """One LogRecord, the same whichever encoding it came in.

    Values are typed: None (an empty AnyValue), str, bool, int, float, bytes, lists and dicts of
    them; plain JSON would merge some (bytes and the base64 text of them, a big integer and its
    decimal string), which must still get different ids. `ascii()` of typed values is the form
    ids are hashed from: stable across Python versions, as it escapes all non-ASCII alike.
    """

    time_unix_nano: int
    observed_time_unix_nano: int
    severity_number: int
    severity_text: str
    body: Any
    attributes: dict[str, Any]
    flags: int
    trace_id: bytes
    span_id: bytes
    event_name: str


# Each decoder yields every record with its scope and its place in the request; reading the
# record is left to `_outcomes`, so that a record's own fault rejects it alone.
_Located = tuple[_Scope, str, Any]


def request_encoding(content_type: str | None) -> Encoding:
    """Map the request's Content-Type to its OTLP encoding; 415 for anything else."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    encoding = MEDIA_TYPES.get(media_type)
    if encoding is None:
        shown = repr(media_type) if media_type else "missing"
        raise UnsupportedMediaTypeError(
            f"Content-Type is {shown}: OTLP/HTTP sends {' or '.join(MEDIA_TYPES)}"
        )
    return encoding


def decode_request(body: bytes, encoding: Encoding) -> list[Outcome]:
    """One outcome per LogRecord, in request order; raise `OtlpDecodeError` if undecodable."""
    if encoding == "protobuf":
        return decode_protobuf(body)
    return decode_json(body)


# --- Records -> log objects, for both encodings ------------------------------------------------


def _outcomes(located: Iterable[_Located], read: Callable[[Any], _Record]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for scope, where, item in located:
        try:
            outcomes.append(_log_object(read(item), scope))
        except _FieldError as error:
            fault = error.within(where)
            outcomes.append(RejectedRecord(fault.field, fault.reason))
    return outcomes


def _log_object(record: _Record, scope: _Scope) -> dict[str, Any]:
    """The log object for `record` (module docstring); raise `_FieldError` if it has no text."""
    if record.body is None:
        raise _FieldError("body", "is missing: a log record without a body has no text to store")
    text = _text(record.body)
    if not text:
        raise _FieldError("body", "is empty: a log needs text")
    log: dict[str, Any] = {}
    if TENANT_ATTRIBUTE in scope.resource:
        log["tenant_id"] = _plain(scope.resource[TENANT_ATTRIBUTE])
    log["log_id"] = _log_id(record, scope)
    log["text"] = text
    event_time = record.time_unix_nano or record.observed_time_unix_nano
    optional: dict[str, Any] = {
        "timestamp": _timestamp(event_time),
        "observed_timestamp": _timestamp(record.observed_time_unix_nano),
        "severity": record.severity_text,
        "severity_number": record.severity_number,
        "event_name": record.event_name,
        "trace_id": _hex_id(record.trace_id),
        "span_id": _hex_id(record.span_id),
        "flags": record.flags,
        "attributes": _plain(record.attributes),
        "resource": scope.plain_resource,
        "scope": scope.plain_scope,
    }
    log.update((key, value) for key, value in optional.items() if value)
    return log


def _plain(value: Any) -> Any:
    """A typed value as plain JSON (module docstring: bytes, big integers, NaN)."""
    if isinstance(value, str | bool | None):
        return value
    if isinstance(value, int):
        return value if -_JSON_SAFE < value < _JSON_SAFE else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return {key: _plain(item) for key, item in value.items()}


def _text(body: Any) -> str:
    """The log's text: a string body as is, bytes as base64, any other value as compact JSON."""
    if isinstance(body, str):
        return body
    plain = _plain(body)
    if isinstance(plain, str):  # bytes, or a number JSON cannot hold: shown without quotes
        return plain
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))


def _timestamp(unix_nano: int) -> str | None:
    if not unix_nano:
        return None
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return f"{_utc_second(seconds)}.{nanos:09d}Z"


@functools.lru_cache(maxsize=256)  # a batch's records mostly share their seconds
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


on_forget(_utc_second.cache_clear)


def _hex_id(value: bytes) -> str | None:
    return value.hex() if value.strip(b"\0") else None


def _log_id(record: _Record, scope: _Scope) -> str:
    uid = record.attributes.get(UID_ATTRIBUTE)
    if isinstance(uid, str):
        try:
            return check_log_id(uid)
        except InvalidFieldError:
            pass
    digest = scope.digest.copy()
    digest.update(ascii(tuple(record)).encode("ascii"))
    return DERIVED_ID_PREFIX + digest.hexdigest()[:32]


# --- Binary protobuf ---------------------------------------------------------------------------


def decode_protobuf(body: bytes) -> list[Outcome]:
    """Decode an `application/x-protobuf` request body; see `decode_request`."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    try:
        request = ExportLogsServiceRequest.FromString(body)
    except DecodeError as error:
        raise OtlpDecodeError(
            "", f"the body is not a protobuf ExportLogsServiceRequest ({error})"
        ) from None
    return _outcomes(_protobuf_located(request), _protobuf_record)


def _protobuf_located(request: ExportLogsServiceRequest) -> Iterator[_Located]:
    for r, resource_logs in enumerate(request.resource_logs):
        try:
            resource = _protobuf_pairs(resource_logs.resource.attributes)
        except _FieldError as error:
            raise _decode_error(error.within(f"resourceLogs[{r}].resource.attributes")) from None
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            try:
                attributes = _protobuf_pairs(scope_logs.scope.attributes)
            except _FieldError as error:
                where = f"resourceLogs[{r}].scopeLogs[{s}].scope.attributes"
                raise _decode_error(error.within(where)) from None
            scope = _scope(resource, scope_logs.scope.name, scope_logs.scope.version, attributes)
            for i, record in enumerate(scope_logs.log_records):
                yield scope, f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]", record


def _protobuf_record(record: LogRecord) -> _Record:
    try:
        body = _protobuf_value(record.body) if record.HasField("body") else None
    except _FieldError as error:
        raise error.within("body") from None
    try:
        attributes = _protobuf_pairs(record.attributes)
    except _FieldError as error:
        raise error.within("attributes") from None
    return _Record(
        time_unix_nano=record.time_unix_nano,
        observed_time_unix_nano=record.observed_time_unix_nano,
        severity_number=record.severity_number,
        severity_text=record.severity_text,
        body=body,
        attributes=attributes,
        flags=record.flags,
        trace_id=record.trace_id,
        span_id=record.span_id,
        event_name=record.event_name,
    )


def _protobuf_pairs(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        try:
            values[pair.key] = _protobuf_value(pair.value)
        except _FieldError as error:
            raise error.within(pair.key) from None
    return values


def _protobuf_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        items = value.array_value.values
        values = []
        for n, item in enumerate(items):
            try:
                values.append(_protobuf_value(item))
            except _FieldError as error:
                raise error.within(f"[{n}]") from None
        return values
    if kind == "kvlist_value":
        return _protobuf_pairs(value.kvlist_value.values)
    if kind == "string_value_strindex":
        raise _FieldError("", _STRINDEX)
    return getattr(value, kind)


_STRINDEX = "uses stringValueStrindex, which OTLP logs do not define"


def _decode_error(error: _FieldError) -> OtlpDecodeError:
    return OtlpDecodeError(error.field, error.reason)


# --- JSON ----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise _FieldError("", f"{name} is not JSON (OTLP/JSON writes it as the string {name!r})")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json(body: bytes | str) -> list[Outcome]:
    """Decode an `application/json` (OTLP/JSON) request body; see `decode_request`.

    Our own walk over `json.loads`, not protobuf's `json_format`: OTLP/JSON departs from
    protobuf's JSON mapping (hex trace and span ids, where `json_format` reads base64), so
    `json_format` alone would misread every id; and walking the parsed JSON straight into
    records builds no protobuf messages, so JSON requests never import protobuf at all.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        request = _DECODER.decode(text.removeprefix("\ufeff"))
    except UnicodeDecodeError as error:
        raise OtlpDecodeError(
            "", f"the body is not UTF-8 (bad byte at offset {error.start})"
        ) from None
    except json.JSONDecodeError as error:
        raise OtlpDecodeError(
            "", f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except _FieldError as error:
        raise OtlpDecodeError("", f"the body is not JSON: {error.reason}") from None
    except RecursionError:
        raise OtlpDecodeError("", "the body is not JSON we can read: it nests too deeply") from None
    except ValueError as error:  # int()'s limit on digits
        raise OtlpDecodeError("", f"the body is not JSON we can read: {error}") from None
    if not isinstance(request, dict):
        raise OtlpDecodeError(
            "",
            "the body must be a JSON object (an ExportLogsServiceRequest), "
            f"got {describe_type(request)}",
        )
    return _outcomes(_json_located(request), _json_record)


def _field(message: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its OTLP/JSON (lowerCamelCase) name, else by the name in the .proto file.

    OTLP/JSON senders use lowerCamelCase; a receiver that took proto names for unknown fields
    would answer success and store nothing, so they are read as protobuf's JSON parsers do.
    """
    value = message.get(camel)
    return message.get(snake) if value is None else value


def _object(value: Any) -> dict[str, Any]:
    """A JSON object where a message is expected; null is the empty message."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _FieldError("", f"must be an object, got {describe_type(value)}")
    return value


def _array(message: dict[str, Any], camel: str, snake: str) -> list[Any]:
    value = _field(message, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _FieldError(camel, f"must be an array, got {describe_type(value)}")
    return value


def _json_located(request: dict[str, Any]) -> Iterator[_Located]:
    """Walk resources and scopes: a malformed one is the whole request's fault, a 400."""
    try:
        resources = _array(request, "resourceLogs", "resource_logs")
    except _FieldError as error:
        raise _decode_error(error) from None
    for r, item in enumerate(resources):
        try:
            resource_logs = _object(item)
            try:
                resource = _json_attributes(_object(resource_logs.get("resource")))
            except _FieldError as error:
                raise error.within("resource") from None
            scopes = _array(resource_logs, "scopeLogs", "scope_logs")
        except _FieldError as error:
            raise _decode_error(error.within(f"resourceLogs[{r}]")) from None
        for s, scope_item in enumerate(scopes):
            where = f"resourceLogs[{r}].scopeLogs[{s}]"
            try:
                scope_logs = _object(scope_item)
                scope = _json_scope(_object(scope_logs.get("scope")), resource)
                records = _array(scope_logs, "logRecords", "log_records")
            except _FieldError as error:
                raise _decode_error(error.within(where)) from None
            for i, record in enumerate(records):
                yield scope, f"{where}.logRecords[{i}]", record


def _json_scope(message: dict[str, Any], resource: dict[str, Any]) -> _Scope:
    try:
        name = _string(message, "name", "name")
        version = _string(message, "version", "version")
        attributes = _json_attributes(message)
    except _FieldError as error:
        raise error.within("scope") from None
    return _scope(resource, name, version, attributes)


def _json_record(item: Any) -> _Record:
    record = _object(item)
    body = _field(record, "body", "body")
    try:
        typed_body = _json_value(body, 0)
    except _FieldError as error:
        raise error.within("body") from None
    return _Record(
        time_unix_nano=_integer_field(record, "timeUnixNano", "time_unix_nano", _UINT64),
        observed_time_unix_nano=_integer_field(
            record, "observedTimeUnixNano", "observed_time_unix_nano", _UINT64
        ),
        severity_number=_severity_number(record),
        severity_text=_string(record, "severityText", "severity_text"),
        body=typed_body,
        attributes=_json_attributes(record),
        flags=_integer_field(record, "flags", "flags", _UINT32),
        trace_id=_hex_field(record, "traceId", "trace_id"),
        span_id=_hex_field(record, "spanId", "span_id"),
        event_name=_string(record, "eventName", "event_name"),
    )


def _string(message: dict[str, Any], camel: str, snake: str) -> str:
    value = _field(message, camel, snake)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _FieldError(camel, f"must be a string, got {describe_type(value)}")
    return value


def _integer_field(message: dict[str, Any], camel: str, snake: str, bounds: tuple[int, int]) -> int:
    value = _field(message, camel, snake)
    if value is None:
        return 0
    try:
        return _integer(value, bounds)
    except _FieldError as error:
        raise error.within(camel) from None


def _integer(value: Any, bounds: tuple[int, int]) -> int:
    """A JSON number or a decimal string, as protobuf's JSON mapping writes 64-bit integers."""
    integral = (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and _DECIMAL.fullmatch(value) is not None)
    )
    if not integral:
        raise _FieldError(
            "", f"must be an integer (a number or a decimal string), got {_shown(value)}"
        )
    number = int(value)
    low, high = bounds
    if not low <= number <= high:
        raise _FieldError("", f"must be from {low} to {high}, got {number}")
    return number


def _severity_number(message: dict[str, Any]) -> int:
    """A number, as OTLP/JSON writes enums; or a name, which protobuf's JSON mapping allows."""
    value = _field(message, "severityNumber", "severity_number")
    if isinstance(value, str) and value in _SEVERITY_NUMBERS:
        return _SEVERITY_NUMBERS[value]
    return _integer_field(message, "severityNumber", "severity_number", _INT32)


_SEVERITY_NUMBERS: Final[Mapping[str, int]] = {
    "SEVERITY_NUMBER_UNSPECIFIED": 0,
    **{
        f"SEVERITY_NUMBER_{level}{'' if step == 1 else step}": 4 * rank + step
        for rank, level in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
        for step in range(1, 5)
    },
}


def _hex_field(message: dict[str, Any], camel: str, snake: str) -> bytes:
    value = _string(message, camel, snake)
    if not _HEX.fullmatch(value):
        raise _FieldError(
            camel, f"must be hex digits (OTLP/JSON writes ids in hex), got {_shown(value)}"
        )
    return bytes.fromhex(value)


def _json_attributes(message: dict[str, Any]) -> dict[str, Any]:
    pairs = _array(message, "attributes", "attributes")
    try:
        return _json_pairs(pairs, 0)
    except _FieldError as error:
        raise error.within("attributes") from None


def _json_pairs(pairs: list[Any], depth: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for n, item in enumerate(pairs):
        try:
            pair = _object(item)
            key = _string(pair, "key", "key")
        except _FieldError as error:
            raise error.within(f"[{n}]") from None
        try:
            values[key] = _json_value(pair.get("value"), depth)
        except _FieldError as error:
            raise error.within(key) from None
    return values


def _json_value(value: Any, depth: int) -> Any:
    """An AnyValue as a typed value; `depth` counts the arrays and key-value lists around it."""
    message = _object(value)
    kinds = [name for name in message if name in _VALUE_KINDS]  # others are ignored, as unknown
    if len(kinds) > 1:
        raise _FieldError("", f"must hold one value, got {' and '.join(kinds)}")
    content = message[kinds[0]] if kinds else None
    if content is None:
        return None
    kind = _VALUE_KINDS[kinds[0]]
    if kind not in ("arrayValue", "kvlistValue"):
        return _SCALAR_READERS[kind](content)
    if depth >= MAX_NESTING:
        raise _FieldError("", f"nests arrays and key-value lists deeper than {MAX_NESTING}")
    values = _array(_object(content), "values", "values")
    if kind == "kvlistValue":
        return _json_pairs(values, depth + 1)
    typed = []
    for n, item in enumerate(values):
        try:
            typed.append(_json_value(item, depth + 1))
        except _FieldError as error:
            raise error.within(f"[{n}]") from None
    return typed


def _string_value(content: Any) -> str:
    if not isinstance(content, str):
        raise _FieldError("stringValue", f"must be a string, got {describe_type(content)}")
    return content


def _bool_value(content: Any) -> bool:
    if not isinstance(content, bool):
        raise _FieldError("boolValue", f"must be true or false, got {describe_type(content)}")
    return content


def _int_value(content: Any) -> int:
    try:
        return _integer(content, _INT64)
    except _FieldError as error:
        raise error.within("intValue") from None


def _double_value(content: Any) -> float:
    """A JSON number, a numeric string, or "NaN", "Infinity", "-Infinity"."""
    if isinstance(content, int | float) and not isinstance(content, bool):
        return float(content)
    if isinstance(content, str):
        if content in _DOUBLE_NAMES:
            return _DOUBLE_NAMES[content]
        if _JSON_NUMBER.fullmatch(content):
            return float(content)
    raise _FieldError("doubleValue", f"must be a number, got {_shown(content)}")


def _bytes_value(content: Any) -> bytes:
    """Base64, standard or URL-safe, padded or not, as protobuf's JSON mapping accepts."""
    if isinstance(content, str):
        standard = content.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except binascii.Error:
            pass
    raise _FieldError("bytesValue", f"must be base64 text, got {_shown(content)}")


def _strindex_value(content: Any) -> Any:
    raise _FieldError("", _STRINDEX)


_SCALAR_READERS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "stringValue": _string_value,
    "boolValue": _bool_value,
    "intValue": _int_value,
    "doubleValue": _double_value,
    "bytesValue": _bytes_value,
    "stringValueStrindex": _strindex_value,
}
# Each AnyValue field, by its JSON name and by its proto name, to its JSON name.
_VALUE_KINDS: Final[Mapping[str, str]] = {
    **{name: name for name in (*_SCALAR_READERS, "arrayValue", "kvlistValue")},
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
    "bytes_value": "bytesValue",
    "string_value_strindex": "stringValueStrindex",
    "array_value": "arrayValue",
    "kvlist_value": "kvlistValue",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- Answers -------------------------------------------------------------------------------------


def rejection_message(reasons: Sequence[str]) -> str:
    """A partial success's `error_message`: how many records were rejected, the first reasons."""
    shown = "; ".join(reason[:_REASON_CHARS] for reason in reasons[:_SHOWN_REASONS])
    more = len(reasons) - _SHOWN_REASONS
    noun = "log record" if len(reasons) == 1 else "log records"
    return f"{len(reasons)} {noun} rejected: {shown}" + (f"; and {more} more" if more > 0 else "")


def encode_response(
    encoding: Encoding, rejected: int = 0, error_message: str = ""
) -> tuple[bytes, str]:
    """An `ExportLogsServiceResponse` body and its Content-Type, for a 200.

    `partial_success` is set only when records were rejected or there is a message, as the
    specification requires: a full success is the empty message.
    """
    content_type = _content_type(encoding)
    error_message = _valid_unicode(error_message)
    partial = rejected > 0 or bool(error_message)
    if encoding == "json":
        answer: dict[str, Any] = {}
        if partial:  # int64 as a decimal string, as protobuf's JSON mapping writes it
            answer["partialSuccess"] = {
                "rejectedLogRecords": str(rejected),
                "errorMessage": error_message,
            }
        return json.dumps(answer, ensure_ascii=False).encode("utf-8"), content_type
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    response = ExportLogsServiceResponse()
    if partial:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = error_message
    return response.SerializeToString(), content_type


def encode_status(
    encoding: Encoding, message: str, bad_field: str | None = None
) -> tuple[bytes, str]:
    """A `google.rpc.Status` body and its Content-Type, for any 4xx or 5xx answer.

    With `bad_field` (a 400), its details hold a `google.rpc.BadRequest` naming the field, as
    the specification asks. Written by hand: two small messages do not justify shipping
    googleapis-common-protos in the deployment package; the tests read it back with it.
    """
    content_type = _content_type(encoding)
    message = _valid_unicode(message)
    if encoding == "json":
        status: dict[str, Any] = {"message": message}
        if bad_field is not None:
            violation = {"field": _valid_unicode(bad_field), "description": message}
            status["details"] = [{"@type": _BAD_REQUEST_TYPE, "fieldViolations": [violation]}]
        return json.dumps(status, ensure_ascii=False).encode("utf-8"), content_type
    body = _length_delimited(2, message.encode("utf-8"))  # Status.message
    if bad_field is not None:
        violation_bytes = _length_delimited(1, _valid_unicode(bad_field).encode("utf-8"))
        violation_bytes += _length_delimited(2, message.encode("utf-8"))
        bad_request = _length_delimited(1, violation_bytes)  # BadRequest.field_violations
        detail = _length_delimited(1, _BAD_REQUEST_TYPE.encode("ascii"))  # Any.type_url
        detail += _length_delimited(2, bad_request)  # Any.value
        body += _length_delimited(3, detail)  # Status.details
    return body, content_type


def _content_type(encoding: Encoding) -> str:
    return "application/x-protobuf" if encoding == "protobuf" else "application/json"


def _valid_unicode(text: str) -> str:
    """`text` with any unpaired surrogate (from JSON escapes) spelled out, so it encodes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    """One protobuf field of wire type 2: a string, bytes or a message."""
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload
