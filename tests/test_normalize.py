"""Normalization of both upload forms: examples for each rule, properties for the whole space."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.app import BadRequestError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.message import (
    MAX_ATTRIBUTE_DEPTH,
    MAX_ATTRIBUTE_NAME_LENGTH,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    InvalidFieldError,
    LogMessage,
    check_log_id,
)
from chalicelib.normalize import derived_log_id, log_message, normalize, read_request

NOW = datetime(2026, 11, 21, 10, 30, 0, 123456, tzinfo=UTC)
JSON = {"content-type": "application/json"}
tenant_ids = st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True)
log_ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,128}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1)


def from_json(fields: object, headers: dict[str, str] | None = None) -> LogMessage:
    return normalize(headers or JSON, json.dumps(fields), "req-1", NOW)


@given(tenant=tenant_ids, log_id=log_ids, text=texts)
def test_both_forms_normalize_to_the_same_message(tenant: str, log_id: str, text: str) -> None:
    as_json = from_json({"tenant_id": tenant, "log_id": log_id, "text": text})
    as_text = normalize(
        {"Content-Type": "text/plain", "X-Tenant-ID": tenant, "X-Log-ID": log_id},
        text.encode("utf-8"),
        "req-1",
        NOW,
    )
    assert as_json.source == "json_upload"
    assert as_text.source == "text_upload"
    for message in (as_json, as_text):
        assert (message.tenant_id, message.log_id, message.text) == (tenant, log_id, text)
        assert message.received_at == "2026-11-21T10:30:00.123Z"
        assert LogMessage.from_json(message.to_json()) == message


@given(text=texts)
def test_queue_body_is_valid_for_sqs(text: str) -> None:
    body = from_json({"tenant_id": "acme", "text": text}).to_json()
    allowed = {0x9, 0xA, 0xD}
    assert all(
        ord(c) in allowed
        or 0x20 <= ord(c) <= 0xD7FF
        or 0xE000 <= ord(c) <= 0xFFFD
        or ord(c) >= 0x10000
        for c in body
    )


def test_missing_log_id_gets_a_uuid() -> None:
    message = from_json({"tenant_id": "acme", "text": "hello"})
    assert len(message.log_id) == 36
    assert from_json({"tenant_id": "acme", "log_id": None, "text": "x"}).log_id != message.log_id


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ('"text"', "must be a JSON object"),
        ("null", "got null"),
        ('{"tenant_id": "a", "txt": "x"}', "text is required"),
        ('{"tenant_id": "a", "text": "x", "timestamp": "yesterday"}', "timestamp must be"),
        ('{"tenant_id": "a", "text": "x", "n": 1e999}', "attribute 'n' is a number too large"),
        ('{"tenant_id": "a", "text": "x", "n": [' + "9" * 5000 + "]}", "'n' holds a number too"),
        ('{"tenant_id": "a", "tenant_id": "b", "text": "x"}', "more than once"),
        ('{"tenant_id": "a", "text": NaN}', "NaN is not a JSON number"),
        ('{"tenant_id": "a", "text": ' + "9" * 5000 + "}", "text must be a string, got a number"),
        ('{"tenant_id": "a"}', "text is required"),
        ('{"tenant_id": "a", "text": ""}', "text must not be empty"),
        ('{"tenant_id": "a", "text": ["x"]}', "text must be a string, got an array"),
        ('{"tenant_id": 7, "text": "x"}', "tenant_id must be a string, got a number"),
        ('{"tenant_id": "", "text": "x"}', "tenant_id must be 1 to 64"),
        ('{"tenant_id": "' + "a" * 65 + '", "text": "x"}', "tenant_id must be 1 to 64"),
        ('{"tenant_id": "acme#1", "text": "x"}', "tenant_id must be"),
        ('{"tenant_id": "acme", "log_id": "a b", "text": "x"}', "log_id must be 1 to 128"),
        ('{"tenant_id": "acme", "log_id": 5, "text": "x"}', "log_id must be a string"),
        ('{"tenant_id": "a", "text": "\\ud800"}', "unpaired surrogate"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_json_bodies_are_400_naming_the_problem(body: str, says: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        normalize(JSON, body, "req-1", NOW)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("headers", "body", "says"),
    [
        ({"content-type": "text/plain"}, b"x", "X-Tenant-ID header is required"),
        ({"content-type": "text/plain", "x-tenant-id": "a/b"}, b"x", "X-Tenant-ID must be"),
        ({"content-type": "text/plain", "x-tenant-id": "a", "x-log-id": "?"}, b"x", "X-Log-ID"),
        ({"content-type": "text/plain", "x-tenant-id": "a"}, b"", "must not be empty"),
        ({"content-type": "text/plain", "x-tenant-id": "a"}, b"\xff", "not valid UTF-8"),
        ({**JSON, "x-tenant-id": "other"}, b'{"tenant_id": "a", "text": "x"}', "contradicts"),
        ({**JSON, "x-log-id": "9"}, b'{"tenant_id": "a", "text": "x"}', "has no log_id"),
    ],
)
def test_bad_header_combinations_are_400(headers: dict[str, str], body: bytes, says: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        normalize(headers, body, "req-1", NOW)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/html", "application/xml", "*/*", "text/plain; charset=iso-8859-1"],
)
def test_other_media_types_and_charsets_are_415(content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    with pytest.raises(UnsupportedMediaTypeError):
        normalize(headers, b"x", "req-1", NOW)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=UTF-8",
        'application/json;charset="utf-8"',
    ],
)
def test_json_content_type_variants_are_accepted(content_type: str) -> None:
    body = b'\xef\xbb\xbf{"tenant_id": "acme", "text": "x"}'
    assert normalize({"content-type": content_type}, body, "r", NOW).tenant_id == "acme"


@given(
    body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain"])
)
def test_any_body_is_a_message_or_a_clear_400(body: bytes, content_type: str) -> None:
    headers = {"content-type": content_type, "x-tenant-id": "acme"}
    try:
        message = normalize(headers, body, "req-1", NOW)
    except BadRequestError as error:
        message, problem = None, str(error)
    if message is None:
        assert problem
    else:
        assert message.tenant_id == "acme"
        assert message.text


# --- batches, attributes, event times, idempotency keys ---------------------------------------

keys = st.from_regex(r"[\x21\x23-\x7e]{1,255}", fullmatch=True)


@given(key=keys, position=st.integers(0, 999), other=keys)
def test_an_idempotency_key_gives_each_position_one_stable_valid_log_id(
    key: str, position: int, other: str
) -> None:
    log_id = derived_log_id(key, position)
    assert log_id == derived_log_id(key, position)
    assert check_log_id(log_id) == log_id
    assert log_id != derived_log_id(key, position + 1)
    if other != key:
        assert log_id != derived_log_id(other, position)


def batch_ids(headers: dict[str, str], logs: list[dict[str, str]]) -> list[str]:
    upload = read_request(
        {"content-type": "application/x-ndjson", **headers},
        "\n".join(json.dumps(log) for log in logs),
        "req-1",
        NOW,
    )
    return [log_message(item, n, upload.context).log_id for n, item in enumerate(upload.items)]


def test_a_batch_retried_with_its_idempotency_key_keeps_its_log_ids() -> None:
    logs = [{"tenant_id": "acme", "text": "a"}, {"tenant_id": "acme", "text": "b", "log_id": "own"}]
    key = {"idempotency-key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    first = batch_ids(key, logs)
    assert first == batch_ids(key, logs)
    assert first == [derived_log_id("8e03978e-40d5-43e8-bc93-6894a57f9324", 0), "own"]
    assert batch_ids({}, logs)[0] != batch_ids({}, logs)[0]  # without a key: a new UUID


@pytest.mark.parametrize("header", ["", "a b", '"', "é", "x" * 256, '"a"b"'])
def test_an_idempotency_key_outside_the_rule_is_a_400(header: str) -> None:
    with pytest.raises(BadRequestError, match="Idempotency-Key header must be"):
        normalize({**JSON, "idempotency-key": header}, b'{"tenant_id": "a", "text": "x"}', "r", NOW)


@pytest.mark.parametrize(
    ("timestamp", "event_time"),
    [
        ("2026-11-21T10:00:00Z", "2026-11-21T10:00:00.000Z"),
        ("2026-11-21t10:00:00.123456789z", "2026-11-21T10:00:00.123Z"),
        ("2026-11-21 12:00:00.5+02:00", "2026-11-21T10:00:00.500Z"),
        (1_763_719_200, "2025-11-21T10:00:00.000Z"),
        (1_763_719_200.25, "2025-11-21T10:00:00.250Z"),
        (1_763_719_200_250, "2025-11-21T10:00:00.250Z"),
        (99_999_999_999, "5138-11-16T09:46:39.000Z"),  # the largest number read as seconds
        (100_000_000_000, "1973-03-03T09:46:40.000Z"),  # the smallest read as milliseconds
        (0, "1970-01-01T00:00:00.000Z"),
        (253_402_300_799_998, "9999-12-31T23:59:59.998Z"),  # the last milliseconds there are
        ("0005-01-02T03:04:05.1Z", "0005-01-02T03:04:05.100Z"),  # four digits, as sent
    ],
)
def test_a_timestamp_becomes_the_event_time_in_utc(timestamp: object, event_time: str) -> None:
    message = from_json({"tenant_id": "acme", "text": "x", "timestamp": timestamp})
    assert message.event_time == event_time
    assert message.attributes == {}
    assert LogMessage.from_json(message.to_json()) == message  # the worker takes it as it is


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-21",
        "2026-11-21T10:00:00",
        "2026-13-01T00:00:00Z",
        "now",
        True,
        -1,
        1e20,
        253_402_300_800_000,
        [1],
    ],
)
def test_a_timestamp_that_is_not_one_is_a_400(timestamp: object) -> None:
    with pytest.raises(BadRequestError, match="timestamp"):
        from_json({"tenant_id": "acme", "text": "x", "timestamp": timestamp})


def test_other_fields_are_the_logs_attributes_as_sent() -> None:
    fields = {"host": "web-1", "pid": 4242, "ok": True, "tags": ["a", {"b": None}], "ratio": 1.5}
    message = from_json({"tenant_id": "acme", "text": "x", **fields})
    assert message.attributes == fields
    assert LogMessage.from_json(message.to_json()) == message


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past 64 bits: orjson refuses those
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@given(text=texts, attributes=st.dictionaries(st.text(min_size=1, max_size=8), _json_values))
def test_a_queue_body_holds_the_fields_as_the_json_module_would_write_them(
    text: str, attributes: dict[str, Any]
) -> None:
    message = LogMessage("acme", "log-1", "json_upload", text, "t", "req-1", None, attributes)
    body = message.to_json()
    fields: dict[str, Any] = {"tenant_id": "acme", "log_id": "log-1", "source": "json_upload"}
    fields |= {"text": text, "received_at": "t", "request_id": "req-1"}
    if attributes:
        fields["attributes"] = attributes
    assert json.loads(body) == json.loads(json.dumps(fields))
    assert list(json.loads(body)) == list(fields)


@pytest.mark.parametrize(
    ("attributes", "says"),
    [
        ({f"a{n}": n for n in range(MAX_ATTRIBUTES + 1)}, f"more than {MAX_ATTRIBUTES}"),
        ({"k" * (MAX_ATTRIBUTE_NAME_LENGTH + 1): 1}, "needs a name of 1 to"),
        ({"deep": [[[[[[[[[1]]]]]]]]]}, f"nests more than {MAX_ATTRIBUTE_DEPTH} levels"),
        ({"big": "x" * MAX_ATTRIBUTE_VALUE_BYTES}, f"more than {MAX_ATTRIBUTE_VALUE_BYTES}"),
        ({"wide": "é" * (MAX_ATTRIBUTE_VALUE_BYTES // 2)}, "bytes in JSON, more than"),
        ({"user": {"name": "\ud800"}}, "unpaired surrogate"),
    ],
)
def test_attributes_beyond_their_bounds_are_a_400(attributes: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequestError, match=says):
        from_json({"tenant_id": "acme", "text": "x", **attributes})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attributes", "host=web-1"),
        ("attributes", {"x": float("inf")}),
        ("attributes", {"k" * 200: 1}),
        ("event_time", "yesterday"),
        ("event_time", "2026-11-21T10:00:00+02:00"),
    ],
)
def test_a_queue_message_with_bad_attributes_or_event_time_is_poison(
    field: str, value: object
) -> None:
    body = from_json({"tenant_id": "acme", "text": "x"}).to_json()
    fields = json.loads(body) | {field: value}
    with pytest.raises(InvalidFieldError):
        LogMessage.from_json(json.dumps(fields))


def test_a_one_log_message_leaves_out_what_it_does_not_have() -> None:
    body = json.loads(from_json({"tenant_id": "acme", "text": "x"}).to_json())
    assert set(body) == {"tenant_id", "log_id", "source", "text", "received_at", "request_id"}
