"""`POST /v1/logs` through Chalice's test client and moto: OTLP in, one queued log per record."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest
from chalice.test import Client
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from chalicelib import queue
from chalicelib.errors import ServiceUnavailableError
from tests.conftest import sqs_record
from tests.event_lines import events

PROTOBUF = {"Content-Type": "application/x-protobuf", "Accept": "*/*"}
NOW_NANOS = 1_795_000_000_123_456_789


def record(text: str, **attributes: str) -> LogRecord:
    return LogRecord(
        time_unix_nano=NOW_NANOS,
        severity_text="WARN",
        severity_number=SeverityNumber.SEVERITY_NUMBER_WARN,
        body=AnyValue(string_value=text),
        attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()],
    )


def export(*records: LogRecord, tenant: str | None = "acme") -> ExportLogsServiceRequest:
    resource = [KeyValue(key="service.name", value=AnyValue(string_value="checkout"))]
    if tenant is not None:
        resource.append(KeyValue(key="tenant.id", value=AnyValue(string_value=tenant)))
    scope_logs = ScopeLogs(log_records=list(records))
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=Resource(attributes=resource), scope_logs=[scope_logs])
        ]
    )


def queued(aws: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies += [json.loads(message["Body"]) for message in messages]
    return bodies


def post(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    return client.http.post("/v1/logs", headers=headers, body=body)


def test_each_record_is_queued_as_one_log_and_the_refused_are_counted(
    client: Client, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = LogRecord(time_unix_nano=NOW_NANOS)  # no body: no text to store
    body = export(record("paid by ann@example.com", order="A-1"), empty, record("shipped"))
    answer = post(client, body.SerializeToString(), PROTOBUF)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/x-protobuf"
    response = ExportLogsServiceResponse.FromString(answer.body)
    assert response.partial_success.rejected_log_records == 1
    assert "logRecords[1]" in response.partial_success.error_message
    logs = sorted(queued(aws), key=lambda log: log["text"])
    assert [log["text"] for log in logs] == ["paid by ann@example.com", "shipped"]
    for log in logs:
        assert (log["tenant_id"], log["source"]) == ("acme", "otlp_upload")
        assert log["log_id"].startswith("otlp:")
        assert log["event_time"] == "2026-11-18T11:06:40.123Z"
        assert log["attributes"]["severity"] == "WARN"
        assert log["attributes"]["resource"] == {"service.name": "checkout", "tenant.id": "acme"}
    [line] = events(capsys.readouterr().out, "ingest")
    assert (line["status"], line["logs"], line["accepted"], line["rejected"]) == (200, 3, 2, 1)


def test_a_resent_export_queues_the_same_log_ids(client: Client, aws: Any) -> None:
    body = gzip.compress(export(record("one"), record("two")).SerializeToString())
    headers = PROTOBUF | {"Content-Encoding": "gzip"}
    assert post(client, body, headers).status_code == 200
    assert post(client, body, headers).status_code == 200
    ids = [log["log_id"] for log in queued(aws)]
    assert len(ids) == 4
    assert len(set(ids)) == 2


def test_otlp_json_is_answered_in_json(client: Client, aws: Any) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "tenant.id", "value": {"stringValue": "acme"}}]
                },
                "scopeLogs": [
                    {"logRecords": [{"body": {"stringValue": "hello"}}, {"traceId": "zz"}]}
                ],
            }
        ]
    }
    answer = post(client, json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    partial = json.loads(answer.body)["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert [log["text"] for log in queued(aws)] == ["hello"]


def test_a_body_that_is_no_export_is_a_400_status_naming_it(client: Client, aws: Any) -> None:
    answer = post(client, b"\xff\xff\xff not protobuf", PROTOBUF)
    assert answer.status_code == 400
    status = status_pb2.Status.FromString(answer.body)
    assert status.message.startswith("the body is not an OTLP logs export")
    assert queued(aws) == []


def test_a_media_type_that_is_no_otlp_encoding_is_our_415(client: Client) -> None:
    answer = post(client, b"hello", {"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert answer.json_body["Code"] == "UnsupportedMediaTypeError"


def test_without_a_tenant_each_record_is_refused(client: Client, aws: Any) -> None:
    answer = post(client, export(record("orphan"), tenant=None).SerializeToString(), PROTOBUF)
    response = ExportLogsServiceResponse.FromString(answer.body)
    assert (answer.status_code, response.partial_success.rejected_log_records) == (200, 1)
    assert "tenant_id is required" in response.partial_success.error_message
    headers = PROTOBUF | {"X-Tenant-ID": "beta_inc"}
    assert (
        post(client, export(record("x"), tenant=None).SerializeToString(), headers).status_code
        == 200
    )
    assert [log["tenant_id"] for log in queued(aws)] == ["beta_inc"]


def test_logs_the_queue_did_not_take_are_a_503_to_resend(
    client: Client, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(bodies: list[str], tenants: list[str]) -> list[ServiceUnavailableError | None]:
        return [ServiceUnavailableError("the ingest queue answered Throttled")] * len(bodies)

    monkeypatch.setattr(queue, "send_all", refuse)
    answer = post(client, export(record("a"), record("b")).SerializeToString(), PROTOBUF)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert (
        "2 of 2 logs are not known to be queued"
        in status_pb2.Status.FromString(answer.body).message
    )


def test_without_an_accept_that_admits_protobuf_the_answer_has_no_body(client: Client) -> None:
    body = export(record("a")).SerializeToString()
    answer = post(client, body, {"Content-Type": "application/x-protobuf"})
    assert (answer.status_code, answer.body) == (200, b"")


def test_the_worker_stores_the_record_redacted_with_its_attributes(
    client: Client, aws: Any
) -> None:
    body = export(record("call 555-0199", customer="ann@example.com")).SerializeToString()
    assert post(client, body, PROTOBUF).status_code == 200
    [message] = queued(aws)
    result = client.lambda_.invoke("worker", {"Records": [sqs_record(message)]}).payload
    assert result == {"batchItemFailures": []}
    item = boto3.client("dynamodb").get_item(
        TableName=aws.table_name,
        Key={"tenant_id": {"S": "acme"}, "log_id": {"S": message["log_id"]}},
    )["Item"]
    assert item["modified_data"]["S"] == "call [REDACTED]"
    attributes = json.loads(item["attributes"]["S"])
    assert attributes["attributes"] == {"customer": "[REDACTED]"}
