"""The whole pipeline as `make dev` runs it: real processes, real HTTP, on free local ports."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from devstack.stack import PROCESSING_SECONDS, Stack, demo_keys

pytestmark = pytest.mark.e2e


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


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
    [acme] = stack.wait_for_stored("acme", 1)
    [beta] = stack.wait_for_stored("beta_inc", 1)
    assert acme["modified_data"].startswith("Call [REDACTED] now. ")
    assert beta["modified_data"] == "Error - [REDACTED] - NullPointerException at module X"
    assert (beta["log_id"], beta["source"]) == (answer["log_id"], "text_upload")
    assert beta["request_id"] == answer["request_id"]


def test_a_log_is_followed_from_post_to_stored_item_by_its_event_lines(stack: Stack) -> None:
    status, answer = post(
        f"{stack.api}/ingest",
        b"Paged ann@example.com at 555-0142",
        {"Content-Type": "text/plain", "X-Tenant-ID": "acme", "X-Log-ID": "followed"},
    )
    assert status == 202
    stack.wait_for_stored("acme", 1, including=["followed"])
    deadline = time.monotonic() + PROCESSING_SECONDS
    while True:  # the consumer may print its line a moment after the write
        lines = [json.loads(text) for text in list(stack.output) if text.startswith("{")]
        mine = [line for line in lines if line.get("request_id") == answer["request_id"]]
        if [line["event"] for line in mine] == ["ingest", "record"]:
            break
        assert time.monotonic() < deadline, "".join(stack.output)
        time.sleep(0.2)
    ingest, record = mine
    assert (ingest["outcome"], record["outcome"]) == ("accepted", "stored")
    for line in mine:
        assert (line["tenant_id"], line["log_id"], line["stage"]) == ("acme", "followed", "dev")
        assert "_aws" in line
    assert (record["attempt"], record["redactions"]) == (1, 2)
    assert record["lag_ms"] > 0
    shown = json.dumps(lines)
    assert "ann@example.com" not in shown
    assert "555-0142" not in shown


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_each_tenant_reads_back_its_own_logs_with_its_printed_key(stack: Stack) -> None:
    keys = demo_keys(stack)
    for tenant in ("acme", "beta_inc"):
        body = json.dumps({"tenant_id": tenant, "log_id": "read-1", "text": "mail a@b.example"})
        assert (
            post(f"{stack.api}/ingest", body.encode(), {"Content-Type": "application/json"})[0]
            == 202
        )
    for tenant in keys:
        stack.wait_for_stored(tenant, 1, including=["read-1"])
    for tenant, headers in keys.items():
        status, page = get(f"{stack.api}/logs?limit=100", headers)
        assert status == 200
        assert {log["tenant_id"] for log in page["logs"]} == {tenant}
        status, log = get(f"{stack.api}/logs/read-1", headers)
        assert (status, log["tenant_id"], log["modified_data"]) == (200, tenant, "mail [REDACTED]")
        assert "original_text" not in log
    assert get(f"{stack.api}/logs", {})[0] == 401


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
