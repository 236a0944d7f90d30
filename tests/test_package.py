"""The packaged one-stack template: valid, complete, least-privilege, from the stage's settings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.metrics import CATALOGUE, NAMESPACE, TENANT_DIMENSION
from chalicelib.plans import PLANS
from infra.iam import (
    LOG_ACTIONS,
    TRACE_ACTIONS,
    granted_actions,
    reader_policy,
    reader_role_name,
    reader_trust,
    reviewer_policy,
)
from infra.model import stack
from infra.stage import PROJECT_DIR, deployed_stages, stage_settings
from infra.template import merge_template, package, resources_template
from tests.dashboards import (
    PLACEHOLDER,
    check_log_tables,
    dimension_values,
    graphed,
    graphed_metrics,
    graphed_names,
    searches,
    widgets,
)

STAGE = "prod"
CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
STAGES = deployed_stages()
#: Each function's logical id in Chalice's template.
FUNCTIONS = {
    "api_handler": "APIHandler",
    "api_key_authorizer": "ApiKeyAuthorizer",
    "worker": "Worker",
    "archiver": "Archiver",
}
#: A `${...}` that CloudFormation's Fn::Sub (or Terraform) substitutes.


@pytest.fixture(scope="module")
def template_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package(STAGE, tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def template(template_file: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(template_file.read_text())
    return loaded


@pytest.fixture(scope="module")
def settings() -> Settings:
    return stage_settings(STAGE, "worker")


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def dashboard_text(template: dict[str, Any]) -> str:
    """The dashboard's body as the template holds it, before CloudFormation substitutes it."""
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    text: str = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return text


def cfn_lint(path: Path) -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_finds_nothing(template_file: Path) -> None:
    cfn_lint(template_file)


def test_resources_alone_for_chalice_deploy_match_the_stack(
    template: dict[str, Any], tmp_path: Path
) -> None:
    alone = resources_template(STAGE)
    for name, resource in alone["Resources"].items():
        if name == "TenantReaderRole":  # trusts the API's role by name: it does not exist yet
            trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
            assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::Sub"].endswith(
                f":role/robust-data-processor-{STAGE}-api_handler"
            )
            continue
        if name == "Dashboard":  # names the functions as `chalice deploy` will make them
            body = dashboard_text(template)
            for function, logical_id in FUNCTIONS.items():
                suffix = "" if function == "api_handler" else f"-{function}"
                body = body.replace(f"${{{logical_id}}}", f"robust-data-processor-{STAGE}{suffix}")
            assert resource["Properties"]["DashboardBody"] == {"Fn::Sub": body}
            assert f"SOURCE '/aws/lambda/robust-data-processor-{STAGE}-worker'" in body
            continue
        assert template["Resources"][name] == resource
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(alone))
    cfn_lint(path)


def test_no_account_id_or_stage_name_is_hard_coded_into_the_functions(
    template: dict[str, Any],
) -> None:
    assert not re.search(r"\b\d{12}\b", json.dumps(template))
    for function in resources(template, "AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": "LogsTable"}
        assert variables["QUEUE_URL"] == {"Ref": "IngestQueue"}
        assert variables["QUEUE_NAME"] == {"Fn::GetAtt": ["IngestQueue", "QueueName"]}


def test_event_source_mapping_reports_batch_item_failures(
    template: dict[str, Any], settings: Settings
) -> None:
    source = template["Resources"]["Worker"]["Properties"]["Events"]["WorkerSqsEventSource"]
    assert source["Properties"] == {
        "Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BatchSize": settings.worker_batch_size,
        "MaximumBatchingWindowInSeconds": settings.worker_batching_window_seconds,
        "ScalingConfig": {"MaximumConcurrency": settings.worker_max_concurrency},
    }


