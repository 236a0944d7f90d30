"""The stage's queues, tables, archive bucket and roles, made in the emulator from `infra.model`.

The emulator's renderer of the stack: it maps each resource the emulator can play (SQS,
DynamoDB, S3, IAM) to boto3 calls, with the model's names and settings, so the local stack runs with
the same redrive count, visibility timeout, retention and keys as the deployed one. There is no
Lambda, API Gateway or CloudWatch locally: functions, the API, its gateway responses, alarms and
the dashboard are not made here, nor what a switch leaves off (the reviewer role). The emulator
keeps a table's TTL setting but never expires an item: `devstack.ttl` plays that part.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings, load_settings
from devstack.stage import emulator_client
from infra.model import (
    PUBLIC_ACCESS_BLOCKS,
    Account,
    Bucket,
    Function,
    Names,
    Queue,
    Ref,
    Role,
    Stack,
    Table,
    declare,
    stage_config,
)


@dataclass(frozen=True)
class Resources:
    """Where the provisioned resources live."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str
    tenants_table_name: str
    usage_table_name: str


def local_stack(settings: Settings) -> Stack:
    """The stack as the emulator makes it: the declaration of `settings`' stage."""
    return declare(settings, stage_config(settings.stage))


class _Emulator:
    """Creates (or finds) resources in the emulator and remembers their attributes."""

    def __init__(self) -> None:
        self.attributes: dict[Names, dict[str, str]] = {}

    def value(self, ref: Ref) -> str:
        """What `ref` is in the emulator.

        There are no function roles locally, and the emulator does not enforce IAM: a role
        trusted by a function trusts anyone.
        """
        if isinstance(ref.resource, Function):
            return "*"
        return self.attributes[ref.resource.names][ref.attribute]

    def resolve(self, value: Any) -> Any:
        """`value` with every `Ref` in it replaced by what it is in the emulator."""
        if isinstance(value, Ref):
            return self.value(value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item) for item in value]
        return value

    def queue(self, queue: Queue, sqs: Any) -> None:
        attributes = {
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "SqsManagedSseEnabled": str(queue.encrypted).lower(),
        }
        if queue.visibility_timeout_seconds is not None:
            attributes["VisibilityTimeout"] = str(queue.visibility_timeout_seconds)
        if queue.max_message_bytes is not None:
            attributes["MaximumMessageSize"] = str(queue.max_message_bytes)
        if queue.redrive is not None:
            redrive = {
                "deadLetterTargetArn": self.value(Ref(queue.redrive.dead_letter_queue, "arn")),
                "maxReceiveCount": str(queue.redrive.max_receive_count),
            }
            attributes["RedrivePolicy"] = json.dumps(redrive)
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.attributes[queue.names] = {
            "url": url,
            "arn": arn["Attributes"]["QueueArn"],
            "name": queue.name,
        }

    def table(self, table: Table, dynamodb: Any) -> None:
        stream = (
            {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": table.stream_view}}
            if table.stream_view is not None
            else {}
        )
        try:
            dynamodb.create_table(
                TableName=table.name,
                BillingMode=table.billing_mode,
                AttributeDefinitions=[
                    {"AttributeName": key.attribute, "AttributeType": key.type}
                    for key in table.keys
                ],
                KeySchema=[
                    {"AttributeName": key.attribute, "KeyType": key.kind} for key in table.keys
                ],
                SSESpecification={"Enabled": table.encrypted},
                **stream,
            )
        except dynamodb.exceptions.ResourceInUseException:
            pass
        else:
            dynamodb.get_waiter("table_exists").wait(TableName=table.name)
            dynamodb.update_continuous_backups(
                TableName=table.name,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": table.point_in_time_recovery
                },
            )
            if table.ttl_attribute is not None:
                dynamodb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
                )
        described = dynamodb.describe_table(TableName=table.name)["Table"]
        self.attributes[table.names] = {
            "name": table.name,
            "arn": described["TableArn"],
            **(
                {"stream_arn": described["LatestStreamArn"]}
                if "LatestStreamArn" in described
                else {}
            ),
        }

    def bucket(self, bucket: Bucket, s3: Any) -> None:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket.name)
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": bucket.encryption}}
                ]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket.name,
            PublicAccessBlockConfiguration=dict.fromkeys(
                PUBLIC_ACCESS_BLOCKS, bucket.block_public_access
            ),
        )
        transition = {"Days": bucket.transition_days, "StorageClass": bucket.colder_storage_class}
        rule = {
            "ID": bucket.lifecycle_rule_id,
            "Status": "Enabled",
            "Filter": {},
            "Transitions": [transition],
        }
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket.name, LifecycleConfiguration={"Rules": [rule]}
        )
        arn = f"arn:aws:s3:::{bucket.name}"
        self.attributes[bucket.names] = {
            "name": bucket.name,
            "arn": arn,
            "objects_arn": f"{arn}/*",
        }

    def role(self, role: Role, iam: Any) -> None:
        try:
            arn = iam.get_role(RoleName=role.name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trusted = role.trusted
            principal = "*" if isinstance(trusted, Account) else self.value(trusted)
            trust = role.trust({"AWS": principal})
            made = iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(trust))
            arn = made["Role"]["Arn"]
            iam.put_role_policy(
                RoleName=role.name,
                PolicyName=role.policy_name,
                PolicyDocument=json.dumps(self.resolve(role.policy)),
            )
        self.attributes[role.names] = {"arn": str(arn), "name": role.name}


