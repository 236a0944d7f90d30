"""The emulator's standard queues deliver fairly between tenants, as SQS fair queues do."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from devstack.emulator import deliver_fairly, fair_order


def test_fair_order_takes_turns_quiet_groups_first_and_keeps_each_groups_order() -> None:
    visible = ["n1", "n2", "n3", "n4", "q1", "r1", "q2"]
    order = fair_order(visible, lambda message: message[0], Counter({"n": 2}))
    assert order == ["q1", "r1", "q2", "n1", "n2", "n3", "n4"]
    assert fair_order(visible, lambda message: message[0], Counter()) == [
        "n1", "q1", "r1", "n2", "q2", "n3", "n4",
    ]  # fmt: skip


@pytest.fixture
def fair_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs import models

    monkeypatch.setattr(models.Queue, "messages", models.Queue.messages)  # restored afterwards
    deliver_fairly()


def test_a_quiet_tenant_is_not_queued_behind_a_flood(aws: Any, fair_moto: None) -> None:
    sqs = boto3.client("sqs")
    for number in range(30):
        sqs.send_message(
            QueueUrl=aws.queue_url, MessageBody=f"noisy {number}", MessageGroupId="noisy"
        )
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody="quiet 0", MessageGroupId="quiet")
    first = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    second = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [message["Body"] for message in first + second]
    # With 1 noisy message in flight, the quiet tenant's only log is next; in arrival order it
    # would have been 31st.
    assert bodies.index("quiet 0") == 1
    assert [b for b in bodies if b.startswith("noisy")] == [f"noisy {n}" for n in range(19)]
