"""Inspect the dead-letter queue and move its messages back to the ingest queue: `make redrive`.

Lists each dead letter (id, receive count, age, and what it holds: a log's tenant and id, or why
it is poison), then moves them all back, so that logs stranded by an outage get processed once
the cause is fixed. Poison moved back fails again and returns to the dead-letter queue after
`MAX_RECEIVE_COUNT` receives.

On AWS (`--aws`) SQS moves them itself with `StartMessageMoveTask` (what the console's "Start
DLQ redrive" button calls); the command starts the task and follows it to the end. The same
from the AWS CLI:

    aws sqs start-message-move-task --source-arn <dead-letter queue ARN>
    aws sqs list-message-move-tasks --source-arn <dead-letter queue ARN>

The emulator lacks that call, so against it (the default) each message is received from the
dead-letter queue, sent to the ingest queue, written to a journal, and only then deleted.
Guarantee, whenever the process is interrupted:

- no message is lost: a message leaves the dead-letter queue only after the ingest queue has
  acknowledged its copy and the journal has recorded that on disk;
- no message is doubled by an interruption between steps: a message received but not sent
  reappears after its visibility timeout and is moved by the next run; one sent and journaled
  but not deleted is deleted by the next run without being sent again;
- one window is left: dying inside the SendMessage call, after SQS stored the copy and before
  the journal recorded it. The next run sends that message again. Both copies carry the same
  body, so the worker stores the log once (its write is conditional on tenant_id and log_id),
  and a poison message ends in the dead-letter queue twice. Only a FIFO queue's deduplication
  could close this window, and the ingest queue is a standard queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.message import InvalidFieldError, LogMessage

#: How long a message received for inspection or moving stays hidden from other readers.
HOLD_SECONDS = 60
#: The message attribute that tells a moved message from its original: the dead letter's id.
MOVED_FROM = "redriven_from"
_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as `inspect` shows it.

    `receives` counts deliveries before this look (the source queue's, which SQS carries over
    to the dead-letter queue, and earlier looks), not the receive that took the look.
    """

    message_id: str
    receives: int
    sent_at: str
    body: str
    verdict: str


def verdict(body: str) -> str:
    """What a message body holds: `log acme/101 (23 characters)`, or why it is poison."""
    try:
        message = LogMessage.from_json(body)
    except InvalidFieldError as error:
        return f"poison: {error}"
    return f"log {message.tenant_id}/{message.log_id} ({len(message.text)} characters)"


def _dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent = int(attributes.get("SentTimestamp", 0)) / 1000
    return DeadLetter(
        message_id=message["MessageId"],
        receives=int(attributes.get("ApproximateReceiveCount", 1)) - 1,
        sent_at=datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
        body=message["Body"],
        verdict=verdict(message["Body"]),
    )


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=HOLD_SECONDS,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def _all_messages(sqs: Any, url: str) -> Iterator[dict[str, Any]]:
    """Receive until the queue has nothing visible left, each message once."""
    seen: set[str] = set()
    while batch := [m for m in _receive(sqs, url) if m["MessageId"] not in seen]:
        seen.update(message["MessageId"] for message in batch)
        yield from batch


def inspect(sqs: Any, dead_letter_url: str) -> list[DeadLetter]:
    """Every visible dead letter, left where it was and visible again for the next reader."""
    messages = list(_all_messages(sqs, dead_letter_url))
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return [_dead_letter(message) for message in messages]