@pytest.mark.parametrize(
    ("role", "function"),
    [
        ("ApiHandlerRole", "api_handler"),
        ("ApiKeyAuthorizerRole", "api_key_authorizer"),
        ("WorkerRole", "worker"),
    ],
)
def test_roles_are_scoped_to_this_stacks_resources(
    template: dict[str, Any], settings: Settings, role: str, function: str
) -> None:
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    scoped = {
        json.dumps(statement["Resource"]): set(statement["Action"])
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] not in (list(LOG_ACTIONS), list(TRACE_ACTIONS))
    }
    reader = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{reader_role_name(settings)}"
    wanted = {
        "queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
        "table": {"Fn::GetAtt": ["LogsTable", "Arn"]},
        "tenants_table": {"Fn::GetAtt": ["TenantsTable", "Arn"]},
        "usage_table": {"Fn::GetAtt": ["UsageTable", "Arn"]},
        "reader_role": {"Fn::Sub": reader},
    }
    grants = granted_actions(function, queue_url_known=True)
    assert scoped == {json.dumps(wanted[kind]): set(actions) for kind, actions in grants.items()}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_writes_only_its_own_log_group(
    template: dict[str, Any], function: str
) -> None:
    name = template["Resources"][FUNCTIONS[function]]["Properties"]["FunctionName"]
    assert name == "robust-data-processor-prod" + (
        "" if function == "api_handler" else f"-{function}"
    )
    role = FUNCTIONS[function].replace("APIHandler", "ApiHandler") + "Role"
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    [logs] = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "WriteOwnLogs"]
    assert logs["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        f"/aws/lambda/{name}:*"
    }


def test_reader_role_trusts_only_the_api_and_reads_only_the_logs_table(
    template: dict[str, Any], settings: Settings
) -> None:
    role = template["Resources"]["TenantReaderRole"]["Properties"]
    assert role["RoleName"] == reader_role_name(settings)
    trust = role["AssumeRolePolicyDocument"]
    assert trust == reader_trust({"AWS": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}})
    [policy] = role["Policies"]
    assert policy["PolicyDocument"] == reader_policy({"Fn::GetAtt": ["LogsTable", "Arn"]})


