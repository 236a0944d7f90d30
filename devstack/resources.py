"""Create the stage's queues, tables and reader role in the emulator, as AWS would have them.

The settings are the stage's own (`chalicelib.config.Settings`), so the local stack runs with the
same redrive count, visibility timeout and retention as the deployed one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings, load_settings
from devstack.stage import emulator_client


@dataclass(frozen=True)
class Resources:
    """Where the provisioned resources live."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str
    tenants_table_name: str


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _create_table(dynamodb: Any, name: str, keys: tuple[tuple[str, str], ...]) -> None:
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
            KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        )
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.get_waiter("table_exists").wait(TableName=name)


def provision(settings: Settings, sqs: Any, dynamodb: Any) -> Resources:
    """Create (or find) the queue with its redrive policy, the dead-letter queue and the tables."""
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
    _create_table(dynamodb, settings.table_name, (("tenant_id", "HASH"), ("log_id", "RANGE")))
    _create_table(dynamodb, settings.tenants_table_name, (("key_id", "HASH"),))
    return Resources(
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dead_letter_queue_url=dead_letter_url,
        table_name=settings.table_name,
        tenants_table_name=settings.tenants_table_name,
    )


def create_reader_role(settings: Settings, iam: Any) -> str:
    """Create (or find) the tenant reader role and return its ARN, for `TENANT_READ_ROLE_ARN`.

    The emulator does not enforce IAM, so the role is there for the ARN the API assumes, with
    the same read grant as the deployed one.
    """
    from infra.iam import TENANT_READER, policy_document, reader_role_name, reader_trust

    name = reader_role_name(settings)
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    trust = reader_trust({"AWS": "*"})
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    # The emulator's own account and region: moto's defaults, as the local stack runs them.
    table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{settings.table_name}"
    read = policy_document(TENANT_READER, {"table": table})
    iam.put_role_policy(RoleName=name, PolicyName="ReadLogsTable", PolicyDocument=json.dumps(read))
    return arn


def provision_lifecycle(settings: Settings, dynamodb: Any, s3: Any) -> str:
    """Turn on the logs table's TTL and stream and create the archive bucket with its rules.

    As `infra.lifecycle` declares them for the stacks; returns the stream's ARN. moto keeps
    the TTL setting but never expires an item: `devstack.ttl` plays that part.
    """
    from infra.lifecycle import (
        ARCHIVE_BUCKET,
        PUBLIC_ACCESS_BLOCKS,
        STREAM_VIEW_TYPE,
        TTL_ATTRIBUTE,
    )

    table = settings.table_name
    description = dynamodb.describe_table(TableName=table)["Table"]
    if not description.get("StreamSpecification", {}).get("StreamEnabled"):
        stream = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
        description = dynamodb.update_table(TableName=table, StreamSpecification=stream)[
            "TableDescription"
        ]
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    bucket = settings.archive_bucket_name
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    rules = ARCHIVE_BUCKET
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": rules.encryption}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration=dict.fromkeys(
            PUBLIC_ACCESS_BLOCKS, rules.block_public_access
        ),
    )
    transition = {"Days": rules.transition_days, "StorageClass": rules.colder_storage_class}
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": rules.lifecycle_rule_id,
                    "Status": "Enabled",
                    "Filter": {},
                    "Transitions": [transition],
                }
            ]
        },
    )
    return str(description["LatestStreamArn"])


def provision_local(environment: Mapping[str, str]) -> Resources:
    """Provision, in the emulator `environment` points at, the resources its settings name."""
    settings = load_settings(environment)
    resources = provision(
        settings, emulator_client(environment, "sqs"), emulator_client(environment, "dynamodb")
    )
    provision_lifecycle(
        settings, emulator_client(environment, "dynamodb"), emulator_client(environment, "s3")
    )
    return resources


def provision_stack(
    api_environment: dict[str, str], worker_environment: dict[str, str]
) -> Resources:
    """Provision the emulator for a local stack and point both functions' environments at it.

    The one way `make dev` and the chaos soak set a stack up, so the two cannot drift apart:
    both functions learn the queue's URL, and the API the reader role it assumes for reads.
    """
    resources = provision_local(worker_environment)
    reader_role = create_reader_role(
        load_settings(api_environment), emulator_client(api_environment, "iam")
    )
    for environment in (api_environment, worker_environment):
        environment["QUEUE_URL"] = resources.queue_url
        environment["TENANT_READ_ROLE_ARN"] = reader_role
    return resources
