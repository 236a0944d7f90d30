"""Reading logs: complete, stable pages, and every read made with one tenant's credentials."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import tenant_credentials
from chalicelib.reads import CURSOR_MAX_CHARS, FIELDS, PAGE_MAX, decode_cursor, encode_cursor
from tests.conftest import key_for, processed_log
from tests.event_lines import events


def read_all(client: Client, headers: dict[str, str], limit: int, between: Any = None) -> list[str]:
    """Page through a listing, calling `between(page_number)` after each page."""
    seen: list[str] = []
    cursor = None
    for page_number in range(1000):
        query = f"/logs?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.http.get(query, headers=headers)
        assert answer.status_code == 200, answer.json_body
        seen += [log["log_id"] for log in answer.json_body["logs"]]
        cursor = answer.json_body["next_cursor"]
        if cursor is None:
            return seen
        if between is not None:
            between(page_number)
    raise AssertionError("the listing never ended")


def test_a_log_is_returned_redacted_without_its_original(aws: Any, client: Client) -> None:
    processed_log("acme", "101", "User 555-0199 logged in")
    answer = client.http.get("/logs/101", headers=key_for(aws, "acme"))
    assert answer.status_code == 200
    assert answer.json_body["modified_data"] == "User [REDACTED] logged in"
    # event_time and attributes only for logs sent with them
    assert set(answer.json_body) == set(FIELDS) - {"event_time", "attributes"}
    assert "555-0199" not in json.dumps(answer.json_body)


def test_a_missing_log_is_404_and_a_malformed_id_400(aws: Any, client: Client) -> None:
    headers = key_for(aws, "acme")
    missing = client.http.get("/logs/nope", headers=headers)
    assert missing.status_code == 404
    assert "nope" in missing.json_body["Message"]
    assert client.http.get("/logs/a%20b", headers=headers).status_code == 400


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_pages_list_every_log_once_in_log_id_order(aws: Any, client: Client, limit: int) -> None:
    ids = sorted(f"log-{n:03}" for n in range(23))
    for log_id in ids:
        processed_log("acme", log_id)
    processed_log("beta_inc", "log-000")
    listed = read_all(client, key_for(aws, "acme"), limit)
    assert listed == ids


def test_pagination_is_stable_while_writes_go_on(aws: Any, client: Client) -> None:
    before = [f"b-{n:03}" for n in range(0, 40, 2)]
    for log_id in before:
        processed_log("acme", log_id)
    written: list[str] = []

    def write_more(page_number: int) -> None:
        for log_id in (f"b-{page_number * 4 + 1:03}", f"a-{page_number}", f"z-{page_number}"):
            processed_log("acme", log_id)
            written.append(log_id)

    listed = read_all(client, key_for(aws, "acme"), 3, write_more)
    assert len(listed) == len(set(listed)), "no log is listed twice"
    assert set(before) <= set(listed), "every log stored before the listing is in it"
    assert listed == sorted(listed)
    assert {log_id for log_id in written if log_id.startswith("z-")} <= set(listed)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        f"limit={PAGE_MAX + 1}",
        "limit=ten",
        "limit=-1",
        "limit=" + "9" * 5000,  # more digits than int() parses
        "limit=" + "0" * 5000 + "500",
        "page=2",
        # JSON nested deeper than the parser's recursion limit
        "cursor=" + base64.urlsafe_b64encode(b"[" * 3000).decode(),
        "cursor=" + encode_cursor("acme", "x" * 129),
    ],
)
def test_bad_query_parameters_are_400(aws: Any, client: Client, query: str) -> None:
    answer = client.http.get(f"/logs?{query}", headers=key_for(aws, "acme"))
    assert answer.status_code == 400
    assert answer.json_body["Message"]


def test_leading_zeros_do_not_change_a_limit(aws: Any, client: Client) -> None:
    for log_id in ("1", "2"):
        processed_log("acme", log_id)
    answer = client.http.get("/logs?limit=001", headers=key_for(aws, "acme"))
    assert [log["log_id"] for log in answer.json_body["logs"]] == ["1"]


def test_the_longest_cursor_this_api_returns_is_accepted() -> None:
    longest = encode_cursor("t" * 64, "l" * 128)
    assert len(longest) == CURSOR_MAX_CHARS
    assert decode_cursor(longest, "t" * 64) == "l" * 128


def test_every_read_writes_one_event_line(
    aws: Any, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    processed_log("acme", "101")
    headers = key_for(aws, "acme")
    capsys.readouterr()
    assert client.http.get("/logs", headers=headers).status_code == 200
    assert client.http.get("/logs/101", headers=headers).status_code == 200
    assert client.http.get("/logs/555-0199", headers=headers).status_code == 404
    assert client.http.get("/logs?limit=x", headers=headers).status_code == 400
    lines = events(capsys.readouterr().out, "read")
    shown = [(line["route"], line["outcome"], line["status"], line.get("log_id")) for line in lines]
    assert shown == [
        ("/logs", "answered", 200, None),
        ("/logs/{log_id}", "answered", 200, "101"),
        ("/logs/{log_id}", "refused", 404, "[REDACTED]"),
        ("/logs", "refused", 400, None),
    ]
    assert lines[0]["returned"] == 1
    assert {line["tenant_id"] for line in lines} == {"acme"}
    assert all(line["request_id"] for line in lines)
    assert "error_message" not in lines[3], "a client error's message echoes the query"


def test_a_cursor_round_trips_only_for_its_tenant() -> None:
    cursor = encode_cursor("acme", "log-1")
    assert decode_cursor(cursor, "acme") == "log-1"
    with pytest.raises(Exception, match="another tenant"):
        decode_cursor(cursor, "beta_inc")


def test_reads_go_through_credentials_scoped_to_the_tenant(
    aws: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import clients

    processed_log("acme", "101")
    assumed: list[dict[str, Any]] = []
    clients.client("sts").meta.events.register(
        "before-parameter-build.sts.AssumeRole", lambda params, **kwargs: assumed.append(params)
    )
    made: list[dict[str, str]] = []
    original = clients.client_with

    def recording_client_with(service_name: str, credentials: Any) -> Any:
        made.append({"service": service_name, "key": credentials["AccessKeyId"]})
        return original(service_name, credentials)

    monkeypatch.setattr(tenant_credentials, "client_with", recording_client_with)
    headers = key_for(aws, "acme")
    assert client.http.get("/logs", headers=headers).status_code == 200
    assert client.http.get("/logs/101", headers=headers).status_code == 200
    assert len(assumed) == 1, "credentials are kept for their lifetime"
    request = assumed[0]
    assert request["RoleArn"].endswith(":role/robust-data-processor-logs-reader")
    assert request["RoleSessionName"] == "tenant-acme"
    assert request["Tags"] == [{"Key": "tenant", "Value": "acme"}]
    assert "Policy" not in request, "the role's own policy scopes the session by its tag"
    assert made == [{"service": "dynamodb", "key": made[0]["key"]}]
    assert made[0]["key"] != "testing", "reads are signed with the assumed role, not the function's"


def test_credentials_are_renewed_before_they_expire(aws: Any, client: Client) -> None:
    first = tenant_credentials.tenant_table_client("acme")
    assert tenant_credentials.tenant_table_client("acme") is first
    later = datetime.now(UTC) + timedelta(seconds=tenant_credentials.SESSION_SECONDS)
    assert tenant_credentials.tenant_table_client("acme", now=later) is not first
    assert tenant_credentials.tenant_table_client("beta_inc") is not first


def test_reads_without_a_reader_role_are_a_500_naming_it(
    aws: Any, client: Client, configure: Any
) -> None:
    configure(TENANT_READ_ROLE_ARN="")
    answer = client.http.get("/logs", headers=key_for(aws, "acme"))
    assert answer.status_code == 500
    assert answer.json_body["Code"] == "ConfigurationError"
    assert "set TENANT_READ_ROLE_ARN" in answer.json_body["Message"]


def test_a_percent_encoded_log_id_in_the_path_is_decoded(aws: Any, client: Client) -> None:
    processed_log("acme", "2026:a.b")
    answer = client.http.get("/logs/2026%3Aa.b", headers=key_for(aws, "acme"))
    assert (answer.status_code, answer.json_body["log_id"]) == (200, "2026:a.b")


def test_an_expired_log_is_neither_listed_nor_returned_before_ttl_deletes_it(
    aws: Any, client: Client
) -> None:
    processed_log("acme", "old")
    processed_log("acme", "new")
    boto3.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key={"tenant_id": {"S": "acme"}, "log_id": {"S": "old"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1700000000"}},
    )
    headers = key_for(aws, "acme")
    assert read_all(client, headers, limit=1) == ["new"]
    assert client.http.get("/logs/old", headers=headers).status_code == 404
    answered = client.http.get("/logs/new", headers=headers).json_body
    assert set(answered) == set(FIELDS) - {"event_time", "attributes"}
