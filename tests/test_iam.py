"""Least privilege, proven: each function's policy grants exactly the AWS operations it performs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.keys import create_key
from infra.iam import (
    FUNCTIONS,
    GRANTS,
    TRACE_ACTIONS,
    granted_actions,
    iam_action,
    policy_filename,
    render,
    tracing,
)
from infra.stage import PROJECT_DIR, deployed_stages
from tests.conftest import granted, queued_message, recording, sqs_record

CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
STAGES = deployed_stages()


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function_name", FUNCTIONS)
def test_chalice_uses_the_generated_policy_file(stage: str, function_name: str) -> None:
    assert CONFIG["autogen_policy"] is False
    filename = CONFIG["stages"][stage]["lambda_functions"][function_name]["iam_policy_file"]
    assert filename == policy_filename(stage, function_name)
    on_disk = (PROJECT_DIR / ".chalice" / filename).read_text()
    assert on_disk == render(stage, function_name), "run `make policies` and commit the result"


@pytest.mark.parametrize("stage", STAGES)
def test_policies_name_only_their_stage_resources(stage: str) -> None:
    worker = json.loads(render(stage, "worker"))
    runtime = ("WriteOwnLogs", "WriteTraces")  # the Lambda runtime's, not our code's
    resources = [s["Resource"] for s in worker["Statement"] if s["Sid"] not in runtime]
    place = "us-east-1:123456789012"  # the stage's aws_region and aws_account_id
    assert resources == [
        f"arn:aws:sqs:{place}:robust-data-processor-{stage}-ingest",
        f"arn:aws:dynamodb:{place}:table/robust-data-processor-{stage}-logs",
        f"arn:aws:dynamodb:{place}:table/robust-data-processor-{stage}-tenants",
    ]
    [own_logs] = [s["Resource"] for s in worker["Statement"] if s["Sid"] == "WriteOwnLogs"]
    assert own_logs == (
        f"arn:aws:logs:{place}:log-group:/aws/lambda/robust-data-processor-{stage}-worker:*"
    )
    assert "*:*" not in json.dumps([json.loads(render(stage, f)) for f in FUNCTIONS])


def test_prod_traces_and_dev_does_not() -> None:
    assert {stage: CONFIG["stages"][stage]["xray"] for stage in STAGES} == {
        "dev": False,
        "prod": True,
    }
    for stage in STAGES:
        assert {tracing(stage, f) for f in FUNCTIONS} == {CONFIG["stages"][stage]["xray"]}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function_name", FUNCTIONS)
def test_only_traced_functions_may_write_traces(stage: str, function_name: str) -> None:
    # The Lambda runtime sends the segments with the function's role; our code calls no X-Ray
    # API, so the operation recorder cannot prove these grants: the stage's switch decides.
    statements = json.loads(render(stage, function_name))["Statement"]
    traces = [s for s in statements if any(a.startswith("xray:") for a in s["Action"])]
    granted = {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(TRACE_ACTIONS)}
    expected = [granted | {"Resource": "*"}] if tracing(stage, function_name) else []
    assert traces == expected


def test_batch_operations_need_their_single_message_action() -> None:
    # SQS's developer guide, "Amazon SQS batch actions": permissions cannot be set for the
    # batch actions; SendMessage's grant covers SendMessageBatch (ingest's batches).
    assert iam_action("sqs", "SendMessageBatch") == "sqs:SendMessage"
    assert iam_action("sqs", "DeleteMessageBatch") == "sqs:DeleteMessage"
    assert iam_action("dynamodb", "PutItem") == "dynamodb:PutItem"


def test_each_function_performs_exactly_its_granted_operations(aws: Any) -> None:
    import app
    from devstack.consumer import ConsumerSettings, QueueConsumer

    with recording() as log, Client(app.app, project_dir=str(PROJECT_DIR)) as client:
        answer = client.http.post(
            "/ingest",
            headers={"Content-Type": "text/plain", "X-Tenant-ID": "acme"},
            body=b"User 555-0199 logged in",
        )
        assert answer.status_code == 202
        consumer = QueueConsumer(
            boto3.client("sqs"),
            ConsumerSettings(queue_url=aws.queue_url, poll_wait_seconds=0),
            handler=app.worker,
        )
        outcome = consumer.run_once()
        assert outcome is not None
        assert outcome.deleted == outcome.received
        log_id = answer.json_body["log_id"]
        duplicate = {"Records": [sqs_record(queued_message(log_id=log_id))]}
        assert client.lambda_.invoke("worker", duplicate).payload == {"batchItemFailures": []}
        key = create_key(
            boto3.client("dynamodb"), aws.tenants_table_name, "acme", datetime.now(UTC)
        )
        headers = {"Authorization": f"Bearer {key.key}"}
        assert client.http.get("/logs", headers=headers).status_code == 200
        assert client.http.get(f"/logs/{log_id}", headers=headers).status_code == 200
        assert client.http.delete(f"/logs/{log_id}", headers=headers).status_code == 204
        kept = {"Records": [sqs_record(queued_message(log_id="kept"))]}
        assert client.lambda_.invoke("worker", kept).payload == {"batchItemFailures": []}
        archive_everything_expired(aws.table_name)
    assert dict(log) == {principal: granted(principal) for principal in GRANTS}


def archive_everything_expired(table_name: str) -> None:
    """Expire the whole table and feed its stream to the archiver, as Lambda would."""
    import app
    from devstack.stream_consumer import StreamConsumer
    from devstack.ttl import SweptKeys, TtlSweeper

    dynamodb = boto3.client("dynamodb")
    streams = boto3.client(
        "dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
    )
    swept = SweptKeys()
    consumer = StreamConsumer(streams, table_name, app.archiver, swept, batch_size=100)
    assert TtlSweeper(dynamodb, table_name, swept).sweep(4_000_000_000) > 0
    assert consumer.run_once() > 0


def test_with_the_queue_url_given_ingest_only_sends(aws: Any, configure: Any) -> None:
    # The packaged stacks set QUEUE_URL: ingest sends, and reads its tenant's plan and leases.
    import app

    configure(QUEUE_URL=aws.queue_url)
    with recording() as log, Client(app.app, project_dir=str(PROJECT_DIR)) as client:
        answer = client.http.post(
            "/ingest", headers={"Content-Type": "text/plain", "X-Tenant-ID": "acme"}, body=b"hi"
        )
    assert answer.status_code == 202
    stack_grants = granted_actions("api_handler", queue_url_known=True)
    limits = {*stack_grants["tenants_table"], *stack_grants["usage_table"]}
    assert dict(log) == {"api_handler": set(stack_grants["queue"]) | limits}


def _call_from(module: str, function: str) -> None:
    """Delete a table from code that claims to be `module`'s `function`."""
    source = f"def {function}(dynamodb):\n    dynamodb.delete_table(TableName='t')\n"
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(source, f"<{module}>", "exec"), namespace)  # noqa: S102 - fixed source above
    with pytest.raises(boto3.client("dynamodb").exceptions.ResourceNotFoundException):
        namespace[function](boto3.client("dynamodb"))


def test_an_ungranted_or_unattributed_call_is_a_violation(aws: Any) -> None:
    from tests import conftest

    _call_from("chalicelib.queue", "send")
    _call_from("chalicelib.unheard_of", "copy")
    _call_from("chalicelib.keys", "create_key")  # an operator's call: not a function's
    found, conftest.VIOLATIONS[:] = list(conftest.VIOLATIONS), []
    assert found == [
        "api_handler calls dynamodb:DeleteTable, which its policy does not grant",
        "chalicelib.unheard_of:copy calls dynamodb:DeleteTable but CALLERS names no role for it",
    ]
