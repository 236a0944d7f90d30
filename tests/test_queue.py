"""Sending many logs: SendMessageBatch calls within SQS's limits, refused entries sent once more."""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ParamValidationError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import clients, queue
from chalicelib.errors import ServiceUnavailableError
from chalicelib.queue import BATCH_MAX_BYTES, BATCH_MAX_ENTRIES, batches, send_all

sizes = st.lists(st.integers(min_value=1, max_value=BATCH_MAX_BYTES), max_size=60)


@given(sizes=sizes, wide=st.booleans())
def test_calls_keep_order_and_stay_within_sqs_limits(sizes: list[int], wide: bool) -> None:
    bodies = [("é" if wide else "x") * (size // 2 if wide else size) for size in sizes]
    calls = batches(bodies)
    assert [position for call in calls for position in call] == list(range(len(bodies)))
    for call in calls:
        assert 1 <= len(call) <= BATCH_MAX_ENTRIES
        assert sum(len(bodies[p].encode()) for p in call) <= BATCH_MAX_BYTES
    # Greedy: a call ends only where the next body would break a limit.
    for call, following in itertools.pairwise(calls):
        size = sum(len(bodies[p].encode()) for p in call + following[:1])
        assert len(call) == BATCH_MAX_ENTRIES or size > BATCH_MAX_BYTES


def queued(aws: Any) -> list[str]:
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while True:
        answer = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
        if not answer.get("Messages"):
            return bodies
        bodies += [message["Body"] for message in answer["Messages"]]
        sqs.delete_message_batch(
            QueueUrl=aws.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(answer["Messages"])
            ],
        )


class Sent(Exception):
    """The call got as far as sending: botocore did not refuse its parameters."""


def test_the_queue_client_leaves_checking_parameters_to_sqs() -> None:
    # Its calls' parameters are ingest's own; the other services' clients keep botocore's check.
    def stop(**kwargs: Any) -> None:
        raise Sent

    sqs, dynamodb = clients.client("sqs"), clients.client("dynamodb")
    sqs.meta.events.register("before-send", stop)
    with pytest.raises(Sent):
        sqs.send_message_batch(QueueUrl="https://queue", Entries=[{"MessageBody": "no Id"}])
    with pytest.raises(ParamValidationError):
        dynamodb.get_item(TableName="logs")  # no Key


def test_every_body_is_one_message(aws: Any) -> None:
    bodies = [json.dumps({"n": n, "pad": "x" * 60_000 * (n % 3)}) for n in range(35)]
    assert send_all(bodies, ["acme"] * 35) == [None] * 35
    assert sorted(queued(aws)) == sorted(bodies)


class RefusingSQS:
    """The real SQS client, except that SendMessageBatch refuses the entries it is told to."""

    def __init__(self, sqs: Any, refusals: dict[str, int]) -> None:
        self.sqs = sqs
        self.refusals = refusals  # message body -> how many calls refuse it
        self.calls: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        self.calls.append([entry["MessageBody"] for entry in Entries])
        refused = [e for e in Entries if self.refusals.get(e["MessageBody"], 0) > 0]
        for entry in refused:
            self.refusals[entry["MessageBody"]] -= 1
        taken = [e for e in Entries if e not in refused]
        answer = self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=taken) if taken else {}
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for e in refused
        ]
        return {"Successful": answer.get("Successful", []), "Failed": failed}


@pytest.fixture
def refusing(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(refusals: dict[str, int]) -> RefusingSQS:
        stub = RefusingSQS(clients.client("sqs"), refusals)
        monkeypatch.setattr(queue, "client", lambda service: stub)
        return stub

    return install


def test_an_entry_refused_once_is_sent_again_and_queued(aws: Any, refusing: Any) -> None:
    bodies = [f"log {n}" for n in range(12)]
    stub = refusing({"log 3": 1, "log 11": 1})
    assert send_all(bodies, ["acme"] * 12) == [None] * 12
    assert sorted(queued(aws)) == sorted(bodies)
    # Two calls (10 and 2 entries), then each refused entry once more in its own call's retry.
    assert sorted(len(call) for call in stub.calls) == [1, 1, 2, 10]
    assert sorted(call for call in stub.calls if len(call) == 1) == [["log 11"], ["log 3"]]


def test_an_entry_refused_twice_is_a_503_and_the_others_are_queued(aws: Any, refusing: Any) -> None:
    bodies = [f"log {n}" for n in range(5)]
    stub = refusing({"log 2": 2})
    outcomes = send_all(bodies, ["acme"] * 5)
    assert [outcome is None for outcome in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], ServiceUnavailableError)
    assert "InternalError" in str(outcomes[2])
    assert "retry with the same log_id" in str(outcomes[2])
    assert sorted(queued(aws)) == ["log 0", "log 1", "log 3", "log 4"]
    assert len(stub.calls) == 2


def test_a_call_that_fails_makes_all_its_entries_503(
    aws: Any, monkeypatch: pytest.MonkeyPatch, configure: Any
) -> None:
    configure(QUEUE_URL=aws.queue_url)

    class Unreachable:
        def send_message_batch(self, **request: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    monkeypatch.setattr(queue, "client", lambda service: Unreachable())
    outcomes = send_all([f"log {n}" for n in range(15)], ["acme"] * 15)
    assert len(outcomes) == 15
    assert all(isinstance(outcome, ServiceUnavailableError) for outcome in outcomes)
    assert "unreachable" in str(outcomes[0])
