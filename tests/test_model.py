"""The stack's declaration, checked once against the settings, and each rendering against it.

`infra.model` declares every resource; the SAM, Terraform and emulator renderings are checked
for faithfulness: every resource of the model is in each rendering that makes it, with every
value the model gives it.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import VISIBILITY_TIMEOUT_FACTOR
from chalicelib.errors import GATEWAY_REFUSALS, KEY_REQUIRED
from infra import template, terraform
from infra.iam import FUNCTIONS, GRANTS, reader_policy, reviewer_policy
from infra.model import (
    ACCOUNT,
    API_GATEWAY_MESSAGE,
    TTL_REMOVALS_PATTERN,
    EventSource,
    Function,
    GatewayResponse,
    Key,
    Ref,
    Resource,
    RestApi,
    Stack,
    StreamEventSource,
    stack,
)
from infra.stage import PROJECT_DIR, deployed_stages, stage_settings

CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
STAGES = deployed_stages()


@pytest.fixture(scope="module", params=STAGES)
def model(request: pytest.FixtureRequest) -> Stack:
    return stack(request.param)


def same(document: Any, expected: Any) -> bool:
    """Whether two documents are equal, references compared by what they name."""

    def named(ref: Ref) -> tuple[str, str]:
        return ref.resource.names.cloudformation, ref.attribute

    return json.dumps(document, default=named) == json.dumps(expected, default=named)


# --- The declaration against the stage's settings ---------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_queues_are_named_sized_and_redriven_as_the_stage_says(stage: str) -> None:
    settings, declared = stage_settings(stage, "worker"), stack(stage)
    queue, dead_letter = declared.queue, declared.dead_letter_queue
    variables = CONFIG["stages"][stage]["environment_variables"]
    assert (queue.name, dead_letter.name) == (
        variables["QUEUE_NAME"],
        f"{variables['QUEUE_NAME']}-dlq",
    )
    worker_timeout = CONFIG["stages"][stage]["lambda_functions"]["worker"]["lambda_timeout"]
    assert queue.visibility_timeout_seconds == VISIBILITY_TIMEOUT_FACTOR * worker_timeout
    assert queue.redrive is not None
    assert queue.redrive.dead_letter_queue is dead_letter
    assert queue.redrive.max_receive_count == settings.max_receive_count == 5
    assert queue.retention_seconds == settings.queue_retention_seconds
    assert dead_letter.retention_seconds == settings.dead_letter_retention_seconds
    assert dead_letter.retention_seconds > queue.retention_seconds
    assert queue.max_message_bytes == settings.queue_message_max_bytes == 262_144
    assert queue.encrypted
    assert dead_letter.encrypted
    assert dead_letter.redrive is None


@pytest.mark.parametrize("stage", STAGES)
def test_tables_are_keyed_kept_recoverable_and_encrypted(stage: str) -> None:
    declared = stack(stage)
    logs, tenants = declared.logs_table, declared.tenants_table
    assert logs.name == f"robust-data-processor-{stage}-logs"
    assert logs.keys == (Key("tenant_id", "HASH"), Key("log_id", "RANGE"))
    assert tenants.name == f"robust-data-processor-{stage}-tenants"
    assert tenants.keys == (Key("key_id", "HASH"),)
    for table in (logs, tenants):
        assert table.billing_mode == "PAY_PER_REQUEST"
        assert (table.point_in_time_recovery, table.encrypted, table.retained) == (True,) * 3
    # Logs expire (`chalicelib.store` writes `expires_at`) into a stream of their old images,
    # which is what the archiver archives; the keys never expire.
    assert (logs.ttl_attribute, logs.stream_view) == ("expires_at", "OLD_IMAGE")
    assert (tenants.ttl_attribute, tenants.stream_view) == (None, None)


@pytest.mark.parametrize("stage", STAGES)
def test_the_archive_is_the_stages_encrypted_private_kept_and_colder_after_a_month(
    stage: str,
) -> None:
    archive = stack(stage).archive
    assert archive.name == f"robust-data-processor-{stage}-archive"
    assert (archive.encryption, archive.block_public_access, archive.retained) == (
        "AES256",
        True,
        True,
    )
    assert (archive.colder_storage_class, archive.transition_days) == ("GLACIER_IR", 30)


def test_only_ttl_removals_reach_the_archiver(model: Stack) -> None:
    source = model.stream_event_source
    assert source.function.function_name == "archiver"
    assert (source.stream.resource, source.stream.attribute) == (model.logs_table, "stream_arn")
    assert json.loads(source.filter_pattern) == {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
    }
    assert source.filter_pattern == TTL_REMOVALS_PATTERN


def test_alarms_watch_the_dead_letter_queue_and_the_oldest_log(model: Stack) -> None:
    [dead_letter] = [a for a in model.alarms if a.metric == "ApproximateNumberOfMessagesVisible"]
    assert dead_letter.dimensions["QueueName"].resource is model.dead_letter_queue
    assert (dead_letter.comparison, dead_letter.threshold) == ("GreaterThanOrEqualToThreshold", 1)
    settings = stage_settings(model.stage, "worker")
    oldest, behind = sorted(
        (alarm for alarm in model.alarms if alarm.metric == "ApproximateAgeOfOldestMessage"),
        key=lambda alarm: alarm.name.endswith("FallingBehind"),
    )
    assert behind.name.endswith("FallingBehind")
    assert behind.dimensions["QueueName"].resource is model.queue
    assert behind.threshold == settings.backlog_age_alarm_seconds
    assert oldest.dimensions["QueueName"].resource is model.queue
    assert oldest.comparison == "GreaterThanThreshold"
    assert model.queue.visibility_timeout_seconds is not None
    assert oldest.threshold == 2 * model.queue.visibility_timeout_seconds
    assert {alarm.namespace for alarm in model.alarms} == {"AWS/SQS"}


def test_the_reader_role_is_trusted_by_the_api_and_reads_only_the_logs_table(model: Stack) -> None:
    role = model.reader_role
    assert role.name == f"{model.logs_table.name}-reader"
    assert isinstance(role.trusted, Ref)
    assert role.trusted.resource.names == model.function("api_handler").names
    assert role.tenant_tagged
    assert same(role.policy, reader_policy(Ref(model.logs_table, "arn")))
    statements = role.policy["Statement"]
    assert {s["Resource"].resource for s in statements} == {model.logs_table}


def test_the_reviewer_is_an_optional_role_of_short_sessions_that_reads_no_originals(
    model: Stack,
) -> None:
    reviewer = model.reviewer
    assert (reviewer.only_if,) == model.switches
    assert (reviewer.trusted, reviewer.tenant_tagged) == (ACCOUNT, False)
    assert reviewer.max_session_seconds == 3600
    assert same(reviewer.policy, reviewer_policy(Ref(model.logs_table, "arn")))
    assert "original_text" not in json.dumps(reviewer.policy, default=str)


def test_each_function_writes_only_its_own_log_group(model: Stack) -> None:
    for function in model.functions:
        [logs] = [s for s in function.policy["Statement"] if s["Sid"] == "WriteOwnLogs"]
        # The unwired function: a renderer resolves a reference by its resource's names.
        assert (logs["Resource"].resource.names, logs["Resource"].attribute) == (
            function.names,
            "log_group_arn",
        )


def test_every_function_is_told_every_resource_and_keeps_its_stage_variables(
    model: Stack,
) -> None:
    assert [f.function_name for f in model.functions] == list(FUNCTIONS)
    for function in model.functions:
        stage_variables = (
            CONFIG["environment_variables"] | CONFIG["stages"][model.stage]["environment_variables"]
        )
        kept = {k: v for k, v in function.environment.items() if not isinstance(v, Ref)}
        assert kept == {k: v for k, v in stage_variables.items() if k not in model.wiring}
        wired = {k: v for k, v in function.environment.items() if isinstance(v, Ref)}
        assert wired == model.wiring
    named = {name: (ref.resource, ref.attribute) for name, ref in model.wiring.items()}
    assert named == {
        "TABLE_NAME": (model.logs_table, "name"),
        "TENANTS_TABLE_NAME": (model.tenants_table, "name"),
        "USAGE_TABLE_NAME": (model.usage_table, "name"),
        "TENANT_READ_ROLE_ARN": (model.reader_role, "arn"),
        "QUEUE_NAME": (model.queue, "name"),
        "QUEUE_URL": (model.queue, "url"),
        "DEAD_LETTER_QUEUE_NAME": (model.dead_letter_queue, "name"),
        "ARCHIVE_BUCKET_NAME": (model.archive, "name"),
        "LOGS_STREAM_ARN": (model.logs_table, "stream_arn"),
    }


def test_the_worker_takes_batches_from_the_queue_as_the_stage_says(model: Stack) -> None:
    settings = stage_settings(model.stage, "worker")
    source = model.event_source
    assert source.function.function_name == "worker"
    assert source.queue is model.queue
    assert source.report_batch_item_failures
    assert (source.batch_size, source.batching_window_seconds, source.max_concurrency) == (
        settings.worker_batch_size,
        settings.worker_batching_window_seconds,
        settings.worker_max_concurrency,
    )


def test_the_api_is_traced_where_the_stage_traces_and_the_scan_says_so(model: Stack) -> None:
    traced = CONFIG["stages"][model.stage]["xray"]
    assert model.api.traced is traced
    assert {f.traced for f in model.functions} == {traced}
    checks = [finding.check for finding in model.api.findings]
    assert ("CKV_AWS_73" in checks) is not traced


def test_every_accepted_scan_finding_has_a_reason(model: Stack) -> None:
    findings = [finding for resource in model.resources for finding in resource.findings]
    assert len(findings) > 15
    assert all(re.fullmatch(r"CKV_AWS_\d+", f.check) and len(f.reason) > 40 for f in findings)


#: What each gateway response's `$context` variables may become, as API Gateway substitutes them.
SUBSTITUTED = {
    "$context.authorizer.rejection": "the key is revoked",
    "$context.httpMethod": "GET",
    "$context.path": "/nowhere",
    API_GATEWAY_MESSAGE: '"Request Too Long"',
    "$context.error.responseType": "REQUEST_TOO_LARGE",
}


def substituted(text: str) -> Any:
    for variable, value in SUBSTITUTED.items():
        text = text.replace(variable, value)
    assert "$context" not in text
    return json.loads(text)


def test_api_gateways_own_answers_are_in_the_apps_error_shape(model: Stack) -> None:
    answers = {
        response.response_type: (response.status_code, substituted(response.template))
        for response in model.gateway_responses
    }
    refusals = {
        name: (refusal.status_code, {"Code": refusal.code, "Message": message})
        for name, refusal in GATEWAY_REFUSALS.items()
        for message in [
            refusal.message.format(method="GET", path="/nowhere", reason="the key is revoked")
        ]
    }
    assert answers == refusals | {
        "THROTTLED": (
            429,
            {"Code": "TooManyRequestsError", "Message": "too many requests: retry later"},
        ),
        # Each default keeps API Gateway's own status, name and message.
        "DEFAULT_4XX": (None, {"Code": "REQUEST_TOO_LARGE", "Message": "Request Too Long"}),
        "DEFAULT_5XX": (None, {"Code": "REQUEST_TOO_LARGE", "Message": "Request Too Long"}),
    }
    assert answers["UNAUTHORIZED"] == (401, {"Code": "UnauthorizedError", "Message": KEY_REQUIRED})
    assert {response.api for response in model.gateway_responses} == {model.api}


def test_names_are_unique_in_each_tool(model: Stack) -> None:
    logical_ids = [r.names.cloudformation for r in model.resources]
    assert len(logical_ids) == len(set(logical_ids))
    addresses = [(type(r), r.names.terraform) for r in model.resources]
    assert len(addresses) == len(set(addresses))


# --- Faithfulness of each rendering ------------------------------------------------------------

#: Fields that say how a resource relates to the stack, not a value it is deployed with.
_NOT_VALUES = {"names", "only_if", "findings", "settings", "function_name"}
#: Fields that only the `chalice deploy` path renders (`test_package` checks them there).
_DEPLOY_PATH_ONLY = {"deployed_name", "deployed_role_name", "role", "traced"}
#: Flags rendered as the presence of something rather than as a value (checked per renderer:
#: ReportBatchItemFailures in test_package and test_terraform, retention below).
_PRESENCE_FLAGS = {"report_batch_item_failures", "retained", "tenant_tagged"}


def declared(resource: Resource) -> Iterator[Ref | str]:
    """Every value the model gives `resource`: a reference, or a value as text."""
    for item in dataclasses.fields(resource):
        if item.name in _NOT_VALUES | _DEPLOY_PATH_ONLY | _PRESENCE_FLAGS:
            continue
        if isinstance(resource, RestApi) and item.name == "name":
            continue  # Chalice names the API after the app, in both tools
        yield from _walk(getattr(resource, item.name))


def _walk(value: Any) -> Iterator[Ref | str]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Resource) or value is None:
        return  # another resource: what refers to it is a `Ref`
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from _walk([getattr(value, item.name) for item in dataclasses.fields(value)])
    elif isinstance(value, dict | list | tuple):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _walk(item)
    else:
        yield str(value).lower() if isinstance(value, bool) else str(value)


def rendered_values(value: Any) -> Iterator[str]:
    """Every key and leaf of a rendering as text, inside JSON documents held in strings too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from rendered_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from rendered_values(item)
    elif isinstance(value, bool):
        yield str(value).lower()
    elif isinstance(value, str) and value[:1] in "{[":
        try:
            yield from rendered_values(json.loads(value))
        except ValueError:
            yield value
        yield value
    elif value is not None:
        yield str(value)


