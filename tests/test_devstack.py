"""The local stack's pieces: the environment each function sees, and the resources it creates."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from devstack.stage import local_environment

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
    assert sorted(item["log_id"]["S"] for item in items) == ["1", "2", "3"]
    assert consumer.stats.records_deleted == 3
