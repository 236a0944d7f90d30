"""docs/openapi.yaml against the app: the same routes, and the local API answering as described.

The first tests fail as soon as a route is added, removed or changes its content types without
the description following. The last one runs schemathesis against `chalice local` in the real
local stack: requests generated from the description, valid and invalid, must get a documented
status with a documented body, and never a server error.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

from app import app
from chalicelib import normalize, otlp
from devstack.stack import Stack, demo_keys
from infra.stage import PROJECT_DIR

SPEC_PATH = PROJECT_DIR / "docs" / "openapi.yaml"
#: The description's pattern for a log's RFC 3339 timestamp.
RFC_3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BODY_METHODS = {"POST", "PUT", "PATCH"}


def load_spec() -> dict[str, Any]:
    return dict(schemathesis.openapi.from_path(SPEC_PATH).raw_schema)


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the description by (path, METHOD), Chalice's way of naming a route."""
    return {
        (path, method.upper()): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/components/...`) to what it names."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_description_is_valid_openapi() -> None:
    """docs/openapi.yaml is a valid OpenAPI 3.1 document."""
    schemathesis.openapi.from_path(SPEC_PATH).validate()


def test_the_description_has_exactly_the_apps_routes() -> None:
    """Every route and method of app.py is described, and nothing else is."""
    routes = {(path, method) for path, methods in app.routes.items() for method in methods}
    described = set(operations(load_spec()))
    assert not routes - described, f"describe in {SPEC_PATH.name}: {sorted(routes - described)}"
    assert not described - routes, f"not in app.py: {sorted(described - routes)}"


#: What each route that takes every media type reads; the rest it refuses with a 415.
READERS = {"/ingest": normalize.MEDIA_TYPES, "/v1/logs": otlp.MEDIA_TYPES}


def test_request_bodies_have_exactly_the_routes_content_types() -> None:
    """A route that reads a body is described with exactly the content types it reads; a route
    that reads none is described without a body.

    The ingest routes let every type through to their readers, which read a few and refuse the
    rest with their own 415 (and count it), so their descriptions list the readers' types.
    """
    for (path, method), operation in operations(load_spec()).items():
        described = set(operation.get("requestBody", {}).get("content", {}))
        if method in BODY_METHODS:
            read = set(app.routes[path][method].content_types)
            if read == {"*/*"}:
                read = set(READERS[path])
            assert described == read, (path, method)
        else:
            assert not described, (path, method)


def test_every_error_is_described_as_a_json_error() -> None:
    """Each 4xx and 5xx the description lists is JSON with the API's error body (or, where API
    Gateway itself may answer, that as one alternative). OTLP's own errors are a Status in the
    request's encoding, as its specification says."""
    spec = load_spec()
    error = {"$ref": "#/components/schemas/Error"}
    otlp_status = {"$ref": "#/components/schemas/OtlpStatus"}
    for (path, method), operation in operations(spec).items():
        for status, response in operation["responses"].items():
            if path == "/v1/logs" and status[0] in "45" and status not in ("401", "415"):
                content = resolve(spec, response)["content"]
                assert set(content) == set(otlp.MEDIA_TYPES), (path, method, status)
                assert content["application/json"]["schema"] == otlp_status, (path, status)
                continue
            if status[0] in "45":
                content = resolve(spec, response)["content"]
                assert set(content) == {"application/json"}, (path, method, status)
                schema = content["application/json"]["schema"]
                alternatives = schema.get("oneOf", schema.get("anyOf", [schema]))
                assert error in alternatives, (path, method, status)


# Every check schemathesis has, but the response time, against the local API. No method a path
# does not serve is probed: API Gateway answers it as no route at all (a 404, where schemathesis
# expects a 405), and so does the local server; tests/test_local_api.py holds it to that.
LOCAL_API = schemathesis.openapi.from_path(
    SPEC_PATH,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": 100},
            # An array over maxItems is refused with the 413 that names the limit on logs a
            # request, which schemathesis does not count as a refusal by default.
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [
                        *NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
                        "413",
                    ]
                }
            },
            "phases": {"coverage": {"unexpected-methods": []}},
        }
    ),
)


@LOCAL_API.hook
def map_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    """Send the headers and bodies the description implies but OpenAPI cannot state: X-Tenant-ID
    and X-Log-ID repeat a JSON body's ids (and are left off a batch), text/plain needs
    X-Tenant-ID, an NDJSON body is log objects (one a line), and a timestamp names a real
    moment. Schemathesis validates the case again afterwards, so it counts as valid or invalid
    for what it really is."""
    headers = CaseInsensitiveDict(case.headers or {})
    if case.query:
        # A cursor is only valid as the API returned it; test_auth and test_reads cover cursors.
        case.query.pop("cursor", None)
    logs: list[Any] = case.body if isinstance(case.body, list) else [case.body]
    for log in logs:
        stamp = log.get("timestamp") if isinstance(log, dict) else None
        if isinstance(stamp, str) and RFC_3339.fullmatch(stamp):  # which allows month 13
            log["timestamp"] = "2026-11-21T10:00:00.123+02:00"
    if case.media_type == "text/plain":
        headers.setdefault("X-Tenant-ID", "acme")
    elif case.media_type == "application/x-ndjson":
        case.body = '{"tenant_id": "acme", "text": "one"}\n\n{"tenant_id": "acme", "text": "two"}'
    elif isinstance(case.body, dict):
        for header, field in (("X-Tenant-ID", "tenant_id"), ("X-Log-ID", "log_id")):
            if headers.get(header) != case.body.get(field):
                headers.pop(header, None)
    else:
        headers.pop("X-Tenant-ID", None)
        headers.pop("X-Log-ID", None)
    case.headers = headers
    return case


#: What schemathesis sends where the description asks for a key; cases are made before the
#: stack exists, so the test puts the key the stack printed in its place.
KEY_PLACEHOLDER = "Bearer <acme's key>"


@LOCAL_API.auth()
class DemoKey:
    """Acme's key, except where schemathesis leaves the header out to test a missing key."""

    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return KEY_PLACEHOLDER

    def set(
        self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext
    ) -> None:
        case.headers = CaseInsensitiveDict({**dict(case.headers or {}), "Authorization": data})


# `/v1/logs` is OTLP: its JSON body is protobuf's JSON mapping of the OTLP messages, which an
# OpenAPI schema describes only loosely, so generated "valid" bodies are not. tests/test_otlp.py
# generates its requests from the real protobuf classes instead, and tests/test_otlp_ingest.py
# and tests/test_shippers.py drive the route.
@pytest.mark.e2e
@LOCAL_API.exclude(path="/v1/logs").parametrize()
def test_the_local_api_answers_as_described(case: schemathesis.Case[Any], stack: Stack) -> None:
    """Generated requests through `chalice local`, valid and invalid: never a server error;
    every status, content type, header and body as described; valid requests accepted, invalid
    ones refused. Reads carry the key `make dev` printed for
    acme, except where schemathesis leaves it out on purpose."""
    headers = CaseInsensitiveDict(case.headers or {})
    if headers.get("Authorization") == KEY_PLACEHOLDER:
        headers.update(demo_keys(stack)["acme"])
        case.headers = headers
    case.call_and_validate(base_url=stack.api)
