"""Batch parsing: NDJSON and JSON arrays give back exactly the log objects sent, in order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.app import BadRequestError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.batch import MAX_LOGS_PER_REQUEST, check_count, parse_json, parse_ndjson
from chalicelib.errors import PayloadTooLargeError

# JSON values as a shipper sends them; integers and finite floats read back equal.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"])),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
log_objects = st.dictionaries(st.text(max_size=10), values, max_size=5)
blank_lines = st.sampled_from(["", " ", "\t", "\r", "  \r"])


@given(logs=st.lists(log_objects, min_size=1, max_size=20), newline=st.booleans())
def test_ndjson_gives_back_every_object_in_order(logs: list[dict[str, Any]], newline: bool) -> None:
    text = "\n".join(json.dumps(log) for log in logs) + ("\n" if newline else "")
    envelope = parse_ndjson(text)
    assert envelope.items == logs
    assert not envelope.single


@given(
    logs=st.lists(log_objects, min_size=1, max_size=10),
    blanks=st.lists(st.lists(blank_lines, max_size=2), min_size=11, max_size=11),
    crlf=st.booleans(),
)
def test_blank_lines_and_crlf_line_ends_are_skipped(
    logs: list[dict[str, Any]], blanks: list[list[str]], crlf: bool
) -> None:
    lines: list[str] = []
    for log, before in zip(logs, blanks, strict=False):
        lines += before
        lines.append(json.dumps(log))
    lines += blanks[-1]
    end = "\r\n" if crlf else "\n"
    assert parse_ndjson(end.join(lines)).items == logs


@given(logs=st.lists(log_objects, min_size=1, max_size=20))
def test_a_json_array_is_a_batch_and_an_object_is_one_log(logs: list[dict[str, Any]]) -> None:
    envelope = parse_json(json.dumps(logs))
    assert (envelope.items, envelope.single) == (logs, False)
    one = parse_json(json.dumps(logs[0]))
    assert (one.items, one.single) == ([logs[0]], True)


@given(
    lines=st.lists(
        st.one_of(log_objects.map(json.dumps), st.sampled_from(["{", "nope", '{"a": 1,}', "[1"])),
        min_size=1,
        max_size=15,
    )
)
def test_a_line_that_is_not_json_is_its_own_error_and_the_others_go_on(lines: list[str]) -> None:
    items = parse_ndjson("\n".join(lines)).items
    assert len(items) == len(lines)
    for number, (line, item) in enumerate(zip(lines, items, strict=True), start=1):
        try:
            expected = json.loads(line)
        except ValueError:
            assert isinstance(item, BadRequestError)
            assert f"line {number} is not valid JSON" in str(item)
        else:
            assert item == expected


def test_large_integers_stay_integers_and_huge_ones_are_infinite() -> None:
    [item] = parse_ndjson('{"pid": 12345678901234567890, "big": ' + "9" * 4301 + "}").items
    assert item["pid"] == 12345678901234567890
    assert isinstance(item["pid"], int)
    assert item["big"] == float("inf")


@pytest.mark.parametrize(
    ("parse", "body", "says"),
    [
        (parse_json, "[]", "the array is empty"),
        (parse_json, '"text"', "or an array of log objects"),
        (parse_json, "[{}, ", "the body is not valid JSON"),
        (parse_json, '[{"a": 1, "a": 2}]', "the key 'a' more than once"),
        (parse_ndjson, "\n \n\r\n", "every line is blank"),
        (parse_ndjson, "", "every line is blank"),
    ],
)
def test_an_envelope_that_cannot_be_read_is_one_400(parse: Any, body: str, says: str) -> None:
    with pytest.raises(BadRequestError, match=says):
        parse(body)


def test_the_logs_a_request_limit_is_a_413_naming_it() -> None:
    check_count(MAX_LOGS_PER_REQUEST)
    too_many = "\n".join(["{}"] * (MAX_LOGS_PER_REQUEST + 1))
    for body, parse in (
        (too_many, parse_ndjson),
        (f"[{too_many.replace(chr(10), ',')}]", parse_json),
    ):
        with pytest.raises(PayloadTooLargeError, match="the limit on logs a request"):
            parse(body)
