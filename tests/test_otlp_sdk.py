"""The real OpenTelemetry Python exporter's bytes, captured on 127.0.0.1, decode into our logs.

No route yet: these prove `chalicelib.otlp` against what the SDK actually sends (protobuf,
gzipped), and the status-code rules its docstring gives the route against what the exporter
actually does with each answer.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber

from chalicelib import otlp
from tests.otlp_sdk import Emitted, capture_server, export_logs

RESOURCE = {"service.name": "checkout", "tenant.id": "acme"}
UID = "01JD7Z8Q3M4K5N6P7R8S9T0V1W"


def decoded_logs(payload: bytes) -> list[dict[str, Any]]:
    outcomes = otlp.decode_protobuf(payload)
    assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes
    return [outcome for outcome in outcomes if isinstance(outcome, dict)]


def test_the_exporters_bytes_decode_into_the_logs_it_was_given() -> None:
    logs = [
        Emitted(
            "card declined",
            SeverityNumber.WARN,
            "WARN",
            {"order.id": "o-17", "amount": 12.5, "retries": 2, "tags": ["eu", "card"]},
            in_span=True,
        ),
        Emitted({"event": "refund", "amount": 3}, event_name="payment.refund"),
        Emitted("payment ok", attributes={"log.record.uid": UID}),
    ]
    started = time.time()
    with capture_server() as server:
        trace_ids = export_logs(server.url, logs, RESOURCE)
    [request] = server.requests
    assert request.path == "/v1/logs"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["content-encoding"] == "gzip"
    declined, refund, ok = decoded_logs(request.payload())

    for log in (declined, refund, ok):
        assert log["tenant_id"] == "acme"
        assert log["resource"]["service.name"] == "checkout"
        assert log["resource"]["telemetry.sdk.language"] == "python"
        assert log["scope"] == {"name": "checkout.views", "version": "1.4.0"}
        moment = datetime.fromisoformat(log["timestamp"]).timestamp()
        assert started - 1 <= moment <= time.time() + 1
    assert declined["text"] == "card declined"
    assert (declined["severity"], declined["severity_number"]) == ("WARN", 13)
    assert declined["attributes"] == {
        "order.id": "o-17",
        "amount": 12.5,
        "retries": 2,
        "tags": ["eu", "card"],
    }
    assert declined["trace_id"] == trace_ids[0]
    assert len(declined["span_id"]) == 16
    assert declined["flags"] & 1 == 1  # W3C trace flags: sampled
    assert declined["log_id"].startswith(otlp.DERIVED_ID_PREFIX)
    assert refund["text"] == '{"event":"refund","amount":3}'
    assert refund["event_name"] == "payment.refund"
    assert "trace_id" not in refund
    assert ok["log_id"] == UID


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_retryable_answer_brings_the_same_logs_again_with_the_same_ids(status: int) -> None:
    logs = [Emitted("first"), Emitted("second", in_span=True)]
    with capture_server([(status, {"Retry-After": "0"})]) as server:
        export_logs(server.url, logs, RESOURCE)
    refused, resent = (decoded_logs(request.payload()) for request in server.requests)
    assert [log["text"] for log in resent] == ["first", "second"]
    assert [log["log_id"] for log in resent] == [log["log_id"] for log in refused]


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_other_errors_drop_the_batch_without_a_retry(status: int) -> None:
    with capture_server([(status, {"Retry-After": "0"})]) as server:
        export_logs(server.url, [Emitted("dropped")], RESOURCE)
    assert len(server.requests) == 1
