"""The HTTP route and the SQS worker, through Chalice's test client against the emulator."""

from __future__ import annotations

import gzip
import io
import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.app import BadRequestError, UnauthorizedError
from chalice.test import Client

from app import app
from chalicelib.errors import (
    ConfigurationError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from chalicelib.ingest import rejection_reason
from chalicelib.normalize import derived_log_id
from chalicelib.telemetry import JsonLogFormatter
from chalicelib.tenant_settings import write
from infra.stage import PROJECT_DIR
from tests.conftest import forget_process_state, queued_message, sqs_record
from tests.event_lines import (
    assert_no_personal_data,
    dimension_sets,
    event_lines,
    events,
    metric_values,
)

GZIP = {"Content-Encoding": "gzip"}


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


def test_a_log_that_only_its_tenants_placeholders_outgrow_is_413(
    client: Client, aws: Any, configure: Any
) -> None:
    # "[REDACTED:EMAIL] " is 10 bytes more than "a@b.co ", "[REDACTED] " 4: as the stage's
    # placeholders redact it the log fits DynamoDB's item, as this tenant's it would not.
    configure(QUEUE_MESSAGE_MAX_BYTES="1048576")
    changes = {"redaction": {"placeholder": "typed"}}
    write(boto3.client("dynamodb"), aws.tenants_table_name, "typed", changes, datetime.now(UTC))
    text = "a@b.co " * 30_000
    response = post(client, text, "text/plain", **{"X-Tenant-ID": "typed"})
    assert response.status_code == 413
    assert "DynamoDB's limit" in response.json_body["Message"]
    assert post(client, text, "text/plain", **{"X-Tenant-ID": "plain"}).status_code == 202


def test_unreachable_queue_is_503_never_202(client: Client, aws: Any, configure: Any) -> None:
    configure(QUEUE_URL="http://127.0.0.1:9/123456789012/nowhere")
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 503
    assert "retry" in response.json_body["Message"]


def test_missing_queue_is_503(client: Client, aws: Any, configure: Any) -> None:
    configure(QUEUE_NAME="no-such-queue")
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 503


def test_without_a_region_ingest_says_which_setting_is_missing(
    client: Client, aws: Any, environment: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        environment.delenv(name, raising=False)
    environment.setenv("AWS_CONFIG_FILE", "/nonexistent")  # nor a region from ~/.aws/config
    forget_process_state()
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 500
    assert response.json_body["Code"] == "ConfigurationError"
    assert "set AWS_DEFAULT_REGION" in response.json_body["Message"]
    assert "retry" not in response.json_body["Message"]


def test_an_unexpected_error_is_one_redacted_event_line(
    client: Client, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(body: str, tenant_id: str) -> str:
        raise RuntimeError("boom for ann@example.com")

    monkeypatch.setattr("chalicelib.queue.send", broken)
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)  # stands for Lambda's handler on the root logger
    handler.setFormatter(JsonLogFormatter())
    logging.getLogger().addHandler(handler)
    try:
        response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 500
    assert not app.log.handlers, "Chalice's own handler would write the traceback as plain lines"
    [line] = event_lines(sink.getvalue())
    assert (line["logger"], line["level"], line["error"]) == (app.app_name, "ERROR", "RuntimeError")
    assert "Traceback" in line["traceback"]
    assert_no_personal_data(line)


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
            '{"tenant_id": "acme", "text": "555-0199", "timestamp": "555-0199"}',
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
        (ConfigurationError("x"), "configuration"),
        (KeyError("x"), "internal_error"),
    ],
)
def test_rejection_reasons_are_the_error_types(error: Exception, reason: str) -> None:
    assert rejection_reason(error) == reason


# --- batches ----------------------------------------------------------------------------------


