"""OTLP/HTTP logs: requests built with the OpenTelemetry proto classes, decoded into log objects.

The oracle for OTLP/JSON is protobuf's own JSON mapping (`json_format`) with OTLP's one change
(hex trace and span ids), so the two decoders are checked against independent encoders.
"""

from __future__ import annotations

import base64
import calendar
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from hypothesis import assume, given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from chalicelib import otlp
from chalicelib.errors import UnsupportedMediaTypeError

DERIVED_ID = re.compile(r"otlp:[0-9a-f]{32}")
NOON = 1_795_953_600_123_456_789  # 2026-11-29T12:00:00.123456789Z

# --- Building requests ---------------------------------------------------------------------------

# A value as the tests describe it: (kind, content), turned into an AnyValue and, independently
# of the module, into the plain JSON value the log object should hold.
Spec = tuple[str, Any]

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10)
int64s = st.integers(-(2**63), 2**63 - 1)
scalars: st.SearchStrategy[Spec] = st.one_of(
    st.tuples(st.just("string"), texts),
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("int"), int64s | st.integers(-1000, 1000)),
    st.tuples(st.just("double"), st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.just("bytes"), st.binary(max_size=12)),
    st.tuples(st.just("empty"), st.none()),
)


def _kvlists(children: st.SearchStrategy[Spec]) -> st.SearchStrategy[list[tuple[str, Spec]]]:
    return st.lists(st.tuples(keys, children), max_size=4, unique_by=lambda pair: pair[0])


values: st.SearchStrategy[Spec] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.tuples(st.just("array"), st.lists(children, max_size=4)),
        st.tuples(st.just("kvlist"), _kvlists(children)),
    ),
    max_leaves=12,
)
attribute_lists = _kvlists(values)


def any_value(spec: Spec) -> AnyValue:
    kind, content = spec
    if kind == "empty":
        return AnyValue()
    if kind == "array":
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in content]))
    if kind == "kvlist":
        return AnyValue(kvlist_value=KeyValueList(values=key_values(content)))
    return AnyValue(**{f"{kind}_value": content})


def key_values(pairs: list[tuple[str, Spec]]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(spec)) for key, spec in pairs]


def plain(spec: Spec) -> Any:
    """What the module docstring promises for each kind of value."""
    kind, content = spec
    if kind == "int":
        return content if abs(content) < 2**53 else str(content)
    if kind == "double" and not math.isfinite(content):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(content, "NaN")
    if kind == "bytes":
        return base64.b64encode(content).decode()
    if kind == "array":
        return [plain(item) for item in content]
    if kind == "kvlist":
        return plain_pairs(content)
    return content


def plain_pairs(pairs: list[tuple[str, Spec]]) -> dict[str, Any]:
    return {key: plain(spec) for key, spec in pairs}


def kv(key: str, value: Any) -> KeyValue:
    kinds = {str: "string", bool: "bool", int: "int", float: "double", bytes: "bytes"}
    return KeyValue(key=key, value=any_value((kinds[type(value)], value)))


def request(
    *records: LogRecord,
    resource: list[KeyValue] | None = None,
    scope: InstrumentationScope | None = None,
) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=resource or []),
                scope_logs=[ScopeLogs(scope=scope, log_records=list(records))],
            )
        ]
    )


