"""One CloudFormation (SAM) stack for a stage: `python -m infra.template --stage prod`.

Runs `chalice package` with a merge template generated here from the stage's own settings (the
ones `make dev` runs with), so the packaged stack and the local stack cannot drift apart. The
merge template adds the queue, its dead-letter queue, the table, alarms, the dashboard and
outputs; points the functions' environment, roles and event source mapping at those resources by
reference; turns on `ReportBatchItemFailures`, which Chalice 1.34 cannot (chalice issue #2029);
and traces the REST API where the stage traces its functions, which Chalice's template does not.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from infra.alarms import queue_alarms
from infra.chalice_cli import chalice_package
from infra.dashboard import StackNames, dashboard_body, dashboard_name
from infra.iam import (
    FUNCTIONS,
    REVIEWER_SESSION_SECONDS,
    TENANT_READER,
    deployed_function_name,
    policy_document,
    reader_role_name,
    reader_trust,
    reviewer_policy,
    reviewer_role_name,
    reviewer_trust,
    tracing,
)
from infra.lifecycle import (
    ARCHIVE_BUCKET,
    ARCHIVER,
    PUBLIC_ACCESS_BLOCKS,
    STREAM_VIEW_TYPE,
    TTL_ATTRIBUTE,
    TTL_REMOVALS_PATTERN,
)

QUEUE, DEAD_LETTER_QUEUE, TABLE = "IngestQueue", "IngestDeadLetterQueue", "LogsTable"
TENANTS_TABLE, READER_ROLE = "TenantsTable", "TenantReaderRole"
ARCHIVE = "ArchiveBucket"
# Chalice's logical ids for each function and its role.
FUNCTION_RESOURCES = {
    "api_handler": "APIHandler",
    "api_key_authorizer": "ApiKeyAuthorizer",
    "worker": "Worker",
    ARCHIVER: "Archiver",
}
ROLE_RESOURCES = {
    "api_handler": "ApiHandlerRole",
    "api_key_authorizer": "ApiKeyAuthorizerRole",
    "worker": "WorkerRole",
    ARCHIVER: "ArchiverRole",
}
EVENT_SOURCE = "WorkerSqsEventSource"
STREAM_EVENT_SOURCE = "ArchiverDynamodbEventSource"
DASHBOARD = "Dashboard"


#: Security-scan findings we accept, per resource, each with the reason it does not apply.
#: Every other finding of `make scan` (checkov) fails `make test`.
_NO_VPC = (
    "CKV_AWS_117",
    "the functions reach only SQS and DynamoDB over TLS with IAM auth; a VPC would add NAT or "
    "endpoint cost and cold-start latency and protect nothing private",
)
_ENV_NOT_SECRET = (
    "CKV_AWS_173",
    "environment variables hold resource names and tunables, no secrets; Lambda encrypts them "
    "at rest with its AWS managed key",
)
_SYNC_NO_DLQ = (
    "CKV_AWS_116",
    "a function DLQ applies to asynchronous invocations only; this function is invoked "
    "synchronously and its failed records go to the queue's redrive dead-letter queue",
)
_SSE_SQS = (
    "CKV_AWS_27",
    "encrypted at rest with SQS managed keys (SqsManagedSseEnabled); checkov counts only KMS",
)
_API_CONCURRENCY = (
    "CKV_AWS_115",
    "reserving concurrency would cap the API below the account limit and turn bursts into "
    "throttled requests; API Gateway's stage throttling is the place for a limit",
)
_TABLE_KEY = (
    "CKV_AWS_119",
    "encrypted at rest with DynamoDB's AWS managed KMS key; a customer managed key adds "
    "cost and key administration without a requirement for it",
)
SCAN_EXCEPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "APIHandler": (_NO_VPC, _ENV_NOT_SECRET, _SYNC_NO_DLQ, _API_CONCURRENCY),
    "ApiKeyAuthorizer": (_NO_VPC, _ENV_NOT_SECRET, _SYNC_NO_DLQ, _API_CONCURRENCY),
    "Worker": (
        _NO_VPC,
        _ENV_NOT_SECRET,
        _SYNC_NO_DLQ,
        (
            "CKV_AWS_115",
            "concurrency is capped by the event source mapping's MaximumConcurrency; reserved "
            "concurrency on an SQS consumer throttles polled batches and pushes healthy "
            "records towards the dead-letter queue",
        ),
    ),
    "RestAPI": (
        (
            "CKV_AWS_76",
            "access logging needs the account-wide API Gateway CloudWatch role, which a fresh "
            "account lacks and this stack must not take over; Lambda logs carry request ids",
        ),
        (
            "CKV_AWS_120",
            "answers are per tenant and must never be served from a shared cache; the "
            "authorizer's verdict per key is what is cached",
        ),
    ),
    "IngestQueue": (_SSE_SQS,),
    "IngestDeadLetterQueue": (_SSE_SQS,),
    "Archiver": (
        _NO_VPC,
        _ENV_NOT_SECRET,
        (
            "CKV_AWS_116",
            "a stream-triggered function's failed batches are retried by its event source "
            "mapping until the records leave the stream; an on-failure destination would hold "
            "the expired logs' text outside the table's erasure",
        ),
        (
            "CKV_AWS_115",
            "the stream's shards bound its concurrency (one invocation per shard at a time); "
            "reserving concurrency would only throttle archiving behind expiries",
        ),
    ),
    ARCHIVE: (
        (
            "CKV_AWS_18",
            "access logs would need a second bucket of their own; the objects are written only "
            "by the archiver's role, and CloudTrail data events can be turned on per account",
        ),
        (
            "CKV_AWS_21",
            "versioning would keep erased tenants' archives as noncurrent versions, defeating "
            "erasure; objects are written once under names a retried batch reuses",
        ),
    ),
    "LogsTable": (_TABLE_KEY,),
    "TenantsTable": (_TABLE_KEY,),
}
#: Accepted on the REST API only in stages without tracing (`"xray": false`).
UNTRACED_API = (
    "CKV_AWS_73",
    "X-Ray tracing is off in this stage (`xray` in .chalice/config.json): a development "
    "stage's traces are not worth their cost; stages that serve tenants trace",
)


def _scan_metadata(resource: str, *extra: tuple[str, str]) -> dict[str, Any]:
    accepted = (*SCAN_EXCEPTIONS[resource], *extra)
    skips = [{"id": check, "comment": reason} for check, reason in accepted]
    return {"Metadata": {"checkov": {"skip": skips}}}


def _arn(resource: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, "Arn"]}


def _queues(settings: Settings) -> dict[str, Any]:
    encrypted = {"SqsManagedSseEnabled": True}
    return {
        DEAD_LETTER_QUEUE: {
            "Type": "AWS::SQS::Queue",
            **_scan_metadata(DEAD_LETTER_QUEUE),
            "Properties": {
                "QueueName": settings.dead_letter_queue_name,
                "MessageRetentionPeriod": settings.dead_letter_retention_seconds,
                **encrypted,
            },
        },
        QUEUE: {
            "Type": "AWS::SQS::Queue",
            **_scan_metadata(QUEUE),
            "Properties": {
                "QueueName": settings.queue_name,
                "VisibilityTimeout": settings.queue_visibility_timeout_seconds,
                "MessageRetentionPeriod": settings.queue_retention_seconds,
                "MaximumMessageSize": settings.queue_message_max_bytes,
                "RedrivePolicy": {
                    "deadLetterTargetArn": _arn(DEAD_LETTER_QUEUE),
                    "maxReceiveCount": settings.max_receive_count,
                },
                **encrypted,
            },
        },
    }


def _tables(settings: Settings) -> dict[str, Any]:
    """The logs table, whose items expire into its stream, and the tenants table of API keys."""
    logs = _table(TABLE, settings.table_name, (("tenant_id", "HASH"), ("log_id", "RANGE")))
    logs[TABLE]["Properties"] |= {
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        "StreamSpecification": {"StreamViewType": STREAM_VIEW_TYPE},
    }
    return logs | _table(TENANTS_TABLE, settings.tenants_table_name, (("key_id", "HASH"),))


def _archive_bucket() -> dict[str, Any]:
    """The archive: encrypted, never public, colder after `transition_days`; named by AWS."""
    rules = ARCHIVE_BUCKET
    return {
        ARCHIVE: {
            "Type": "AWS::S3::Bucket",
            **_scan_metadata(ARCHIVE),
            # Archived logs outlive the stack, as the table's do.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": rules.encryption}}
                    ]
                },
                "PublicAccessBlockConfiguration": dict.fromkeys(
                    PUBLIC_ACCESS_BLOCKS, rules.block_public_access
                ),
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": rules.lifecycle_rule_id,
                            "Status": "Enabled",
                            "Transitions": [
                                {
                                    "StorageClass": rules.colder_storage_class,
                                    "TransitionInDays": rules.transition_days,
                                }
                            ],
                        }
                    ]
                },
            },
        }
    }


def _table(resource: str, name: str, keys: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        resource: {
            "Type": "AWS::DynamoDB::Table",
            **_scan_metadata(resource),
            # Logs are the product and keys are in use: deleting the stack must keep both.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": name, "AttributeType": "S"} for name, _ in keys
                ],
                "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        }
    }


def _alarm_resource(name: str) -> str:
    return f"{name}Alarm"


def _alarms(settings: Settings) -> dict[str, Any]:
    queues = {"queue": QUEUE, "dead_letter_queue": DEAD_LETTER_QUEUE}
    return {
        _alarm_resource(alarm.name): {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": alarm.description,
                "Namespace": "AWS/SQS",
                "MetricName": alarm.metric,
                "Dimensions": [
                    {
                        "Name": "QueueName",
                        "Value": {"Fn::GetAtt": [queues[alarm.queue], "QueueName"]},
                    }
                ],
                "Statistic": alarm.statistic,
                "Period": alarm.period_seconds,
                "EvaluationPeriods": alarm.evaluation_periods,
                "Threshold": alarm.threshold,
                "ComparisonOperator": alarm.comparison,
                "TreatMissingData": "notBreaching",
            },
        }
        for alarm in queue_alarms(settings)
    }


def _sub(resource: str, attribute: str | None = None) -> str:
    """A resource's `Ref`, or one of its attributes, as a `${...}` of `Fn::Sub`."""
    return f"${{{resource}}}" if attribute is None else f"${{{resource}.{attribute}}}"