def test_every_function_is_told_the_tenants_table_and_reader_role(
    template: dict[str, Any],
) -> None:
    for function in ("APIHandler", "ApiKeyAuthorizer", "Worker"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["TENANTS_TABLE_NAME"] == {"Ref": "TenantsTable"}
        assert variables["TENANT_READ_ROLE_ARN"] == {"Fn::GetAtt": ["TenantReaderRole", "Arn"]}


def test_the_authorizer_guards_reads_and_keyed_ingest_with_the_stages_cache_ttl(
    template: dict[str, Any], settings: Settings
) -> None:
    api = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = api["securityDefinitions"]["api_key_authorizer"]
    assert authorizer["name"] == "Authorization"
    cache_ttl = authorizer["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"]
    assert cache_ttl == settings.auth_cache_ttl_seconds
    guarded = {
        (path, method)
        for path, methods in api["paths"].items()
        for method, operation in methods.items()
        # behind the key authorizer, and metered by the tenant's usage plan (its API key)
        if operation.get("security") == [{"api_key": []}, {"api_key_authorizer": []}]
    }
    assert settings.ingest_auth == "required"
    assert guarded == {
        ("/ingest", "post"),
        ("/v1/logs", "post"),
        ("/logs", "get"),
        ("/logs/{log_id}", "get"),
        ("/logs/{log_id}", "delete"),
    }


def test_outputs_name_everything_a_user_needs(template: dict[str, Any]) -> None:
    wanted = {"EndpointURL", "IngestQueueUrl", "DeadLetterQueueUrl", "LogsTableName"}
    wanted |= {"TenantsTableName", "TenantReaderRoleArn", "DashboardName"}
    assert wanted <= set(template["Outputs"])
    assert template["Outputs"]["DashboardName"] == {"Value": {"Ref": "Dashboard"}}


def test_optional_reviewer_is_a_role_without_originals_or_secrets(
    template: dict[str, Any], settings: Settings
) -> None:
    assert template["Parameters"]["CreateReviewer"]["Default"] == "false"
    reviewer = template["Resources"]["Reviewer"]
    assert (reviewer["Type"], reviewer["Condition"]) == ("AWS::IAM::Role", "CreateReviewer")
    assert reviewer["Properties"]["MaxSessionDuration"] == 3600
    [policy] = reviewer["Properties"]["Policies"]
    assert policy["PolicyDocument"] == reviewer_policy({"Fn::GetAtt": ["LogsTable", "Arn"]})
    assert "original_text" not in json.dumps(policy)
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert not kinds & {"AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::SecretsManager::Secret"}
    assert template["Outputs"]["ReviewerRoleArn"]["Value"] == {"Fn::GetAtt": ["Reviewer", "Arn"]}
    assert "Secret" not in json.dumps(template["Outputs"])


def test_dashboard_body_is_json_once_cloudformation_substitutes_it(
    template: dict[str, Any],
) -> None:
    text = dashboard_text(template)
    # The stack's own resources, by reference; cfn-lint checks that each attribute exists.
    assert set(PLACEHOLDER.findall(text)) == {
        "AWS::Region",
        "IngestQueue.QueueName",
        "IngestDeadLetterQueue.QueueName",
        "APIHandler",
        "ApiKeyAuthorizer",
        "Worker",
        "Archiver",
        "DeadLetterQueueNotEmptyAlarm.Arn",
        "OldestLogWaitingAlarm.Arn",
        "FallingBehindAlarm.Arn",
    }
    body = json.loads(PLACEHOLDER.sub("substituted-name", text))
    assert len(body["widgets"]) > 20
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
    name = template["Resources"]["Dashboard"]["Properties"]["DashboardName"]
    assert name == f"RobustDataProcessor-{STAGE}"


def test_dashboard_watches_this_stacks_queues_functions_api_and_alarms(
    template: dict[str, Any],
) -> None:
    body = json.loads(dashboard_text(template))
    queue, dead_letter = "${IngestQueue.QueueName}", "${IngestDeadLetterQueue.QueueName}"
    sqs_lines = {tuple(line[1:4]) for line in graphed(body) if line[0] == "AWS/SQS"}
    assert sqs_lines == {
        ("ApproximateNumberOfMessagesVisible", "QueueName", queue),
        ("ApproximateNumberOfMessagesNotVisible", "QueueName", queue),
        ("ApproximateAgeOfOldestMessage", "QueueName", queue),
        ("ApproximateNumberOfMessagesVisible", "QueueName", dead_letter),
    }
    functions = {f"${{{logical_id}}}" for logical_id in FUNCTIONS.values()}
    assert dimension_values(body, "AWS/Lambda", "FunctionName") == functions
    lambda_metrics = {"Errors", "Throttles", "Duration", "ConcurrentExecutions"}
    assert graphed_names(body, "AWS/Lambda") == lambda_metrics
    api = template["Resources"]["RestAPI"]["Properties"]
    assert dimension_values(body, "AWS/ApiGateway", "ApiName") == {
        api["DefinitionBody"]["info"]["title"]
    }
    assert dimension_values(body, "AWS/ApiGateway", "Stage") == {api["StageName"]}
    api_metrics = {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"}
    assert graphed_names(body, "AWS/ApiGateway") == api_metrics
    [alarm_widget] = widgets(body, "alarm")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert sorted(alarm_widget["alarms"]) == sorted(f"${{{name}.Arn}}" for name in alarms)
    regions = {p["region"] for kind in ("metric", "log") for p in widgets(body, kind)}
    assert regions == {"${AWS::Region}"}


def test_dashboard_tables_read_each_functions_log_group(template: dict[str, Any]) -> None:
    groups = {f: f"/aws/lambda/${{{logical_id}}}" for f, logical_id in FUNCTIONS.items()}
    check_log_tables(json.loads(dashboard_text(template)), groups)


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_graphs_every_metric_and_per_tenant_ones_where_published(stage: str) -> None:
    dashboard = merge_template(stage)["Resources"]["Dashboard"]["Properties"]
    body = json.loads(dashboard["DashboardBody"]["Fn::Sub"])
    assert graphed_metrics(body) == {metric.name for metric in CATALOGUE}
    assert dimension_values(body, NAMESPACE, "Stage") == {stage}
    found = {
        (dimension, metric)
        for search in searches(body)
        for dimension, metric in re.findall(
            rf'{{{NAMESPACE},Stage,(\w+)}} MetricName="(\w+)" Stage="{stage}"', search
        )
    }
    assert len(found) == len(searches(body))  # every SEARCH is for this stage's metrics
    assert {("Reason", "IngestRejected"), ("Reason", "RecordsFailed")} <= found
    by_tenant = {metric for dimension, metric in found if dimension == TENANT_DIMENSION}
    published = stage_settings(stage, "worker").metrics_by_tenant
    assert by_tenant == ({"IngestAccepted", "LogsStored"} if published else set())


@pytest.mark.parametrize("stage", STAGES)
def test_tracing_is_on_exactly_where_the_stage_says(stage: str, tmp_path: Path) -> None:
    traced = CONFIG["stages"][stage]["xray"]
    packaged = json.loads(package(stage, tmp_path).read_text())
    functions = resources(packaged, "AWS::Serverless::Function").values()
    assert {f["Properties"]["Tracing"] for f in functions} == {
        "Active" if traced else "PassThrough"
    }
    api = packaged["Resources"]["RestAPI"]
    assert api["Properties"]["TracingEnabled"] is traced
    # checkov's X-Ray check passes where the API is traced and is accepted only where not.
    skipped = [skip["id"] for skip in api["Metadata"]["checkov"]["skip"]]
    assert skipped == [finding.check for finding in stack(stage).api.findings]
    assert ("CKV_AWS_73" in skipped) is not traced
    write_traces = {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(TRACE_ACTIONS)}
    for name, role in resources(packaged, "AWS::IAM::Role").items():
        [policy] = role["Properties"]["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        tracing = [s for s in statements if "xray:PutTraceSegments" in s["Action"]]
        # The reader and reviewer roles run no code.
        may_trace = traced and name not in ("TenantReaderRole", "Reviewer")
        assert tracing == ([write_traces | {"Resource": "*"}] if may_trace else []), name


def test_compressed_request_bodies_reach_the_function_intact(template: dict[str, Any]) -> None:
    # API Gateway reads a body whose type is not binary as UTF-8 text, which mangles gzip; and
    # with MinimumCompressionSize set it inflates the body itself but leaves Content-Encoding
    # in the event, so the function would inflate it twice.
    from chalicelib.normalize import BINARY_REQUEST_TYPES

    [api] = resources(template, "AWS::Serverless::Api").values()
    binary = api["Properties"]["DefinitionBody"]["x-amazon-apigateway-binary-media-types"]
    assert set(BINARY_REQUEST_TYPES) <= set(binary)
    assert "MinimumCompressionSize" not in api["Properties"]


def test_usage_plans_meter_tenants_by_the_authorizers_key(template: dict[str, Any]) -> None:
    api = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert api["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    plans = resources(template, "AWS::ApiGateway::UsagePlan")
    assert {plan["Properties"]["UsagePlanName"] for plan in plans.values()} == {
        f"robust-data-processor-{STAGE}-{name}" for name in PLANS
    }
    business = plans["UsagePlanBusiness"]["Properties"]
    assert business["ApiStages"] == [
        {"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}
    ]
    assert business["Throttle"] == {"RateLimit": 1000, "BurstLimit": 10000}


def test_the_usage_table_expires_its_counters(template: dict[str, Any]) -> None:
    table = template["Resources"]["UsageTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "counter_id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    api_handler = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_handler["USAGE_TABLE_NAME"] == {"Ref": "UsageTable"}


def test_an_alarm_says_when_the_stage_cannot_keep_up(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["FallingBehindAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (300, 5)
    assert "250 concurrent workers" in alarm["AlarmDescription"]


def test_logs_expire_into_a_stream_that_feeds_the_archiver_ttl_removals_only(
    template: dict[str, Any],
) -> None:
    from infra.model import TTL_REMOVALS_PATTERN

    table = template["Resources"]["LogsTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": "OLD_IMAGE"}
    archiver = template["Resources"]["Archiver"]["Properties"]
    source = archiver["Events"]["ArchiverDynamodbEventSource"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["LogsTable", "StreamArn"]}
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert source["FilterCriteria"] == {"Filters": [{"Pattern": TTL_REMOVALS_PATTERN}]}
    assert json.loads(TTL_REMOVALS_PATTERN)["userIdentity"] == {
        "type": ["Service"],
        "principalId": ["dynamodb.amazonaws.com"],
    }
    variables = archiver["Environment"]["Variables"]
    assert variables["ARCHIVE_BUCKET_NAME"] == {"Ref": "ArchiveBucket"}


def test_the_archive_is_encrypted_private_and_moves_to_colder_storage(
    template: dict[str, Any],
) -> None:
    bucket = template["Resources"]["ArchiveBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}]
    [policy] = template["Resources"]["ArchiverRole"]["Properties"]["Policies"]
    granted = {
        json.dumps(s["Resource"]): s["Action"]
        for s in policy["PolicyDocument"]["Statement"]
        if s["Sid"] not in ("WriteOwnLogs", "WriteTraces")
    }
    assert granted == {
        json.dumps({"Fn::Sub": "${ArchiveBucket.Arn}/*"}): ["s3:PutObject"],
        json.dumps({"Fn::GetAtt": ["LogsTable", "StreamArn"]}): [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
    }