def check_faithful(resource: Resource, rendering: Any, refers: str) -> None:
    """Every declared value of `resource` is in its `rendering`, every reference names its target.

    `refers` is the tool whose names the references use: `cloudformation` or `terraform`.
    """
    # Case aside: Terraform writes a key's kind as `hash_key`, CloudFormation as `HASH`.
    leaves = [leaf.lower() for leaf in rendered_values(rendering)]
    for value in declared(resource):
        if isinstance(value, str):
            assert any(value.lower() in leaf for leaf in leaves), (resource.names, value)
            continue
        target = value.resource
        role = isinstance(target, Function) and value.attribute == "role_arn"
        names = target.role if isinstance(target, Function) and role else target.names
        # By its identity in the tool, or (a role's ARN in a policy) by its name.
        tokens = {getattr(names, refers), str(getattr(target, "name", getattr(names, refers)))}
        if isinstance(target, Function) and value.attribute == "log_group_arn":
            # A function's own log group, by the name it is deployed under.
            tokens = {f"log-group:/aws/lambda/{target.deployed_name}:*"}
        found = any(token.lower() in leaf for token in tokens for leaf in leaves)
        assert found, (resource.names, tokens)


@pytest.fixture(scope="module")
def sam_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = template.package("prod", tmp_path_factory.mktemp("sam"))
    return dict(json.loads(path.read_text()))


