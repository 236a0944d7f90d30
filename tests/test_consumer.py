"""The local SQS event source mapping: event shape, partial-batch responses, DLQ, threads."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from devstack.consumer import (
    BatchOutcome,
    ConsumerSettings,
    InvalidBatchResponseError,
    QueueConsumer,
    reported_failures,
)
from tests.event_lines import events

REGION = "us-east-1"
MAX_RECEIVE_COUNT = 2
HANG_GUARD_SECONDS = 10  # only guards against hanging; nothing here is timed


@dataclass(frozen=True)
class Queues:
    sqs: Any
    url: str
    arn: str
    dead_letter_url: str

    def create(self, name: str, **attributes: str) -> str:
        """Another queue in the same emulator."""
        return str(self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


@dataclass
class Recorder:
    """A thread-safe fake handler: records events and contexts, answers with `respond`."""

    respond: Callable[[list[dict[str, Any]]], Any] = lambda records: None
    events: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.events.append(event)
            self.contexts.append(context)
        return self.respond(event["Records"])

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [record for event in self.events for record in event["Records"]]


def fail_bodies(*bodies: str) -> Callable[[list[dict[str, Any]]], Any]:
    """A response that hands back the records with these bodies."""

    def respond(records: list[dict[str, Any]]) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in records
                if record["body"] in bodies
            ]
        }

    return respond


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    """A source queue (visibility 0, so failures come straight back) and its dead-letter queue."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dead_letter_url = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
        dead_letter_arn = arn_of(sqs, dead_letter_url)
        redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
        url = sqs.create_queue(
            QueueName="ingest",
            Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        yield Queues(sqs, url, arn_of(sqs, url), dead_letter_url)


def arn_of(sqs: Any, url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


def send(sqs: Any, url: str, *bodies: str) -> list[str]:
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now visible on the queue (receiving them, with their attributes)."""
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def count_on(sqs: Any, url: str) -> int:
    """Messages on the queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def consumer_for(
    sqs: Any, url: str, handler: Callable[[dict[str, Any], Any], Any], **settings: Any
) -> QueueConsumer:
    """A consumer that short-polls by default, so run_once never waits."""
    settings.setdefault("poll_wait_seconds", 0)
    return QueueConsumer(sqs, ConsumerSettings(queue_url=url, **settings), handler)


def one_batch(consumer: QueueConsumer) -> BatchOutcome:
    outcome = consumer.run_once()
    assert outcome is not None
    return outcome


# 1. The event is the one Lambda sends.


def test_records_have_lambdas_shape(queues: Queues) -> None:
    body = json.dumps({"tenant_id": "acme", "text": "héllo"})
    message_id = queues.sqs.send_message(
        QueueUrl=queues.url,
        MessageBody=body,
        MessageAttributes={
            "tenant": {"DataType": "String", "StringValue": "acme"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            "size": {"DataType": "Number", "StringValue": "3"},
        },
    )["MessageId"]
    handler = Recorder(
        respond=lambda records: {"batchItemFailures": [{"itemIdentifier": message_id}]}
    )
    consumer = consumer_for(queues.sqs, queues.url, handler)

    assert one_batch(consumer).failed == (message_id,)
    assert one_batch(consumer).failed == (message_id,)

    first, second = handler.events
    assert set(first) == {"Records"}
    record = first["Records"][0]
    assert {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    } <= set(record)
    assert record["messageId"] == message_id
    assert isinstance(record["receiptHandle"], str)
    assert record["receiptHandle"]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.arn
    assert record["awsRegion"] == REGION
    attributes = record["attributes"]
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(attributes)
    assert all(isinstance(value, str) for value in attributes.values())
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])
    assert attributes["ApproximateReceiveCount"] == "1"
    assert second["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert second["Records"][0]["receiptHandle"] != record["receiptHandle"]
    assert record["messageAttributes"] == {
        "tenant": {
            "stringValue": "acme",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
        "size": {
            "stringValue": "3",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
    }
    json.dumps(first)  # Lambda's event is JSON


def test_a_message_without_attributes_has_empty_message_attributes(queues: Queues) -> None:
    send(queues.sqs, queues.url, "plain")
    handler = Recorder()
    one_batch(consumer_for(queues.sqs, queues.url, handler))
    assert handler.records[0]["messageAttributes"] == {}


# 2. Success deletes the whole batch.


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=["None", "empty-dict", "empty-list", "null-list"],
)
def test_success_deletes_the_whole_batch(queues: Queues, response: Any) -> None:
    ids = send(queues.sqs, queues.url, "a", "b", "c")
    consumer = consumer_for(queues.sqs, queues.url, Recorder(respond=lambda records: response))

    outcome = one_batch(consumer)

    assert outcome == BatchOutcome(
        received=tuple(ids), deleted=tuple(ids), failed=(), handler_error=None
    )
    assert count_on(queues.sqs, queues.url) == 0
    assert consumer.run_once() is None


# 3. Partial failure deletes all but the reported ones.


def test_partial_failure_keeps_only_the_reported_message(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    first, middle, last = send(queues.sqs, queues.url, "first", "middle", "last")
    consumer = consumer_for(queues.sqs, queues.url, Recorder(respond=fail_bodies("middle")))

    outcome = one_batch(consumer)

    [line] = events(capsys.readouterr().out, "consumer_batch")
    assert (line["outcome"], line["level"]) == ("partial", "WARNING")
    assert (line["received"], line["deleted"], line["failed"]) == (3, 2, 1)
    assert line["duration_ms"] >= 0

    assert outcome == BatchOutcome(
        received=(first, middle, last), deleted=(first, last), failed=(middle,), handler_error=None
    )
    (left,) = drain(queues.sqs, queues.url)
    assert left["MessageId"] == middle
    assert left["Attributes"]["ApproximateReceiveCount"] == "2"
    assert consumer.stats.records_deleted == 2
    assert consumer.stats.records_failed == 1


def test_the_consumer_does_not_change_a_failed_messages_visibility(queues: Queues) -> None:
    url = queues.create("slow", VisibilityTimeout="30")
    (message_id,) = send(queues.sqs, url, "keep")
    consumer = consumer_for(queues.sqs, url, Recorder(respond=fail_bodies("keep")))

    assert one_batch(consumer).failed == (message_id,)

    assert drain(queues.sqs, url) == []  # still invisible: it waits out the visibility timeout
    assert count_on(queues.sqs, url) == 1


# 4. A raised exception or an invalid response fails the whole batch.


def test_a_raising_handler_fails_the_whole_batch(
    queues: Queues, caplog: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = send(queues.sqs, queues.url, "a", "b")

    def explode(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    consumer = consumer_for(queues.sqs, queues.url, explode)
    with caplog.at_level(logging.ERROR, logger="devstack.consumer"):
        outcome = one_batch(consumer)

    [line] = events(capsys.readouterr().out, "consumer_batch")
    assert (line["outcome"], line["handler_error"]) == ("failed", "RuntimeError('boom')")
    assert outcome == BatchOutcome(
        received=tuple(ids), deleted=(), failed=tuple(ids), handler_error="RuntimeError('boom')"
    )
    assert "boom" in caplog.text
    assert sorted(m["MessageId"] for m in drain(queues.sqs, queues.url)) == sorted(ids)
    assert consumer.stats.handler_errors == 1


INVALID_RESPONSES: dict[str, Callable[[list[str]], Any]] = {
    "string": lambda ids: "ok",
    "list": lambda ids: [{"itemIdentifier": ids[0]}],
    "failures-not-a-list": lambda ids: {"batchItemFailures": {"itemIdentifier": ids[0]}},
    "failures-a-string": lambda ids: {"batchItemFailures": ids[0]},
    "entry-not-an-object": lambda ids: {"batchItemFailures": [ids[0]]},
    "entry-without-identifier": lambda ids: {"batchItemFailures": [{}]},
    "bad-key-name": lambda ids: {"batchItemFailures": [{"itemId": ids[0]}]},
    "empty-identifier": lambda ids: {"batchItemFailures": [{"itemIdentifier": ""}]},
    "null-identifier": lambda ids: {"batchItemFailures": [{"itemIdentifier": None}]},
    "numeric-identifier": lambda ids: {"batchItemFailures": [{"itemIdentifier": 7}]},
    "unknown-identifier": lambda ids: {
        "batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": "not-in-batch"}]
    },
    "not-json": lambda ids: {"batchItemFailures": [{"itemIdentifier": ids[0], "x": object()}]},
}


@pytest.mark.parametrize("make_response", INVALID_RESPONSES.values(), ids=INVALID_RESPONSES.keys())
def test_an_invalid_response_fails_the_whole_batch(
    queues: Queues, make_response: Callable[[list[str]], Any]
) -> None:
    ids = send(queues.sqs, queues.url, "a", "b")
    handler = Recorder(respond=lambda records: make_response([r["messageId"] for r in records]))

    outcome = one_batch(consumer_for(queues.sqs, queues.url, handler))

    assert outcome.deleted == ()
    assert outcome.failed == tuple(ids)
    assert outcome.handler_error
    assert count_on(queues.sqs, queues.url) == 2


@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_reported_failures_are_exactly_the_named_ids(flags: list[bool]) -> None:
    ids = [f"id-{index}" for index in range(len(flags))]
    named = [message_id for message_id, failed in zip(ids, flags, strict=True) if failed]
    response = {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in named]}
    assert reported_failures(response, ids) == frozenset(named)


def test_reported_failures_reads_the_response_as_json() -> None:
    response = {"batchItemFailures": ({"itemIdentifier": "a"},), "other": 1}
    assert reported_failures(response, ["a", "b"]) == {"a"}
    with pytest.raises(InvalidBatchResponseError, match="not in the batch"):
        reported_failures({"batchItemFailures": [{"itemIdentifier": "c"}]}, ["a", "b"])


# 5. A poison message reaches the dead-letter queue; its neighbours do not.


def test_a_poison_message_ends_in_the_dead_letter_queue_alone(queues: Queues) -> None:
    healthy_1, poison, healthy_2 = send(queues.sqs, queues.url, "ok-1", "poison", "ok-2")
    handler = Recorder(respond=fail_bodies("poison"))
    consumer = consumer_for(queues.sqs, queues.url, handler)

    first = one_batch(consumer)
    assert first.deleted == (healthy_1, healthy_2)
    assert first.failed == (poison,)
    second = one_batch(consumer)
    assert second.received == (poison,)
    assert second.failed == (poison,)
    # The receive after maxReceiveCount receives moves it to the dead-letter queue instead.
    assert consumer.run_once() is None

    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for r in handler.records]
    assert receive_counts == ["1", "1", "1", "2"]
    assert count_on(queues.sqs, queues.url) == 0
    (dead,) = drain(queues.sqs, queues.dead_letter_url)
    assert dead["MessageId"] == poison
    assert dead["Body"] == "poison"
    assert drain(queues.sqs, queues.dead_letter_url) == []


# 6. The context is a fresh Lambda context per invocation.


def test_the_handler_gets_a_lambda_context(queues: Queues) -> None:
    send(queues.sqs, queues.url, "a")
    send(queues.sqs, queues.url, "b")
    handler = Recorder()

    def remaining(event: dict[str, Any], context: Any) -> Any:
        handler(event, context)
        return {"remaining": context.get_remaining_time_in_millis()}

    consumer = consumer_for(
        queues.sqs,
        queues.url,
        remaining,
        batch_size=1,
        function_timeout_seconds=30,
        function_name="ingest-worker",
        memory_size_mb=256,
    )
    one_batch(consumer)
    one_batch(consumer)

    first, second = handler.contexts
    assert first is not second
    for context in (first, second):
        assert context.function_name == "ingest-worker"
        assert context.memory_limit_in_mb == 256
        assert 25_000 < context.get_remaining_time_in_millis() <= 30_000
    assert first.aws_request_id != second.aws_request_id


def test_a_handler_that_outlives_the_function_timeout_fails_the_batch(queues: Queues) -> None:
    ids = send(queues.sqs, queues.url, "slow")

    def slow(event: dict[str, Any], context: Any) -> Any:
        time.sleep(0.1)

    consumer = consumer_for(queues.sqs, queues.url, slow, function_timeout_seconds=0.01)
    outcome = one_batch(consumer)

    assert outcome.failed == tuple(ids)
    assert outcome.handler_error is not None
    assert "timed out" in outcome.handler_error
    assert count_on(queues.sqs, queues.url) == 1


# 7. Threads: every message once, and a prompt stop.


def test_threads_process_every_message_once_and_stop(queues: Queues) -> None:
    url = queues.create("busy", VisibilityTimeout="30")
    ids = send(queues.sqs, url, *(f"message-{number}" for number in range(30)))
    handler = Recorder()
    consumer = consumer_for(queues.sqs, url, handler, concurrency=3, poll_wait_seconds=1)

    consumer.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            consumer.start()
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while consumer.stats.records_deleted < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stopping = time.monotonic()
        consumer.stop(timeout=5)
        stopped_after = time.monotonic() - stopping

    assert not consumer.running
    assert stopped_after < 4  # a poll lasts 1 s; only guards against a hang
    assert Counter(record["messageId"] for record in handler.records) == Counter(ids)
    stats = consumer.stats
    assert stats.records_received == stats.records_deleted == 30
    assert stats.records_failed == stats.handler_errors == stats.poll_errors == 0
    assert stats.batches == len(handler.events)
    assert count_on(queues.sqs, url) == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("sqs-consumer-")]


def test_stop_lets_an_in_flight_batch_finish(queues: Queues) -> None:
    url = queues.create("in-flight", VisibilityTimeout="30")
    ids = send(queues.sqs, url, "a", "b")
    started = threading.Event()
    release = threading.Event()

    def hold(event: dict[str, Any], context: Any) -> Any:
        started.set()
        release.wait(HANG_GUARD_SECONDS)

    consumer = consumer_for(queues.sqs, url, hold, concurrency=1, poll_wait_seconds=1)
    consumer.start()
    assert started.wait(HANG_GUARD_SECONDS)
    threading.Timer(0.2, release.set).start()
    consumer.stop(timeout=HANG_GUARD_SECONDS)

    assert not consumer.running
    assert consumer.stats.records_deleted == len(ids)
    assert count_on(queues.sqs, url) == 0


# 8. The batching window gathers a fuller batch.


def test_without_a_window_one_receive_makes_the_batch(queues: Queues) -> None:
    url = queues.create("unwindowed", VisibilityTimeout="30")
    send(queues.sqs, url, "a", "b")
    timer = threading.Timer(0.2, send, (queues.sqs, url, "c", "d", "e"))
    timer.start()
    try:
        consumer = consumer_for(queues.sqs, url, Recorder(), batch_size=5)
        assert len(one_batch(consumer).received) == 2
    finally:
        timer.join(HANG_GUARD_SECONDS)


def test_a_batching_window_waits_for_a_full_batch(queues: Queues) -> None:
    url = queues.create("windowed", VisibilityTimeout="30")
    early = send(queues.sqs, url, "a", "b")
    late: list[str] = []
    timer = threading.Timer(0.2, lambda: late.extend(send(queues.sqs, url, "c", "d", "e", "f")))
    timer.start()
    try:
        handler = Recorder()
        consumer = consumer_for(
            queues.sqs, url, handler, batch_size=5, batching_window_seconds=HANG_GUARD_SECONDS
        )
        outcome = one_batch(consumer)
    finally:
        timer.join(HANG_GUARD_SECONDS)

    assert len(outcome.received) == 5
    assert outcome.received[:2] == tuple(early)
    assert set(outcome.received[2:]) <= set(late)
    assert len(handler.events) == 1
    assert count_on(queues.sqs, url) == 1


def test_a_window_that_elapses_invokes_with_what_it_has(queues: Queues) -> None:
    url = queues.create("quiet", VisibilityTimeout="30")
    ids = send(queues.sqs, url, "a", "b")
    consumer = consumer_for(queues.sqs, url, Recorder(), batch_size=10, batching_window_seconds=0.3)
    assert one_batch(consumer).deleted == tuple(ids)


def test_a_message_received_twice_in_a_window_is_in_the_batch_once(queues: Queues) -> None:
    url = queues.create("no-visibility", VisibilityTimeout="0")
    ids = send(queues.sqs, url, "a", "b")
    handler = Recorder()
    consumer = consumer_for(queues.sqs, url, handler, batch_size=5, batching_window_seconds=0.3)

    outcome = one_batch(consumer)

    assert outcome.received == tuple(ids)
    assert outcome.deleted == tuple(ids)
    assert [r["messageId"] for r in handler.records] == ids
    assert count_on(queues.sqs, url) == 0


# 9. The emulator failing does not kill the consumer.


class BrokenSQS:
    """A client whose every call fails as if the emulator were down."""

    meta = SimpleNamespace(region_name=REGION)

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, **kwargs: Any) -> Any:
        self.calls += 1
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5999")

    get_queue_attributes = receive_message = delete_message_batch = _fail


