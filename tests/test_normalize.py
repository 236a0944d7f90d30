"""Normalization of both upload forms: examples for each rule, properties for the whole space."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from chalice.app import BadRequestError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.message import LogMessage
from chalicelib.normalize import normalize

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
