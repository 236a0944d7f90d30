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
from infra.iam import (
    LOG_ACTIONS,
    TRACE_ACTIONS,
    granted_actions,
    reader_policy,
    reader_role_name,
    reader_trust,
    reviewer_policy,
)
from infra.stage import PROJECT_DIR, stage_settings
from infra.template import SCAN_EXCEPTIONS, merge_template, package, resources_template

STAGE = "prod"
CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
STAGES = sorted(CONFIG["stages"])
#: Each function's logical id in Chalice's template.
FUNCTIONS = {
    "api_handler": "APIHandler",
    "api_key_authorizer": "ApiKeyAuthorizer",
    "worker": "Worker",
    "archiver": "Archiver",
}
#: A `${...}` that CloudFormation's Fn::Sub (or Terraform) substitutes.
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


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


def widgets(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The properties of the dashboard's widgets of one kind (`metric`, `log`, `alarm`)."""
    return [widget["properties"] for widget in body["widgets"] if widget["type"] == kind]


def graphed(body: dict[str, Any]) -> list[list[Any]]:
    """Every line of every graph: a metric's array, or an expression in a one-element array."""
    return [line for properties in widgets(body, "metric") for line in properties["metrics"]]


def searches(body: dict[str, Any]) -> list[str]:
    """Every metric math expression of the graphs."""
    return [line[0]["expression"] for line in graphed(body) if isinstance(line[0], dict)]


def graphed_metrics(body: dict[str, Any]) -> set[str]:
    """Our metrics that some graph shows, as a metric or found by a SEARCH."""
    plain = {line[1] for line in graphed(body) if line[0] == NAMESPACE}
    return plain | {name for s in searches(body) for name in re.findall(r'MetricName="(\w+)"', s)}


def dimension_values(body: dict[str, Any], namespace: str, dimension: str) -> set[str]:
    """The values the graphs give `dimension` of `namespace`'s metrics."""
    values: set[str] = set()
    for line in graphed(body):
        if line[0] == namespace:
            pairs = [item for item in line[2:] if isinstance(item, str)]
            values |= {
                value
                for name, value in zip(pairs[::2], pairs[1::2], strict=True)
                if name == dimension
            }
    return values


def graphed_names(body: dict[str, Any], namespace: str) -> set[str]:
    """The metric names of `namespace` the graphs show."""
    return {line[1] for line in graphed(body) if line[0] == namespace}


def log_tables(body: dict[str, Any]) -> list[tuple[list[str], str]]:
    """Each Logs Insights table: the log groups it reads, and the query it runs on them."""
    tables = []
    for properties in widgets(body, "log"):
        query = properties["query"]
        sources = re.findall(r"SOURCE '([^']*)' \| ", query)
        tables.append((sources, re.sub(r"SOURCE '[^']*' \| ", "", query)))
    return tables


def check_log_tables(body: dict[str, Any], log_groups: dict[str, str]) -> None:
    """Ingest tables read the API's log group, record tables the worker's, the rest all three."""
    tables = log_tables(body)
    for sources, query in tables:
        if 'event = "ingest"' in query:
            assert sources == [log_groups["api_handler"]], query
        elif 'event = "record"' in query:
            assert sources == [log_groups["worker"]], query
        else:
            assert sorted(sources) == sorted(log_groups.values()), query
    queries = [query for _, query in tables]
    assert any('outcome = "accepted"' in q and "by tenant_id" in q for q in queries)
    assert any('outcome = "rejected"' in q and "by tenant_id, reason" in q for q in queries)
    assert any('outcome = "failed"' in q and "by reason" in q for q in queries)


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


def test_queue_redrive_visibility_and_retention(
    template: dict[str, Any], settings: Settings
) -> None:
    queue = template["Resources"]["IngestQueue"]["Properties"]
    dead_letter = template["Resources"]["IngestDeadLetterQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": settings.max_receive_count,
    }
    worker_timeout = template["Resources"]["Worker"]["Properties"]["Timeout"]
    assert worker_timeout == settings.worker_timeout_seconds
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert dead_letter["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    assert queue["SqsManagedSseEnabled"]
    assert dead_letter["SqsManagedSseEnabled"]


def test_table_is_keyed_on_demand_recoverable_and_encrypted(template: dict[str, Any]) -> None:
    table = template["Resources"]["LogsTable"]
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "tenant_id", "KeyType": "HASH"},
        {"AttributeName": "log_id", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


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
        "reader_role": {"Fn::Sub": reader},
    }
    grants = granted_actions(function, queue_url_known=True)
    assert scoped == {json.dumps(wanted[kind]): set(actions) for kind, actions in grants.items()}


def test_tenants_table_is_keyed_by_key_id_and_kept(template: dict[str, Any]) -> None:
    table = template["Resources"]["TenantsTable"]
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "key_id", "KeyType": "HASH"}]
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


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
        if operation.get("security") == [{"api_key_authorizer": []}]
    }
    assert settings.ingest_auth == "required"
    assert guarded == {
        ("/ingest", "post"),
        ("/logs", "get"),
        ("/logs/{log_id}", "get"),
        ("/logs/{log_id}", "delete"),
    }