def drained(aws: Any) -> list[dict[str, Any]]:
    """Every message on the queue, taken off it."""
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies += [json.loads(m["Body"]) for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def ndjson(*logs: object) -> bytes:
    return "".join(json.dumps(log) + "\n" for log in logs).encode()


def test_a_gzipped_ndjson_batch_answers_each_log_in_order(client: Client, aws: Any) -> None:
    body = ndjson(
        {"tenant_id": "acme", "log_id": "a-1", "text": "one", "host": "web-1", "level": "info"},
        {"tenant_id": "acme", "txt": "a typo"},
        {"tenant_id": "beta_inc", "text": "two", "timestamp": 1_764_000_000_123},
        "not an object",
    )
    response = post(client, gzip.compress(body), "application/x-ndjson", **GZIP)
    assert response.status_code == 202
    answer = response.json_body
    assert (answer["status"], answer["accepted"], answer["rejected"]) == ("accepted", 2, 2)
    first, typo, second, string = answer["items"]
    assert first == {"status": 202, "tenant_id": "acme", "log_id": "a-1"}
    assert (typo["status"], typo["Code"], typo["Message"]) == (
        400,
        "BadRequestError",
        "text is required",
    )
    assert (second["status"], second["tenant_id"]) == (202, "beta_inc")
    assert string["status"] == 400
    assert "must be a JSON object" in string["Message"]
    queued = {message["log_id"]: message for message in drained(aws)}
    assert set(queued) == {"a-1", second["log_id"]}
    assert queued["a-1"]["attributes"] == {"host": "web-1", "level": "info"}
    assert queued["a-1"]["source"] == "ndjson_upload"
    assert queued[second["log_id"]]["event_time"] == "2025-11-24T16:00:00.123Z"


def test_a_json_array_with_no_valid_log_is_a_400_listing_each(client: Client, aws: Any) -> None:
    body = json.dumps([{"text": "no tenant"}, {"tenant_id": "acme", "text": ""}])
    response = post(client, body, "application/json")
    assert response.status_code == 400
    answer = response.json_body
    assert answer["Code"] == "BadRequestError"
    assert answer["Message"].startswith("no log of the request is valid; log 0: tenant_id is")
    assert [item["status"] for item in answer["items"]] == [400, 400]
    assert "text must not be empty" in answer["items"][1]["Message"]
    assert drained(aws) == []


def test_x_tenant_id_names_the_tenant_of_a_batchs_logs(client: Client, aws: Any) -> None:
    body = ndjson({"text": "one"}, {"tenant_id": "beta_inc", "text": "two"})
    response = post(client, body, "application/x-ndjson", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 202
    first, second = response.json_body["items"]
    assert first["tenant_id"] == "acme"
    assert second["status"] == 400
    assert "contradicts the X-Tenant-ID header" in second["Message"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (ndjson(*[{"tenant_id": "a", "text": "x"}] * 1001), {}, 413, "limit on logs a request"),
        (gzip.compress(bytes(6 * 1024 * 1024)), GZIP, 413, "the body inflates more than"),
        (ndjson({"tenant_id": "a", "text": "x"}), {"Content-Encoding": "br"}, 415, "'br'"),
        (b"\x1f\x8b\x08garbage", GZIP, 400, "not valid gzip data"),
        (ndjson({"tenant_id": "a", "text": "x"}), {"X-Log-ID": "1"}, 400, "X-Log-ID header"),
        (ndjson({"tenant_id": "a", "text": "x"}), {"Idempotency-Key": "a b"}, 400, "Idempotency"),
    ],
    ids=["logs", "size", "coding", "gzip", "x-log-id", "key"],
)
def test_a_request_refused_as_a_whole_queues_nothing(
    client: Client, aws: Any, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    response = post(client, body, "application/x-ndjson", **headers)
    assert response.status_code == status
    assert says in response.json_body["Message"]
    assert drained(aws) == []


def test_gzip_is_read_in_every_form(client: Client, aws: Any) -> None:
    one = gzip.compress(json.dumps({"tenant_id": "acme", "text": "json"}).encode())
    assert post(client, one, "application/json", **GZIP).status_code == 202
    text = gzip.compress(b"plain text")
    assert post(client, text, "text/plain", **GZIP, **{"X-Tenant-ID": "acme"}).status_code == 202
    assert sorted(message["text"] for message in drained(aws)) == ["json", "plain text"]


def test_a_batch_the_queue_cannot_take_is_a_503_with_retry_after(
    client: Client, aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(QUEUE_NAME="no-such-queue")
    body = ndjson({"tenant_id": "acme", "text": "x"}, {"tenant_id": "acme"})
    response = post(client, body, "application/x-ndjson", **{"Idempotency-Key": "batch-7"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    answer = response.json_body
    assert answer["Code"] == "ServiceUnavailableError"
    queued, invalid = answer["items"]
    assert (queued["status"], queued["log_id"]) == (503, derived_log_id("batch-7", 0))
    assert "retry with the same log_id" in queued["Message"]
    assert invalid["status"] == 400
    [line] = events(capsys.readouterr().out, "ingest")
    assert (line["level"], line["status"], line["error"]) == (
        "ERROR",
        503,
        "ServiceUnavailableError",
    )
    assert line["rejected_by_reason"] == {"service_unavailable": 1, "bad_request": 1}


def test_a_single_log_the_queue_cannot_take_has_retry_after_too(
    client: Client, aws: Any, configure: Any
) -> None:
    configure(QUEUE_NAME="no-such-queue")
    response = post(client, "hello", "text/plain", **{"X-Tenant-ID": "acme"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert set(response.json_body) == {"Code", "Message"}


def test_attributes_and_event_time_are_stored_redacted_and_read_back(
    client: Client, aws: Any
) -> None:
    from chalicelib.keys import create_key

    log = {
        "tenant_id": "acme",
        "log_id": "7",
        "text": "login by ann@example.com",
        "timestamp": "2026-11-21T12:00:00.5+02:00",
        "user": {"email": "ann@example.com", "ids": [1, "555-0199"]},
        "level": "warn",
    }
    assert post(client, json.dumps([log]), "application/json").status_code == 202
    [message] = drained(aws)
    event = {"Records": [sqs_record(message)]}
    assert client.lambda_.invoke("worker", event).payload == {"batchItemFailures": []}
    [item] = stored(aws, "acme")
    assert item["event_time"] == "2026-11-21T10:00:00.500Z"
    assert json.loads(item["attributes"]) == {
        "user": {"email": "[REDACTED]", "ids": [1, "[REDACTED]"]},
        "level": "warn",
    }
    key = create_key(boto3.client("dynamodb"), aws.tenants_table_name, "acme", datetime.now(UTC))
    read = client.http.get("/logs/7", headers={"Authorization": f"Bearer {key.key}"}).json_body
    assert read["attributes"]["user"]["email"] == "[REDACTED]"
    assert read["event_time"] == "2026-11-21T10:00:00.500Z"


def test_a_batch_is_one_ingest_line_counting_logs_and_a_line_per_refusal_reason(
    client: Client, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    body = ndjson(
        {"tenant_id": "acme", "text": "call 555-0199"},
        {"tenant_id": "acme", "text": "ann@example.com"},
        {"tenant_id": "acme", "text": 5},
        {"tenant_id": "bad tenant", "text": "x"},
    )
    post(client, body, "application/x-ndjson")
    output = capsys.readouterr().out
    [line] = events(output, "ingest")
    assert (line["outcome"], line["status"], line["logs"], line["accepted"], line["rejected"]) == (
        "partial",
        202,
        4,
        2,
        2,
    )
    assert line["rejected_by_reason"] == {"bad_request": 2}
    assert metric_values(line) == {"IngestAccepted": 2, "IngestDuration": line["duration_ms"]}
    [refused] = events(output, "ingest_rejected")
    assert metric_values(refused) == {"IngestRejected": 2}
    assert dimension_sets(refused) == [{"Stage": "dev"}, {"Stage": "dev", "Reason": "bad_request"}]
    for personal in ("555-0199", "ann@example.com"):
        assert personal not in output
    assert_no_personal_data(line)