def _provision(model: Stack, sqs: Any, dynamodb: Any, s3: Any, emulator: _Emulator) -> Resources:
    for resource in model.resources:
        if isinstance(resource, Queue):
            emulator.queue(resource, sqs)
        elif isinstance(resource, Table):
            emulator.table(resource, dynamodb)
        elif isinstance(resource, Bucket):
            emulator.bucket(resource, s3)
    queue, dead_letter = (
        emulator.attributes[q.names] for q in (model.queue, model.dead_letter_queue)
    )
    return Resources(
        queue_url=queue["url"],
        queue_arn=queue["arn"],
        dead_letter_queue_url=dead_letter["url"],
        table_name=model.logs_table.name,
        tenants_table_name=model.tenants_table.name,
        usage_table_name=model.usage_table.name,
    )


def provision(settings: Settings, sqs: Any, dynamodb: Any, s3: Any) -> Resources:
    """Create (or find) the stage's queues, with their redrive policy, its tables and bucket."""
    return _provision(local_stack(settings), sqs, dynamodb, s3, _Emulator())


def provision_all(
    settings: Settings, sqs: Any, dynamodb: Any, s3: Any, iam: Any
) -> tuple[Resources, dict[str, str]]:
    """Create (or find) every resource the emulator plays; also return the functions' wiring.

    The wiring is the environment variables that tell a function the resources, as the
    deployed stack sets them (the queue's URL, the reader role's ARN, ...).
    """
    model = local_stack(settings)
    emulator = _Emulator()
    resources = _provision(model, sqs, dynamodb, s3, emulator)
    for resource in model.resources:
        if isinstance(resource, Role) and resource.only_if is None:
            emulator.role(resource, iam)
    return resources, {name: emulator.value(ref) for name, ref in model.wiring.items()}


def provision_stack(
    api_environment: dict[str, str], worker_environment: dict[str, str]
) -> Resources:
    """Provision the emulator for a local stack and point both functions' environments at it.

    The one way `make dev` and the chaos soak set a stack up, so the two cannot drift apart.
    """
    resources, wiring = provision_all(
        load_settings(worker_environment),
        emulator_client(worker_environment, "sqs"),
        emulator_client(worker_environment, "dynamodb"),
        emulator_client(worker_environment, "s3"),
        emulator_client(api_environment, "iam"),
    )
    for environment in (api_environment, worker_environment):
        environment.update(wiring)
    return resources
