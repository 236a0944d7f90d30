"""Each test gets a clean process: its own environment, settings, clients and a fresh emulator."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from hypothesis import settings

from chalicelib import config, process_state
from devstack.stack import Stack, running_stack
from infra.iam import GRANTS, iam_actions

# What the tests run with unless they say otherwise: no simulated work, no simulated crashes.
TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "WORK_SECONDS_PER_CHAR": "0",
    "CRASH_PROBABILITY": "0",
    # The dev stage's mode; tests of required keys reload the app with `INGEST_AUTH=required`.
    "INGEST_AUTH": "open",
    # moto's STS hands out credentials for any role; its default account holds this one.
    "TENANT_READ_ROLE_ARN": "arn:aws:iam::123456789012:role/robust-data-processor-logs-reader",
}
_FORGET = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "QUEUE_URL", "TABLE_NAME")


# On CI the property tests replay the same examples every run (what they found locally is fixed
# as examples in the tests); on a developer's machine they keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    """`app` reads its settings when first imported, wherever that is: in the test environment."""
    os.environ.update(TEST_ENVIRONMENT)


def forget_process_state() -> None:
    """Drop what a Lambda process would have cached, as if a new instance started."""
    process_state.forget_all()


# Which role an AWS call runs under: by the function that makes it (`module:function`), else by
# its module. The consumers stand for Lambda's event source mappings, which poll with their
# function's role (the queue's with the worker's, the stream's with the archiver's); the local
# TTL sweeper (`devstack.ttl`) plays DynamoDB itself, no role of ours. An operator's calls use
# the operator's own credentials, outside any function.
OPERATOR = "operator"
CALLERS = {
    "chalicelib.queue": "api_handler",
    "chalicelib.tenant_credentials": "api_handler",
    "chalicelib.reads": "tenant_reader",
    "chalicelib.keys:resolve": "api_key_authorizer",
    "chalicelib.keys:create_key": OPERATOR,
    # Pages a tool hands it are read as it folds them: the tool's own scan.
    "chalicelib.partitions:with_originals": OPERATOR,
    "chalicelib.keys:list_keys": OPERATOR,
    "chalicelib.keys:revoke_key": OPERATOR,
    "chalicelib.store": "worker",
    "chalicelib.limiter": "api_handler",
    "chalicelib.tenant_settings:read": "api_handler",
    "chalicelib.tenant_settings:write": OPERATOR,
    "chalicelib.tenant_settings:stored": OPERATOR,
    "chalicelib.tenant_redaction": "worker",
    "chalicelib.erasure": "tenant_reader",
    "chalicelib.archive": "archiver",
    "devstack.stream_consumer": "archiver",
    "devstack.consumer": "worker",
}
#: Code whose AWS calls must be attributed: the deployed package and the two consumers.
ATTRIBUTED = ("chalicelib", "devstack.consumer", "devstack.stream_consumer")
OperationLog = dict[str, set[str]]
#: Calls no role may make: ungranted to the function that made them, or made by code that
#: `CALLERS` does not attribute. Each test must end with none (see `aws_calls_are_granted`).
VIOLATIONS: list[str] = []
_active_logs: list[OperationLog] = []


def _calling_role() -> str | None:
    """The role of the innermost attributed code on the stack; `?module:function` if unknown."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        role = CALLERS.get(f"{module}:{frame.f_code.co_name}") or CALLERS.get(module)
        if role is not None:
            return role
        if frame.f_code.co_name.startswith("<"):  # a comprehension or lambda: its function's
            frame = frame.f_back
            continue
        if module.split(".")[0] == ATTRIBUTED[0] or module in ATTRIBUTED:
            return f"?{module}:{frame.f_code.co_name}"
        frame = frame.f_back
    return None


def granted(role: str) -> set[str]:
    """Every IAM action `role`'s policy allows."""
    return {action for actions in GRANTS[role].values() for action in actions}


def _record(model: Any, params: dict[str, Any], **kwargs: Any) -> None:
    role = _calling_role()
    if role is None or role == OPERATOR:
        return
    for action in iam_actions(model.service_model.signing_name, model.name, params):
        if role.startswith("?"):
            VIOLATIONS.append(f"{role[1:]} calls {action} but CALLERS names no role for it")
        elif action not in granted(role):
            VIOLATIONS.append(f"{role} calls {action}, which its policy does not grant")
        for log in _active_logs:
            log[role].add(action)


@contextmanager
def recording() -> Iterator[OperationLog]:
    """Collect, per function, the IAM actions of the AWS calls made inside the block."""
    log: OperationLog = defaultdict(set)
    _active_logs.append(log)
    try:
        yield log
    finally:
        _active_logs.remove(log)


