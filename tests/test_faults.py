"""Fault injection for the chaos soak: each fault looks to boto3, and so to the app, like AWS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import queue
from chalicelib.errors import ServiceUnavailableError
from devstack.emulator import serialized
from devstack.faults import SLOW_SECONDS, FaultControl, FaultInjector, FaultRule, check_rules
from devstack.processes import free_port
from devstack.stage import EMULATOR_HOST

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class Emulator:
    def __init__(self, url: str, control: FaultControl) -> None:
        self.url = url
        self.control = control

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, config=ONE_ATTEMPT)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """moto's server app behind the fault layer, as `python -m devstack.emulator --faults`."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    port = free_port()
    app = FaultInjector(serialized(DomainDispatcherApplication(create_backend_app)))
    server = make_server(EMULATOR_HOST, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Emulator(f"http://{EMULATOR_HOST}:{port}", FaultControl(EMULATOR_HOST, port))
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def faults(emulator: Emulator) -> Iterator[FaultControl]:
    emulator.control.set_rules([])
    yield emulator.control
    emulator.control.set_rules([])


@pytest.fixture
def table(emulator: Emulator, request: pytest.FixtureRequest) -> str:
    name = f"faults-{request.node.name}"[:200]
    emulator.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
    )
    return name


@pytest.fixture
def queue_url(emulator: Emulator, request: pytest.FixtureRequest) -> str:
    name = f"faults-{request.node.name}"[:80]
    return str(emulator.client("sqs").create_queue(QueueName=name)["QueueUrl"])


def put(emulator: Emulator, table: str, key: str) -> None:
    emulator.client("dynamodb").put_item(TableName=table, Item={"k": {"S": key}})


def stored(emulator: Emulator, table: str, key: str) -> bool:
    item = emulator.client("dynamodb").get_item(TableName=table, Key={"k": {"S": key}})
    return "Item" in item


def waiting(emulator: Emulator, url: str) -> int:
    attributes = emulator.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_without_rules_every_request_reaches_the_emulator(
    emulator: Emulator, faults: FaultControl, table: str
) -> None:
    before = faults.injected()
    put(emulator, table, "a")
    assert stored(emulator, table, "a")
    assert faults.injected() == before


def test_a_throttled_write_is_dynamodbs_own_error_and_is_not_applied(
    emulator: Emulator, faults: FaultControl, table: str
) -> None:
    before = faults.injected().get("PutItem throttle", 0)
    faults.set_rules([FaultRule("PutItem", "throttle", 1.0)])
    with pytest.raises(ClientError) as raised:
        put(emulator, table, "a")
    faults.set_rules([])
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert not stored(emulator, table, "a")
    assert faults.injected()["PutItem throttle"] == before + 1


def test_a_lost_answer_is_a_500_for_a_write_that_happened(
    emulator: Emulator, faults: FaultControl, table: str
) -> None:
    faults.set_rules([FaultRule("PutItem", "lost", 1.0)])
    with pytest.raises(ClientError) as raised:
        put(emulator, table, "a")
    faults.set_rules([])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert stored(emulator, table, "a")


def test_an_error_is_a_500_and_nothing_is_queued(
    emulator: Emulator, faults: FaultControl, queue_url: str
) -> None:
    faults.set_rules([FaultRule("SendMessage", "error", 1.0)])
    with pytest.raises(ClientError) as raised:
        emulator.client("sqs").send_message(QueueUrl=queue_url, MessageBody="x")
    faults.set_rules([])
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert waiting(emulator, queue_url) == 0


def test_a_dropped_connection_queues_nothing(
    emulator: Emulator, faults: FaultControl, queue_url: str
) -> None:
    faults.set_rules([FaultRule("SendMessage", "drop", 1.0)])
    with pytest.raises(BotoCoreError):
        emulator.client("sqs").send_message(QueueUrl=queue_url, MessageBody="x")
    faults.set_rules([])
    assert waiting(emulator, queue_url) == 0


def test_a_partial_batch_queues_every_entry_but_the_one_it_lists_as_failed(
    emulator: Emulator, faults: FaultControl, queue_url: str
) -> None:
    faults.set_rules([FaultRule("SendMessageBatch", "partial", 1.0)], seed=3)
    sqs = emulator.client("sqs")
    entries = [{"Id": str(number), "MessageBody": f"log {number}"} for number in range(4)]
    answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    [failed] = answer["Failed"]
    alone = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries[:1])
    faults.set_rules([])
    assert failed["Code"] == "InternalError"
    assert sorted([e["Id"] for e in answer["Successful"]] + [failed["Id"]]) == ["0", "1", "2", "3"]
    assert waiting(emulator, queue_url) == 3
    assert (alone["Failed"][0]["Id"], alone.get("Successful", [])) == ("0", [])
    with pytest.raises(ValueError, match="SendMessageBatch only"):
        FaultRule("SendMessage", "partial", 0.5)


def test_a_slow_answer_comes_late_and_the_request_is_applied(
    emulator: Emulator, faults: FaultControl, queue_url: str
) -> None:
    faults.set_rules([FaultRule("SendMessage", "slow", 1.0)])
    started = time.monotonic()
    emulator.client("sqs").send_message(QueueUrl=queue_url, MessageBody="x")
    took = time.monotonic() - started
    faults.set_rules([])
    assert took >= SLOW_SECONDS
    assert waiting(emulator, queue_url) == 1


def test_only_the_named_operation_fails(
    emulator: Emulator, faults: FaultControl, queue_url: str
) -> None:
    faults.set_rules([FaultRule("DeleteMessageBatch", "error", 1.0)])
    sqs = emulator.client("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    entries = [{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
    with pytest.raises(ClientError):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def test_the_ingest_answers_503_while_the_queue_is_unreachable(
    emulator: Emulator, faults: FaultControl, queue_url: str, configure: Any
) -> None:
    configure(AWS_ENDPOINT_URL=emulator.url, QUEUE_URL=queue_url)
    faults.set_rules([FaultRule("SendMessage", "drop", 1.0)])
    with pytest.raises(ServiceUnavailableError, match="unreachable"):
        queue.send("a log", "acme")
    faults.set_rules([])
    queue.send("a log", "acme")
    assert waiting(emulator, queue_url) == 1


def test_faults_fire_as_often_as_asked_and_are_counted(
    emulator: Emulator, faults: FaultControl, table: str
) -> None:
    before = faults.injected().get("PutItem throttle", 0)
    faults.set_rules([FaultRule("PutItem", "throttle", 0.3)], seed=4)
    refused = 0
    for number in range(200):
        try:
            put(emulator, table, str(number))
        except ClientError:
            refused += 1
    faults.set_rules([])
    assert 30 <= refused <= 90  # 60 expected; the seed makes it one fixed number
    assert faults.injected()["PutItem throttle"] == before + refused


def test_rules_that_cannot_hold_are_refused(faults: FaultControl) -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultRule("PutItem", "throttle", 1.5)
    with pytest.raises(ValueError, match="mode"):
        FaultRule("PutItem", "explode", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more than 1"):
        check_rules([FaultRule("PutItem", "throttle", 0.6), FaultRule("PutItem", "lost", 0.6)])
    with pytest.raises(RuntimeError, match="more than 1"):
        faults.set_rules([FaultRule("PutItem", "throttle", 0.6), FaultRule("PutItem", "lost", 0.6)])
