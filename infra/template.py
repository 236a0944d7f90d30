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
    TENANT_READER,
    policy_document,
    reader_role_name,
    reviewer_policy,
    tracing,
)
from infra.tenancy import API_KEY_SOURCE, USAGE_TABLE_KEY, USAGE_TABLE_TTL, usage_plans

QUEUE, DEAD_LETTER_QUEUE, TABLE = "IngestQueue", "IngestDeadLetterQueue", "LogsTable"
TENANTS_TABLE, READER_ROLE = "TenantsTable", "TenantReaderRole"
USAGE_TABLE = "UsageTable"
# Chalice's logical ids for each function and its role.
FUNCTION_RESOURCES = {
    "api_handler": "APIHandler",
    "api_key_authorizer": "ApiKeyAuthorizer",
    "worker": "Worker",
}
ROLE_RESOURCES = {
    "api_handler": "ApiHandlerRole",
    "api_key_authorizer": "ApiKeyAuthorizerRole",
    "worker": "WorkerRole",
}
EVENT_SOURCE = "WorkerSqsEventSource"
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
    "ReviewerCredentials": (
        (
            "CKV_AWS_149",
            "the secret is encrypted with Secrets Manager's AWS managed key; only the stack's "
            "operators can read it, and a customer managed key would add cost, not protection",
        ),
    ),
    "LogsTable": (_TABLE_KEY,),
    "TenantsTable": (_TABLE_KEY,),
    "UsageTable": (
        _TABLE_KEY,
        (
            "CKV_AWS_28",
            "counters of the current window and day, deleted by TTL within days: a backup "
            "could restore nothing worth having",
        ),
    ),
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
    """The logs table, the tenants table of API keys and settings, and the usage counters."""
    usage = _table(USAGE_TABLE, settings.usage_table_name, ((USAGE_TABLE_KEY, "HASH"),))
    properties = usage[USAGE_TABLE]["Properties"]
    properties["TimeToLiveSpecification"] = {"AttributeName": USAGE_TABLE_TTL, "Enabled": True}
    del properties["PointInTimeRecoverySpecification"]
    usage[USAGE_TABLE] |= {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    return (
        _table(TABLE, settings.table_name, (("tenant_id", "HASH"), ("log_id", "RANGE")))
        | _table(TENANTS_TABLE, settings.tenants_table_name, (("key_id", "HASH"),))
        | usage
    )


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
    prefix = f"{api.app_name}-{api.chalice_stage}"
    return prefix if function_name == "api_handler" else f"{prefix}-{function_name}"


def _rest_api(traced: bool) -> dict[str, Any]:
    """API Gateway tracing: Chalice's template leaves it off, only `chalice deploy` sets it.

    And the usage plans' API keys come from the authorizer's `usageIdentifierKey`.
    """
    untraced = () if traced else (UNTRACED_API,)
    definition = {"x-amazon-apigateway-api-key-source": API_KEY_SOURCE}
    return {
        "RestAPI": {
            "Properties": {"TracingEnabled": traced, "DefinitionBody": definition},
            **_scan_metadata("RestAPI", *untraced),
        }
    }


def _usage_plans(app_name: str, stage: str) -> dict[str, Any]:
    """A usage plan per plan, on the REST API's stage, throttling each tenant's requests."""
    return {
        plan.resource: {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": plan.name,
                "Description": plan.description,
                "ApiStages": [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}],
                "Throttle": {"RateLimit": plan.rate_limit, "BurstLimit": plan.burst_limit},
            },
        }
        for plan in usage_plans(app_name, stage)
    }


def _function(function_name: str, settings: Settings, stage_variables: dict[str, str]) -> Any:
    environment = stage_variables | {
        "TABLE_NAME": {"Ref": TABLE},
        "TENANTS_TABLE_NAME": {"Ref": TENANTS_TABLE},
        "USAGE_TABLE_NAME": {"Ref": USAGE_TABLE},
        "TENANT_READ_ROLE_ARN": _arn(READER_ROLE),
        "QUEUE_NAME": {"Fn::GetAtt": [QUEUE, "QueueName"]},
        "QUEUE_URL": {"Ref": QUEUE},
        "DEAD_LETTER_QUEUE_NAME": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]},
    }
    properties: dict[str, Any] = {"Environment": {"Variables": environment}}
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
    return {"Properties": properties, **_scan_metadata(FUNCTION_RESOURCES[function_name])}


def _role_arn(role_name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role_name}"}