def sam_rendering(resource: Resource, packaged: dict[str, Any]) -> Any:
    """Where the packaged SAM template renders `resource`."""
    resources = packaged["Resources"]
    if isinstance(resource, Function):
        return [resources[resource.names.cloudformation], resources[resource.role.cloudformation]]
    if isinstance(resource, EventSource | StreamEventSource):
        function = resources[resource.function.names.cloudformation]
        return function["Properties"]["Events"][resource.names.cloudformation]
    if isinstance(resource, GatewayResponse):
        definition = resources[resource.api.names.cloudformation]["Properties"]["DefinitionBody"]
        # Keyed by its type, which the key says.
        responses = definition["x-amazon-apigateway-gateway-responses"]
        return [resource.response_type, responses[resource.response_type]]
    rendered = resources[resource.names.cloudformation]
    if not isinstance(resource, Function | RestApi):
        assert rendered["Type"] == template.TYPES[type(resource)]
    condition = None if resource.only_if is None else resource.only_if.names.cloudformation
    assert rendered.get("Condition") == condition
    return rendered


def test_sam_renders_every_resource_with_the_models_values(sam_template: dict[str, Any]) -> None:
    model = stack("prod")
    for resource in model.resources:
        check_faithful(resource, sam_rendering(resource, sam_template), "cloudformation")
    for output in model.outputs:
        assert output.name in sam_template["Outputs"]