def test_a_failed_poll_is_logged_and_survived(caplog: Any) -> None:
    consumer = QueueConsumer(BrokenSQS(), ConsumerSettings(queue_url="http://x/q"), Recorder())
    with caplog.at_level(logging.ERROR, logger="devstack.consumer"):
        assert consumer.run_once() is None
        assert consumer.run_once() is None
    assert "Could not connect" in caplog.text
    assert consumer.stats.poll_errors == 2
    assert consumer.stats.batches == 0


def test_a_missing_queue_is_a_failed_poll(queues: Queues) -> None:
    consumer = consumer_for(queues.sqs, queues.url + "-missing", Recorder())
    assert consumer.run_once() is None
    assert consumer.stats.poll_errors == 1


def test_threads_back_off_while_the_emulator_is_down_and_stop_promptly() -> None:
    sqs = BrokenSQS()
    consumer = QueueConsumer(
        sqs, ConsumerSettings(queue_url="http://x/q", concurrency=2), Recorder()
    )
    consumer.start()
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while consumer.stats.poll_errors < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping = time.monotonic()
    consumer.stop(timeout=5)

    assert time.monotonic() - stopping < 3  # backoff waits on the stop event; hang guard only
    assert not consumer.running
    assert consumer.stats.poll_errors >= 6
    assert sqs.calls == consumer.stats.poll_errors


