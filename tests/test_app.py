"""The HTTP route and the SQS worker, through Chalice's test client against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from app import app
from devstack.stage import PROJECT_DIR
from tests.conftest import queued_message, sqs_record


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
        ("a=b", "application/x-www-form-urlencoded", 415, "Unsupported media type"),
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
    assert item["original_text"] == "User 555-0199 logged in"
    assert item["attempt"] == "2"
    assert set(item) == {
        "tenant_id",
        "log_id",
        "source",
        "original_text",
        "modified_data",
        "received_at",
        "processed_at",
        "request_id",
        "worker_id",
        "attempt",
    }
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
