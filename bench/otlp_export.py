"""OTLP/HTTP logs exports as an OpenTelemetry SDK sends them, and how fast we decode them.

`exports(count)` builds one export of `count` records from the shared log lines, in both OTLP
encodings: binary protobuf (the SDKs' default) and OTLP/JSON (hex trace and span ids, 64-bit
integers as decimal strings, lowerCamelCase names), the same records in each. Records carry
what an SDK's logging handler puts there: times, severity, a string body, code and thread
attributes, trace context, and one resource (service, host, SDK, `tenant.id`) and scope.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Final

from bench.figures import Row, Section, throughput
from bench.workload import TENANT, log_lines

_SEVERITIES: Final = ((9, "INFO"), (13, "WARN"), (17, "ERROR"))
_START_NANOS: Final = 1_795_000_000_000_000_000
_RESOURCE: Final = {
    "service.name": "checkout",
    "service.version": "2.14.1",
    "service.instance.id": "6f1c2a9e-3b1d-4d0a-9c55-0a8e1f2b7c31",
    "host.name": "ip-10-0-3-17",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.45.2",
    "tenant.id": TENANT,
}
_SCOPE: Final = ("checkout.orders", "2.14.1")


@dataclass(frozen=True)
class Export:
    """One export in both encodings, and how many records it holds."""

    records: int
    protobuf: bytes
    json: bytes


def _records(count: int) -> list[dict[str, Any]]:
    """The records as plain values: what both encoders write."""
    rng = random.Random(11)
    records = []
    for number, line in enumerate(log_lines(count, pii=True)):
        severity_number, severity_text = _SEVERITIES[number % len(_SEVERITIES)]
        nanos = _START_NANOS + number * 1_234_567
        records.append(
            {
                "time": nanos,
                "observed": nanos + 150_000,
                "severity_number": severity_number,
                "severity_text": severity_text,
                "body": line,
                "attributes": {
                    "code.function": "create_order",
                    "code.lineno": 100 + number % 400,
                    "code.filepath": "/app/checkout/orders.py",
                    "thread.name": "MainThread",
                },
                "trace_id": rng.randbytes(16),
                "span_id": rng.randbytes(8),
            }
        )
    return records


def _protobuf(records: list[dict[str, Any]]) -> bytes:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    def pairs(attributes: dict[str, Any]) -> list[KeyValue]:
        return [
            KeyValue(
                key=key,
                value=AnyValue(int_value=value)
                if isinstance(value, int)
                else AnyValue(string_value=value),
            )
            for key, value in attributes.items()
        ]

    log_records = [
        LogRecord(
            time_unix_nano=record["time"],
            observed_time_unix_nano=record["observed"],
            severity_number=record["severity_number"],
            severity_text=record["severity_text"],
            body=AnyValue(string_value=record["body"]),
            attributes=pairs(record["attributes"]),
            flags=1,
            trace_id=record["trace_id"],
            span_id=record["span_id"],
        )
        for record in records
    ]
    name, version = _SCOPE
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=pairs(_RESOURCE)),
                scope_logs=[
                    ScopeLogs(
                        scope=InstrumentationScope(name=name, version=version),
                        log_records=log_records,
                    )
                ],
            )
        ]
    )
    return request.SerializeToString()


def _json_pairs(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "value": {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value},
        }
        for key, value in attributes.items()
    ]


def _json(records: list[dict[str, Any]]) -> bytes:
    log_records = [
        {
            "timeUnixNano": str(record["time"]),
            "observedTimeUnixNano": str(record["observed"]),
            "severityNumber": record["severity_number"],
            "severityText": record["severity_text"],
            "body": {"stringValue": record["body"]},
            "attributes": _json_pairs(record["attributes"]),
            "flags": 1,
            "traceId": record["trace_id"].hex(),
            "spanId": record["span_id"].hex(),
        }
        for record in records
    ]
    name, version = _SCOPE
    request = {
        "resourceLogs": [
            {
                "resource": {"attributes": _json_pairs(_RESOURCE)},
                "scopeLogs": [
                    {"scope": {"name": name, "version": version}, "logRecords": log_records}
                ],
            }
        ]
    }
    return json.dumps(request, separators=(",", ":")).encode("utf-8")


def exports(count: int) -> Export:
    """An export of `count` records, in protobuf and in OTLP/JSON."""
    records = _records(count)
    return Export(count, _protobuf(records), _json(records))


def measure(records: int, repeats: int) -> Section:
    """Decoding throughput of an export of `records` records, in each encoding, `repeats` times.

    Decoding is `chalicelib.otlp.decode_request`: the body to one log object per record, ids
    derived, everything but validation, the limits and queueing, which every form shares.
    """
    from chalicelib.otlp import Encoding, RejectedRecord, decode_request

    export = exports(records)
    rows = []
    for encoding, label in (("protobuf", "protobuf"), ("json", "OTLP/JSON")):
        body: bytes = getattr(export, encoding)
        chosen: Encoding = "protobuf" if encoding == "protobuf" else "json"
        decoded = decode_request(body, chosen)  # imports protobuf once, as the first call does
        rejected = [item for item in decoded if isinstance(item, RejectedRecord)]
        if len(decoded) != records or rejected:
            raise RuntimeError(f"{label}: {len(decoded)} records decoded, {rejected[:1]}")
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            decode_request(body, chosen)
            seconds.append(time.perf_counter() - started)
        rows.append(
            Row(
                f"{label}, {records:,} records ({len(body) / 1024:.0f} KB)",
                "MB/s",
                throughput(len(body), seconds),
            )
        )
    return Section(
        "OTLP decoding",
        rows,
        notes=[
            "An export as the OpenTelemetry Python SDK sends it: one resource (service, host, "
            "SDK, tenant.id) and scope, each record with its times, severity, a log line as "
            "its body, four code and thread attributes, and trace context. Decoding is the "
            "body to one log object per record with its id derived from its content "
            "(`chalicelib.otlp.decode_request`), after a first call that imports protobuf; "
            "MB/s of the encoded body. What a record then costs through `/v1/logs` (validation, "
            "limits, SendMessageBatch) is in the batches section.",
        ],
    )
