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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from devstack.__main__ import READY_LINE
from devstack.processes import free_port
from infra.stage import PROJECT_DIR

STARTUP_SECONDS = 90


@dataclass
class Stack:
    """A running `python -m devstack`: its process, its API and emulator URLs, its output."""

    process: subprocess.Popen[str]
    api: str
    emulator: str
    output: list[str]


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
        [sys.executable, "-m", "devstack", "--stage", "dev"],
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
