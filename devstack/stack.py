"""The whole local stack as `make dev` runs it, started on free ports for tests that talk HTTP.

Tests and `make bench` start it here. Each test module that asks for the `stack` fixture
(tests/conftest.py) gets its own stack, so a module that stops it (test_e2e's Ctrl-C test)
cannot pull it from under another.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from devstack.__main__ import READY_LINE
from devstack.processes import free_port
from infra.stage import PROJECT_DIR, stage_settings

STARTUP_SECONDS = 90
#: How long a test waits for the consumer to store what it posted.
PROCESSING_SECONDS = 60
#: The stage the stack runs: dev, with the shell's overrides below.
STAGE = "dev"


@dataclass
class Stack:
    """A running `python -m devstack`: its process, its API and emulator URLs, its output."""

    process: subprocess.Popen[str]
    api: str
    emulator: str
    output: list[str]

    def stored(self, tenant: str) -> list[dict[str, Any]]:
        """The items in `tenant`'s partition of the logs table, as plain Python values."""
        import boto3
        from boto3.dynamodb.types import TypeDeserializer

        dynamodb = boto3.client("dynamodb", endpoint_url=self.emulator)
        pages = dynamodb.get_paginator("query").paginate(
            TableName=stage_settings(STAGE, "worker").table_name,
            KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": tenant}},
        )
        plain = TypeDeserializer().deserialize
        return [
            {name: plain(value) for name, value in item.items()}
            for page in pages
            for item in page["Items"]
        ]

    def wait_for_stored(
        self,
        tenant: str,
        count: int,
        including: Collection[str] = (),
        seconds: float = PROCESSING_SECONDS,
    ) -> list[dict[str, Any]]:
        """`tenant`'s items once there are `count` and the logs `including` names are among them.

        Fails after `seconds`.
        """
        deadline = time.monotonic() + seconds
        while len(items := self.stored(tenant)) < count or not set(including) <= {
            item["log_id"] for item in items
        }:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError(
                    f"{len(items)} of {count} logs of {tenant!r} stored:\n" + "".join(self.output)
                )
            time.sleep(0.3)
        return items


def _read_lines(process: subprocess.Popen[str], kept: list[str]) -> None:
    for line in process.stdout or ():
        kept.append(line)


@contextmanager
def running_stack() -> Iterator[Stack]:
    """Start the dev stage without simulated work or crashes, wait until ready, stop it after."""
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
        [sys.executable, "-m", "devstack", "--stage", STAGE],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=_read_lines, args=(process, output), daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while READY_LINE not in "".join(output):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start:\n" + "".join(output))
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


def demo_keys(stack: Stack) -> dict[str, dict[str, str]]:
    """The keys `make dev` printed for the demo tenants, as request headers."""
    printed = re.findall(r"curl \S+/logs -H 'Authorization: (Bearer \S+)'", "".join(stack.output))
    return {
        tenant: {"Authorization": header}
        for tenant, header in zip(("acme", "beta_inc"), printed, strict=True)
    }
