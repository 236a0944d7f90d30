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
from devstack.stage import stage_settings
from infra.iam import LOG_ACTIONS, granted_actions, reader_role_name
from infra.template import SCAN_EXCEPTIONS, package, resources_template

STAGE = "prod"


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
        if statement["Action"] != list(LOG_ACTIONS)
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


def test_reader_role_trusts_only_the_api_and_reads_only_the_logs_table(
    template: dict[str, Any], settings: Settings
) -> None:
    role = template["Resources"]["TenantReaderRole"]["Properties"]
    assert role["RoleName"] == reader_role_name(settings)
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["LogsTable", "Arn"]}
    assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:Query"]


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
    assert guarded == {("/ingest", "post"), ("/logs", "get"), ("/logs/{log_id}", "get")}


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
    wanted |= {"TenantsTableName", "TenantReaderRoleArn"}
    assert wanted <= set(template["Outputs"])


def test_every_accepted_scan_finding_is_on_a_real_resource_with_a_reason(
    template: dict[str, Any],
) -> None:
    for resource, exceptions in SCAN_EXCEPTIONS.items():
        skips = template["Resources"][resource]["Metadata"]["checkov"]["skip"]
        assert [skip["id"] for skip in skips] == [check for check, _ in exceptions]
        assert all(len(skip["comment"]) > 40 for skip in skips)


def test_optional_reviewer_can_only_read_the_table(template: dict[str, Any]) -> None:
    assert template["Parameters"]["CreateReviewer"]["Default"] == "false"
    reviewer_resources = ("Reviewer", "ReviewerAccessKey", "ReviewerCredentials")
    assert all(
        template["Resources"][r]["Condition"] == "CreateReviewer" for r in reviewer_resources
    )
    [policy] = template["Resources"]["Reviewer"]["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["LogsTable", "Arn"]}
    assert all(
        action.split(":")[1].startswith(("Describe", "Get", "Query", "Scan"))
        for action in statement["Action"]
    )
    assert template["Outputs"]["ReviewerCredentialsSecret"]["Value"] == {
        "Ref": "ReviewerCredentials"
    }
    assert "SecretAccessKey" not in json.dumps(template["Outputs"])


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