def test_alarms_watch_the_dead_letter_queue_and_the_oldest_log(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    watched = {
        (a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
        for a in alarms.values()
    }
    assert watched == {
        ("ApproximateNumberOfMessagesVisible", "IngestDeadLetterQueue"),
        ("ApproximateAgeOfOldestMessage", "IngestQueue"),
    }


def test_outputs_name_everything_a_user_needs(template: dict[str, Any]) -> None:
    wanted = {"EndpointURL", "IngestQueueUrl", "DeadLetterQueueUrl", "LogsTableName"}
    wanted |= {"TenantsTableName", "TenantReaderRoleArn", "DashboardName"}
    assert wanted <= set(template["Outputs"])
    assert template["Outputs"]["DashboardName"] == {"Value": {"Ref": "Dashboard"}}


def test_every_accepted_scan_finding_is_on_a_real_resource_with_a_reason(
    template: dict[str, Any],
) -> None:
    for resource, exceptions in SCAN_EXCEPTIONS.items():
        skips = template["Resources"][resource]["Metadata"]["checkov"]["skip"]
        assert [skip["id"] for skip in skips] == [check for check, _ in exceptions]
        assert all(len(skip["comment"]) > 40 for skip in skips)


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


def test_the_local_stack_runs_with_the_packaged_stacks_queue_settings(
    template: dict[str, Any], settings: Settings
) -> None:
    import boto3
    from moto import mock_aws

    from devstack.resources import provision

    packaged = template["Resources"]["IngestQueue"]["Properties"]
    with mock_aws():
        local = provision(settings, boto3.client("sqs"), boto3.client("dynamodb"))
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=local.queue_url, AttributeNames=["All"]
        )["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == packaged["VisibilityTimeout"]
    assert int(attributes["MessageRetentionPeriod"]) == packaged["MessageRetentionPeriod"]
    assert int(attributes["MaximumMessageSize"]) == packaged["MaximumMessageSize"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == packaged["RedrivePolicy"]["maxReceiveCount"]


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
    assert skipped == [check for check, _ in SCAN_EXCEPTIONS["RestAPI"]] + (
        [] if traced else ["CKV_AWS_73"]
    )
    write_traces = {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(TRACE_ACTIONS)}
    for name, role in resources(packaged, "AWS::IAM::Role").items():
        [policy] = role["Properties"]["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        tracing = [s for s in statements if "xray:PutTraceSegments" in s["Action"]]
        # The reader and reviewer roles run no code.
        may_trace = traced and name not in ("TenantReaderRole", "Reviewer")
        assert tracing == ([write_traces | {"Resource": "*"}] if may_trace else []), name


def test_logs_expire_into_a_stream_that_feeds_the_archiver_ttl_removals_only(
    template: dict[str, Any],
) -> None:
    from infra.lifecycle import TTL_REMOVALS_PATTERN

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