def _dashboard(settings: Settings, api: Any, functions: Mapping[str, str]) -> dict[str, Any]:
    """The stage's dashboard; `api` is Chalice's configuration of the API handler.

    `functions` names each function: by reference, or as `chalice deploy` names it.
    """
    names = StackNames(
        region="${AWS::Region}",
        queue=_sub(QUEUE, "QueueName"),
        dead_letter_queue=_sub(DEAD_LETTER_QUEUE, "QueueName"),
        functions=functions,
        # API Gateway names the API after its OpenAPI title, which Chalice makes the app's name.
        api=api.app_name,
        api_stage=api.api_gateway_stage,
        alarm_arns=tuple(_sub(_alarm_resource(a.name), "Arn") for a in queue_alarms(settings)),
    )
    body = json.dumps(dashboard_body(settings, names))
    return {
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": dashboard_name(settings),
                "DashboardBody": {"Fn::Sub": body},
            },
        }
    }


def _deployed_name(api: Any, function_name: str) -> str:
    """A function's name as `chalice deploy` makes it: the API handler's has no suffix."""
    return deployed_function_name(api.app_name, api.chalice_stage, function_name)


def _rest_api(traced: bool) -> dict[str, Any]:
    """API Gateway tracing: Chalice's template leaves it off, only `chalice deploy` sets it."""
    untraced = () if traced else (UNTRACED_API,)
    return {
        "RestAPI": {
            "Properties": {"TracingEnabled": traced},
            **_scan_metadata("RestAPI", *untraced),
        }
    }


