"""`make package-terraform`: Chalice's Terraform template, completed by infra/terraform.py."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.metrics import CATALOGUE
from chalicelib.plans import PLANS
from infra.iam import FUNCTIONS, LOG_ACTIONS, TRACE_ACTIONS, granted_actions, policy_document
from infra.model import stack
from infra.stage import PROJECT_DIR, deployed_stages, stage_settings
from infra.terraform import (
    AWS_PROVIDER_VERSION,
    CHALICE_TEMPLATE,
    OVERRIDE_FILE,
    RESOURCES_FILE,
    TemplateError,
    check_template,
    main,
    overrides,
)
from tests.dashboards import (
    PLACEHOLDER,
    check_log_tables,
    dimension_values,
    graphed_metrics,
    widgets,
)

STAGE = "prod"
CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
STAGES = deployed_stages()
SETTINGS = stage_settings(STAGE, "worker")
QUEUE_ARN = "${aws_sqs_queue.ingest_queue.arn}"
TABLE_ARN = "${aws_dynamodb_table.logs_table.arn}"
ARNS = {
    "queue": QUEUE_ARN,
    "table": TABLE_ARN,
    "tenants_table": "${aws_dynamodb_table.tenants_table.arn}",
    "usage_table": "${aws_dynamodb_table.usage_table.arn}",
    "reader_role": "${aws_iam_role.tenant_reader.arn}",
    "archive": "${aws_s3_bucket.archive_bucket.arn}/*",
    "table_stream": "${aws_dynamodb_table.logs_table.stream_arn}",
}
REFERENCE = re.compile(r"\$\{([\w-]+)\.([\w-]+)\.(\w+)\}")
TRACED = CONFIG["stages"][STAGE]["xray"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prod stage packaged once, exactly as `make package-terraform STAGE=prod` does."""
    directory = tmp_path_factory.mktemp("terraform")
    main(["--stage", STAGE, "--out", str(directory)])
    return directory


@pytest.fixture(scope="module")
def chalice(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / CHALICE_TEMPLATE).read_text()))


@pytest.fixture(scope="module")
def added(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / RESOURCES_FILE).read_text()))


@pytest.fixture(scope="module")
def override(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / OVERRIDE_FILE).read_text()))


def dashboard_text(added: dict[str, Any]) -> str:
    """The dashboard's body as the file holds it, before Terraform substitutes it."""
    return str(added["resource"]["aws_cloudwatch_dashboard"]["dashboard"]["dashboard_body"])


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_chalice_packaged_the_stage(out: Path, chalice: dict[str, Any]) -> None:
    assert (out / "deployment.zip").stat().st_size > 0
    tags = chalice["resource"]["aws_lambda_function"]["worker"]["tags"]["aws-chalice"]
    assert f"stage={STAGE}" in tags


