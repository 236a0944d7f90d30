"""Tenant settings: stored beside the keys, checked on write and read, cached with a TTL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.keys import create_key, list_keys
from chalicelib.tenant_settings import (
    InvalidSettingError,
    TenantSettingsUnavailableError,
    item_key,
    settings_of,
    stored,
    write,
)
from ops.tenants import main
from ops.usage_plans import put_in_usage_plan

NOW = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)


def _table(aws: Any) -> tuple[Any, str]:
    return boto3.client("dynamodb"), aws.tenants_table_name


def test_a_tenant_without_settings_is_on_the_stage_default_plan(aws: Any, configure: Any) -> None:
    configure(DEFAULT_PLAN="free")
    assert settings_of("acme").plan() == "free"


def test_a_written_plan_is_read_back_and_other_fields_are_kept(aws: Any) -> None:
    dynamodb, table = _table(aws)
    written = write(dynamodb, table, "acme", {"plan": "business"}, NOW)
    assert written.values == {"plan": "business"}
    assert settings_of("acme").plan() == "business"
    item = dynamodb.get_item(TableName=table, Key=item_key("acme"))["Item"]
    assert item["tenant_id"] == {"S": "acme"}
    assert item["updated_at"] == {"S": "2026-11-29T21:00:00.000Z"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"plan": "platinum"}, "plan must be one of free, team, business, not 'platinum'"),
        ({"plan": 3}, "plan must be one of free, team, business"),
        ({"colour": "red"}, "'colour' is not a tenant setting; the settings are plan"),
        ({}, "nothing to set"),
    ],
)
def test_values_outside_their_bounds_are_refused_naming_them(
    aws: Any, changes: dict[str, Any], message: str
) -> None:
    dynamodb, table = _table(aws)
    with pytest.raises(InvalidSettingError, match=message):
        write(dynamodb, table, "acme", changes, NOW)
    assert "Item" not in dynamodb.get_item(TableName=table, Key=item_key("acme"))


def test_an_invalid_stored_value_is_an_error_not_a_default(aws: Any) -> None:
    dynamodb, table = _table(aws)
    dynamodb.put_item(TableName=table, Item=item_key("acme") | {"plan": {"S": "gold"}})
    with pytest.raises(TenantSettingsUnavailableError, match="invalid stored setting: plan"):
        settings_of("acme")


def test_a_failed_read_raises_its_own_error(aws: Any, configure: Any) -> None:
    configure(TENANTS_TABLE_NAME="no-such-table")
    with pytest.raises(TenantSettingsUnavailableError, match="could not be read"):
        settings_of("acme")


def test_settings_are_cached_for_their_ttl_and_forgotten_with_the_process(
    aws: Any, configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb, table = _table(aws)
    clock = [1000.0]
    monkeypatch.setattr("chalicelib.tenant_settings.time.monotonic", lambda: clock[0])
    assert settings_of("acme").plan() == "team"
    write(dynamodb, table, "acme", {"plan": "free"}, NOW)
    clock[0] += 59
    assert settings_of("acme").plan() == "team"  # still the cached read
    clock[0] += 2
    assert settings_of("acme").plan() == "free"
    write(dynamodb, table, "acme", {"plan": "business"}, NOW)
    from chalicelib import process_state

    process_state.forget_all()
    assert settings_of("acme").plan() == "business"


def test_key_listings_skip_settings_items(aws: Any) -> None:
    dynamodb, table = _table(aws)
    key = create_key(dynamodb, table, "acme", NOW)
    write(dynamodb, table, "acme", {"plan": "free"}, NOW)
    assert [record["key_id"] for record in list_keys(dynamodb, table)] == [key.record["key_id"]]
    assert len(list_keys(dynamodb, table, "acme")) == 1


def test_the_command_line_shows_and_sets_and_refuses(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ops.tenants.tenants_table", lambda stage, aws_: _table(aws))
    main(["show", "acme"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["stored"] == {}
    assert shown["plan"] == "team"
    main(["set", "acme", "--plan", "free"])
    assert json.loads(capsys.readouterr().out)["limits"].startswith("free: 5 logs/s")
    with pytest.raises(SystemExit, match="plan must be one of free, team, business"):
        main(["set", "acme", "--plan", "gold"])
    assert stored(*_table(aws), "acme").values == {"plan": "free"}


def test_the_tenant_key_is_in_its_plan_usage_plan_alone(aws: Any) -> None:
    apigateway = boto3.client("apigateway")
    api = apigateway.create_rest_api(name="rdp")["id"]
    plans = {
        name: apigateway.create_usage_plan(name=f"rdp-dev-{name}")["id"]
        for name in ("free", "team", "business")
    }
    assert api
    key_id = put_in_usage_plan(apigateway, "rdp", "dev", "acme", "free")
    assert put_in_usage_plan(apigateway, "rdp", "dev", "acme", "business") == key_id

    def members(plan: str) -> list[str]:
        return [
            key["id"] for key in apigateway.get_usage_plan_keys(usagePlanId=plans[plan])["items"]
        ]

    assert (members("free"), members("business"), members("team")) == ([], [key_id], [])
    value = apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
    assert value == "robust-data-processor-dev-tenant-acme"
