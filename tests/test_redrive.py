"""`make redrive`: inspecting the dead-letter queue, moving it back, interrupted at each step."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import worker
from ops import redrive
from ops.redrive import Journal, inspect, move_back, move_back_on_aws
from tests.conftest import queued_message, sqs_record

STEPS = ["after receive", "after send", "after journal", "after delete"]


class Interrupted(Exception):
    """The process dying: nothing after the raise runs."""


class DiesAt:
    """The real SQS client, except that the run dies at one step of the second message moved."""

    def __init__(self, sqs: Any, step: str) -> None:
        self.sqs = sqs
        self.step = step
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def _call(self, operation: str, before: str, after: str, **request: Any) -> Any:
        self.calls[operation] += 1
        second = self.calls[operation] == 2
        if second and self.step == before:
            raise Interrupted(before)
        response = getattr(self.sqs, operation)(**request)
        if second and self.step == after:
            raise Interrupted(after)
        return response

    def send_message(self, **request: Any) -> Any:
        return self._call("send_message", "after receive", "after send", **request)

    def delete_message(self, **request: Any) -> Any:
        return self._call("delete_message", "after journal", "after delete", **request)


@pytest.fixture
def sqs(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator's SQS, with messages held for 0 s so an interrupted run's are back at once."""
    monkeypatch.setattr(redrive, "HOLD_SECONDS", 0)
    return boto3.client("sqs")


def dead_letters(sqs: Any, aws: Any, count: int) -> dict[str, str]:
    """Put `count` logs, the third one poison, straight into the dead-letter queue; by id."""
    bodies = [json.dumps(queued_message(log_id=f"log-{number}")) for number in range(count)]
    bodies[2] = '{"tenant_id": "acme", "text": 7}'
    return {
        sqs.send_message(QueueUrl=aws.dead_letter_queue_url, MessageBody=body)["MessageId"]: body
        for body in bodies
    }


def everything_on(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive every message (for good: held an hour), with its attributes."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
    return messages


def stored_log_ids(aws: Any, messages: list[dict[str, Any]]) -> Counter[str]:
    """Run the moved messages through the worker; count the stored logs per log id."""
    records = [sqs_record(m["Body"], m["MessageId"]) for m in messages]
    worker.process_batch(records, lambda: 600_000.0)
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return Counter(item["log_id"]["S"] for item in items if "#" not in item["tenant_id"]["S"])


def test_inspect_shows_each_dead_letter_and_leaves_it_in_place(sqs: Any, aws: Any) -> None:
    dead_letters(sqs, aws, 4)

    letters = inspect(sqs, aws.dead_letter_queue_url)

    verdicts = sorted(letter.verdict for letter in letters)
    assert verdicts[:3] == [f"log acme/log-{n} (23 characters)" for n in (0, 1, 3)]
    assert verdicts[3].startswith("poison: source must be one of")
    assert all(letter.receives == 0 for letter in letters)
    assert len(everything_on(sqs, aws.dead_letter_queue_url)) == 4


def test_moving_back_moves_each_message_once_and_marks_it(
    sqs: Any, aws: Any, tmp_path: Path
) -> None:
    bodies = dead_letters(sqs, aws, 23)

    moved = move_back(sqs, aws.dead_letter_queue_url, aws.queue_url, Journal(tmp_path / "j"))

    assert moved == redrive.Moved(moved=23, already_sent=0)
    on_queue = everything_on(sqs, aws.queue_url)
    moved_from = {m["MessageAttributes"][redrive.MOVED_FROM]["StringValue"]: m for m in on_queue}
    assert len(on_queue) == len(moved_from) == len(bodies)
    assert {id_: m["Body"] for id_, m in moved_from.items()} == bodies
    assert everything_on(sqs, aws.dead_letter_queue_url) == []
    assert Journal(tmp_path / "j").path.read_text() == ""  # nothing pending once all deleted


@pytest.mark.parametrize("step", STEPS)
def test_an_interrupted_move_loses_nothing_and_doubles_only_inside_send(
    sqs: Any, aws: Any, tmp_path: Path, step: str
) -> None:
    bodies = dead_letters(sqs, aws, 5)
    journal = tmp_path / "redrive.journal"

    with pytest.raises(Interrupted):
        move_back(DiesAt(sqs, step), aws.dead_letter_queue_url, aws.queue_url, Journal(journal))
    rerun = move_back(sqs, aws.dead_letter_queue_url, aws.queue_url, Journal(journal))

    assert everything_on(sqs, aws.dead_letter_queue_url) == []
    on_queue = everything_on(sqs, aws.queue_url)
    twins = 1 if step == "after send" else 0
    assert len(on_queue) == len(bodies) + twins
    assert {m["Body"] for m in on_queue} == set(bodies.values())
    assert rerun.already_sent == (1 if step == "after journal" else 0)
    # Even the twin is harmless: each log is stored once, and the poison stays unstored.
    assert stored_log_ids(aws, on_queue) == Counter(f"log-{n}" for n in (0, 1, 3, 4))


def test_the_journal_ignores_a_line_cut_short_and_keeps_only_pending_ids(
    tmp_path: Path,
) -> None:
    path = tmp_path / "redrive.journal"
    path.write_text('{"sent": "a"}\n{"sent": "b"}\n{"deleted": "a"}\n{"sent": "c')

    journal = Journal(path)

    assert (journal.was_sent("a"), journal.was_sent("b"), journal.was_sent("c")) == (
        False,
        True,
        False,
    )
    assert path.read_text() == '{"sent": "b"}\n'


def test_on_aws_sqs_moves_the_messages_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 lacks StartMessageMoveTask, so AWS's answers are stubbed from its model."""
    monkeypatch.setattr("ops.redrive.time.sleep", lambda seconds: None)
    sqs = boto3.client("sqs", region_name="us-east-1")
    arn = "arn:aws:sqs:us-east-1:123456789012:robust-data-processor-prod-ingest-dlq"
    with Stubber(sqs) as stub:
        stub.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": arn})
        for status, moved in (("RUNNING", 3), ("COMPLETED", 7)):
            stub.add_response(
                "list_message_move_tasks",
                {
                    "Results": [
                        {
                            "Status": status,
                            "SourceArn": arn,
                            "ApproximateNumberOfMessagesMoved": moved,
                        }
                    ]
                },
                {"SourceArn": arn, "MaxResults": 1},
            )
        task = move_back_on_aws(sqs, arn, wait_seconds=60)
        stub.assert_no_pending_responses()
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 7)


def test_a_moved_log_keeps_its_tenants_message_group(sqs: Any, aws: Any, tmp_path: Path) -> None:
    body = json.dumps(queued_message(log_id="grouped"))
    sqs.send_message(QueueUrl=aws.dead_letter_queue_url, MessageBody=body, MessageGroupId="acme")

    move_back(sqs, aws.dead_letter_queue_url, aws.queue_url, Journal(tmp_path / "j"))

    [message] = sqs.receive_message(
        QueueUrl=aws.queue_url, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert message["Attributes"]["MessageGroupId"] == "acme"
