"""Create the stage's queue, dead-letter queue and table in the emulator, as AWS would have them.

The settings are the stage's own (`chalicelib.config.Settings`), so the local stack runs with the
same redrive count, visibility timeout and retention as the deployed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings


@dataclass(frozen=True)
class Resources:
    """Where the provisioned resources live."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _create_table(dynamodb: Any, name: str) -> None:
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "log_id", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "log_id", "KeyType": "RANGE"},
            ],
        )
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.get_waiter("table_exists").wait(TableName=name)


def provision(settings: Settings, sqs: Any, dynamodb: Any) -> Resources:
    """Create (or find) the queue with its redrive policy, the dead-letter queue and the table."""
    dead_letter_url = sqs.create_queue(
        QueueName=settings.dead_letter_queue_name,
        Attributes={"MessageRetentionPeriod": str(settings.dead_letter_retention_seconds)},
    )["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": _queue_arn(sqs, dead_letter_url),
        "maxReceiveCount": str(settings.max_receive_count),
    }
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": str(settings.queue_visibility_timeout_seconds),
            "MessageRetentionPeriod": str(settings.queue_retention_seconds),
            "MaximumMessageSize": str(settings.queue_message_max_bytes),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    _create_table(dynamodb, settings.table_name)
    return Resources(
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dead_letter_queue_url=dead_letter_url,
        table_name=settings.table_name,
    )
