"""A tenant's own retention: set by the operator tool, read by the worker with its redaction."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from chalicelib import worker
from chalicelib.partitions import original_partition
from chalicelib.retention import DAY_SECONDS
from ops.tenants import main
from tests.conftest import queued_message, sqs_record


@pytest.fixture
def tool(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """ops.tenants against the in-process emulator."""
    monkeypatch.setattr(
        "ops.tenants.tenants_table",
        lambda stage, on_aws: (boto3.client("dynamodb"), aws.tenants_table_name),
    )


def _stored(aws: Any, partition: str, log_id: str) -> dict[str, Any] | None:
    key = {"tenant_id": {"S": partition}, "log_id": {"S": log_id}}
    item: dict[str, Any] | None = (
        boto3.client("dynamodb").get_item(TableName=aws.table_name, Key=key).get("Item")
    )
    return item


def _process(tenant_id: str, log_id: str) -> None:
    body = queued_message(tenant_id=tenant_id, log_id=log_id, text="call 555-0199")
    result = worker.process_batch([sqs_record(body, message_id=log_id)], lambda: 600_000.0)
    assert result == {"batchItemFailures": []}


def test_a_tenants_retention_replaces_the_stages(aws: Any, tool: None) -> None:
    main(["set", "short", "--retention-days", "2", "--original-retention-days", "1"])
    main(["set", "nooriginal", "--keep-original", "false"])
    started = time.time()
    for tenant in ("short", "nooriginal", "default"):
        _process(tenant, "1")
    short = _stored(aws, "short", "1")
    original = _stored(aws, original_partition("short"), "1")
    assert short is not None
    assert original is not None
    assert abs(int(short["expires_at"]["N"]) - (started + 2 * DAY_SECONDS)) < 60
    assert abs(int(original["expires_at"]["N"]) - (started + DAY_SECONDS)) < 60
    assert _stored(aws, "nooriginal", "1") is not None
    assert _stored(aws, original_partition("nooriginal"), "1") is None
    default = _stored(aws, "default", "1")
    assert default is not None
    assert abs(int(default["expires_at"]["N"]) - (started + 30 * DAY_SECONDS)) < 60


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--retention-days", "0"], "retention_days must be a whole number of days from 1 to 3650"),
        (["--original-retention-days", "4000"], "original_retention_days must be a whole"),
        # The stage keeps logs 30 days: an original may not outlive its log.
        (["--original-retention-days", "40"], "must not exceed retention_days"),
    ],
)
def test_a_retention_outside_its_bounds_is_refused_naming_them(
    aws: Any, tool: None, options: list[str], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        main(["set", "acme", *options])
    assert boto3.client("dynamodb").scan(TableName=aws.tenants_table_name)["Items"] == []
