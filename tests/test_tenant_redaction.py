"""Per-tenant redaction: the stage's default with each tenant's choices, set by the ops tool."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import worker
from chalicelib.clients import client
from chalicelib.redaction_policy import DEFAULT_CLASSES, IP, PHONE, TYPED
from chalicelib.tenant_redaction import ingest_policy, policy_for, stage_policy
from chalicelib.tenant_settings import item_key, write
from ops.tenants import main
from tests.conftest import queued_message, sqs_record

NOW = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
TEXT = "ana@example.com called 555-0199 from 10.0.0.7 about Project Falcon, badge EMP-123456"


def _set(aws: Any, tenant_id: str, redaction: dict[str, Any]) -> None:
    changes = {"redaction": redaction}
    write(boto3.client("dynamodb"), aws.tenants_table_name, tenant_id, changes, NOW)


def _process(tenant_id: str, log_id: str, text: str = TEXT) -> dict[str, Any]:
    body = queued_message(tenant_id=tenant_id, log_id=log_id, text=text)
    return worker.process_batch([sqs_record(body, message_id=log_id)], lambda: 600_000.0)


def _stored_text(aws: Any, tenant_id: str, log_id: str) -> str | None:
    key = {"tenant_id": {"S": tenant_id}, "log_id": {"S": log_id}}
    item = boto3.client("dynamodb").get_item(TableName=aws.table_name, Key=key).get("Item")
    return None if item is None else str(item["modified_data"]["S"])


def test_each_tenant_gets_its_own_placeholder_and_rules(aws: Any) -> None:
    rules = {"terms": ["project falcon"], "patterns": ["EMP-[0-9]{6}"]}
    _set(aws, "typed", {"placeholder": "typed", "rules": rules})
    assert _process("typed", "1") == {"batchItemFailures": []}
    assert _process("plain", "2") == {"batchItemFailures": []}
    assert _stored_text(aws, "typed", "1") == (
        "[REDACTED:EMAIL] called [REDACTED:PHONE] from 10.0.0.7 about [REDACTED:CUSTOM], "
        "badge [REDACTED:CUSTOM]"
    )
    assert _stored_text(aws, "plain", "2") == (
        "[REDACTED] called [REDACTED] from 10.0.0.7 about Project Falcon, badge EMP-123456"
    )


def test_a_tenants_policy_redacts_its_attributes_too(aws: Any) -> None:
    _set(aws, "typed", {"placeholder": "typed", "rules": {"terms": ["project falcon"]}})
    attributes = {"user": {"email": "ana@example.com"}, "notes": ["Project Falcon", 3]}
    body = queued_message(tenant_id="typed", log_id="1", text="hello") | {"attributes": attributes}
    assert worker.process_batch([sqs_record(body)], lambda: 600_000.0) == {"batchItemFailures": []}
    key = {"tenant_id": {"S": "typed"}, "log_id": {"S": "1"}}
    item = boto3.client("dynamodb").get_item(TableName=aws.table_name, Key=key)["Item"]
    assert json.loads(item["attributes"]["S"]) == {
        "user": {"email": "[REDACTED:EMAIL]"},
        "notes": ["[REDACTED:CUSTOM]", 3],
    }


def test_a_tenant_turns_classes_on_and_off_over_the_stage_default(aws: Any, configure: Any) -> None:
    configure(REDACTION_PLACEHOLDER="typed")
    _set(aws, "acme", {"classes": {PHONE: False, IP: True}})
    assert _process("acme", "1") == {"batchItemFailures": []}
    assert _stored_text(aws, "acme", "1") == (
        "[REDACTED:EMAIL] called 555-0199 from [REDACTED:IP] about Project Falcon, badge EMP-123456"
    )
    assert policy_for("other").classes == DEFAULT_CLASSES


def test_the_stage_sets_the_default_classes_and_placeholder(aws: Any, configure: Any) -> None:
    configure(REDACTION_CLASSES="default,+ip,-email", REDACTION_PLACEHOLDER="typed")
    assert _process("acme", "1") == {"batchItemFailures": []}
    assert _stored_text(aws, "acme", "1") == (
        "ana@example.com called [REDACTED:PHONE] from [REDACTED:IP] about Project Falcon, "
        "badge EMP-123456"
    )


def test_an_unreadable_setting_fails_the_record_and_stores_nothing(
    aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(TENANTS_TABLE_NAME="no-such-table")
    assert _process("acme", "1") == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert _stored_text(aws, "acme", "1") is None
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failed = [line for line in lines if line.get("outcome") == "failed"]
    assert [line["reason"] for line in failed] == ["settings_unavailable"]
    assert "could not be read" in failed[0]["error_message"]


def test_a_bad_stored_rule_fails_the_record_and_stores_nothing(aws: Any) -> None:
    bad = {"M": {"rules": {"M": {"patterns": {"L": [{"S": "(a)\\1"}]}}}}}
    item = item_key("acme") | {"redaction": bad}
    boto3.client("dynamodb").put_item(TableName=aws.tenants_table_name, Item=item)
    assert _process("acme", "1") == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert _stored_text(aws, "acme", "1") is None


def test_a_tenant_settings_are_read_once_for_many_records(aws: Any) -> None:
    _set(aws, "acme", {"placeholder": "typed"})
    reads: list[str] = []
    client("dynamodb").meta.events.register(
        "before-call.dynamodb.GetItem", lambda model, **kwargs: reads.append(model.name)
    )
    for log_id in range(20):
        assert _process("acme", str(log_id)) == {"batchItemFailures": []}
    assert _process("other", "1") == {"batchItemFailures": []}
    assert len(reads) == 2
    assert _stored_text(aws, "acme", "19") is not None


def _tool(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    table = (boto3.client("dynamodb"), aws.tenants_table_name)
    monkeypatch.setattr("ops.tenants.tenants_table", lambda stage, aws_: table)


def test_the_operator_tool_sets_and_shows_a_tenants_redaction(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tool(aws, monkeypatch)
    options = ["--redaction-classes", "+ip,-phone", "--placeholder", "typed"]
    main(["set", "acme", *options, "--term", "Project Falcon", "--pattern", "EMP-[0-9]{6}"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["stored"]["redaction"] == {
        "classes": {IP: True, PHONE: False},
        "placeholder": "typed",
        "rules": {"terms": ["Project Falcon"], "patterns": ["EMP-[0-9]{6}"]},
    }
    assert shown["redaction"]["classes"][IP] is True
    assert shown["redaction"]["classes"]["email"] is True
    assert policy_for("acme").replacement("email") == "[REDACTED:EMAIL]"
    main(["set", "acme", "--redaction-json", "{}"])
    capsys.readouterr()
    main(["show", "acme"])
    assert json.loads(capsys.readouterr().out)["redaction"]["placeholder"] == "plain"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pattern", "(a)\\1"], "pattern '\\(a\\)\\\\\\\\1' is not a linear-time RE2 pattern"),
        (["--pattern", "(?=x)y"], "pattern '\\(\\?=x\\)y' is not a linear-time RE2 pattern"),
        (["--pattern", "x*"], "rule 'x\\*' matches the empty string"),
        (["--term", "REDACTED"], "rule 'REDACTED' matches inside the placeholder"),
        (["--redaction-classes", "+face"], "unknown class 'face'"),
        (["--redaction-json", '{"rules": {"terms": "abc"}}'], "terms must be a list"),
        (["--redaction-json", "[1"], "--redaction-json is not JSON"),
    ],
)
def test_a_bad_rule_is_refused_naming_it_and_never_stored(
    aws: Any, monkeypatch: pytest.MonkeyPatch, options: list[str], message: str
) -> None:
    _tool(aws, monkeypatch)
    with pytest.raises(SystemExit, match=message):
        main(["set", "acme", *options])
    table = aws.tenants_table_name
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=table, Key=item_key("acme"))


def test_ingest_bounds_a_log_with_its_tenants_policy_from_the_limiters_read(aws: Any) -> None:
    _set(aws, "acme", {"placeholder": "typed", "rules": {"terms": ["Project Falcon"]}})
    reads: list[str] = []
    client("dynamodb").meta.events.register(
        "before-call.dynamodb.GetItem", lambda model, **kwargs: reads.append(model.name)
    )
    policy = ingest_policy("acme")
    assert policy.placeholder == TYPED
    assert policy.rules.compiled is not None
    assert ingest_policy("acme") is policy  # built once per read of the settings
    assert ingest_policy("other") == stage_policy()
    assert len(reads) == 2


def test_ingest_falls_back_to_the_stage_policy_when_settings_cannot_be_read(
    aws: Any, configure: Any
) -> None:
    configure(TENANTS_TABLE_NAME="no-such-table")
    assert ingest_policy("acme") == stage_policy()