def _function(
    function_name: str, settings: Settings, stage_variables: dict[str, str], deployed_name: str
) -> Any:
    environment = stage_variables | {
        "TABLE_NAME": {"Ref": TABLE},
        "TENANTS_TABLE_NAME": {"Ref": TENANTS_TABLE},
        "TENANT_READ_ROLE_ARN": _arn(READER_ROLE),
        "QUEUE_NAME": {"Fn::GetAtt": [QUEUE, "QueueName"]},
        "QUEUE_URL": {"Ref": QUEUE},
        "DEAD_LETTER_QUEUE_NAME": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]},
        "ARCHIVE_BUCKET_NAME": {"Ref": ARCHIVE},
        "LOGS_STREAM_ARN": {"Fn::GetAtt": [TABLE, "StreamArn"]},
    }
    # Named as `chalice deploy` names it, so its role can name its own log group.
    properties: dict[str, Any] = {
        "FunctionName": deployed_name,
        "Environment": {"Variables": environment},
    }
    if function_name == "worker":
        properties["Events"] = {
            EVENT_SOURCE: {
                "Properties": {
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "BatchSize": settings.worker_batch_size,
                    "MaximumBatchingWindowInSeconds": settings.worker_batching_window_seconds,
                    "ScalingConfig": {"MaximumConcurrency": settings.worker_max_concurrency},
                }
            }
        }
    if function_name == ARCHIVER:
        properties["Events"] = {
            STREAM_EVENT_SOURCE: {
                "Properties": {"FilterCriteria": {"Filters": [{"Pattern": TTL_REMOVALS_PATTERN}]}}
            }
        }
    return {"Properties": properties, **_scan_metadata(FUNCTION_RESOURCES[function_name])}


