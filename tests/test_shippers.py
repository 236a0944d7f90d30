"""The shippers teams run, pointed at the local stack with the configurations of docs/shipping.

syslog-ng's `http()` destination posts NDJSON batches to `/ingest`; the OpenTelemetry Python
SDK's OTLP/HTTP exporter posts gzipped protobuf to `/v1/logs`. Each log must end redacted in its
own tenant's partition, and a batch the API refuses as a whole must not stop the ones after it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import free_port, stop, wait_for_port
from devstack.stack import Stack
from infra.stage import PROJECT_DIR

pytestmark = pytest.mark.e2e
SHIPPING = PROJECT_DIR / "docs" / "shipping"
INSTALL_SYSLOG_NG = (
    "syslog-ng is not installed: `sudo apt-get install syslog-ng-core syslog-ng-mod-http` "
    "(Debian and Ubuntu; `make system` does it as root, as .ci/run does)"
)
PII = re.compile(r"@example\.com|555-01\d\d")


def _syslog_ng_config(stack: Stack, port: int) -> str:
    """docs/shipping/syslog-ng.conf with only its `@define` lines pointed at this stack."""
    defines = {"rdp_url": f"{stack.api}/ingest", "listen_port": str(port)}
    text = (SHIPPING / "syslog-ng.conf").read_text()
    for name, value in defines.items():
        pattern, line = rf'^@define {name} ".*"$', f'@define {name} "{value}"'
        text, found = re.subn(pattern, line, text, count=1, flags=re.M)
        assert found == 1, f"docs/shipping/syslog-ng.conf lost its @define {name}"
    return text


@pytest.fixture
def syslog_ng(stack: Stack, tmp_path: Path) -> Iterator[int]:
    """syslog-ng running the documented configuration; yields the TCP port it listens on."""
    binary = shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"
    if not Path(binary).exists():
        pytest.fail(INSTALL_SYSLOG_NG)
    port = free_port()
    config = tmp_path / "syslog-ng.conf"
    config.write_text(_syslog_ng_config(stack, port))
    command = [binary, "-F", "-e", "-f", str(config), "-R", str(tmp_path / "persist")]
    command += ["-p", str(tmp_path / "pid"), "-c", str(tmp_path / "ctl"), "--no-caps"]
    with (tmp_path / "syslog-ng.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, "syslog-ng", seconds=20)
        yield port
    finally:
        stop(process)


def _send(port: int, lines: list[str]) -> None:
    """Write RFC 3164 lines to syslog-ng, as an application's syslog client would."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall("".join(f"{line}\n" for line in lines).encode())


def _line(program: str, text: str, host: str = "web-1") -> str:
    return f"<12>{time.strftime('%b %d %H:%M:%S')} {host} {program}[4242]: {text}"


def test_syslog_ng_batches_land_redacted_in_each_tenants_partition(
    stack: Stack, syslog_ng: int
) -> None:
    tenants = ("acme", "beta_inc")
    lines = [
        _line(tenants[i % 2], f"order {i} paged ann{i}@example.com at 555-01{i:02d}")
        for i in range(30)
    ]
    lines.insert(7, _line("no/such:tenant", "a tenant id no API accepts"))  # its item alone fails
    _send(syslog_ng, lines)
    for tenant in tenants:
        items = stack.wait_for_stored(tenant, 15)
        assert len(items) == 15
        for item in items:
            assert not PII.search(item["modified_data"]), item
            assert item["modified_data"].startswith("order ")
            attributes = json.loads(item["attributes"])
            assert (attributes["program"], attributes["host"]) == (tenant, "web-1")
            assert item["event_time"].endswith("Z")


def test_a_batch_refused_whole_does_not_stop_the_next(stack: Stack, syslog_ng: int) -> None:
    _send(syslog_ng, [_line("bad/tenant", f"refused {i}") for i in range(3)])
    deadline = time.monotonic() + 30
    while not any('"status":400' in line for line in stack.output):  # the batch was answered
        assert time.monotonic() < deadline, "".join(stack.output)
        time.sleep(0.2)
    _send(syslog_ng, [_line("after_refusal", "the next batch still arrives")])
    [item] = stack.wait_for_stored("after_refusal", 1)
    assert item["modified_data"] == "the next batch still arrives"


def test_the_opentelemetry_sdk_exports_to_v1_logs(stack: Stack) -> None:
    environment = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{stack.api}/v1/logs",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "gzip",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=checkout,tenant.id=otel_acme",
    }
    messages = [f"payment {i} failed for ann{i}@example.com, call 555-01{i:02d}" for i in range(5)]
    finished = subprocess.run(
        [sys.executable, str(SHIPPING / "otel_python.py"), *messages],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Failed to export" not in finished.stderr, finished.stderr
    items = stack.wait_for_stored("otel_acme", len(messages))
    assert sorted(item["modified_data"] for item in items) == [
        f"payment {i} failed for [REDACTED], call [REDACTED]" for i in range(len(messages))
    ]
    for item in items:
        attributes = json.loads(item["attributes"])
        assert attributes["severity"] == "WARN"
        assert attributes["resource"]["service.name"] == "checkout"
        assert attributes["attributes"]["order.id"] == "A-1042"
