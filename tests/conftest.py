"""Each test gets a clean process: its own environment, settings, clients and a fresh emulator."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from chalicelib import clients, config, queue, tenant_credentials
from infra.iam import iam_action
from tests.stack import Stack, running_stack

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


def pytest_configure(config: pytest.Config) -> None:
    """`app` reads its settings when first imported, wherever that is: in the test environment."""
    os.environ.update(TEST_ENVIRONMENT)


def forget_process_state() -> None:
    """Drop what a Lambda process would have cached, as if a new instance started."""
    config.get_settings.cache_clear()
    clients.client.cache_clear()
    clients._session.cache_clear()
    queue.queue_url.cache_clear()
    tenant_credentials.forget()


# Which function's role an AWS call runs under, by the module that makes it. The consumer
# stands for Lambda's event source mapping, which polls with the worker's role.
CALLERS = {
    "chalicelib/queue.py": "api_handler",
    "chalicelib/tenant_credentials.py": "api_handler",
    "chalicelib/reads.py": "tenant_reader",
    "chalicelib/keys.py": "api_key_authorizer",
    "chalicelib/store.py": "worker",
    "devstack/consumer.py": "worker",
}
OperationLog = dict[str, set[str]]
SUITE_LOG: OperationLog = defaultdict(set)
_active_logs: list[OperationLog] = [SUITE_LOG]


def _calling_function() -> str | None:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        for path, function in CALLERS.items():
            if frame.f_code.co_filename.endswith(path):
                return function
        frame = frame.f_back
    return None


def _record(model: Any, **kwargs: Any) -> None:
    function = _calling_function()
    if function is not None:
        action = iam_action(model.service_model.signing_name, model.name)
        for log in _active_logs:
            log[function].add(action)


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
        client.meta.events.register("before-call", _record)
        return client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Session, "create_client", recorded_client)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the suite-wide permission check last, after every other test has made its calls."""
    last = [item for item in items if item.name == "test_no_test_used_an_ungranted_operation"]
    items[:] = [item for item in items if item not in last] + last


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
    """An in-process emulator with the stage's queue, dead-letter queue and table provisioned."""
    import boto3
    from moto import mock_aws

    from devstack.resources import provision

    with mock_aws():
        yield provision(config.get_settings(), boto3.client("sqs"), boto3.client("dynamodb"))


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
    """Store a processed log as the worker would, and return its item."""
    from chalicelib.message import LogMessage
    from chalicelib.redact import redact
    from chalicelib.store import build_item, put_new

    message = LogMessage(
        tenant_id=tenant_id,
        log_id=log_id,
        source="json_upload",
        text=text,
        received_at="2026-11-22T10:00:00.000Z",
        request_id=f"req-{log_id}",
    )
    item = build_item(message, redact(text), "2026-11-22T10:00:01.000Z", "test-worker", 1)
    assert put_new(item)
    return item
