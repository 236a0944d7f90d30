"""The HTTP route and the SQS worker, through Chalice's test client against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.app import BadRequestError, UnauthorizedError
from chalice.test import Client

from app import app
from chalicelib.errors import (
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from chalicelib.ingest import rejection_reason
from infra.stage import PROJECT_DIR
from tests.conftest import queued_message, sqs_record
from tests.event_lines import assert_no_personal_data, dimension_sets, events, metric_values


@pytest.fixture
def client(aws: Any) -> Iterator[Client]:
    with Client(app, project_dir=str(PROJECT_DIR)) as test_client:
        yield test_client


def queued_bodies(aws: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def post(client: Client, body: str | bytes, content_type: str | None, **headers: str) -> Any:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.http.post("/ingest", headers=headers, body=body)


def test_json_upload_is_queued_and_answered_202(client: Client, aws: Any) -> None:
    body = json.dumps({"tenant_id": "acme", "log_id": "101", "text": "User 555-0199 logged in"})
    response = post(client, body, "application/json")
    assert response.status_code == 202
    answer = response.json_body
    assert answer["status"] == "accepted"
    assert (answer["tenant_id"], answer["log_id"]) == ("acme", "101")
    assert answer["request_id"]
    [queued] = queued_bodies(aws)
    assert queued["text"] == "User 555-0199 logged in"
    assert queued["source"] == "json_upload"
    assert queued["request_id"] == answer["request_id"]
    assert queued["received_at"].endswith("Z")


def test_text_upload_takes_tenant_and_log_id_from_headers(client: Client, aws: Any) -> None:
    text = "Error - 555-0100 - NullPointerException at module X"
    response = post(client, text, "text/plain; charset=utf-8", **{"X-Tenant-ID": "beta_inc"})
    assert response.status_code == 202
    [queued] = queued_bodies(aws)
    assert (queued["tenant_id"], queued["source"], queued["text"]) == (
        "beta_inc",
        "text_upload",
        text,
    )
    assert queued["log_id"] == response.json_body["log_id"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        ("{not json", "application/json", 400, "not valid JSON"),
        ("[1, 2]", "application/json", 400, "must be a JSON object"),
        ('{"text": "x"}', "application/json", 400, "tenant_id is required"),
        ('{"tenant_id": "a/b", "text": "x"}', "application/json", 400, "tenant_id must be"),
        ('{"tenant_id": "a", "text": 5}', "application/json", 400, "text must be a string"),
        ("hello", "text/plain", 400, "X-Tenant-ID header is required"),
        ("a=b", "application/x-www-form-urlencoded", 415, "is not supported"),
        ("hello", "text/plain; charset=latin-1", 415, "charset"),
        ("hello", "*/*", 415, "not supported"),
    ],
)
def test_bad_requests_say_what_is_wrong_and_enqueue_nothing(
    client: Client, aws: Any, body: str, content_type: str, status: int, says: str
) -> None:
    response = post(client, body, content_type)
    assert response.status_code == status
    assert says in response.json_body["Message"]
    assert queued_bodies(aws) == []


def test_invalid_utf8_is_a_400(client: Client, aws: Any) -> None:
    response = post(client, b"caf\xe9", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json_body["Message"]


def test_text_too_long_to_process_is_413_naming_the_limit(
    client: Client, aws: Any, configure: Any
) -> None:
    configure(WORK_SECONDS_PER_CHAR="0.05", WORKER_TIMEOUT_SECONDS="60")
    response = post(client, "x" * 2000, "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 413
    assert "WORKER_TIMEOUT_SECONDS" in response.json_body["Message"]
    assert queued_bodies(aws) == []


def test_unreachable_queue_is_503_never_202(client: Client, aws: Any, configure: Any) -> None:
    configure(QUEUE_URL="http://127.0.0.1:9/123456789012/nowhere")
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 503
    assert "retry" in response.json_body["Message"]


def test_missing_queue_is_503(client: Client, aws: Any, configure: Any) -> None:
    configure(QUEUE_NAME="no-such-queue")
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 503


def stored(aws: Any, tenant: str) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb")
    items = dynamodb.query(
        TableName=aws.table_name,
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant}},
    )["Items"]
    return [{k: v.get("S", v.get("N")) for k, v in item.items()} for item in items]


def test_worker_stores_redacted_item_in_its_tenants_partition(client: Client, aws: Any) -> None:
    event = {"Records": [sqs_record(queued_message(), receive_count=2)]}
    response = client.lambda_.invoke("worker", event)
    assert response.payload == {"batchItemFailures": []}
    [item] = stored(aws, "acme")
    assert item["modified_data"] == "User [REDACTED] logged in"
    assert item["attempt"] == "2"
    assert set(item) == {
        "tenant_id",
        "log_id",
        "source",
        "modified_data",
        "received_at",
        "processed_at",
        "request_id",
        "worker_id",
        "attempt",
        "expires_at",
    }
    # The original text is kept apart, in a partition the tenant's credentials cannot read.
    [original] = stored(aws, "acme#original")
    assert original["original_text"] == "User 555-0199 logged in"
    assert original["expires_at"] < item["expires_at"]
    assert stored(aws, "beta_inc") == []


def test_worker_reports_only_the_poison_record(client: Client, aws: Any) -> None:
    event = {
        "Records": [
            sqs_record(queued_message(log_id="1"), message_id="good-1"),
            sqs_record("not json at all", message_id="poison"),
            sqs_record(queued_message(log_id="2"), message_id="good-2"),
        ]
    }
    response = client.lambda_.invoke("worker", event)
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert sorted(item["log_id"] for item in stored(aws, "acme")) == ["1", "2"]


def test_chalice_can_analyze_app_py_for_deployment() -> None:
    # `chalice deploy` and `chalice package` run this analyzer over app.py; it once crashed on
    # postponed annotations (`from __future__ import annotations`) with KeyError: 'Any'.
    from chalice.analyzer import get_client_calls_for_app

    source = (PROJECT_DIR / "app.py").read_text()
    assert isinstance(get_client_calls_for_app(source), dict)


# --- event lines ------------------------------------------------------------------------------


def ingest_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    output = capsys.readouterr().out
    [line] = events(output, "ingest")
    for personal in ("555-0199", "ann@example.com"):
        assert personal not in output
    assert_no_personal_data(line)
    return line


def test_an_accepted_log_is_one_line_a_log_can_be_followed_by(
    client: Client, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps({"tenant_id": "acme", "log_id": "101", "text": "call 555-0199"})
    answer = post(client, body, "application/json").json_body
    line = ingest_line(capsys)
    assert {key: line[key] for key in ("outcome", "status", "tenant_id", "log_id")} == {
        "outcome": "accepted",
        "status": 202,
        "tenant_id": "acme",
        "log_id": "101",
    }
    assert line["request_id"] == answer["request_id"]
    assert line["body_bytes"] == len(body)
    assert metric_values(line) == {"IngestAccepted": 1, "IngestDuration": line["duration_ms"]}
    assert "call" not in line.values()


@pytest.mark.parametrize(
    ("body", "content_type", "reason", "status"),
    [
        ('{"tenant_id": "ann@example.com", "text": "hi"}', "application/json", "bad_request", 400),
        (
            '{"tenant_id": "acme", "text": "555-0199", "x": 1}',
            "application/json",
            "bad_request",
            400,
        ),
        ("call 555-0199", "text/csv", "unsupported_media_type", 415),
    ],
)
def test_a_refusal_is_counted_by_reason_without_echoing_the_input(
    client: Client,
    aws: Any,
    capsys: pytest.CaptureFixture[str],
    body: str,
    content_type: str,
    reason: str,
    status: int,
) -> None:
    assert post(client, body, content_type).status_code == status
    line = ingest_line(capsys)
    assert (line["outcome"], line["reason"], line["status"], line["level"]) == (
        "rejected",
        reason,
        status,
        "WARNING",
    )
    assert "error_message" not in line
    assert metric_values(line) == {"IngestRejected": 1}
    assert dimension_sets(line) == [{"Stage": "dev"}, {"Stage": "dev", "Reason": reason}]


def test_a_log_too_large_is_refused_under_its_tenant(
    client: Client, aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(WORK_SECONDS_PER_CHAR="0.05")
    post(client, "x" * 2000, "text/plain", **{"X-Tenant-ID": "acme", "X-Log-ID": "big"})
    line = ingest_line(capsys)
    assert (line["reason"], line["status"], line["tenant_id"], line["log_id"]) == (
        "payload_too_large",
        413,
        "acme",
        "big",
    )


def test_an_unavailable_queue_is_an_error_with_the_cause(
    client: Client, aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(QUEUE_NAME="no-such-queue")
    post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    line = ingest_line(capsys)
    assert (line["reason"], line["status"], line["level"]) == ("service_unavailable", 503, "ERROR")
    assert line["error"] == "ServiceUnavailableError"
    assert "retry with the same log_id" in line["error_message"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BadRequestError("x"), "bad_request"),
        (UnauthorizedError("x"), "unauthorized"),
        (PayloadTooLargeError("x"), "payload_too_large"),
        (UnsupportedMediaTypeError("x"), "unsupported_media_type"),
        (ServiceUnavailableError("x"), "service_unavailable"),
        (KeyError("x"), "internal_error"),
    ],
)
def test_rejection_reasons_are_the_error_types(error: Exception, reason: str) -> None:
    assert rejection_reason(error) == reason
