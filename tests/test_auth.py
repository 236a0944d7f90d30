"""Who may call what: keys resolve to tenants, and no request reaches another tenant's data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.app import AuthRequest
from chalice.test import Client

from chalicelib.auth import PROTECTED_ROUTES, authorize, caller_tenant
from chalicelib.errors import KEY_REQUIRED
from chalicelib.keys import create_key, new_key, revoke_key
from infra.stage import PROJECT_DIR
from tests.conftest import processed_log
from tests.event_lines import events
from tests.gateway import through_gateway

#: What API Gateway hands the authorizer for `GET /logs` on stage `api`.
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/logs"

MakeKey = Callable[[str], str]


@pytest.fixture
def make_key(aws: Any) -> MakeKey:
    def make(tenant_id: str) -> str:
        table = aws.tenants_table_name
        return create_key(boto3.client("dynamodb"), table, tenant_id, datetime.now(UTC)).key

    return make


@pytest.fixture
def client(aws: Any) -> Iterator[Client]:
    import app

    with Client(app.app, project_dir=str(PROJECT_DIR)) as test_client:
        yield through_gateway(test_client)


@pytest.fixture
def keyed_client(aws: Any, keyed_app: Any) -> Iterator[Client]:
    with Client(keyed_app.app, project_dir=str(PROJECT_DIR)) as test_client:
        yield through_gateway(test_client)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def queue_is_empty(aws: Any) -> bool:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return bool(attributes["Attributes"]["ApproximateNumberOfMessages"] == "0")


def test_a_valid_key_passes_its_tenant_to_every_protected_route(
    aws: Any, make_key: MakeKey
) -> None:
    verdict = authorize(AuthRequest("TOKEN", f"Bearer {make_key('acme')}", METHOD_ARN))
    assert verdict["principalId"] == "acme"
    assert verdict["context"]["tenant_id"] == "acme"
    [allowed] = verdict["policyDocument"]["Statement"]
    assert allowed["Effect"] == "Allow"
    base = METHOD_ARN.rsplit("/", 2)[0]
    assert allowed["Resource"] == [f"{base}/*/{route.lstrip('/')}" for route in PROTECTED_ROUTES]
    assert caller_tenant({"authorizer": verdict["context"]}) == "acme"


def test_a_refused_key_is_denied_by_the_authorizer_saying_why(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict = authorize(AuthRequest("TOKEN", "Bearer not-a-key", METHOD_ARN))
    [denied] = verdict["policyDocument"]["Statement"]
    assert (denied["Effect"], denied["Resource"]) == ("Deny", [METHOD_ARN.rsplit("/", 2)[0] + "/*"])
    assert "malformed" in verdict["context"]["rejection"]
    assert "tenant_id" not in verdict["context"]
    [line] = events(capsys.readouterr().out, "auth")
    assert (line["outcome"], line["status"], line["level"]) == ("refused", 401, "WARNING")
    assert "malformed" in line["reason"]


def test_a_route_without_the_authorizer_has_no_tenant() -> None:
    with pytest.raises(Exception, match=KEY_REQUIRED):
        caller_tenant({})


def test_every_route_behind_the_authorizer_is_in_its_verdict(keyed_app: Any) -> None:
    behind = {
        path
        for path, methods in keyed_app.app.routes.items()
        for entry in methods.values()
        if entry.authorizer is not None
    }
    assert behind == {"/ingest", "/v1/logs", "/logs", "/logs/{log_id}"}
    assert {path.replace("{log_id}", "*") for path in behind} == set(PROTECTED_ROUTES)


@pytest.mark.parametrize("path", ["/logs", "/logs/101"])
def test_reads_need_a_key_in_every_mode(client: Client, path: str) -> None:
    assert client.http.get(path).status_code == 401


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Basic dXNlcjpwYXNz", "must read 'Bearer <key>'"),
        ("Bearer not-a-key", "malformed"),
        (f"Bearer {new_key('acme', 't').key}", "not valid for this service"),
    ],
)
def test_bad_keys_are_401_saying_why(client: Client, authorization: str, message: str) -> None:
    answer = client.http.get("/logs", headers={"Authorization": authorization})
    assert answer.status_code == 401
    assert message in answer.json_body["Message"]


def test_a_revoked_key_is_401(aws: Any, client: Client) -> None:
    dynamodb = boto3.client("dynamodb")
    made = create_key(dynamodb, aws.tenants_table_name, "acme", datetime.now(UTC))
    assert client.http.get("/logs", headers=bearer(made.key)).status_code == 200
    revoke_key(dynamodb, aws.tenants_table_name, made.record["key_id"], datetime.now(UTC))
    answer = client.http.get("/logs", headers=bearer(made.key))
    assert answer.status_code == 401
    assert "revoked" in answer.json_body["Message"]


def test_a_key_of_another_stage_is_401(aws: Any, configure: Any, client: Client) -> None:
    import boto3

    from devstack.resources import provision

    prod = configure(TENANTS_TABLE_NAME="robust-data-processor-prod-tenants")
    provision(prod, boto3.client("sqs"), boto3.client("dynamodb"), boto3.client("s3"))
    prod_key = create_key(
        boto3.client("dynamodb"), prod.tenants_table_name, "acme", datetime.now(UTC)
    ).key
    assert client.http.get("/logs", headers=bearer(prod_key)).status_code == 200
    configure(TENANTS_TABLE_NAME=aws.tenants_table_name)
    assert client.http.get("/logs", headers=bearer(prod_key)).status_code == 401


def test_a_log_of_another_tenant_is_not_found_by_path(client: Client, make_key: MakeKey) -> None:
    processed_log("beta_inc", "secret-1")
    answer = client.http.get("/logs/secret-1", headers=bearer(make_key("acme")))
    assert answer.status_code == 404
    assert (
        client.http.get("/logs/secret-1", headers=bearer(make_key("beta_inc"))).status_code == 200
    )


def test_a_cursor_of_another_tenant_is_403(client: Client, make_key: MakeKey) -> None:
    for log_id in ("1", "2"):
        processed_log("beta_inc", log_id)
    page = client.http.get("/logs?limit=1", headers=bearer(make_key("beta_inc"))).json_body
    stolen = page["next_cursor"]
    answer = client.http.get(f"/logs?cursor={stolen}", headers=bearer(make_key("acme")))
    assert answer.status_code == 403
    assert "another tenant" in answer.json_body["Message"]


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJ0ZW5hbnRfaWQiOiJhY21lIn0", "%00"])
def test_a_forged_cursor_is_400(client: Client, make_key: MakeKey, cursor: str) -> None:
    answer = client.http.get(f"/logs?cursor={cursor}", headers=bearer(make_key("acme")))
    assert answer.status_code == 400
    assert "cursor" in answer.json_body["Message"]


def test_open_ingest_needs_no_key(client: Client, aws: Any) -> None:
    answer = client.http.post(
        "/ingest", headers={"Content-Type": "text/plain", "X-Tenant-ID": "acme"}, body=b"hi"
    )
    assert answer.status_code == 202


def test_required_ingest_without_a_key_is_401_and_enqueues_nothing(
    keyed_client: Client, aws: Any
) -> None:
    answer = keyed_client.http.post(
        "/ingest", headers={"Content-Type": "text/plain", "X-Tenant-ID": "acme"}, body=b"hi"
    )
    assert answer.status_code == 401
    assert queue_is_empty(aws)


def test_a_refused_key_at_ingest_never_reaches_ingest(
    keyed_client: Client, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = keyed_client.http.post(
        "/ingest",
        headers={"Content-Type": "text/plain", **bearer("rdp_0123_wrong")},
        body=b"call 555-0199",
    )
    assert answer.status_code == 401
    output = capsys.readouterr().out
    assert events(output, "ingest") == []
    [line] = events(output, "auth")
    assert (line["outcome"], line["status"]) == ("refused", 401)
    assert queue_is_empty(aws)


def post_as_acme(
    client: Client, make_key: MakeKey, content_type: str, headers: dict[str, str], body: Any
) -> Any:
    """POST /ingest with acme's key, the body a string or a JSON value."""
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post(
        "/ingest",
        headers={"Content-Type": content_type, **headers, **bearer(make_key("acme"))},
        body=raw.encode(),
    )