def test_sam_carries_every_accepted_finding_on_its_resource(sam_template: dict[str, Any]) -> None:
    for resource in stack("prod").resources:
        if not resource.findings:
            continue
        skips = sam_template["Resources"][resource.names.cloudformation]["Metadata"]["checkov"]
        assert skips["skip"] == [{"id": f.check, "comment": f.reason} for f in resource.findings]


def test_compressed_json_reaches_the_function_as_it_came() -> None:
    from app import app

    # Chalice's types (which it also uses to encode answers), then JSON for gzip-encoded bodies.
    assert stack("prod").api.binary_media_types == (*app.api.binary_types, "application/json")


def test_sam_keeps_chalices_binary_media_types_beside_the_gateway_responses(
    sam_template: dict[str, Any],
) -> None:
    definition = sam_template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    types = definition["x-amazon-apigateway-binary-media-types"]
    assert types == list(stack("prod").api.binary_media_types)
    assert set(definition["x-amazon-apigateway-gateway-responses"]) == {
        response.response_type for response in stack("prod").gateway_responses
    }


@pytest.fixture(scope="module")
def terraform_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("terraform")
    terraform.main(["--stage", "prod", "--out", str(directory)])
    names = (terraform.RESOURCES_FILE, terraform.OVERRIDE_FILE)
    return {name: json.loads((directory / name).read_text()) for name in names}