class Journal:
    """The ids of dead letters already sent to the ingest queue but not yet known deleted.

    One JSON object a line, `{"sent": id}` or `{"deleted": id}`, each flushed to disk before the
    step after it. Opening compacts it to the ids still pending, through a rename, so a crash
    while compacting leaves the old journal whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending = self._read(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        compacted = path.with_suffix(path.suffix + ".tmp")
        compacted.write_text("".join(json.dumps({"sent": id_}) + "\n" for id_ in self._pending))
        os.replace(compacted, path)

    @staticmethod
    def _read(path: Path) -> set[str]:
        pending: set[str] = set()
        if not path.exists():
            return pending
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut short by a crash: its step did not complete
                continue
            if "sent" in entry:
                pending.add(entry["sent"])
            elif "deleted" in entry:
                pending.discard(entry["deleted"])
        return pending

    def was_sent(self, message_id: str) -> bool:
        """Whether a copy of this dead letter is already on the ingest queue."""
        return message_id in self._pending

    def record(self, step: str, message_id: str) -> None:
        """Append `{step: message_id}` and make it durable before returning."""
        with self.path.open("a") as journal:
            journal.write(json.dumps({step: message_id}) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        if step == "sent":
            self._pending.add(message_id)
        else:
            self._pending.discard(message_id)


@dataclass(frozen=True)
class Moved:
    """What one `move_back` did: messages moved, and how many of them were sent by a run before."""

    moved: int
    already_sent: int


def move_back(sqs: Any, dead_letter_url: str, queue_url: str, journal: Journal) -> Moved:
    """Move every visible dead letter to the ingest queue: receive, send, journal, delete."""
    moved = already_sent = 0
    for message in _all_messages(sqs, dead_letter_url):
        message_id = message["MessageId"]
        if journal.was_sent(message_id):
            already_sent += 1
        else:
            attributes = dict(message.get("MessageAttributes", {}))
            attributes[MOVED_FROM] = {"DataType": "String", "StringValue": message_id}
            # The tenant's group goes back with the log: the queue stays fair to it.
            group = message.get("Attributes", {}).get("MessageGroupId")
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=message["Body"],
                MessageAttributes=attributes,
                **({"MessageGroupId": group} if group else {}),
            )
            journal.record("sent", message_id)
        sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
        journal.record("deleted", message_id)
        moved += 1
    return Moved(moved, already_sent)


def move_back_on_aws(sqs: Any, dead_letter_arn: str, wait_seconds: float) -> dict[str, Any]:
    """Start SQS's own move of the dead letters to their source queue and follow it.

    Returns the task as `ListMessageMoveTasks` last described it: finished, or still running
    after `wait_seconds` (SQS carries on with it either way).
    """
    sqs.start_message_move_task(SourceArn=dead_letter_arn)
    deadline = time.monotonic() + wait_seconds
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dead_letter_arn, MaxResults=1)["Results"]
        task: dict[str, Any] = tasks[0] if tasks else {"Status": "UNKNOWN"}
        if task["Status"] in _FINISHED or time.monotonic() >= deadline:
            return task
        time.sleep(2)


def _print_inspection(letters: list[DeadLetter], hidden: int) -> None:
    print(f"{len(letters)} message(s) in the dead-letter queue")
    for letter in letters:
        print(
            f"  {letter.message_id}  received {letter.receives}x  sent {letter.sent_at}  "
            f"{letter.verdict}"
        )
    if hidden:
        print(
            f"and {hidden} hidden: being read elsewhere, or left by an interrupted run; "
            f"visible again within {HOLD_SECONDS} s"
        )


def hidden_count(sqs: Any, url: str) -> int:
    """Messages on a queue that a receive cannot return now (in flight)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _queues(sqs: Any, stage_settings: Any) -> tuple[str, str, str]:
    """(ingest queue URL, dead-letter queue URL, dead-letter queue ARN) of the stage."""
    queue_url = sqs.get_queue_url(QueueName=stage_settings.queue_name)["QueueUrl"]
    dead_letter_url = sqs.get_queue_url(QueueName=stage_settings.dead_letter_queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])
    return queue_url, dead_letter_url, arn["Attributes"]["QueueArn"]


def main() -> None:
    """Inspect the stage's dead-letter queue, then move its messages back unless told not to."""
    import boto3

    from chalicelib.config import load_settings
    from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
    from infra.stage import PROJECT_DIR

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--inspect-only", action="store_true", help="list, move nothing")
    parser.add_argument("--aws", action="store_true", help="the deployed stage, with AWS creds")
    parser.add_argument("--wait", type=float, default=300, help="seconds to follow an AWS move")
    parser.add_argument("--journal", type=Path, help="the emulator path's journal file")
    args = parser.parse_args()
    emulator_url = f"http://{EMULATOR_HOST}:{os.environ.get('EMULATOR_PORT', '5000')}"
    environment = local_environment(args.stage, "worker", emulator_url)
    settings = load_settings(environment)
    sqs = boto3.client("sqs") if args.aws else emulator_client(environment, "sqs")
    try:
        queue_url, dead_letter_url, dead_letter_arn = _queues(sqs, settings)
        _print_inspection(inspect(sqs, dead_letter_url), hidden_count(sqs, dead_letter_url))
        if args.inspect_only:
            return
        if args.aws:
            task = move_back_on_aws(sqs, dead_letter_arn, args.wait)
            print(f"move task {task['Status']}: {task.get('ApproximateNumberOfMessagesMoved', 0)}")
            return
        journal_path = args.journal or (
            PROJECT_DIR / "build" / "local" / f"redrive-{settings.dead_letter_queue_name}.journal"
        )
        moved = move_back(sqs, dead_letter_url, queue_url, Journal(journal_path))
    except Exception as error:
        where = "AWS" if args.aws else f"the local stack at {emulator_url}"
        sys.exit(f"cannot redrive on {where} ({error})")
    resumed = f", {moved.already_sent} sent by an interrupted run" if moved.already_sent else ""
    print(f"moved {moved.moved} message(s) back to {settings.queue_name}{resumed}")


if __name__ == "__main__":
    main()
