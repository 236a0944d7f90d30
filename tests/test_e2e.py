"""The whole pipeline as `make dev` runs it: real processes, real HTTP, on free local ports."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from devstack.__main__ import READY_LINE
from devstack.stage import PROJECT_DIR

pytestmark = pytest.mark.e2e
STARTUP_SECONDS = 90
PROCESSING_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    process: subprocess.Popen[str]
    api: str
    emulator: str
    output: list[str]


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str], kept: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        kept.append(line)
        lines.put(line)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    api_port, emulator_port = free_port(), free_port()
    # The dev stage asks for 0.05 s of work a character: the shell overrides it, as a user would.
    environment = {
        **os.environ,
        "API_PORT": str(api_port),
        "EMULATOR_PORT": str(emulator_port),
        "WORK_SECONDS_PER_CHAR": "0",
        "CRASH_PROBABILITY": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--stage", "dev"],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=_read_lines, args=(process, lines, output), daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while READY_LINE not in "".join(output):
            assert process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "".join(output)
            time.sleep(0.2)
        yield Stack(
            process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{emulator_port}", output
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the emulator is stopped by the stack itself
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def stored(stack: Stack, tenant: str) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.emulator)
    items = dynamodb.query(
        TableName="robust-data-processor-dev-logs",
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": tenant}},
    )["Items"]
    return [{k: v.get("S", v.get("N")) for k, v in item.items()} for item in items]


def wait_for(stack: Stack, tenant: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + PROCESSING_SECONDS
    while len(items := stored(stack, tenant)) < count:
        assert time.monotonic() < deadline, "".join(stack.output)
        time.sleep(0.3)
    return items


def test_readme_examples_end_redacted_in_their_tenants_partitions(stack: Stack) -> None:
    long_text = "Call 800-555-0199 now. " + "x" * 2000  # 0.05 s a character would be a 413
    status, answer = post(
        f"{stack.api}/ingest",
        json.dumps({"tenant_id": "acme", "log_id": "101", "text": long_text}).encode(),
        {"Content-Type": "application/json"},
    )
    assert (status, answer["log_id"]) == (202, "101")
    status, answer = post(
        f"{stack.api}/ingest",
        b"Error - 555-0100 - NullPointerException at module X",
        {"Content-Type": "text/plain", "X-Tenant-ID": "beta_inc"},
    )
    assert status == 202
    [acme] = wait_for(stack, "acme", 1)
    [beta] = wait_for(stack, "beta_inc", 1)
    assert acme["modified_data"].startswith("Call [REDACTED] now. ")
    assert beta["modified_data"] == "Error - [REDACTED] - NullPointerException at module X"
    assert (beta["log_id"], beta["source"]) == (answer["log_id"], "text_upload")
    assert beta["request_id"] == answer["request_id"]


def test_bad_request_over_http_is_a_clear_json_error(stack: Stack) -> None:
    status, answer = post(f"{stack.api}/ingest", b"{", {"Content-Type": "application/json"})
    assert status == 400
    assert "not valid JSON" in answer["Message"]


def test_ctrl_c_stops_everything(stack: Stack) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=30) == 0, "".join(stack.output)
    for url in (stack.api, stack.emulator):
        port = int(url.rsplit(":", 1)[1])
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            pass