def as_json(message: ExportLogsServiceRequest) -> bytes:
    """OTLP/JSON: protobuf's JSON mapping, enums as numbers, trace and span ids in hex."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for record in scope_logs.get("logRecords", []):
                for name in ("traceId", "spanId"):
                    if name in record:
                        record[name] = base64.b64decode(record[name]).hex().upper()
    return json.dumps(document).encode()


def decode_both(message: ExportLogsServiceRequest) -> list[otlp.Outcome]:
    """Decode `message` in both encodings, which must agree; return the outcomes."""
    from_protobuf = otlp.decode_request(message.SerializeToString(), "protobuf")
    from_json = otlp.decode_request(as_json(message), "json")
    assert from_json == from_protobuf
    return from_protobuf


def only_log(message: ExportLogsServiceRequest) -> dict[str, Any]:
    [outcome] = decode_both(message)
    assert isinstance(outcome, dict), outcome
    return outcome


# --- Properties ----------------------------------------------------------------------------------

records: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    time_unix_nano=st.integers(0, 2**64 - 1),
    observed_time_unix_nano=st.integers(0, 2**64 - 1),
    severity_number=st.integers(0, 24),
    severity_text=texts,
    body=values,
    attributes=attribute_lists,
    flags=st.integers(0, 2**32 - 1),
    trace_id=st.sampled_from([b""]) | st.binary(min_size=16, max_size=16),
    span_id=st.sampled_from([b""]) | st.binary(min_size=8, max_size=8),
    event_name=texts,
)


def log_record(fields: dict[str, Any]) -> LogRecord:
    proto = {key: value for key, value in fields.items() if key not in ("body", "attributes")}
    return LogRecord(
        **proto, body=any_value(fields["body"]), attributes=key_values(fields["attributes"])
    )


def epoch(unix_nano: int) -> str:
    seconds, nanos = divmod(unix_nano, 10**9)
    return f"{seconds}.{nanos:09d}"


def epoch_of(timestamp: str) -> str:
    """An RFC 3339 UTC timestamp ('Z') back to what `epoch` writes."""
    whole, fraction = timestamp.removesuffix("Z").split(".")
    return f"{calendar.timegm(time.strptime(whole, '%Y-%m-%dT%H:%M:%S'))}.{fraction}"


def expected_log(fields: dict[str, Any], resource: list[tuple[str, Spec]]) -> dict[str, Any]:
    """The log object the module docstring describes, built without the module."""
    kind = fields["body"][0]
    rendered = plain(fields["body"])
    if kind == "empty":
        text = None
    elif isinstance(rendered, str):
        text = rendered
    else:
        text = json.dumps(rendered, ensure_ascii=False, separators=(",", ":"))
    event = fields["time_unix_nano"] or fields["observed_time_unix_nano"]
    observed = fields["observed_time_unix_nano"]
    optional = {
        "text": text,
        "timestamp": epoch(event) if event else None,
        "observed_timestamp": epoch(observed) if observed else None,
        "severity": fields["severity_text"],
        "severity_number": fields["severity_number"],
        "event_name": fields["event_name"],
        "trace_id": fields["trace_id"].hex() if any(fields["trace_id"]) else None,
        "span_id": fields["span_id"].hex() if any(fields["span_id"]) else None,
        "flags": fields["flags"],
        "attributes": plain_pairs(fields["attributes"]),
        "resource": plain_pairs(resource),
    }
    return {key: value for key, value in optional.items() if value}


def comparable(log: dict[str, Any]) -> dict[str, Any]:
    """A log object without its id, its timestamps as `epoch` writes them."""
    shown = {key: value for key, value in log.items() if key != "log_id"}
    for name in ("timestamp", "observed_timestamp"):
        if name in shown:
            shown[name] = epoch_of(shown[name])
    return shown


@given(fields=records, resource=attribute_lists)
def test_records_become_the_documented_log_objects(
    fields: dict[str, Any], resource: list[tuple[str, Spec]]
) -> None:
    assume(all(key != "tenant.id" for key, _ in resource))
    assume(all(key != "log.record.uid" for key, _ in fields["attributes"]))
    [outcome] = decode_both(request(log_record(fields), resource=key_values(resource)))
    expected = expected_log(fields, resource)
    if "text" not in expected:
        assert isinstance(outcome, otlp.RejectedRecord)
        assert outcome.field == "resourceLogs[0].scopeLogs[0].logRecords[0].body"
        return
    assert isinstance(outcome, dict)
    assert DERIVED_ID.fullmatch(outcome["log_id"])
    assert comparable(outcome) == expected
    json.dumps(outcome, allow_nan=False)  # plain JSON, storable as it is


@given(fields=records, resource=attribute_lists)
def test_an_exporter_retry_gets_the_same_ids(
    fields: dict[str, Any], resource: list[tuple[str, Spec]]
) -> None:
    fields["body"] = ("string", "a log")
    first = request(log_record(fields), resource=key_values(resource))
    again = ExportLogsServiceRequest.FromString(first.SerializeToString())
    # The same record later in another batch, after another record of the same scope.
    batch = request(
        LogRecord(body=AnyValue(string_value="other")),
        log_record(fields),
        resource=key_values(resource),
    )
    ids = [outcome["log_id"] for outcome in decode_both(batch) if isinstance(outcome, dict)]
    assert only_log(first)["log_id"] == only_log(again)["log_id"] == ids[1] != ids[0]


CHANGES: dict[str, Callable[[Any], Any]] = {
    "time_unix_nano": lambda n: (n + 1) % 2**64,
    "observed_time_unix_nano": lambda n: (n + 1) % 2**64,
    "severity_number": lambda n: (n + 1) % 25,
    "severity_text": lambda text: text + "!",
    "body": lambda _: ("string", "another log"),
    "attributes": lambda pairs: [*pairs, ("added", ("string", "v"))],
    "flags": lambda n: (n + 1) % 2**32,
    "trace_id": lambda id_: bytes(16) if any(id_) else b"\x01" * 16,
    "span_id": lambda id_: bytes(8) if any(id_) else b"\x01" * 8,
    "event_name": lambda text: text + "!",
}


@given(fields=records, change=st.sampled_from(sorted(CHANGES)))
def test_records_that_differ_get_different_ids(fields: dict[str, Any], change: str) -> None:
    fields["body"] = ("string", "a log")
    assume(all(key not in ("added", "log.record.uid") for key, _ in fields["attributes"]))
    changed = {**fields, change: CHANGES[change](fields[change])}
    ids = [only_log(request(log_record(each)))["log_id"] for each in (fields, changed)]
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (b"hi", base64.b64encode(b"hi").decode()),  # bytes, and their base64 text
        (2**60, str(2**60)),  # a big integer, and its decimal text
        (1, 1.0),
        (True, 1),
        (float("nan"), "NaN"),
    ],
)
def test_values_that_look_alike_as_json_get_different_ids(one: Any, other: Any) -> None:
    logs = [
        only_log(request(LogRecord(body=AnyValue(string_value="x"), attributes=[kv("v", value)])))
        for value in (one, other)
    ]
    assert logs[0]["attributes"] == logs[1]["attributes"]  # equal as Python values
    assert logs[0]["log_id"] != logs[1]["log_id"]


def test_resource_and_scope_are_part_of_the_id() -> None:
    record = LogRecord(time_unix_nano=NOON, body=AnyValue(string_value="same"))
    ids = {
        only_log(request(record))["log_id"],
        only_log(request(record, resource=[kv("service.name", "api")]))["log_id"],
        only_log(request(record, scope=InstrumentationScope(name="db")))["log_id"],
        only_log(request(record, scope=InstrumentationScope(name="db", version="2")))["log_id"],
    }
    assert len(ids) == 4


def decoded_or_refused(
    body: bytes, encoding: otlp.Encoding
) -> list[otlp.Outcome] | otlp.OtlpDecodeError:
    try:
        return otlp.decode_request(body, encoding)
    except otlp.OtlpDecodeError as error:
        return error


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_the_decode_error(body: bytes) -> None:
    encodings: tuple[otlp.Encoding, ...] = ("protobuf", "json")
    for encoding in encodings:
        result = decoded_or_refused(body, encoding)
        if isinstance(result, otlp.OtlpDecodeError):
            assert str(result)
        else:
            assert all(isinstance(each, dict | otlp.RejectedRecord) for each in result)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceLogs",
                    "scopeLogs",
                    "logRecords",
                    "resource",
                    "scope",
                    "attributes",
                    "body",
                    "key",
                    "value",
                    "values",
                    "stringValue",
                    "intValue",
                    "doubleValue",
                    "bytesValue",
                    "arrayValue",
                    "kvlistValue",
                    "boolValue",
                    "timeUnixNano",
                    "traceId",
                    "severityNumber",
                    "flags",
                    "name",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@given(json_values)
def test_any_json_shaped_like_otlp_decodes_or_raises_the_decode_error(document: Any) -> None:
    result = decoded_or_refused(json.dumps(document).encode(), "json")
    if isinstance(result, otlp.OtlpDecodeError):
        assert str(result)
        return
    for outcome in result:
        if isinstance(outcome, dict):
            json.dumps(outcome, allow_nan=False)
            assert outcome["text"]


# --- Examples --------------------------------------------------------------------------------


def test_a_full_record() -> None:
    record = LogRecord(
        time_unix_nano=NOON,
        observed_time_unix_nano=NOON + 5,
        severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
        severity_text="INFO",
        body=AnyValue(string_value="user signed in"),
        attributes=[kv("http.status", 200), kv("user", "ada")],
        flags=1,
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
        span_id=bytes.fromhex("eee19b7ec3c1b174"),
        event_name="login",
    )
    log = only_log(
        request(
            record,
            resource=[kv("tenant.id", "acme"), kv("service.name", "auth")],
            scope=InstrumentationScope(name="auth.views", version="1.2"),
        )
    )
    assert log == {
        "tenant_id": "acme",
        "log_id": log["log_id"],
        "text": "user signed in",
        "timestamp": "2026-11-29T12:00:00.123456789Z",
        "observed_timestamp": "2026-11-29T12:00:00.123456794Z",
        "severity": "INFO",
        "severity_number": 9,
        "event_name": "login",
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "flags": 1,
        "attributes": {"http.status": 200, "user": "ada"},
        "resource": {"tenant.id": "acme", "service.name": "auth"},
        "scope": {"name": "auth.views", "version": "1.2"},
    }
    assert DERIVED_ID.fullmatch(log["log_id"])


def test_log_record_uid_is_the_log_id_when_valid() -> None:
    uid = "01JD7Z8Q3M4K5N6P7R8S9T0V1W"
    log = only_log(
        request(LogRecord(body=AnyValue(string_value="x"), attributes=[kv("log.record.uid", uid)]))
    )
    assert log["log_id"] == uid
    for unusable in ("has space", "", "x" * 129):
        log = only_log(
            request(
                LogRecord(
                    body=AnyValue(string_value="x"), attributes=[kv("log.record.uid", unusable)]
                )
            )
        )
        assert DERIVED_ID.fullmatch(log["log_id"])
    log = only_log(
        request(LogRecord(body=AnyValue(string_value="x"), attributes=[kv("log.record.uid", 7)]))
    )
    assert DERIVED_ID.fullmatch(log["log_id"])


def test_observed_time_stands_in_for_a_missing_event_time() -> None:
    log = only_log(
        request(LogRecord(observed_time_unix_nano=NOON, body=AnyValue(string_value="x")))
    )
    assert log["timestamp"] == log["observed_timestamp"] == "2026-11-29T12:00:00.123456789Z"
    log = only_log(request(LogRecord(body=AnyValue(string_value="x"))))
    assert "timestamp" not in log


def test_non_string_bodies_are_compact_json() -> None:
    bodies = {
        "42": AnyValue(int_value=42),
        "true": AnyValue(bool_value=True),
        "2.5": AnyValue(double_value=2.5),
        "aGk=": AnyValue(bytes_value=b"hi"),
        '{"user":"ada","ids":[1,"x"]}': AnyValue(
            kvlist_value=KeyValueList(
                values=[
                    kv("user", "ada"),
                    KeyValue(
                        key="ids",
                        value=AnyValue(
                            array_value=ArrayValue(
                                values=[AnyValue(int_value=1), AnyValue(string_value="x")]
                            )
                        ),
                    ),
                ]
            )
        ),
        "[]": AnyValue(array_value=ArrayValue()),
        "ünïcode": AnyValue(string_value="ünïcode"),
    }
    for text, body in bodies.items():
        assert only_log(request(LogRecord(body=body)))["text"] == text


def test_records_without_text_are_rejected_alone() -> None:
    outcomes = decode_both(
        request(
            LogRecord(body=AnyValue(string_value="kept")),
            LogRecord(),
            LogRecord(body=AnyValue(string_value="")),
            LogRecord(body=AnyValue()),
            LogRecord(body=AnyValue(bytes_value=b"")),
        )
    )
    assert isinstance(outcomes[0], dict)
    assert outcomes[1:] == [
        otlp.RejectedRecord(
            f"resourceLogs[0].scopeLogs[0].logRecords[{n}].body",
            reason,
        )
        for n, reason in [
            (1, "is missing: a log record without a body has no text to store"),
            (2, "is empty: a log needs text"),
            (3, "is missing: a log record without a body has no text to store"),
            (4, "is empty: a log needs text"),
        ]
    ]


def test_an_empty_request_has_no_outcomes() -> None:
    assert decode_both(ExportLogsServiceRequest()) == []
    assert otlp.decode_json(b"{}") == []
    assert otlp.decode_protobuf(b"") == []


def test_json_reads_what_protobufs_json_mapping_allows() -> None:
    document = {
        "resource_logs": [
            {
                "scope_logs": [
                    {
                        "log_records": [
                            {
                                "time_unix_nano": NOON,
                                "severity_number": "SEVERITY_NUMBER_WARN",
                                "trace_id": "5B8EFFF798038103D269B633813FC60C",
                                "body": {"string_value": "x"},
                                "attributes": [
                                    {"key": "b", "value": {"bytesValue": "-_8"}},
                                    {"key": "d", "value": {"doubleValue": "1e3"}},
                                    {"key": "n", "value": {"intValue": 7.0}},
                                    {"key": "u", "value": {"unknownKind": 1}},
                                ],
                                "unknownField": {"ignored": True},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    [log] = otlp.decode_json(json.dumps(document).encode())
    assert isinstance(log, dict)
    assert log["severity_number"] == 13
    assert log["timestamp"] == "2026-11-29T12:00:00.123456789Z"
    assert log["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert log["attributes"] == {"b": "+/8=", "d": 1000.0, "n": 7, "u": None}


def records_json(*records: Any) -> bytes:
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": list(records)}]}]}).encode()


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({"body": {"intValue": "x"}}, "body.intValue", "must be an integer"),
        ({"body": {"boolValue": "yes"}}, "body.boolValue", "must be true or false"),
        ({"body": {"bytesValue": "not base64!"}}, "body.bytesValue", "must be base64"),
        ({"body": {"doubleValue": "many"}}, "body.doubleValue", "must be a number"),
        ({"body": {"stringValue": "x", "intValue": 1}}, "body", "must hold one value"),
        ({"body": {"stringValueStrindex": 3}}, "body", "stringValueStrindex"),
        ({"body": {"stringValue": "x"}, "traceId": "xyz"}, "traceId", "must be hex"),
        ({"body": {"stringValue": "x"}, "timeUnixNano": -1}, "timeUnixNano", "must be from 0"),
        ({"body": {"stringValue": "x"}, "flags": 2**32}, "flags", "must be from 0"),
        ({"body": {"stringValue": "x"}, "severityNumber": "LOUD"}, "severityNumber", "integer"),
        ({"body": {"stringValue": "x"}, "severityText": 3}, "severityText", "must be a string"),
        (
            {
                "body": {"stringValue": "x"},
                "attributes": [
                    {"key": "k", "value": {"arrayValue": {"values": [{"intValue": True}]}}}
                ],
            },
            "attributes.k[0].intValue",
            "must be an integer",
        ),
        ({"body": {"stringValue": "x"}, "attributes": [3]}, "attributes[0]", "must be an object"),
        ({"body": {"stringValue": "x"}, "attributes": {}}, "attributes", "must be an array"),
        ("a string", "", "must be an object"),
    ],
)
def test_a_malformed_json_record_is_rejected_alone(record: Any, field: str, reason: str) -> None:
    outcomes = otlp.decode_json(records_json({"body": {"stringValue": "kept"}}, record))
    assert isinstance(outcomes[0], dict)
    rejected = outcomes[1]
    assert isinstance(rejected, otlp.RejectedRecord)
    assert rejected.field == f"resourceLogs[0].scopeLogs[0].logRecords[1].{field}".rstrip(".")
    assert reason in rejected.reason


def nested_request(depth: int) -> ExportLogsServiceRequest:
    """A request whose one body nests `depth` arrays, built in place: upb's constructors copy
    through its parser, which refuses what decoding would."""
    message = request(LogRecord())
    value = message.resource_logs[0].scope_logs[0].log_records[0].body
    for _ in range(depth):
        value = value.array_value.values.add()
    value.string_value = "deep"
    return message


def test_json_nests_as_deep_as_protobuf_and_no_deeper() -> None:
    assert isinstance(only_log(nested_request(otlp.MAX_NESTING)), dict)
    too_deep = nested_request(otlp.MAX_NESTING + 1)
    with pytest.raises(otlp.OtlpDecodeError, match="MaxDepth"):
        otlp.decode_protobuf(too_deep.SerializeToString())
    [rejected] = otlp.decode_json(as_json(too_deep))
    assert isinstance(rejected, otlp.RejectedRecord)
    assert "deeper than 48" in rejected.reason


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"\xff", "", "not UTF-8"),
        (b"{", "", "not JSON"),
        (b"[]", "", "must be a JSON object"),
        (b'{"resourceLogs": NaN}', "", "NaN is not JSON"),
        (b'{"resourceLogs": {}}', "resourceLogs", "must be an array"),
        (b'{"resourceLogs": [1]}', "resourceLogs[0]", "must be an object"),
        (b'{"resourceLogs": [{"scopeLogs": 1}]}', "resourceLogs[0].scopeLogs", "must be an array"),
        (
            b'{"resourceLogs": [{"resource": {"attributes": [{"key": 1}]}}]}',
            "resourceLogs[0].resource.attributes[0].key",
            "must be a string",
        ),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"scope": {"name": 1}}]}]}',
            "resourceLogs[0].scopeLogs[0].scope.name",
            "must be a string",
        ),
        (b"[" * 100_000, "", "nests too deeply"),
    ],
)
def test_a_malformed_json_envelope_is_a_decode_error(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(otlp.OtlpDecodeError) as raised:
        otlp.decode_json(body)
    assert raised.value.field == field
    assert reason in raised.value.reason


def test_bad_protobuf_is_a_decode_error() -> None:
    with pytest.raises(otlp.OtlpDecodeError, match="not a protobuf ExportLogsServiceRequest"):
        otlp.decode_protobuf(b"\x0a\x05garbage")


def test_protobuf_string_index_values_reject_their_record() -> None:
    [outcome] = decode_both(request(LogRecord(body=AnyValue(string_value_strindex=1))))
    assert outcome == otlp.RejectedRecord(
        "resourceLogs[0].scopeLogs[0].logRecords[0].body",
        "uses stringValueStrindex, which OTLP logs do not define",
    )


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/x-protobuf", "protobuf"),
        ("application/json", "json"),
        ("Application/JSON; charset=utf-8", "json"),
    ],
)
def test_request_encoding_follows_content_type(content_type: str, encoding: str) -> None:
    assert otlp.request_encoding(content_type) == encoding


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc"])
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(
        UnsupportedMediaTypeError, match="application/x-protobuf or application/json"
    ):
        otlp.request_encoding(content_type)


# --- Answers -----------------------------------------------------------------------------------


def test_full_success_leaves_partial_success_unset() -> None:
    body, content_type = otlp.encode_response("protobuf")
    assert content_type == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(body).HasField("partial_success")
    assert otlp.encode_response("json") == (b"{}", "application/json")


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_partial_success_counts_rejected_records(encoding: otlp.Encoding) -> None:
    body, content_type = otlp.encode_response(encoding, 2, "2 log records rejected: \ud800")
    response = ExportLogsServiceResponse()
    if encoding == "protobuf":
        response.ParseFromString(body)
    else:
        assert content_type == "application/json"
        json_format.Parse(body, response)
    assert response.partial_success.rejected_log_records == 2
    assert response.partial_success.error_message == "2 log records rejected: \\ud800"


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize("bad_field", [None, "resourceLogs[0].scopeLogs", "ünï"])
def test_status_bodies_read_back_as_google_rpc_status(
    encoding: otlp.Encoding, bad_field: str | None
) -> None:
    body, content_type = otlp.encode_status(encoding, "the body is not JSON: ü", bad_field)
    status = status_pb2.Status()
    if encoding == "protobuf":
        assert content_type == "application/x-protobuf"
        status.ParseFromString(body)
    else:
        json_format.Parse(body, status)
    assert status.message == "the body is not JSON: ü"
    assert status.code == 0
    if bad_field is None:
        assert not status.details
        return
    [detail] = status.details
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    [violation] = bad_request.field_violations
    assert (violation.field, violation.description) == (bad_field, status.message)


def test_status_encodes_long_messages() -> None:
    message = "x" * 70_000  # lengths past one varint byte, and past two
    body, _ = otlp.encode_status("protobuf", message, "f")
    assert status_pb2.Status.FromString(body).message == message


def test_rejection_message_counts_and_shows_the_first_reasons() -> None:
    assert otlp.rejection_message(["a: is empty"]) == "1 log record rejected: a: is empty"
    message = otlp.rejection_message([f"r{n}" for n in range(8)] + ["y" * 1000])
    assert message.startswith("9 log records rejected: r0; r1; r2; r3; r4; and 4 more")


# --- Import cost ---------------------------------------------------------------------------------


def test_importing_the_module_imports_no_protobuf() -> None:
    check = (
        "import sys, chalicelib.otlp\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('google', 'opentelemetry')))\n"
        "print(heavy)\n"
        "chalicelib.otlp.decode_json(b'{}')\n"
        "chalicelib.otlp.encode_status('protobuf', 'x', 'f')\n"
        "assert not [m for m in sys.modules if m.startswith(('google', 'opentelemetry'))]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
