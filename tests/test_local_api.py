"""The local API: `make dev`'s server answers as the deployed gateway does, in event lines only,
and `chalice local --stage local` serves the API against `make dev`'s emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import GATEWAY_REFUSALS, GATEWAY_VARIABLES, KEY_REQUIRED
from chalicelib.keys import create_key
from devstack.__main__ import READY_LINE, emulator_log_file
from devstack.api import serve
from devstack.processes import free_port, stop, wait_for_port
from devstack.resources import provision_stack
from devstack.stack import Stack
from devstack.stage import emulator_client, local_environment
from infra.stage import PROJECT_DIR, chalice_config, deployed_stages
from tests.event_lines import assert_no_personal_data, event_lines, events

Answer = tuple[int, dict[str, Any]]


@pytest.fixture
def local_api(aws: Any) -> Iterator[str]:
    """`make dev`'s API server, in this process against the in-process emulator."""
    import app

    server = serve(app.app, chalice_config("dev", "api_handler"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.server.shutdown()
        server.server.server_close()


def call(url: str, method: str = "GET", body: bytes | None = None, **headers: str) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        assert response.headers["Content-Type"] == "application/json"
        return int(response.status), json.loads(response.read())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("POST", "/v1/traces"), ("DELETE", "/logs"), ("GET", "/ingest")],
)
def test_no_route_is_our_404_naming_the_method_and_path(
    local_api: str, method: str, path: str
) -> None:
    status, body = call(local_api + path + "?x=1", method, Authorization="Bearer x")
    assert status == 404
    assert body == {
        "Code": "NotFoundError",
        "Message": f"no route matches {method} {path}: check the method and the path",
    }


def test_a_missing_key_is_our_401(local_api: str) -> None:
    assert call(local_api + "/logs") == (
        401,
        {"Code": "UnauthorizedError", "Message": KEY_REQUIRED},
    )


def test_a_denied_key_is_our_401_with_the_authorizers_reason(local_api: str) -> None:
    status, body = call(local_api + "/logs/101", Authorization="Bearer rdp_nope")
    assert (status, body["Code"]) == (401, "UnauthorizedError")
    assert "malformed" in body["Message"]


def test_a_failing_authorizer_answers_its_error(local_api: str, configure: Any) -> None:
    configure(AWS_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens there
    key = "rdp_0123456789abcdef_" + "a" * 43
    status, body = call(local_api + "/logs", Authorization=f"Bearer {key}")
    assert (status, body["Code"]) == (503, "ServiceUnavailableError")
    assert "could not be checked" in body["Message"]


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "\u0661"])
def test_a_malformed_content_length_is_a_json_400(local_api: str, length: str) -> None:
    host, port = local_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        request = f"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\nhi"
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["Code"] == "BadRequestError"
    assert "Content-Length" in json.loads(body)["Message"]