def _role_arn(role_name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role_name}"}


def _log_group(deployed_name: str) -> dict[str, str]:
    return {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        f"/aws/lambda/{deployed_name}:*"
    }


def _role(
    function_name: str, settings: Settings, traced: bool, deployed_name: str
) -> dict[str, Any]:
    arns = {
        "logs": _log_group(deployed_name),
        "queue": _arn(QUEUE),
        "archive": {"Fn::Sub": f"${{{ARCHIVE}.Arn}}/*"},
        "table_stream": {"Fn::GetAtt": [TABLE, "StreamArn"]},
        "table": _arn(TABLE),
        "tenants_table": _arn(TENANTS_TABLE),
        # By name, not by reference: the reader role's trust policy refers to the API's role.
        "reader_role": _role_arn(reader_role_name(settings)),
    }
    # QUEUE_URL is set; the runtime writes traces where Chalice made the function traced.
    document = policy_document(function_name, arns, queue_url_known=True, traced=traced)
    name = f"{ROLE_RESOURCES[function_name]}Policy"
    return {"Properties": {"Policies": [{"PolicyName": name, "PolicyDocument": document}]}}


def _reader_role(settings: Settings, trust: dict[str, Any]) -> dict[str, Any]:
    """The role the API assumes, tagged with one tenant per session, to read that tenant's logs.

    `trust` is the trust policy that lets the API's role assume it.
    """
    read = policy_document(TENANT_READER, {"table": _arn(TABLE)})
    return {
        READER_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": reader_role_name(settings),
                "AssumeRolePolicyDocument": trust,
                "Policies": [{"PolicyName": "ReadLogsTable", "PolicyDocument": read}],
            },
        }
    }


def _reviewer(settings: Settings) -> dict[str, Any]:
    """A role that can only read the table, never the original text, for an hour at a time.

    Assumed by people of the account whose own policy allows it: no user, no long-lived key,
    nothing secret in the stack.
    """
    read_only = reviewer_policy(_arn(TABLE))
    root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    return {
        "Reviewer": {
            "Type": "AWS::IAM::Role",
            "Condition": "CreateReviewer",
            "Properties": {
                "RoleName": reviewer_role_name(settings),
                "MaxSessionDuration": REVIEWER_SESSION_SECONDS,
                "AssumeRolePolicyDocument": reviewer_trust(root),
                "Policies": [{"PolicyName": "ReadLogsTable", "PolicyDocument": read_only}],
            },
        },
    }


def _reviewer_switch() -> dict[str, Any]:
    return {
        "Parameters": {
            "CreateReviewer": {
                "Type": "String",
                "AllowedValues": ["false", "true"],
                "Default": "false",
                "Description": "Create a role that can only read the logs table, without originals",
            }
        },
        "Conditions": {"CreateReviewer": {"Fn::Equals": [{"Ref": "CreateReviewer"}, "true"]}},
    }


def _outputs() -> dict[str, Any]:
    return {
        "IngestQueueUrl": {"Value": {"Ref": QUEUE}},
        "DeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTER_QUEUE}},
        "LogsTableName": {"Value": {"Ref": TABLE}},
        "TenantsTableName": {"Value": {"Ref": TENANTS_TABLE}},
        "TenantReaderRoleArn": {"Value": _arn(READER_ROLE)},
        "LogsStreamArn": {"Value": {"Fn::GetAtt": [TABLE, "StreamArn"]}},
        "ArchiveBucketName": {"Value": {"Ref": ARCHIVE}},
        "DashboardName": {"Value": {"Ref": DASHBOARD}},
    }


def _reviewer_output() -> dict[str, Any]:
    return {
        "ReviewerRoleArn": {
            "Condition": "CreateReviewer",
            "Description": "The role a reviewer assumes (aws sts assume-role) to read the logs",
            "Value": _arn("Reviewer"),
        }
    }