class FlakyDeletes:
    """The real client, except that DeleteMessageBatch fails as told."""

    def __init__(self, sqs: Any, failure: str) -> None:
        self.sqs = sqs
        self.meta = sqs.meta
        self.failure = failure

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        if self.failure == "raise":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5999")
        first, *rest = Entries
        response = self.sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=rest)
        response["Failed"] = [
            {
                "Id": first["Id"],
                "SenderFault": True,
                "Code": "ReceiptHandleIsInvalid",
                "Message": "no",
            }
        ]
        return response


@pytest.mark.parametrize("failure", ["raise", "partial"])
def test_failed_deletes_are_logged_and_left_for_redelivery(
    queues: Queues, caplog: Any, failure: str
) -> None:
    ids = send(queues.sqs, queues.url, "a", "b", "c")
    consumer = QueueConsumer(
        FlakyDeletes(queues.sqs, failure),
        ConsumerSettings(queue_url=queues.url, poll_wait_seconds=0),
        Recorder(),
    )
    with caplog.at_level(logging.WARNING, logger="devstack.consumer"):
        outcome = one_batch(consumer)

    assert outcome.handler_error is None
    left = ids if failure == "raise" else ids[:1]
    assert outcome.failed == tuple(left)
    assert outcome.deleted == tuple(i for i in ids if i not in left)
    assert "redelivered" in caplog.text
    assert sorted(m["MessageId"] for m in drain(queues.sqs, queues.url)) == sorted(left)


def test_settings_outside_sqs_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        ConsumerSettings(queue_url="q", batch_size=11)
    with pytest.raises(ValueError, match="concurrency"):
        ConsumerSettings(queue_url="q", concurrency=0)
    with pytest.raises(ValueError, match="poll_wait_seconds"):
        ConsumerSettings(queue_url="q", poll_wait_seconds=21)