def test_event_source_mapping_reports_batch_item_failures_from_the_queue(
    override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    mapping = override["resource"]["aws_lambda_event_source_mapping"]["worker-sqs-event-source"]
    assert mapping == {
        "event_source_arn": QUEUE_ARN,
        "function_response_types": ["ReportBatchItemFailures"],
        "batch_size": SETTINGS.worker_batch_size,
        "maximum_batching_window_in_seconds": SETTINGS.worker_batching_window_seconds,
        "scaling_config": {"maximum_concurrency": SETTINGS.worker_max_concurrency},
    }
    # prod's design point (docs/capacity.md): one log a batch, 250 invocations at once
    assert (mapping["batch_size"], mapping["scaling_config"]["maximum_concurrency"]) == (1, 250)
    # The function it triggers stays Chalice's.
    generated = chalice["resource"]["aws_lambda_event_source_mapping"]["worker-sqs-event-source"]
    assert generated["function_name"] == "${aws_lambda_function.worker.arn}"
    assert "function_response_types" not in generated  # chalice issue #2029: why this exists


@pytest.mark.parametrize("function_name", FUNCTIONS)
def test_environment_names_the_resources_and_keeps_the_stage_variables(
    function_name: str, override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    variables = override["resource"]["aws_lambda_function"][function_name]["environment"][
        "variables"
    ]
    wiring = stack(STAGE).wiring
    assert {name: variables[name] for name in wiring} == {
        "TABLE_NAME": "${aws_dynamodb_table.logs_table.name}",
        "QUEUE_NAME": "${aws_sqs_queue.ingest_queue.name}",
        "DEAD_LETTER_QUEUE_NAME": "${aws_sqs_queue.dead_letter_queue.name}",
        "QUEUE_URL": "${aws_sqs_queue.ingest_queue.url}",
        "TENANTS_TABLE_NAME": "${aws_dynamodb_table.tenants_table.name}",
        "USAGE_TABLE_NAME": "${aws_dynamodb_table.usage_table.name}",
        "TENANT_READ_ROLE_ARN": "${aws_iam_role.tenant_reader.arn}",
        "ARCHIVE_BUCKET_NAME": "${aws_s3_bucket.archive_bucket.id}",
        "LOGS_STREAM_ARN": "${aws_dynamodb_table.logs_table.stream_arn}",
    }
    chalice_function = chalice["resource"]["aws_lambda_function"][function_name]
    stage_variables = chalice_function["environment"]["variables"]
    kept = {name: value for name, value in variables.items() if name not in wiring}
    assert kept == {k: v for k, v in stage_variables.items() if k not in wiring}
    assert kept["WORKER_TIMEOUT_SECONDS"] == "900"
    assert kept["CRASH_PROBABILITY"] == "0"


@pytest.mark.parametrize("function_name", FUNCTIONS)
def test_role_policies_grant_exactly_infra_iam_on_the_new_resources(
    function_name: str, override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    role = f"{function_name}_role"
    assert chalice["resource"]["aws_lambda_function"][function_name]["role"] == (
        f"${{aws_iam_role.{role}.arn}}"
    )
    document = json.loads(override["resource"]["aws_iam_role_policy"][role]["policy"])
    suffix = "" if function_name == "api_handler" else f"-{function_name}"
    own_logs = (
        "arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current."
        f"account_id}}:log-group:/aws/lambda/robust-data-processor-prod{suffix}:*"
    )
    arns = ARNS | {"logs": own_logs}
    assert document == policy_document(function_name, arns, queue_url_known=True, traced=TRACED)
    by_resource = {s["Resource"]: set(s["Action"]) for s in document["Statement"]}
    expected = {
        ARNS[resource]: set(actions)
        for resource, actions in granted_actions(function_name, queue_url_known=True).items()
    }
    assert TRACED
    traces = {"*": set(TRACE_ACTIONS)}
    assert by_resource == {own_logs: set(LOG_ACTIONS), **traces, **expected}


def test_outputs_name_the_queues_and_table_next_to_chalices_endpoint(
    added: dict[str, Any], chalice: dict[str, Any]
) -> None:
    assert added["output"] == {
        "IngestQueueUrl": {"value": "${aws_sqs_queue.ingest_queue.url}"},
        "DeadLetterQueueUrl": {"value": "${aws_sqs_queue.dead_letter_queue.url}"},
        "LogsTableName": {"value": "${aws_dynamodb_table.logs_table.name}"},
        "TenantsTableName": {"value": "${aws_dynamodb_table.tenants_table.name}"},
        "TenantReaderRoleArn": {"value": "${aws_iam_role.tenant_reader.arn}"},
        "DashboardName": {"value": "${aws_cloudwatch_dashboard.dashboard.dashboard_name}"},
        "ReviewerRoleArn": {"value": '${join("", aws_iam_role.reviewer[*].arn)}'},
        "LogsStreamArn": {"value": "${aws_dynamodb_table.logs_table.stream_arn}"},
        "ArchiveBucketName": {"value": "${aws_s3_bucket.archive_bucket.id}"},
    }
    assert chalice["output"]["EndpointURL"] == {
        "value": "${aws_api_gateway_deployment.rest_api.invoke_url}"
    }


def test_added_resources_and_outputs_do_not_collide_with_chalices(
    added: dict[str, Any], chalice: dict[str, Any]
) -> None:
    # Outside override files, Terraform refuses a second block with the same name.
    for resource_type, blocks in added["resource"].items():
        assert not set(blocks) & set(chalice["resource"].get(resource_type, {}))
    for data_type, blocks in added["data"].items():
        assert not set(blocks) & set(chalice["data"].get(data_type, {}))
    assert not set(added["output"]) & set(chalice["output"])


def test_overrides_only_blocks_chalice_generated(
    override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    overridden = {(t, name) for t, blocks in override["resource"].items() for name in blocks}
    # The names Chalice 1.34 generates; an upgrade that renames them must fail here.
    assert overridden == {
        ("aws_lambda_function", "api_handler"),
        ("aws_lambda_function", "api_key_authorizer"),
        ("aws_lambda_function", "worker"),
        ("aws_lambda_function", "archiver"),
        ("aws_iam_role_policy", "api_handler_role"),
        ("aws_iam_role_policy", "api_key_authorizer_role"),
        ("aws_iam_role_policy", "worker_role"),
        ("aws_iam_role_policy", "archiver_role"),
        ("aws_lambda_event_source_mapping", "worker-sqs-event-source"),
        ("aws_api_gateway_rest_api", "rest_api"),
        ("aws_lambda_event_source_mapping", "archiver-dynamodb-event-source"),
        ("aws_api_gateway_deployment", "rest_api"),
        ("aws_api_gateway_rest_api", "rest_api"),
    }
    for resource_type, name in overridden:
        assert name in chalice["resource"][resource_type], f"{resource_type}.{name}"


def test_every_reference_points_at_a_defined_resource(
    added: dict[str, Any], override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    defined = {
        (t, name)
        for document in (added, chalice)
        for t, blocks in document["resource"].items()
        for name in blocks
    }
    references = [
        (match[0], match[1])
        for text in strings({"a": added, "o": override})
        for match in REFERENCE.findall(text)
    ]
    assert len(references) > 15
    assert set(references) <= defined


def test_terraform_pins_chalice_versions_and_raises_the_aws_floor(
    chalice: dict[str, Any], override: dict[str, Any]
) -> None:
    # Chalice 1.34's pin (chalice issue #2066); docs/terraform.md explains it.
    assert chalice["terraform"] == {
        "required_version": ">= 0.12.26, < 1.4.0",
        "required_providers": {
            "aws": {"version": ">= 3.61.0, < 5"},
            "null": {"version": ">= 2, < 4"},
        },
    }
    # Merged element by element: only aws changes, the core pin stays unless asked.
    assert override["terraform"] == {"required_providers": {"aws": {"version": ">= 4.51.0, < 5"}}}
    assert AWS_PROVIDER_VERSION == ">= 4.51.0, < 5"


def test_terraform_version_option_replaces_the_core_pin() -> None:
    terraform = overrides(STAGE, ">= 1.3, < 2")["terraform"]
    assert terraform["required_version"] == ">= 1.3, < 2"
    assert terraform["required_providers"]["aws"]["version"] == AWS_PROVIDER_VERSION


def test_a_renamed_chalice_resource_is_refused(chalice: dict[str, Any]) -> None:
    check_template(chalice, overrides(STAGE), stack(STAGE))
    renamed = copy.deepcopy(chalice)
    mappings = renamed["resource"]["aws_lambda_event_source_mapping"]
    mappings["worker-sqs"] = mappings.pop("worker-sqs-event-source")
    with pytest.raises(TemplateError, match="worker-sqs-event-source"):
        check_template(renamed, overrides(STAGE), stack(STAGE))
    rewired = copy.deepcopy(chalice)
    rewired["resource"]["aws_lambda_function"]["worker"]["role"] = (
        "${aws_iam_role.api_handler_role.arn}"
    )
    with pytest.raises(TemplateError, match="worker's role policy"):
        check_template(rewired, overrides(STAGE), stack(STAGE))
    without_document = copy.deepcopy(chalice)
    del without_document["locals"]["chalice_api_swagger"]
    with pytest.raises(TemplateError, match="chalice_api_swagger"):
        check_template(without_document, overrides(STAGE), stack(STAGE))


def test_optional_reviewer_is_a_role_and_nothing_secret_is_in_the_state(
    added: dict[str, Any],
) -> None:
    from infra.iam import reviewer_policy

    assert added["variable"]["create_reviewer"]["default"] is False
    resource = added["resource"]
    role = resource["aws_iam_role"]["reviewer"]
    assert role["count"] == resource["aws_iam_role_policy"]["reviewer"]["count"]
    assert role["count"] == "${var.create_reviewer ? 1 : 0}"
    assert role["max_session_duration"] == 3600
    policy = json.loads(resource["aws_iam_role_policy"]["reviewer"]["policy"])
    assert policy == reviewer_policy(TABLE_ARN)
    assert not {"aws_iam_user", "aws_iam_access_key"} & set(resource)
    assert "secret" not in json.dumps(added["output"]).lower()


def test_reader_role_trusts_only_the_api_and_reads_only_the_logs_table(
    added: dict[str, Any],
) -> None:
    from infra.iam import reader_policy, reader_trust

    role = added["resource"]["aws_iam_role"]["tenant_reader"]
    assert role["name"] == "robust-data-processor-prod-logs-reader"
    trust = json.loads(role["assume_role_policy"])
    assert trust == reader_trust({"AWS": "${aws_iam_role.api_handler_role.arn}"})
    policy = added["resource"]["aws_iam_role_policy"]["tenant_reader"]
    assert policy["role"] == "${aws_iam_role.tenant_reader.id}"
    assert json.loads(policy["policy"]) == reader_policy(TABLE_ARN)


def test_dashboard_body_is_json_once_terraform_substitutes_it(
    added: dict[str, Any], chalice: dict[str, Any]
) -> None:
    text = dashboard_text(added)
    references = set(PLACEHOLDER.findall(text))
    # The stack's own resources, by reference, each one defined here or by Chalice.
    assert references == {
        "data.aws_region.current.name",
        "aws_sqs_queue.ingest_queue.name",
        "aws_sqs_queue.dead_letter_queue.name",
        "aws_lambda_function.api_handler.function_name",
        "aws_lambda_function.api_key_authorizer.function_name",
        "aws_lambda_function.worker.function_name",
        "aws_lambda_function.archiver.function_name",
        "aws_cloudwatch_metric_alarm.dead_letter_queue_not_empty.arn",
        "aws_cloudwatch_metric_alarm.oldest_log_waiting.arn",
        "aws_cloudwatch_metric_alarm.falling_behind.arn",
    }
    defined = {
        f"{kind}.{name}"
        for document in (added, chalice)
        for kind, blocks in document["resource"].items()
        for name in blocks
    } | {f"data.{kind}.{name}" for kind, blocks in added["data"].items() for name in blocks}
    assert {reference.rsplit(".", 1)[0] for reference in references} <= defined
    assert "%{" not in text  # would start a Terraform template directive
    body = json.loads(PLACEHOLDER.sub("substituted-name", text))
    assert graphed_metrics(body) == {metric.name for metric in CATALOGUE}
    dashboard = added["resource"]["aws_cloudwatch_dashboard"]["dashboard"]
    assert dashboard["dashboard_name"] == f"RobustDataProcessor-{STAGE}"


def test_dashboard_watches_this_stacks_queues_functions_api_and_alarms(
    added: dict[str, Any], chalice: dict[str, Any]
) -> None:
    body = json.loads(dashboard_text(added))
    assert dimension_values(body, "AWS/SQS", "QueueName") == {
        "${aws_sqs_queue.ingest_queue.name}",
        "${aws_sqs_queue.dead_letter_queue.name}",
    }
    functions = {f"${{aws_lambda_function.{f}.function_name}}" for f in FUNCTIONS}
    assert dimension_values(body, "AWS/Lambda", "FunctionName") == functions
    # API Gateway names the API after Chalice's OpenAPI title, the app's name.
    api = chalice["resource"]["aws_api_gateway_rest_api"]["rest_api"]
    assert api["name"] == "robust-data-processor"
    assert dimension_values(body, "AWS/ApiGateway", "ApiName") == {api["name"]}
    stage = chalice["resource"]["aws_api_gateway_deployment"]["rest_api"]["stage_name"]
    assert dimension_values(body, "AWS/ApiGateway", "Stage") == {stage}
    [alarm_widget] = widgets(body, "alarm")
    alarms = added["resource"]["aws_cloudwatch_metric_alarm"]
    assert sorted(alarm_widget["alarms"]) == sorted(
        f"${{aws_cloudwatch_metric_alarm.{name}.arn}}" for name in alarms
    )
    # Chalice names each function, and Lambda logs to `/aws/lambda/<function name>`.
    assert all(f["function_name"] for f in chalice["resource"]["aws_lambda_function"].values())
    groups = {f: f"/aws/lambda/${{aws_lambda_function.{f}.function_name}}" for f in FUNCTIONS}
    check_log_tables(body, groups)


def test_the_api_stage_is_added_on_chalices_deployment(
    added: dict[str, Any], override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    deployment = chalice["resource"]["aws_api_gateway_deployment"]["rest_api"]
    api_stage = added["resource"]["aws_api_gateway_stage"]["rest_api"]
    assert api_stage == {
        "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
        "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
        "stage_name": deployment["stage_name"],
        "xray_tracing_enabled": TRACED,
    }
    # Chalice's deployment made the stage itself, which would clash with this one; it still
    # redeploys when the API's document changes, before the old deployment goes.
    assert deployment["stage_description"] == "${md5(local.chalice_api_swagger)}"
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    deployment_override = override["resource"]["aws_api_gateway_deployment"]["rest_api"]
    triggers = deployment_override.pop("triggers")
    assert deployment_override == {"stage_name": None, "stage_description": None}
    assert triggers["redeployment"] == "${md5(local.chalice_api_swagger)}"
    # Gateway responses take effect in a deployment made after them, and again when changed.
    responses = added["resource"]["aws_api_gateway_gateway_response"]
    listed = ", ".join(f"aws_api_gateway_gateway_response.{name}" for name in responses)
    assert triggers["gateway_responses"] == f"${{md5(jsonencode([{listed}]))}}"
    assert chalice["output"]["EndpointURL"] == {
        "value": "${aws_api_gateway_deployment.rest_api.invoke_url}"
    }
    assert override["output"] == {
        "EndpointURL": {"value": "${aws_api_gateway_stage.rest_api.invoke_url}"}
    }


@pytest.mark.parametrize("stage", STAGES)
def test_tracing_is_on_exactly_where_the_stage_says(stage: str, tmp_path: Path) -> None:
    traced = CONFIG["stages"][stage]["xray"]
    main(["--stage", stage, "--out", str(tmp_path)])
    generated, added, override = (
        json.loads((tmp_path / name).read_text())
        for name in (CHALICE_TEMPLATE, RESOURCES_FILE, OVERRIDE_FILE)
    )
    for function in generated["resource"]["aws_lambda_function"].values():
        assert function.get("tracing_config") == ({"mode": "Active"} if traced else None)
    assert added["resource"]["aws_api_gateway_stage"]["rest_api"]["xray_tracing_enabled"] is traced
    write_traces = {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(TRACE_ACTIONS)}
    for function_name in FUNCTIONS:
        policy = override["resource"]["aws_iam_role_policy"][f"{function_name}_role"]["policy"]
        statements = json.loads(policy)["Statement"]
        tracing = [s for s in statements if "xray:PutTraceSegments" in s["Action"]]
        assert tracing == ([write_traces | {"Resource": "*"}] if traced else [])
    reader = json.loads(added["resource"]["aws_iam_role_policy"]["tenant_reader"]["policy"])
    assert "xray" not in json.dumps(reader)


def test_compressed_json_reaches_the_function_as_it_came(
    override: dict[str, Any], chalice: dict[str, Any]
) -> None:
    # The override replaces Chalice's list: it must keep Chalice's types and add JSON's.
    types = override["resource"]["aws_api_gateway_rest_api"]["rest_api"]["binary_media_types"]
    chalices = chalice["resource"]["aws_api_gateway_rest_api"]["rest_api"]["binary_media_types"]
    assert types == [*chalices, "application/json"]


def test_usage_plans_throttle_each_plan_on_the_api_stage(
    added: dict[str, Any], override: dict[str, Any]
) -> None:
    plans = added["resource"]["aws_api_gateway_usage_plan"]
    assert {plan["name"] for plan in plans.values()} == {
        f"robust-data-processor-prod-{name}" for name in PLANS
    }
    team = plans["usage_plan_team"]
    assert team["api_stages"] == [
        {
            "api_id": "${aws_api_gateway_rest_api.rest_api.id}",
            "stage": "${aws_api_gateway_stage.rest_api.stage_name}",
        }
    ]
    assert team["throttle_settings"] == {"rate_limit": 100, "burst_limit": 1000}
    api = override["resource"]["aws_api_gateway_rest_api"]["rest_api"]
    assert api["api_key_source"] == "AUTHORIZER"


def test_the_usage_table_expires_counters(added: dict[str, Any]) -> None:
    table = added["resource"]["aws_dynamodb_table"]["usage_table"]
    assert (table["name"], table["hash_key"]) == ("robust-data-processor-prod-usage", "counter_id")
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}


def test_logs_expire_into_a_stream_that_feeds_the_archiver_ttl_removals_only(
    added: dict[str, Any], override: dict[str, Any]
) -> None:
    from infra.model import TTL_REMOVALS_PATTERN

    table = added["resource"]["aws_dynamodb_table"]["logs_table"]
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert (table["stream_enabled"], table["stream_view_type"]) == (True, "OLD_IMAGE")
    mapping = override["resource"]["aws_lambda_event_source_mapping"]
    archiver = mapping["archiver-dynamodb-event-source"]
    assert archiver["event_source_arn"] == "${aws_dynamodb_table.logs_table.stream_arn}"
    assert archiver["filter_criteria"] == {"filter": {"pattern": TTL_REMOVALS_PATTERN}}


def test_the_archive_is_encrypted_private_and_moves_to_colder_storage(
    added: dict[str, Any],
) -> None:
    resource = added["resource"]
    bucket = "${aws_s3_bucket.archive_bucket.id}"
    assert resource["aws_s3_bucket"]["archive_bucket"] == {
        "bucket": "robust-data-processor-prod-archive",
        "lifecycle": {"prevent_destroy": True},
    }
    encryption = resource["aws_s3_bucket_server_side_encryption_configuration"]["archive_bucket"]
    assert encryption["bucket"] == bucket
    assert encryption["rule"]["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "AES256"
    }
    assert resource["aws_s3_bucket_public_access_block"]["archive_bucket"] == {
        "bucket": bucket,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    rule = resource["aws_s3_bucket_lifecycle_configuration"]["archive_bucket"]["rule"]
    assert rule["status"] == "Enabled"
    assert rule["transition"] == {
        "days": 30,
        "storage_class": "GLACIER_IR",
    }
