"""The internal log message: what ingest puts on the queue and what the worker takes off it.

Both sides validate with the same rules, so a message the worker cannot trust (hand-crafted,
truncated, from an older version) fails alone as a poison record instead of being stored.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

Source = Literal["json_upload", "ndjson_upload", "otlp_upload", "text_upload"]
SOURCES: Final[frozenset[str]] = frozenset(
    {"json_upload", "ndjson_upload", "otlp_upload", "text_upload"}
)

#: Bounds on a log's attributes (the fields a shipper adds beside the text): how many, how long
#: a name, how large one value in JSON, how deeply a value nests objects and arrays. With them
#: an attribute can never crowd the text out of the table's 400 KB item.
MAX_ATTRIBUTES: Final = 64
MAX_ATTRIBUTE_NAME_LENGTH: Final = 128
MAX_ATTRIBUTE_VALUE_BYTES: Final = 16 * 1024
MAX_ATTRIBUTE_DEPTH: Final = 8

_TENANT_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_LOG_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
TENANT_ID_RULE: Final = "1 to 64 characters of letters, digits, '_', '-', '.'"
LOG_ID_RULE: Final = "1 to 128 characters of letters, digits, '_', '-', '.', ':'"

# SQS accepts only XML characters in a body; json.dumps already escapes control characters and
# the validators reject unpaired surrogates, which leaves these two non-characters to escape.
_SQS_FORBIDDEN = str.maketrans({"\ufffe": "\\ufffe", "\uffff": "\\uffff"})
# Made once: `json.dumps` with options builds an encoder every call, twice a log of a batch.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def compact_json(value: Any) -> str:
    """JSON as a queue message and a stored item hold it: no spaces, any character as itself.

    orjson writes it (a 190 KB text seven times as fast as the json module); the json module
    where orjson refuses: an integer beyond 64 bits. Both write the same JSON but for NaN and
    infinities, which orjson writes as null; none reaches here, since `check_attributes`
    refuses them.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _COMPACT.encode(value)


class InvalidFieldError(ValueError):
    """A field of a log is missing, of the wrong type or malformed; the text says which and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field


def describe_type(value: object) -> str:
    """Name a value's type the way a JSON user would."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _checked(value: object, field: str, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str):
        raise InvalidFieldError(field, f"must be a string, got {describe_type(value)}")
    if not pattern.fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidFieldError(field, f"must be {rule}; got {shown!r}")
    return value


def check_tenant_id(value: object, field: str = "tenant_id") -> str:
    """Return `value` if it is a valid tenant id, else raise naming `field`."""
    return _checked(value, field, _TENANT_ID, TENANT_ID_RULE)


def check_log_id(value: object, field: str = "log_id") -> str:
    """Return `value` if it is a valid log id, else raise naming `field`."""
    return _checked(value, field, _LOG_ID, LOG_ID_RULE)


def check_text(value: object, field: str = "text") -> str:
    """Return `value` if it is a non-empty string that can be stored as UTF-8."""
    if not isinstance(value, str):
        raise InvalidFieldError(field, f"must be a string, got {describe_type(value)}")
    if not value:
        raise InvalidFieldError(field, "must not be empty")
    if value.isascii():  # a flag Python keeps: no surrogate, nothing to encode
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidFieldError(
            field,
            f"holds an unpaired surrogate (U+{ord(value[error.start]):04X} at character "
            f"{error.start}), which is not valid Unicode",
        ) from None
    return value


