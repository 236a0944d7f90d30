"""Erasure: `DELETE /logs/{log_id}` for the key's tenant, and tombstones the worker respects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import worker
from chalicelib.config import get_settings
from chalicelib.erasure import tombstone
from chalicelib.message import LogMessage
from chalicelib.partitions import TENANT_MARKER
from tests.conftest import key_for, queued_message, sqs_record
from tests.event_lines import events

BEFORE = "2026-11-21T10:00:00.000Z"
AFTER = "2026-11-21T12:00:00.000Z"
ERASED = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)


def process(tenant_id: str, log_id: str, received_at: str = BEFORE) -> str:
    """Run one queued log through the worker; return its outcome."""
    body = queued_message(tenant_id=tenant_id, log_id=log_id, received_at=received_at)
    assert worker.process_batch([sqs_record(body)], lambda: 600_000.0) == {"batchItemFailures": []}
    message = LogMessage.from_json(sqs_record(body)["body"])
    return worker.process_record(message, 2, get_settings()).outcome


def partitions(aws: Any, log_id: str) -> list[str]:
    """The partitions holding an item with sort key `log_id`."""
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return sorted(item["tenant_id"]["S"] for item in items if item["log_id"]["S"] == log_id)


def test_deleting_a_log_erases_it_and_its_original(aws: Any, client: Client) -> None:
    assert process("acme", "101") == "duplicate"  # stored by the batch, found by the retry
    assert partitions(aws, "101") == ["acme", "acme#original"]
    headers = key_for(aws, "acme")
    assert client.http.delete("/logs/101", headers=headers).status_code == 204
    assert partitions(aws, "101") == ["acme#erased"]
    assert client.http.get("/logs/101", headers=headers).status_code == 404
    again = client.http.delete("/logs/101", headers=headers)
    assert (again.status_code, again.json_body["Code"]) == (404, "NotFoundError")


def test_each_erasure_writes_one_erase_line_answered_or_refused(
    aws: Any, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    process("acme", "102")
    headers = key_for(aws, "acme")
    capsys.readouterr()
    assert client.http.delete("/logs/102", headers=headers).status_code == 204
    assert client.http.delete("/logs/102", headers=headers).status_code == 404
    lines = events(capsys.readouterr().out, "erase")
    assert [(line["outcome"], line["status"]) for line in lines] == [
        ("answered", 204),
        ("refused", 404),
    ]
    assert {(line["tenant_id"], line["log_id"], line["route"]) for line in lines} == {
        ("acme", "102", "/logs/{log_id}")
    }


def test_a_queued_copy_of_an_erased_log_is_not_stored_but_a_later_post_is(
    aws: Any, client: Client
) -> None:
    erased = client.http.delete("/logs/queued", headers=key_for(aws, "acme"))
    assert erased.status_code == 404  # nothing stored yet: the tombstone still stands
    assert process("acme", "queued", received_at="2000-01-01T00:00:00.000Z") == "erased"
    assert partitions(aws, "queued") == ["acme#erased"]
    assert process("acme", "queued", received_at="2999-01-01T00:00:00.000Z") == "duplicate"
    assert partitions(aws, "queued") == ["acme", "acme#erased", "acme#original"]


def test_another_tenants_log_is_a_404_and_stays(aws: Any, client: Client) -> None:
    process("beta_inc", "7")
    answer = client.http.delete("/logs/7", headers=key_for(aws, "acme"))
    assert answer.status_code == 404
    assert partitions(aws, "7") == ["acme#erased", "beta_inc", "beta_inc#original"]


def test_a_bad_log_id_or_no_key_erases_nothing(aws: Any, client: Client) -> None:
    assert client.http.delete("/logs/a%20b", headers=key_for(aws, "acme")).status_code == 400
    assert client.http.delete("/logs/101").status_code == 401
    assert boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"] == []


def test_a_tenant_marker_refuses_logs_received_before_the_erasure_only(aws: Any) -> None:
    marker = tombstone("acme", TENANT_MARKER, ERASED, get_settings())
    boto3.client("dynamodb").put_item(TableName=aws.table_name, Item=marker)
    assert process("acme", "old", received_at=BEFORE) == "erased"
    assert process("acme", "new", received_at=AFTER) == "duplicate"
    assert partitions(aws, "old") == []
    assert partitions(aws, "new") == ["acme", "acme#original"]


def test_items_expire_and_an_original_first(aws: Any) -> None:
    process("acme", "101")
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    expiry = {item["tenant_id"]["S"]: int(item["expires_at"]["N"]) for item in items}
    assert expiry["acme#original"] < expiry["acme"]
    [log] = [item for item in items if item["tenant_id"]["S"] == "acme"]
    assert "original_text" not in log
