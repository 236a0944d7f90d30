"""The local stack's pieces: the environment each function sees, and the resources it creates."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import boto3
import pytest

from devstack.processes import free_port
from devstack.stack import Stack
from devstack.stage import local_environment
from devstack.status import parse_event
from infra.stage import PROJECT_DIR

EMULATOR = "http://127.0.0.1:5999"


def test_stage_values_apply_and_the_shell_overrides_them() -> None:
    shell = {"CRASH_PROBABILITY": "0.5", "PATH": "/bin", "AWS_PROFILE": "real-account"}
    environment = local_environment("dev", "worker", EMULATOR, shell)
    assert environment["CRASH_PROBABILITY"] == "0.5"
    assert environment["WORK_SECONDS_PER_CHAR"] == "0.05"
    assert environment["TABLE_NAME"] == "robust-data-processor-dev-logs"
    assert environment["PATH"] == "/bin"


def test_the_local_stack_can_only_reach_the_emulator() -> None:
    shell = {"AWS_PROFILE": "real-account", "AWS_ACCESS_KEY_ID": "AKIAREAL"}
    environment = local_environment("prod", "api_handler", EMULATOR, shell)
    assert environment["AWS_ENDPOINT_URL"] == EMULATOR
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in environment


def test_provisioned_queue_has_the_stage_redrive_and_timeouts(aws: Any) -> None:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    dead_letter = sqs.get_queue_attributes(
        QueueUrl=aws.dead_letter_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert redrive["deadLetterTargetArn"] == dead_letter["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert int(attributes["VisibilityTimeout"]) == 6 * 60
    assert int(dead_letter["MessageRetentionPeriod"]) > int(attributes["MessageRetentionPeriod"])


def test_provisioned_table_is_keyed_by_tenant_then_log(aws: Any) -> None:
    table = boto3.client("dynamodb").describe_table(TableName=aws.table_name)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("tenant_id", "HASH"),
        ("log_id", "RANGE"),
    }


def test_emulator_answers_one_request_at_a_time() -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Lock

    from devstack.emulator import serialized

    busy, most, guard = 0, 0, Lock()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        nonlocal busy, most
        with guard:
            busy += 1
            most = max(most, busy)
        time.sleep(0.01)
        with guard:
            busy -= 1
        return [b"ok"]

    wrapped = serialized(app)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: wrapped({}, print), range(40)))
    assert answers == [[b"ok"]] * 40
    assert most == 1


def test_a_failed_transaction_leaves_the_emulators_table_and_stream_as_they_were(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb import models

    from devstack.emulator import use_cheap_dynamodb_transactions

    monkeypatch.setattr(
        models.DynamoDBBackend,
        "transact_write_items",
        models.DynamoDBBackend.transact_write_items,
    )
    use_cheap_dynamodb_transactions()
    dynamodb, table = boto3.client("dynamodb"), aws.table_name

    def put(log_id: str) -> dict[str, Any]:
        item = {"tenant_id": {"S": "acme"}, "log_id": {"S": log_id}}
        return {"Put": {"TableName": table, "Item": item}}

    def stream_length() -> int:
        from moto.core.models import DEFAULT_ACCOUNT_ID

        backend = models.dynamodb_backends[DEFAULT_ACCOUNT_ID][dynamodb.meta.region_name]
        shard = backend.tables[table].stream_shard
        assert shard is not None
        return len(shard.items)

    dynamodb.transact_write_items(TransactItems=[put("1")])
    refused = {
        "ConditionCheck": {
            "TableName": table,
            "Key": {"tenant_id": {"S": "acme"}, "log_id": {"S": "1"}},
            "ConditionExpression": "attribute_not_exists(log_id)",
        }
    }
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[put("2"), refused])
    stored = dynamodb.scan(TableName=table)["Items"]
    assert [item["log_id"]["S"] for item in stored] == ["1"]
    assert stream_length() == 1


def test_poison_reaches_the_dead_letter_queue_and_its_neighbours_do_not(aws: Any) -> None:
    import app
    from devstack.consumer import ConsumerSettings, QueueConsumer
    from tests.conftest import queued_message

    sqs = boto3.client("sqs")
    sqs.set_queue_attributes(QueueUrl=aws.queue_url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{ not a log")
    for log_id in ("1", "2", "3"):
        sqs.send_message(
            QueueUrl=aws.queue_url, MessageBody=json.dumps(queued_message(log_id=log_id))
        )
    consumer = QueueConsumer(
        sqs, ConsumerSettings(queue_url=aws.queue_url, poll_wait_seconds=0), handler=app.worker
    )
    for _ in range(20):  # 5 receives reach the redrive count; a few more polls move it
        consumer.run_once()
    dead = sqs.receive_message(QueueUrl=aws.dead_letter_queue_url, MaxNumberOfMessages=10)
    assert [m["Body"] for m in dead.get("Messages", [])] == ["{ not a log"]
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    logs = [item for item in items if "#" not in item["tenant_id"]["S"]]  # not the originals
    assert sorted(item["log_id"]["S"] for item in logs) == ["1", "2", "3"]
    assert consumer.stats.records_deleted == 3


STATUS_SECONDS = 60  # a deadline for a line to show up, not a timing under test


@pytest.mark.e2e
def test_make_dev_off_a_terminal_prints_a_plain_status_line_of_what_it_stored(
    stack: Stack,
) -> None:
    """Piped, `make dev` still relays every event line and prints its status, with no escapes."""
    body = json.dumps({"tenant_id": "acme", "log_id": "status-1", "text": "call 555-0199"})
    request = urllib.request.Request(
        f"{stack.api}/ingest",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    done = "pipeline: queue 0 waiting, 0 in flight | dead-letter 0 | stored 1 | lag "
    deadline = time.monotonic() + STATUS_SECONDS
    while not any(line.startswith(done) for line in list(stack.output)):
        assert time.monotonic() < deadline, "".join(stack.output)
        time.sleep(0.2)
    output = "".join(stack.output)
    assert "accepted 1, rejected 0" in output
    records = [e for e in map(parse_event, stack.output) if e and e["event"] == "record"]
    assert [(e["outcome"], e["log_id"]) for e in records] == [("stored", "status-1")]
    assert "\r" not in output
    assert "\x1b" not in output


def test_make_dev_refuses_a_port_something_already_listens_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {**os.environ, "EMULATOR_PORT": str(port), "API_PORT": str(free_port())}
        finished = subprocess.run(
            [sys.executable, "-m", "devstack", "--stage", "dev"],
            cwd=PROJECT_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert finished.returncode != 0
    assert f"port {port} for the emulator is in use" in finished.stderr
    assert "EMULATOR_PORT" in finished.stderr
