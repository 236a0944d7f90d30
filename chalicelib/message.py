"""The internal log message: what ingest puts on the queue and what the worker takes off it.

Both sides validate with the same rules, so a message the worker cannot trust (hand-crafted,
truncated, from an older version) fails alone as a poison record instead of being stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

Source = Literal["json_upload", "text_upload"]
SOURCES: Final[frozenset[str]] = frozenset({"json_upload", "text_upload"})

_TENANT_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_LOG_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
TENANT_ID_RULE: Final = "1 to 64 characters of letters, digits, '_', '-', '.'"
LOG_ID_RULE: Final = "1 to 128 characters of letters, digits, '_', '-', '.', ':'"

# SQS accepts only XML characters in a body; json.dumps already escapes control characters and
# the validators reject unpaired surrogates, which leaves these two non-characters to escape.
_SQS_FORBIDDEN = str.maketrans({"\ufffe": "\\ufffe", "\uffff": "\\uffff"})


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


def utc_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, the form every stored timestamp takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class LogMessage:
    """One accepted log, normalized from either upload form."""

    tenant_id: str
    log_id: str
    source: Source
    text: str
    received_at: str
    request_id: str

    def to_json(self) -> str:
        """Serialize for an SQS message body."""
        # vars() keeps the fields' order, as asdict() would, without copying every string; and
        # the translation runs only for the rare body that needs it (`in` is a memory scan).
        body = json.dumps(vars(self), ensure_ascii=False, separators=(",", ":"))
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
        return cls(
            tenant_id=check_tenant_id(fields.get("tenant_id")),
            log_id=check_log_id(fields.get("log_id")),
            source=source,
            text=check_text(fields.get("text")),
            received_at=fields["received_at"],
            request_id=fields["request_id"],
        )