def _role(function_name: str, settings: Settings, traced: bool) -> dict[str, Any]:
    arns = {
        "queue": _arn(QUEUE),
        "table": _arn(TABLE),
        "tenants_table": _arn(TENANTS_TABLE),
        "usage_table": _arn(USAGE_TABLE),
        # By name, not by reference: the reader role's trust policy refers to the API's role.
        "reader_role": _role_arn(reader_role_name(settings)),
    }
    # QUEUE_URL is set; the runtime writes traces where Chalice made the function traced.
    document = policy_document(function_name, arns, queue_url_known=True, traced=traced)
    name = f"{ROLE_RESOURCES[function_name]}Policy"
    return {"Properties": {"Policies": [{"PolicyName": name, "PolicyDocument": document}]}}


def _reader_role(settings: Settings, trust: dict[str, Any]) -> dict[str, Any]:
    """The role the API assumes, narrowed to one tenant per session, to read that tenant's logs.

    `trust` is the statement that lets the API's role assume it.
    """
    read = policy_document(TENANT_READER, {"table": _arn(TABLE)})
    return {
        READER_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": reader_role_name(settings),
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", **trust}],
                },
                "Policies": [{"PolicyName": "ReadLogsTable", "PolicyDocument": read}],
            },
        }
    }


def _reviewer() -> dict[str, Any]:
    """An IAM user that can only read the table, its access key kept in Secrets Manager."""
    only_if = {"Condition": "CreateReviewer"}
    read_only = reviewer_policy(_arn(TABLE))
    return {
        "Reviewer": {
            "Type": "AWS::IAM::User",
            **only_if,
            "Properties": {
                "Policies": [{"PolicyName": "ReadLogsTable", "PolicyDocument": read_only}]
            },
        },
        "ReviewerAccessKey": {
            "Type": "AWS::IAM::AccessKey",
            **only_if,
            "Properties": {"UserName": {"Ref": "Reviewer"}},
        },
        "ReviewerCredentials": {
            "Type": "AWS::SecretsManager::Secret",
            **only_if,
            **_scan_metadata("ReviewerCredentials"),
            "Properties": {
                "Description": "Access key of the read-only reviewer of the logs table",
                "SecretString": {
                    "Fn::Sub": '{"aws_access_key_id": "${ReviewerAccessKey}", '
                    '"aws_secret_access_key": "${ReviewerAccessKey.SecretAccessKey}"}'
                },
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
                "Description": "Create an IAM user that can only read the logs table",
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
        "DashboardName": {"Value": {"Ref": DASHBOARD}},
    }


def _reviewer_output() -> dict[str, Any]:
    return {
        "ReviewerCredentialsSecret": {
            "Condition": "CreateReviewer",
            "Description": "Secrets Manager secret holding the reviewer's access key",
            "Value": {"Ref": "ReviewerCredentials"},
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
    trust = {
        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Condition": {"ArnEquals": {"aws:PrincipalArn": _role_arn(api_role)}},
    }
    resources = _queues(settings) | _tables(settings) | _reader_role(settings, trust)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"robust-data-processor {stage}: queues, tables, alarms, dashboard",
        **_reviewer_switch(),
        "Resources": resources
        | _alarms(settings)
        | _dashboard(settings, api, {f: _deployed_name(api, f) for f in FUNCTIONS})
        | _reviewer(),
        "Outputs": _outputs() | _reviewer_output(),
    }


def merge_template(stage: str) -> dict[str, Any]:
    """What `chalice package` merges into its template for `stage`."""
    from infra.stage import chalice_config, stage_settings

    settings = stage_settings(stage, "worker")
    resources: dict[str, Any] = {}
    for function_name in FUNCTIONS:
        stage_variables = chalice_config(stage, function_name).environment_variables
        resources[FUNCTION_RESOURCES[function_name]] = _function(
            function_name, settings, stage_variables
        )
        traced = tracing(stage, function_name)
        resources[ROLE_RESOURCES[function_name]] = _role(function_name, settings, traced)
    trust = {"Principal": {"AWS": _arn(ROLE_RESOURCES["api_handler"])}}
    resources |= _queues(settings) | _tables(settings) | _reader_role(settings, trust)
    resources |= _alarms(settings)
    functions = {f: _sub(FUNCTION_RESOURCES[f]) for f in FUNCTIONS}
    resources |= _dashboard(settings, chalice_config(stage, "api_handler"), functions)
    resources |= _reviewer()
    # The API is traced as Chalice traces the API handler (the stage's `xray`, unless that
    # function overrides it).
    resources |= _rest_api(tracing(stage, "api_handler"))
    resources |= _usage_plans(chalice_config(stage, "api_handler").app_name, stage)
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
