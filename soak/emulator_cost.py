"""Where a log's time goes in the emulator: `python -m soak.emulator_cost`.

The local stack's ceiling is the emulator, which answers one request at a time (moto's SQS is
not thread-safe, `devstack.emulator`). Each log costs it a `SendMessage`, a `ReceiveMessage`, a
`DeleteMessageBatch` and a `PutItem` (the limiter's `UpdateItem` is one per lease, not per log).
This times each call against a fresh emulator, with a short queue and with a backlog, since
moto's `ReceiveMessage` walks every message in the queue, and prints the logs a second one
emulator can carry. docs/capacity.md quotes a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack.processes import free_port, stop, wait_for_port

_CALLS = 200


@contextmanager
def _emulator() -> Iterator[dict[str, str]]:
    """A fresh emulator process, as boto3 client arguments."""
    port = free_port()
    module = [sys.executable, "-m", "devstack.emulator", "--port", str(port)]
    process = subprocess.Popen(module, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, "the emulator")
        yield {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    finally:
        stop(process)


def _ms_per_call(call: Callable[[int], Any], calls: int = _CALLS) -> float:
    started = time.perf_counter()
    for number in range(calls):
        call(number)
    return (time.perf_counter() - started) / calls * 1000


def measure(backlog: int, calls: int = _CALLS) -> dict[str, float]:
    """Milliseconds per call of each request a log costs, with `backlog` logs waiting."""
    import boto3

    with _emulator() as endpoint:
        sqs, dynamodb = boto3.client("sqs", **endpoint), boto3.client("dynamodb", **endpoint)
        url = sqs.create_queue(QueueName="cost", Attributes={"VisibilityTimeout": "600"})[
            "QueueUrl"
        ]
        dynamodb.create_table(
            TableName="cost",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        )
        body = json.dumps({"tenant_id": "acme", "text": "x" * 100})

        def send(number: int) -> None:
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=f"t{number % 20}")

        for number in range(backlog):
            send(number)
        handles: list[str] = []
        receiving = [0.0]

        def receive(number: int) -> None:
            send(number)  # one in, one out: the backlog stays as it is
            started = time.perf_counter()
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]
            )
            receiving[0] += time.perf_counter() - started
            handles.append(answer["Messages"][0]["ReceiptHandle"])

        send_ms = _ms_per_call(send, calls)
        for number in range(calls):
            receive(number)

        def delete(number: int) -> None:
            entry = {"Id": "0", "ReceiptHandle": handles[number]}
            sqs.delete_message_batch(QueueUrl=url, Entries=[entry])

        def put(number: int) -> None:
            dynamodb.put_item(TableName="cost", Item={"k": {"S": str(number)}, "v": {"S": body}})

        return {
            "SendMessage": send_ms,
            "ReceiveMessage": receiving[0] / calls * 1000,
            "DeleteMessageBatch": _ms_per_call(delete, calls),
            "PutItem": _ms_per_call(put, calls),
        }


def main() -> None:
    """Print each call's cost and the ceiling, with a short queue and with a backlog."""
    for backlog in (0, 2000):
        costs = measure(backlog)
        per_log = sum(costs.values())
        calls = ", ".join(f"{name} {ms:.1f}" for name, ms in costs.items())
        print(
            f"{backlog:5} waiting: {calls} ms; {per_log:.1f} ms a log, at most "
            f"{1000 / per_log:.0f} logs/s ({60000 / per_log:,.0f} a minute)"
        )


if __name__ == "__main__":
    main()
