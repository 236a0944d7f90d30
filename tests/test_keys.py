"""API keys: their format, hashing, resolution, and the operator's create, list and revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.keys import (
    KeyRejectedError,
    UnknownKeyError,
    create_key,
    key_hash,
    list_keys,
    new_key,
    parse_authorization,
    resolve,
    revoke_key,
)
from ops.keys import main

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_a_key_is_random_and_only_its_hash_is_kept() -> None:
    first, second = new_key("acme", "t"), new_key("acme", "t")
    assert first.key != second.key
    assert first.key not in str(first.record)
    assert first.record["key_hash"] == key_hash(first.key)
    assert first.key.startswith(f"rdp_{first.record['key_id']}_")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "an API key is required"),
        ("", "an API key is required"),
        ("Basic dXNlcjpwYXNz", "must read 'Bearer <key>'"),
        ("Bearer", "must read 'Bearer <key>'"),
        ("Bearer  ", "must read 'Bearer <key>'"),
        ("Bearer rdp_abc_def", "malformed"),
        ("Bearer rdp_0123456789abcdef_short", "malformed"),
        ("Bearer a b", "must read 'Bearer <key>'"),
    ],
)
def test_malformed_headers_are_refused_saying_why(header: str | None, reason: str) -> None:
    with pytest.raises(KeyRejectedError, match=reason):
        parse_authorization(header)


def test_the_scheme_is_case_insensitive() -> None:
    key = new_key("acme", "t").key
    assert parse_authorization(f"bearer {key}")[1] == key


def test_resolving_a_key_gives_its_tenant(aws: Any) -> None:
    made = create_key(boto3.client("dynamodb"), aws.tenants_table_name, "acme", NOW)
    assert resolve(f"Bearer {made.key}") == ("acme", made.record["key_id"])


def test_unknown_and_wrong_secret_keys_are_refused_alike(aws: Any) -> None:
    made = create_key(boto3.client("dynamodb"), aws.tenants_table_name, "acme", NOW)
    unknown = new_key("acme", "t").key
    forged = made.key[:-4] + ("AAAA" if not made.key.endswith("AAAA") else "BBBB")
    messages = set()
    for key in (unknown, forged):
        with pytest.raises(KeyRejectedError) as refused:
            resolve(f"Bearer {key}")
        messages.add(str(refused.value))
    assert messages == {"the API key is not valid for this service"}


def test_a_revoked_key_is_refused_and_revoking_twice_keeps_the_first_time(aws: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    made = create_key(dynamodb, aws.tenants_table_name, "acme", NOW)
    key_id = made.record["key_id"]
    first = revoke_key(dynamodb, aws.tenants_table_name, key_id, NOW)
    again = revoke_key(dynamodb, aws.tenants_table_name, key_id, datetime.now(UTC))
    assert (
        first == again == {"key_id": key_id, "tenant_id": "acme", "revoked_at": first["revoked_at"]}
    )
    with pytest.raises(KeyRejectedError, match="revoked"):
        resolve(f"Bearer {made.key}")


def test_revoking_an_unknown_key_says_so(aws: Any) -> None:
    with pytest.raises(UnknownKeyError):
        revoke_key(boto3.client("dynamodb"), aws.tenants_table_name, "0" * 16, NOW)


def test_listing_shows_records_without_hashes_per_tenant(aws: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    acme = create_key(dynamodb, aws.tenants_table_name, "acme", NOW)
    create_key(dynamodb, aws.tenants_table_name, "beta_inc", NOW)
    listed = list_keys(dynamodb, aws.tenants_table_name, "acme")
    assert listed == [{k: v for k, v in acme.record.items() if k != "key_hash"}]
    assert len(list_keys(dynamodb, aws.tenants_table_name)) == 2


def test_keys_are_only_made_for_valid_tenant_ids(aws: Any) -> None:
    with pytest.raises(ValueError, match="tenant_id"):
        create_key(boto3.client("dynamodb"), aws.tenants_table_name, "../beta", NOW)


def test_the_command_line_creates_lists_and_revokes(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from chalicelib.config import get_settings

    # The in-process emulator answers every endpoint; the command talks to "the emulator".
    monkeypatch.setattr(
        "ops.keys.tenants_table",
        lambda stage, aws_: (boto3.client("dynamodb"), get_settings().tenants_table_name),
    )
    main(["create", "acme"])
    created = json.loads(capsys.readouterr().out)
    assert set(created) == {"key", "key_id", "tenant_id", "created_at"}
    main(["list", "--tenant", "acme"])
    assert json.loads(capsys.readouterr().out)["key_id"] == created["key_id"]
    main(["revoke", created["key_id"]])
    assert json.loads(capsys.readouterr().out)["revoked_at"]
    with pytest.raises(SystemExit, match="no key"):
        main(["revoke", "f" * 16])