@pytest.mark.parametrize(
    ("content_type", "headers", "body"),
    [
        ("application/json", {}, {"tenant_id": "beta_inc", "text": "hi"}),
        ("application/json", {"X-Tenant-ID": "beta_inc"}, {"text": "hi"}),
        ("application/json", {"X-Tenant-ID": "beta_inc"}, {"tenant_id": "acme", "text": "hi"}),
        ("application/json", {}, {"tenant_id": "ACME", "text": "hi"}),
        ("application/json", {}, {"tenant_id": "acme/../beta_inc", "text": "hi"}),
        ("application/json", {}, {"tenant_id": 7, "text": "hi"}),
        ("text/plain", {"X-Tenant-ID": "beta_inc"}, "hi"),
        ("text/plain", {"X-Tenant-ID": "acme "}, "hi"),
        ("text/plain", {"X-Tenant-ID": "\u0430cme"}, "hi"),  # Cyrillic a
    ],
)
def test_required_ingest_naming_another_tenant_is_403_not_a_rewrite(
    keyed_client: Client,
    aws: Any,
    make_key: MakeKey,
    content_type: str,
    headers: dict[str, str],
    body: Any,
) -> None:
    answer = post_as_acme(keyed_client, make_key, content_type, headers, body)
    assert answer.status_code == 403
    assert "belongs to tenant 'acme'" in answer.json_body["Message"]
    assert queue_is_empty(aws)


