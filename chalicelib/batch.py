"""Splitting a request body into log objects: one JSON object, a JSON array, or NDJSON lines.

Pure functions over decoded text. An envelope that cannot be read at all (JSON that does not
parse, a top level that is neither an object nor an array) is one `BadRequestError` for the
whole request; in NDJSON each line stands alone, so a line that does not parse is that item's
error and the other lines go on. What each log object must hold is `normalize`'s business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from chalice.app import BadRequestError

from chalicelib.errors import PayloadTooLargeError
from chalicelib.message import describe_type

#: Logs one request may carry, in any form: each becomes one queue message and one line of the
#: answer, and 1,000 is what Datadog's and similar logs APIs take.
MAX_LOGS_PER_REQUEST: Final = 1000

_INT_MAX_DIGITS: Final = 4300

#: One entry of a batch: a parsed JSON value meant to be a log object, or why it is not one.
Item = Any


@dataclass(frozen=True)
class Envelope:
    """What a body holds: its items, in order, and whether it is the one-log form of old."""

    items: list[Item]
    single: bool


def check_count(count: int) -> None:
    """Refuse, with a 413 naming the limit, a request of more than `MAX_LOGS_PER_REQUEST` logs."""
    if count > MAX_LOGS_PER_REQUEST:
        raise PayloadTooLargeError(
            f"the request holds {count} logs, more than {MAX_LOGS_PER_REQUEST}, the limit on "
            "logs a request: split the batch"
        )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise BadRequestError(f"the JSON object has the key {key!r} more than once")
        fields[key] = value
    return fields


def _reject_constant(name: str) -> NoReturn:
    raise BadRequestError(f"the body is not valid JSON: {name} is not a JSON number")


def _integer(digits: str) -> int | float:
    # int() refuses more than 4,300 digits (a ValueError, not a JSONDecodeError), the bound
    # Python sets on its quadratic conversion: a longer number is read as a float, which is
    # infinite, and refused by name where a field holds it (`message.check_attributes`).
    return int(digits) if len(digits) <= _INT_MAX_DIGITS else float(digits)


# Made once: `json.loads` with options builds a decoder every call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_int=_integer
)


def _parse(text: str, where: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise BadRequestError(
            f"{where} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BadRequestError(f"{where} is not valid JSON: it is nested too deeply") from None


def parse_json(text: str) -> Envelope:
    """An `application/json` body: one log object (`single`) or an array of them."""
    value = _parse(text, "the body")
    if isinstance(value, dict):
        return Envelope([value], single=True)
    if isinstance(value, list):
        if not value:
            raise BadRequestError("the body holds no log: the array is empty")
        check_count(len(value))
        return Envelope(value, single=False)
    raise BadRequestError(
        "the body must be a JSON object (one log) or an array of log objects, got "
        f"{describe_type(value)}"
    )


def parse_ndjson(text: str) -> Envelope:
    r"""An `application/x-ndjson` body: one JSON value a line; blank lines are skipped.

    The last line may end in a newline or not; `\r\n` line ends are read as `\n`. A line
    that is not JSON becomes its item's `BadRequestError`, naming the line.
    """
    lines = [
        (number, line)
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip(" \t\r")
    ]
    check_count(len(lines))
    items: list[Item] = []
    for number, line in lines:
        try:
            items.append(_parse(line, f"line {number}"))
        except BadRequestError as error:
            items.append(error)
    if not items:
        raise BadRequestError("the body holds no log: every line is blank")
    return Envelope(items, single=False)