def _nests_deeper(value: object, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` deep (0 for a string)."""
    pending: list[tuple[object, int]] = [(value, 0)]  # a loop: JSON may nest 1,000 deep
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list):
            continue
        if depth == limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
    return False


def _check_attribute(name: object, value: object) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_ATTRIBUTE_NAME_LENGTH:
        shown = repr(name[:40]) if isinstance(name, str) else describe_type(name)
        raise InvalidFieldError(
            f"attribute {shown}", f"needs a name of 1 to {MAX_ATTRIBUTE_NAME_LENGTH} characters"
        )
    where = f"attribute {name!r}"
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidFieldError(where, "is a number too large for JSON")
    if _nests_deeper(value, MAX_ATTRIBUTE_DEPTH):
        raise InvalidFieldError(where, f"nests more than {MAX_ATTRIBUTE_DEPTH} levels deep")
    try:
        size = len(_STRICT.encode(value).encode("utf-8"))
    except ValueError:  # a non-finite number nested inside, or an unpaired surrogate
        raise InvalidFieldError(
            where, "holds a number too large for JSON or an unpaired surrogate"
        ) from None
    if size > MAX_ATTRIBUTE_VALUE_BYTES:
        raise InvalidFieldError(
            where, f"is {size} bytes in JSON, more than {MAX_ATTRIBUTE_VALUE_BYTES}"
        )


def check_attributes(value: object, field: str = "attributes") -> dict[str, Any]:
    """Return `value` if it is an object of attributes within the bounds, else raise."""
    if not isinstance(value, dict):
        raise InvalidFieldError(field, f"must be an object, got {describe_type(value)}")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidFieldError(
            field, f"are {len(value)} fields besides the log's own, more than {MAX_ATTRIBUTES}"
        )
    if _fits_whole(value):
        return value
    for name, item in value.items():
        _check_attribute(name, item)
    return value


def _fits_whole(attributes: dict[str, Any]) -> bool:
    """Whether every attribute is within bounds, judged from one serialization of them all.

    If the whole object is valid JSON text within one value's byte bound, so is each value;
    names and depth are cheap to check. Only when this fails does each attribute get its own
    check, which names the one at fault.
    """
    for name, item in attributes.items():
        if not 1 <= len(name) <= MAX_ATTRIBUTE_NAME_LENGTH or _nests_deeper(
            item, MAX_ATTRIBUTE_DEPTH
        ):
            return False
    try:
        whole = _STRICT.encode(attributes)
        # Encoding also finds an unpaired surrogate (a UnicodeEncodeError is a ValueError).
        size = len(whole) if whole.isascii() else len(whole.encode("utf-8"))
    except ValueError:
        return False
    return size <= MAX_ATTRIBUTE_VALUE_BYTES


def check_timestamp(value: object, field: str) -> str:
    """Return `value` if it is a stored timestamp (ISO 8601 in UTC with a `Z`), else raise."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise InvalidFieldError(field, "must be an ISO 8601 timestamp in UTC ending in Z")


def utc_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, the form every stored timestamp takes.

    `isoformat` rather than `strftime`: it is faster, and always writes the year in four digits
    (glibc's `%Y` writes the year 5 as "5", which no reader takes for ISO 8601).
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


@dataclass(frozen=True)
class LogMessage:
    """One accepted log, normalized from either upload form."""

    tenant_id: str
    log_id: str
    source: Source
    text: str
    received_at: str
    request_id: str
    #: When the log's event happened, by its sender (`timestamp`), in the stored form.
    event_time: str | None = None
    #: The sender's other fields, kept as sent; the worker redacts their strings.
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialize for an SQS message body; absent event time and attributes are left out."""
        # vars() keeps the fields' order, as asdict() would, without copying every string; and
        # the translation runs only for the rare body that needs it (`in` is a memory scan).
        fields = vars(self)
        if self.event_time is None or not self.attributes:
            fields = dict(fields)
            if self.event_time is None:
                del fields["event_time"]
            if not self.attributes:
                del fields["attributes"]
        body = compact_json(fields)
        if "\ufffe" in body or "\uffff" in body:
            return body.translate(_SQS_FORBIDDEN)
        return body

    @classmethod
    def from_json(cls, body: str) -> LogMessage:
        """Parse and validate a queue message body; raise `InvalidFieldError` if it is unusable."""
        try:
            fields: Any = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise InvalidFieldError("message body", f"is not valid JSON ({error})") from None
        if not isinstance(fields, dict):
            raise InvalidFieldError(
                "message body", f"must be a JSON object, got {describe_type(fields)}"
            )
        source = fields.get("source")
        if source not in SOURCES:
            raise InvalidFieldError("source", f"must be one of {sorted(SOURCES)}; got {source!r}")
        for name in ("received_at", "request_id"):
            if not isinstance(fields.get(name), str) or not fields[name]:
                raise InvalidFieldError(name, "must be a non-empty string")
        event_time = fields.get("event_time")
        return cls(
            tenant_id=check_tenant_id(fields.get("tenant_id")),
            log_id=check_log_id(fields.get("log_id")),
            source=source,
            text=check_text(fields.get("text")),
            received_at=fields["received_at"],
            request_id=fields["request_id"],
            event_time=None if event_time is None else check_timestamp(event_time, "event_time"),
            attributes=check_attributes(fields.get("attributes", {})),
        )