@pytest.mark.parametrize(
    ("content_type", "headers", "body"),
    [
        ("application/json", {}, {"text": "hi"}),
        ("application/json", {}, {"tenant_id": "acme", "text": "hi"}),
        ("application/json", {"X-Tenant-ID": "acme"}, {"tenant_id": "acme", "text": "hi"}),
        ("text/plain", {}, "hi"),
        ("text/plain", {"X-Tenant-ID": "acme"}, "hi"),
    ],
)
def test_required_ingest_takes_the_tenant_from_the_key(
    keyed_client: Client,
    aws: Any,
    make_key: MakeKey,
    content_type: str,
    headers: dict[str, str],
    body: Any,
) -> None:
    answer = post_as_acme(keyed_client, make_key, content_type, headers, body)
    assert answer.status_code == 202
    assert answer.json_body["tenant_id"] == "acme"


@pytest.mark.parametrize("path", ["/logs", "/logs/101"])
def test_a_read_naming_another_tenant_in_a_header_is_403(
    client: Client, make_key: MakeKey, path: str
) -> None:
    headers = {**bearer(make_key("acme")), "X-Tenant-ID": "beta_inc"}
    answer = client.http.get(path, headers=headers)
    assert answer.status_code == 403
    assert "belongs to tenant 'acme'" in answer.json_body["Message"]
    own = {**bearer(make_key("acme")), "X-Tenant-ID": "acme"}
    assert client.http.get("/logs", headers=own).status_code == 200


def test_another_tenant_as_a_query_parameter_is_refused(client: Client, make_key: MakeKey) -> None:
    answer = client.http.get("/logs?tenant_id=beta_inc", headers=bearer(make_key("acme")))
    assert answer.status_code == 400


#: The routes a stage may serve without a key (the ingest routes), only with `INGEST_AUTH=open`.
OPEN_ROUTES = {
    "open": {("/ingest", "POST"), ("/v1/logs", "POST")},
    "required": set[tuple[str, str]](),
}


def routes(app_module: Any) -> list[tuple[str, str, Any]]:
    """Every (path, method, route entry) the app serves."""
    return [
        (path, method, entry)
        for path, methods in app_module.app.routes.items()
        for method, entry in methods.items()
    ]