def test_terraform_renders_every_resource_with_the_models_values(
    terraform_files: dict[str, Any],
) -> None:
    model = stack("prod")
    blocks = [
        (resource_type, name, block)
        for document in terraform_files.values()
        for resource_type, named_blocks in document["resource"].items()
        for name, block in named_blocks.items()
    ]
    for resource in model.resources:
        names = {resource.names.terraform}
        if isinstance(resource, Function):
            names.add(resource.role.terraform)
        rendering = [
            block
            for resource_type, name, block in blocks
            if name in names
            and (
                resource_type.startswith(terraform.TYPES.get(type(resource), "aws_lambda_event"))
                or isinstance(resource, Function | RestApi)
            )
        ]
        assert rendering, resource.names
        check_faithful(resource, rendering, "terraform")
        counts = {block.get("count") for block in rendering}
        switch = resource.only_if
        assert counts == {None if switch is None else f"${{var.{switch.names.terraform} ? 1 : 0}}"}
    outputs = terraform_files[terraform.RESOURCES_FILE]["output"]
    assert {output.name for output in model.outputs} == set(outputs)


def test_the_emulator_provisions_what_is_declared() -> None:
    import boto3
    from moto import mock_aws

    from devstack.resources import local_stack, provision_all

    settings = stage_settings("dev", "worker")
    model = local_stack(settings)
    with mock_aws():
        sqs, dynamodb, s3, iam = (
            boto3.client(s, region_name="us-east-1") for s in ("sqs", "dynamodb", "s3", "iam")
        )
        resources, wiring = provision_all(settings, sqs, dynamodb, s3, iam)
        for queue in (model.queue, model.dead_letter_queue):
            url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            assert int(attributes["MessageRetentionPeriod"]) == queue.retention_seconds
            assert attributes["SqsManagedSseEnabled"] == str(queue.encrypted).lower()
            if queue.visibility_timeout_seconds is not None:
                assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout_seconds
            if queue.max_message_bytes is not None:
                assert int(attributes["MaximumMessageSize"]) == queue.max_message_bytes
            if queue.redrive is not None:
                redrive = json.loads(attributes["RedrivePolicy"])
                assert int(redrive["maxReceiveCount"]) == queue.redrive.max_receive_count
                assert redrive["deadLetterTargetArn"].endswith(
                    f":{queue.redrive.dead_letter_queue.name}"
                )
        for table in (model.logs_table, model.tenants_table):
            described = dynamodb.describe_table(TableName=table.name)["Table"]
            assert described["KeySchema"] == [
                {"AttributeName": key.attribute, "KeyType": key.kind} for key in table.keys
            ]
            assert described["BillingModeSummary"]["BillingMode"] == table.billing_mode
            assert (
                described.get("SSEDescription", {}).get("Status") == "ENABLED"
            ) is table.encrypted
            backups = dynamodb.describe_continuous_backups(TableName=table.name)
            recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            assert (
                recovery["PointInTimeRecoveryStatus"] == "ENABLED"
            ) is table.point_in_time_recovery
            ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
            if table.ttl_attribute is not None:
                assert ttl["AttributeName"] == table.ttl_attribute
            stream = described.get("StreamSpecification", {}).get("StreamViewType")
            assert stream == table.stream_view
        archive = model.archive
        encryption = s3.get_bucket_encryption(Bucket=archive.name)
        [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == archive.encryption
        blocks = s3.get_public_access_block(Bucket=archive.name)
        assert set(blocks["PublicAccessBlockConfiguration"].values()) == {True}
        [rule] = s3.get_bucket_lifecycle_configuration(Bucket=archive.name)["Rules"]
        assert rule["Transitions"] == [
            {"Days": archive.transition_days, "StorageClass": archive.colder_storage_class}
        ]
        role = model.reader_role
        policy = iam.get_role_policy(RoleName=role.name, PolicyName=role.policy_name)
        table_arn = dynamodb.describe_table(TableName=model.logs_table.name)["Table"]["TableArn"]
        assert {s["Resource"] for s in policy["PolicyDocument"]["Statement"]} == {table_arn}
        # The reviewer is off unless its switch is on: not made locally.
        assert model.reviewer.name not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert wiring["QUEUE_URL"] == resources.queue_url
    assert wiring["TABLE_NAME"] == model.logs_table.name
    assert wiring["TENANT_READ_ROLE_ARN"].endswith(f":role/{role.name}")
    assert wiring["ARCHIVE_BUCKET_NAME"] == archive.name
    assert ":table/" + model.logs_table.name + "/stream/" in wiring["LOGS_STREAM_ARN"]
    assert set(wiring) == set(model.wiring)


# --- Each resource written once ----------------------------------------------------------------


def _literals(path: Path) -> set[str]:
    """Every string constant of a module, f-strings' literal parts included."""
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_no_resource_name_or_type_is_written_in_two_files() -> None:
    files = sorted((PROJECT_DIR / "infra").glob("*.py")) + sorted(
        (PROJECT_DIR / "devstack").glob("*.py")
    )
    literals = {path: _literals(path) for path in files}
    model = stack("prod")
    written: set[str] = set()
    for resource in model.resources:
        written |= {resource.names.cloudformation, resource.names.terraform}
        written |= {str(getattr(resource, "name", ""))} - {""}
    # A function's Terraform name is its name in app.py, which the grants and tools use too.
    written -= {function.function_name for function in model.functions}
    # infra.iam's grants name what they grant on by the same words (`tenants_table`): keys of
    # the model's `arns`, not declarations.
    written -= {resource for grants in GRANTS.values() for resource in grants}
    written |= set(template.TYPES.values()) | set(terraform.TYPES.values())
    settings = stage_settings("prod", "worker")
    suffixes = {
        name.removeprefix("robust-data-processor-prod")
        for name in (settings.queue_name, settings.dead_letter_queue_name, settings.table_name)
    }
    written |= suffixes | {settings.tenants_table_name.removeprefix("robust-data-processor-prod")}
    for name in sorted(written):
        holders = [path.name for path, found in literals.items() if name in found]
        assert len(holders) <= 1, f"{name!r} is written in {holders}"
    assert len(written) > 40


def test_a_tables_ttl_and_stream_reach_every_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the next issues declare (a TTL, a stream) is rendered by each tool already."""
    import boto3
    from moto import mock_aws

    from devstack import resources as emulator

    settings = stage_settings("dev", "worker")
    declared = emulator.local_stack(settings)
    logs = dataclasses.replace(
        declared.logs_table, ttl_attribute="expires_at", stream_view="NEW_AND_OLD_IMAGES"
    )
    changed = dataclasses.replace(declared, logs_table=logs)
    for module in (template, terraform):
        monkeypatch.setattr(module, "stack", lambda stage: changed)
    monkeypatch.setattr(emulator, "local_stack", lambda settings: changed)

    sam = template.resources_template("dev")["Resources"][logs.names.cloudformation]["Properties"]
    assert sam["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert sam["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    block = terraform.resources("dev")["resource"]["aws_dynamodb_table"][logs.names.terraform]
    assert block["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert (block["stream_enabled"], block["stream_view_type"]) == (True, "NEW_AND_OLD_IMAGES")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        sqs, s3 = (boto3.client(s, region_name="us-east-1") for s in ("sqs", "s3"))
        emulator.provision(settings, sqs, dynamodb, s3)
        ttl = dynamodb.describe_time_to_live(TableName=logs.name)["TimeToLiveDescription"]
        described = dynamodb.describe_table(TableName=logs.name)["Table"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
