"""Poison's whole journey: through the consumer and the real worker, into the dead-letter queue."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from app import worker
from devstack.consumer import ConsumerSettings, QueueConsumer
from ops.redrive import Journal, inspect, move_back
from soak.poison import poison_bodies
from tests.conftest import queued_message

ROUNDS = 50  # only guards against a loop that never ends; nothing here is timed


class Invocations:
    """The app's worker handler, recording each batch it is given and each record's delivery."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append([record["body"] for record in event["Records"]])
        return worker(event, context)


@pytest.fixture
def setup(aws: Any, configure: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A worker with simulated work (not slept) and crashes off, a queue that retries at once."""
    monkeypatch.setattr("chalicelib.worker.time.sleep", lambda seconds: None)
    settings = configure(WORK_SECONDS_PER_CHAR="0.05", MAX_RECEIVE_COUNT="3")
    sqs = boto3.client("sqs")
    redrive = {"deadLetterTargetArn": arn(sqs, aws.dead_letter_queue_url), "maxReceiveCount": "3"}
    sqs.set_queue_attributes(
        QueueUrl=aws.queue_url,
        Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
    )
    return settings


def arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def consume_until_empty(aws: Any, settings: Any, handler: Invocations) -> None:
    """Run the consumer, batch by batch, until the queue holds nothing at all."""
    sqs = boto3.client("sqs")
    consumer = QueueConsumer(
        sqs,
        ConsumerSettings(
            queue_url=aws.queue_url,
            function_timeout_seconds=settings.worker_timeout_seconds,
            poll_wait_seconds=0,
        ),
        handler,
    )
    for _ in range(ROUNDS):
        outcome = consumer.run_once()
        assert outcome is None or outcome.handler_error is None  # no batch ever fails whole
        if outcome is None and not depth(sqs, aws.queue_url):
            return
    raise AssertionError(f"the queue still holds {depth(sqs, aws.queue_url)} messages")


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def stored_log_ids(aws: Any) -> list[str]:
    """The ids of the stored logs (their originals, kept apart, left out)."""
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return sorted(item["log_id"]["S"] for item in items if "#" not in item["tenant_id"]["S"])


def test_each_poison_kind_fails_alone_and_ends_in_the_dead_letter_queue(
    aws: Any, setup: Any
) -> None:
    sqs = boto3.client("sqs")
    poison = poison_bodies(setup)
    logs = [json.dumps(queued_message(log_id=f"ok-{n}")) for n in range(len(poison))]
    for log, bad in zip(logs, poison.values(), strict=True):
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=bad)
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=log)
    handler = Invocations()

    consume_until_empty(aws, setup, handler)

    assert stored_log_ids(aws) == sorted(f"ok-{n}" for n in range(len(poison)))
    letters = inspect(sqs, aws.dead_letter_queue_url)
    assert Counter(letter.body for letter in letters) == Counter(poison.values())
    assert all(letter.receives == setup.max_receive_count for letter in letters)
    deliveries = Counter(body for batch in handler.batches for body in batch)
    assert all(deliveries[body] == setup.max_receive_count for body in poison.values())
    assert all(deliveries[log] == 1 for log in logs)
    assert any(
        set(batch) & set(logs) and set(batch) & set(poison.values()) for batch in handler.batches
    )


def test_a_log_stranded_by_an_outage_is_stored_once_after_a_redrive(
    aws: Any, setup: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    sqs = boto3.client("sqs")
    log = json.dumps(queued_message(log_id="stranded"))
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody=log)
    with monkeypatch.context() as outage:
        outage.setattr("chalicelib.store.put_unless_erased", fail_write)
        consume_until_empty(aws, setup, Invocations())
    assert stored_log_ids(aws) == []
    [letter] = inspect(sqs, aws.dead_letter_queue_url)
    assert letter.verdict.startswith("log acme/stranded")

    moved = move_back(sqs, aws.dead_letter_queue_url, aws.queue_url, Journal(tmp_path / "j"))
    consume_until_empty(aws, setup, Invocations())

    assert moved.moved == 1
    assert stored_log_ids(aws) == ["stranded"]
    assert inspect(sqs, aws.dead_letter_queue_url) == []


def fail_write(items: Any) -> str:
    raise RuntimeError("the table is unreachable")