@pytest.fixture(params=["open", "required"])
def any_app(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """The app as each `INGEST_AUTH` mode loads it."""
    import app

    mode = request.param
    return mode, (app if mode == "open" else request.getfixturevalue("keyed_app"))


def test_every_route_is_behind_the_authorizer_unless_declared_open(any_app: Any) -> None:
    mode, app_module = any_app
    for path, method, entry in routes(app_module):
        if (path, method) in OPEN_ROUTES[mode]:
            assert entry.authorizer is None, (path, method)
        else:
            assert entry.authorizer is app_module.api_key_authorizer, (
                f"{method} {path} serves without a key: put it behind the authorizer"
            )


def revoked(aws: Any) -> str:
    dynamodb = boto3.client("dynamodb")
    made = create_key(dynamodb, aws.tenants_table_name, "acme", datetime.now(UTC))
    revoke_key(dynamodb, aws.tenants_table_name, made.record["key_id"], datetime.now(UTC))
    return f"Bearer {made.key}"


BAD_CREDENTIALS: dict[str, Callable[[Any], str | None]] = {
    "missing": lambda aws: None,
    "not bearer": lambda aws: "Basic dXNlcjpwYXNz",
    "malformed": lambda aws: "Bearer not-a-key",
    "unknown": lambda aws: f"Bearer {new_key('acme', 't').key}",
    "revoked": revoked,
}


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
@pytest.mark.parametrize("gateway", ["ours", "chalice"])
def test_no_keyed_route_runs_for_a_refused_key(
    aws: Any,
    any_app: Any,
    capsys: pytest.CaptureFixture[str],
    credential: str,
    gateway: str,
) -> None:
    mode, app_module = any_app
    authorization = BAD_CREDENTIALS[credential](aws)
    headers = {"Content-Type": "text/plain", "X-Tenant-ID": "acme"}
    if authorization is not None:
        headers["Authorization"] = authorization
    processed_log("acme", "101")
    keyed = [(p, m) for p, m, _ in routes(app_module) if (p, m) not in OPEN_ROUTES[mode]]
    assert keyed
    with Client(app_module.app, project_dir=str(PROJECT_DIR)) as plain:
        client = through_gateway(plain) if gateway == "ours" else plain
        for path, method in keyed:
            url = path.replace("{log_id}", "101")
            answer = client.http.request(method, url, headers=headers, body=b"call 555-0199")
            if gateway == "ours":
                assert answer.status_code == 401, (method, path)
                assert answer.json_body["Code"] == "UnauthorizedError"
            else:  # Chalice's bare gateway: its own 401 or 403, never the view's answer
                assert answer.status_code in {401, 403}, (method, path)
    output = capsys.readouterr().out
    assert events(output, "ingest") == events(output, "read") == []
    assert queue_is_empty(aws)


def test_every_refusal_reason_can_be_echoed_in_a_gateway_response(aws: Any) -> None:
    # API Gateway pastes `$context.authorizer.rejection` into the JSON body unescaped.
    for credential, make in BAD_CREDENTIALS.items():
        authorization = make(aws)
        if authorization is None:
            continue  # API Gateway answers a missing header before the authorizer runs
        reason = authorize(AuthRequest("TOKEN", authorization, METHOD_ARN))["context"]["rejection"]
        assert json.dumps(reason) == f'"{reason}"', credential


def test_a_keyed_batch_refuses_only_the_logs_naming_another_tenant(
    keyed_client: Client, aws: Any, make_key: MakeKey
) -> None:
    logs = [{"text": "mine"}, {"tenant_id": "beta_inc", "text": "theirs"}, {"tenant_id": "acme"}]
    body = "\n".join(json.dumps(log) for log in logs)
    answer = post_as_acme(keyed_client, make_key, "application/x-ndjson", {}, body)
    assert answer.status_code == 202
    mine, theirs, no_text = answer.json_body["items"]
    assert (mine["status"], mine["tenant_id"]) == (202, "acme")
    assert (theirs["status"], theirs["Code"]) == (403, "ForbiddenError")
    assert "belongs to tenant 'acme'" in theirs["Message"]
    assert no_text["status"] == 400


def test_the_authorizer_answers_the_tenants_usage_key_for_its_usage_plan(aws: Any) -> None:
    made = create_key(boto3.client("dynamodb"), aws.tenants_table_name, "acme", datetime.now(UTC))
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/POST/ingest"
    answer = authorize(AuthRequest("TOKEN", f"Bearer {made.key}", arn))
    assert answer["usageIdentifierKey"] == "robust-data-processor-dev-tenant-acme"
    assert answer["context"]["tenant_id"] == "acme"
