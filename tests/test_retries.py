"""Client retries: posting the same log_id again never makes a second record, whatever came back.

A 503 can mean that SQS never got the log (connection refused) or that it got it and the answer
was lost on the way back (a read timeout): the client cannot tell, so it posts again with the
same log_id, and the queue may then hold two copies. A client that timed out on a 202 does the
same. The worker's conditional write keeps one item per (tenant_id, log_id) in every case.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from chalice.test import Client

from chalicelib import clients, worker
from chalicelib.partitions import with_originals
from tests.conftest import sqs_record

LOG = {"tenant_id": "acme", "log_id": "order-17", "text": "Paid by 555-0199"}


class FlakySQS:
    """The real SQS client, except that the next SendMessage fails as told."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.failure: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message(self, **request: Any) -> Any:
        failure, self.failure = self.failure, None
        if failure == "refused":
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
        response = self.sqs.send_message(**request)
        if failure == "answer lost":
            raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
        return response


@pytest.fixture
def sqs(aws: Any, monkeypatch: pytest.MonkeyPatch) -> FlakySQS:
    flaky = FlakySQS(clients.client("sqs"))
    monkeypatch.setattr("chalicelib.queue.client", lambda service: flaky)
    return flaky


def post(client: Client, log: dict[str, str]) -> Any:
    return client.http.post(
        "/ingest", headers={"Content-Type": "application/json"}, body=json.dumps(log)
    )


def process_queue(aws: Any) -> int:
    """Let the worker take every queued message, in the order SQS returns them; return how many."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    records = [sqs_record(m["Body"], m["MessageId"]) for m in messages]
    assert worker.process_batch(records, lambda: 600_000.0) == {"batchItemFailures": []}
    return len(records)


def stored(aws: Any) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    plain = [{name: value.get("S") for name, value in item.items()} for item in items]
    return with_originals(plain)


@pytest.mark.parametrize(
    ("failure", "copies_queued"), [("refused", 1), ("answer lost", 2)], ids=["refused", "lost"]
)
def test_a_retry_after_a_503_makes_one_record(
    client: Client, sqs: FlakySQS, aws: Any, failure: str, copies_queued: int
) -> None:
    sqs.failure = failure
    assert post(client, LOG).status_code == 503
    retry = post(client, LOG)
    assert retry.status_code == 202

    assert process_queue(aws) == copies_queued
    [item] = stored(aws)
    assert (item["tenant_id"], item["log_id"], item["original_text"]) == (
        "acme",
        "order-17",
        LOG["text"],
    )


def test_a_repost_after_a_client_timeout_makes_one_record(
    client: Client, sqs: FlakySQS, aws: Any
) -> None:
    first, second = post(client, LOG), post(client, LOG)
    assert first.status_code == second.status_code == 202

    assert process_queue(aws) == 2
    [item] = stored(aws)
    assert item["request_id"] in {first.json_body["request_id"], second.json_body["request_id"]}


def test_with_a_different_text_the_first_stored_wins_and_the_other_is_dropped(
    client: Client, sqs: FlakySQS, aws: Any
) -> None:
    """Both posts are answered 202; only the text the worker stores first is kept."""
    changed = LOG | {"text": "Paid by card"}
    assert post(client, LOG).status_code == post(client, changed).status_code == 202

    process_queue(aws)

    [item] = stored(aws)
    assert item["original_text"] == LOG["text"]
    assert item["modified_data"] == "Paid by [REDACTED]"


def test_a_different_text_stored_first_wins_even_if_posted_second(
    client: Client, sqs: FlakySQS, aws: Any
) -> None:
    """Stored first is not posted first: a crash or a throttled write can reorder the two."""
    changed = LOG | {"text": "Paid by card"}
    assert post(client, LOG).status_code == post(client, changed).status_code == 202
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
    first, second = (sqs_record(m["Body"], m["MessageId"]) for m in messages["Messages"])

    worker.process_batch([second], lambda: 600_000.0)  # the first one's attempt crashed
    worker.process_batch([first], lambda: 600_000.0)  # its redelivery is the duplicate

    [item] = stored(aws)
    assert item["original_text"] == "Paid by card"


class RefusingBatches:
    """The real SQS client, except that the next SendMessageBatch refuses its last entry."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.refuse = 0  # calls left that refuse their last entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        if not self.refuse:
            return self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        self.refuse -= 1
        *taken, refused = Entries
        answer = self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=taken) if taken else {}
        failure = {"Id": refused["Id"], "SenderFault": False, "Code": "ServiceUnavailable"}
        return {"Successful": answer.get("Successful", []), "Failed": [failure]}


@pytest.mark.parametrize("keyed", [True, False], ids=["idempotency-key", "log-ids"])
def test_a_batch_resent_whole_after_a_503_stores_each_log_once(
    client: Client, aws: Any, monkeypatch: pytest.MonkeyPatch, keyed: bool
) -> None:
    refusing = RefusingBatches(clients.client("sqs"))
    monkeypatch.setattr("chalicelib.queue.client", lambda service: refusing)
    logs = [{"tenant_id": "acme", "text": f"line {n} from 555-0199"} for n in range(3)]
    if not keyed:
        logs = [log | {"log_id": f"batch-{n}"} for n, log in enumerate(logs)]
    headers = {"Content-Type": "application/x-ndjson"}
    if keyed:
        headers["Idempotency-Key"] = "01JD7X3W5V9ZQ8R2M4N6P0T1AB"
    body = "\n".join(json.dumps(log) for log in logs)

    refusing.refuse = 2  # the call and its retry both refuse the last log
    first = client.http.post("/ingest", headers=headers, body=body)
    assert first.status_code == 503
    assert [item["status"] for item in first.json_body["items"]] == [202, 202, 503]
    retry = client.http.post("/ingest", headers=headers, body=body)
    assert retry.status_code == 202
    ids = [item["log_id"] for item in retry.json_body["items"]]
    assert ids == [item["log_id"] for item in first.json_body["items"]]

    assert process_queue(aws) == 5  # two logs queued twice, the refused one once
    assert sorted(item["log_id"] for item in stored(aws)) == sorted(ids)