@pytest.fixture(scope="session", autouse=True)
def operations_recorder() -> Iterator[None]:
    """Hook every botocore client made during the suite, so every AWS call is recorded."""
    from botocore.session import Session

    create_client = Session.create_client

    def recorded_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        # Before the parameters are built: the API's own parameters decide some actions
        # (session tags need sts:TagSession).
        client.meta.events.register("before-parameter-build", _record)
        return client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Session, "create_client", recorded_client)
        yield


@pytest.fixture(autouse=True)
def aws_calls_are_granted() -> Iterator[None]:
    """Fail any test during which code made an AWS call its role may not make."""
    VIOLATIONS.clear()
    yield
    found, VIOLATIONS[:] = list(VIOLATIONS), []
    if found:
        pytest.fail("ungranted or unattributed AWS calls:\n" + "\n".join(sorted(set(found))))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts the local stack is end-to-end, whether or not it says so."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set the test environment; tests call `configure(...)` to change it."""
    for name in _FORGET:
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    forget_process_state()
    yield monkeypatch
    forget_process_state()


@pytest.fixture
def configure(environment: pytest.MonkeyPatch) -> Any:
    """Set environment variables and start over with the settings they make."""

    def apply(**variables: str) -> config.Settings:
        for name, value in variables.items():
            environment.setenv(name, value)
        forget_process_state()
        return config.get_settings()

    return apply


@pytest.fixture
def keyed_app(configure: Any) -> Iterator[Any]:
    """The `app` module as a stage with `INGEST_AUTH=required` loads it: ingest needs a key."""
    import importlib

    import app

    # A reload runs the module again in the same namespace, where the open app's views look
    # up their globals too: put the namespace back as it was, not a second reload's copy.
    saved = dict(vars(app))
    configure(INGEST_AUTH="required")
    yield importlib.reload(app)
    vars(app).clear()
    vars(app).update(saved)


@pytest.fixture
def aws() -> Iterator[Any]:
    """An in-process emulator with the stage's queues, tables, stream and archive provisioned."""
    import boto3
    from moto import mock_aws

    from devstack.resources import provision

    with mock_aws():
        clients = (boto3.client(service) for service in ("sqs", "dynamodb", "s3"))
        yield provision(config.get_settings(), *clients)


@pytest.fixture
def client(aws: Any) -> Iterator[Any]:
    """Chalice's test client on the app as this process loaded it, with the emulator's stage."""
    from chalice.test import Client

    import app
    from infra.stage import PROJECT_DIR

    with Client(app.app, project_dir=str(PROJECT_DIR)) as test_client:
        yield test_client


def key_for(aws: Any, tenant_id: str) -> dict[str, str]:
    """The `Authorization` header of a new key for `tenant_id`."""
    from datetime import UTC, datetime

    import boto3

    from chalicelib.keys import create_key

    made = create_key(
        boto3.client("dynamodb"), aws.tenants_table_name, tenant_id, datetime.now(UTC)
    )
    return {"Authorization": f"Bearer {made.key}"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The real local stack on free ports, one per test module that uses it."""
    with running_stack() as started:
        yield started


def sqs_record(
    body: str | dict[str, Any], message_id: str = "m-1", receive_count: int = 1
) -> dict[str, Any]:
    """One record of a Lambda SQS event, as the event source mapping delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1700000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:robust-data-processor-ingest",
        "awsRegion": "us-east-1",
    }


def queued_message(**overrides: str) -> dict[str, str]:
    """A valid queue message body, as ingest writes it."""
    message = {
        "tenant_id": "acme",
        "log_id": "101",
        "source": "json_upload",
        "text": "User 555-0199 logged in",
        "received_at": "2026-11-21T10:00:00.000Z",
        "request_id": "req-1",
    }
    return message | overrides


def processed_log(tenant_id: str, log_id: str, text: str = "call 555-0199") -> dict[str, Any]:
    """Store a processed log as the worker would, and return its (redacted) item."""
    from chalicelib.message import LogMessage
    from chalicelib.redact import redact
    from chalicelib.retention import expiries
    from chalicelib.store import build_item, put_unless_erased, split_original

    message = LogMessage(
        tenant_id=tenant_id,
        log_id=log_id,
        source="json_upload",
        text=text,
        received_at="2026-11-22T10:00:00.000Z",
        request_id=f"req-{log_id}",
    )
    item = build_item(message, redact(text), "2026-11-22T10:00:01.000Z", "test-worker", 1)
    items = split_original(item, expiries({}, config.get_settings(), time.time()))
    assert put_unless_erased(items) == "stored"
    return items[0]