def resources_template(stage: str) -> dict[str, Any]:
    """Queues, tables, reader role, alarms and dashboard alone, for the plain `chalice deploy` path.

    `chalice deploy` makes the functions after this stack exists: the dashboard and the reader
    role's trust name them as it will.
    """
    from infra.stage import chalice_config, stage_settings

    settings = stage_settings(stage, "worker")
    api = chalice_config(stage, "api_handler")
    # `chalice deploy` names the API's role `<app>-<stage>-api_handler`.
    api_role = f"{api.app_name}-{stage}-api_handler"
    trust = reader_trust(
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        {"ArnEquals": {"aws:PrincipalArn": _role_arn(api_role)}},
    )
    resources = _queues(settings) | _tables(settings) | _reader_role(settings, trust)
    resources |= _archive_bucket()
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"robust-data-processor {stage}: queues, tables, alarms, dashboard",
        **_reviewer_switch(),
        "Resources": resources
        | _alarms(settings)
        | _dashboard(settings, api, {f: _deployed_name(api, f) for f in FUNCTIONS})
        | _reviewer(settings),
        "Outputs": _outputs() | _reviewer_output(),
    }


def merge_template(stage: str) -> dict[str, Any]:
    """What `chalice package` merges into its template for `stage`."""
    from infra.stage import chalice_config, stage_settings

    settings = stage_settings(stage, "worker")
    resources: dict[str, Any] = {}
    for function_name in FUNCTIONS:
        function = chalice_config(stage, function_name)
        name = _deployed_name(function, function_name)
        resources[FUNCTION_RESOURCES[function_name]] = _function(
            function_name, settings, function.environment_variables, name
        )
        traced = tracing(stage, function_name)
        resources[ROLE_RESOURCES[function_name]] = _role(function_name, settings, traced, name)
    trust = reader_trust({"AWS": _arn(ROLE_RESOURCES["api_handler"])})
    resources |= _queues(settings) | _tables(settings) | _reader_role(settings, trust)
    resources |= _archive_bucket() | _alarms(settings)
    functions = {f: _sub(FUNCTION_RESOURCES[f]) for f in FUNCTIONS}
    resources |= _dashboard(settings, chalice_config(stage, "api_handler"), functions)
    resources |= _reviewer(settings)
    # The API is traced as Chalice traces the API handler (the stage's `xray`, unless that
    # function overrides it).
    resources |= _rest_api(tracing(stage, "api_handler"))
    return {
        **_reviewer_switch(),
        "Resources": resources,
        "Outputs": _outputs() | _reviewer_output(),
    }


def package(stage: str, out: Path) -> Path:
    """Write `sam.json` and `deployment.zip` for `stage` into `out`; return the template."""
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out / "merge-template.json"
    merge_file.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    chalice_package(stage, out, "--merge-template", str(merge_file.resolve()))
    template_file = out / "sam.json"
    template = json.loads(template_file.read_text())
    # A merge template can add to Chalice's dicts but not replace one: merging {"Fn::GetAtt"}
    # into Chalice's {"Fn::Sub"} queue ARN would give an intrinsic with two functions.
    events = template["Resources"][FUNCTION_RESOURCES["worker"]]["Properties"]["Events"]
    events[EVENT_SOURCE]["Properties"]["Queue"] = _arn(QUEUE)
    stream = template["Resources"][FUNCTION_RESOURCES[ARCHIVER]]["Properties"]["Events"]
    stream[STREAM_EVENT_SOURCE]["Properties"]["Stream"] = {"Fn::GetAtt": [TABLE, "StreamArn"]}
    template_file.write_text(json.dumps(template, indent=2) + "\n")
    return template_file


def main() -> None:
    """Package one stage into `build/<stage>/`."""
    from infra.stage import PROJECT_DIR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--resources-only",
        action="store_true",
        help="write only resources.json (queues, table, alarms) for `chalice deploy` to use",
    )
    args = parser.parse_args()
    out = args.out or PROJECT_DIR / "build" / args.stage
    if args.resources_only:
        out.mkdir(parents=True, exist_ok=True)
        written = out / "resources.json"
        written.write_text(json.dumps(resources_template(args.stage), indent=2) + "\n")
    else:
        written = package(args.stage, out)
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