def test_every_line_the_server_writes_is_an_event_line(
    local_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = {"tenant_id": "acme", "log_id": "555-0199", "text": "call ann@example.com"}
    headers = {"Content-Type": "application/json"}
    assert call(local_api + "/ingest", "POST", json.dumps(log).encode(), **headers)[0] == 202
    assert call(local_api + "/logs/555-0199?cursor=ann@example.com")[0] == 401
    assert call(local_api + "/logs/555-0199", "PUT")[0] == 404
    assert call(local_api + "/555-0199")[0] == 404
    # Each request's line is written once its answer is sent, by the thread that served it: wait
    # for all four, in whatever order the threads wrote them.
    output, deadline = "", time.monotonic() + 10
    while len(events(output, "http")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
        output += capsys.readouterr().out
    lines = event_lines(output)  # each parses, with the fields every line carries
    http = [
        (line["method"], line.get("route", line.get("path")), line["status"])
        for line in events(output, "http")
    ]
    assert sorted(http) == [
        ("GET", "/[REDACTED]", 404),
        ("GET", "/logs/{log_id}", 401),
        ("POST", "/ingest", 202),
        ("PUT", "/logs/[REDACTED]", 404),
    ]
    assert sorted(line["event"] for line in lines) == ["http", "http", "http", "http", "ingest"]
    for personal in ("555-0199", "ann@example.com"):
        assert personal not in output
    for line in lines:
        assert_no_personal_data(line)


def test_gateway_bodies_are_json_with_api_gateways_variables_in_place() -> None:
    # infra renders these templates; a value API Gateway substitutes stays inside the string.
    for response_type, refusal in GATEWAY_REFUSALS.items():
        body = json.loads(refusal.body(GATEWAY_VARIABLES))
        assert set(body) == {"Code", "Message"}, response_type
    denied = json.loads(GATEWAY_REFUSALS["ACCESS_DENIED"].body(GATEWAY_VARIABLES))
    assert denied["Message"] == "$context.authorizer.rejection"


def test_make_devs_emulator_log_is_outside_what_chalice_local_watches() -> None:
    assert not emulator_log_file(5000).resolve().is_relative_to(PROJECT_DIR)


def test_the_local_stage_is_the_dev_stage_pointed_at_the_emulator() -> None:
    local = chalice_config("local", "api_handler").environment_variables
    dev = chalice_config("dev", "api_handler").environment_variables
    emulator = {"AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "QUEUE_URL", "TENANT_READ_ROLE_ARN"}
    credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert set(local) == set(dev) | emulator | credentials
    assert {k: v for k, v in local.items() if k in dev and k != "STAGE"} == {
        k: v for k, v in dev.items() if k != "STAGE"
    }
    assert local["STAGE"] == "local"
    assert deployed_stages() == ["dev", "prod"], "the local stage deploys nothing"
    assert local["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"  # `make dev`'s EMULATOR_PORT


# --- `chalice local --stage local` beside the emulator --------------------------------------


@contextmanager
def started(command: list[str], environment: dict[str, str], cwd: Path) -> Iterator[Any]:
    """A process group that is stopped, children included, when the block ends."""
    process = subprocess.Popen(
        command,
        env=environment,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        stop(process)


def project_copy(tmp_path: Path, emulator_url: str) -> Path:
    """The app and its config, the local stage aimed at `emulator_url` instead of port 5000.

    `chalice local` puts the stage's variables over the shell's, so a test emulator on a free
    port (never `make dev`'s) can only be named in the config file itself.
    """
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR / "chalicelib", project / "chalicelib")
    shutil.copy(PROJECT_DIR / "app.py", project / "app.py")
    (project / ".chalice").mkdir()
    config = (PROJECT_DIR / ".chalice" / "config.json").read_text()
    (project / ".chalice" / "config.json").write_text(
        config.replace("http://127.0.0.1:5000", emulator_url)
    )
    return project


def wait_for_log(url: str, headers: dict[str, str], seconds: float = 30) -> Answer:
    deadline = time.monotonic() + seconds
    while True:
        answer = call(url, "GET", None, **headers)
        if answer[0] != 404 or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


@pytest.mark.e2e
def test_chalice_local_with_the_local_stage_serves_the_api(tmp_path: Path) -> None:
    emulator_port, api_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    python = sys.executable
    shell = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    worker = local_environment("dev", "worker", emulator_url, shell)
    worker |= {"WORK_SECONDS_PER_CHAR": "0", "CRASH_PROBABILITY": "0"}
    emulator = [python, "-m", "devstack.emulator", "--port", str(emulator_port)]
    with started(emulator, shell, PROJECT_DIR) as emulator_process:
        wait_for_port(emulator_port, emulator_process, "the emulator")
        api = local_environment("dev", "api_handler", emulator_url, shell)
        resources = provision_stack(api, worker)
        settings = load_settings(worker)
        # The ids the local stage names are the ones moto gives `make dev`'s resources.
        local = chalice_config("local", "api_handler").environment_variables
        assert local["QUEUE_URL"].replace(":5000", f":{emulator_port}") == resources.queue_url
        assert local["TENANT_READ_ROLE_ARN"] == api["TENANT_READ_ROLE_ARN"]
        assert settings.table_name == local["TABLE_NAME"]
        consumer = [python, "-m", "devstack.consume", "--stage", "dev"]
        chalice = [
            str(Path(python).parent / "chalice"),
            "--project-dir",
            str(project_copy(tmp_path, emulator_url)),
            "local",
            "--stage",
            "local",
            "--port",
            str(api_port),
        ]
        quiet = shell | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        with (
            started(consumer, worker | {"QUEUE_URL": resources.queue_url}, PROJECT_DIR),
            started(chalice, quiet, tmp_path) as api,
        ):
            wait_for_port(api_port, api, "chalice local")
            api_url = f"http://127.0.0.1:{api_port}"
            log = {"tenant_id": "acme", "log_id": "local-1", "text": "call 555-0199"}
            body = json.dumps(log).encode()
            headers = {"Content-Type": "application/json"}
            status, accepted = call(api_url + "/ingest", "POST", body, **headers)
            assert (status, accepted["log_id"]) == (202, "local-1"), accepted
            dynamodb = emulator_client(worker, "dynamodb")
            key = create_key(dynamodb, local["TENANTS_TABLE_NAME"], "acme", datetime.now(UTC)).key
            bearer = {"Authorization": f"Bearer {key}"}
            status, stored = wait_for_log(api_url + "/logs/local-1", bearer)
            assert (status, stored.get("modified_data")) == (200, "call [REDACTED]"), stored
            api.send_signal(signal.SIGINT)
            output = api.communicate(timeout=20)[0].decode()
    assert "Restarting" not in output, output
    # Chalice's own lines (its banner, its access lines) stay plain; ours are event lines.
    ours = "\n".join(line for line in output.splitlines() if line.startswith("{"))
    assert [line["outcome"] for line in events(ours, "ingest")] == ["accepted"], output


@pytest.mark.e2e
def test_after_make_devs_banner_every_line_but_the_status_is_an_event_line(stack: Stack) -> None:
    log = {"tenant_id": "acme", "log_id": "555-0199", "text": "call ann@example.com"}
    headers = {"Content-Type": "application/json"}
    assert call(stack.api + "/ingest", "POST", json.dumps(log).encode(), **headers)[0] == 202
    assert call(stack.api + "/logs/555-0199", "GET", None, Authorization="Bearer x")[0] == 401
    assert call(stack.api + "/555-0199?q=ann@example.com")[0] == 404
    host, port = stack.api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 400 ")
    deadline = time.monotonic() + 60
    while not any('"event":"record"' in line for line in list(stack.output)):
        assert time.monotonic() < deadline, "".join(stack.output)
        time.sleep(0.2)
    output = "".join(stack.output)
    after_banner = output.split(READY_LINE + "\n", 1)[1].splitlines()
    lines = [line for line in after_banner if not line.startswith("pipeline: ")]
    parsed = event_lines("\n".join(lines))
    assert [line["status"] for line in parsed if line["event"] == "http"] == [202, 401, 404, 400]
    for personal in ("555-0199", "ann@example.com"):
        assert personal not in "\n".join(lines)
