"""Child processes of the local stack: a free port, waiting for a server, stopping in order.

Shared by `make dev` (`devstack.__main__`) and the chaos soak (`soak.chaos`), which both run
the emulator, the API server and the consumer as processes of their own.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence

from devstack.stage import EMULATOR_HOST

STARTUP_SECONDS = 60
STOP_SECONDS = 10


def free_port() -> int:
    """A port nothing on the loopback address listens on now, never the `make dev` defaults."""
    with socket.socket() as probe:
        probe.bind((EMULATOR_HOST, 0))
        return int(probe.getsockname()[1])


def ensure_free(port: int, name: str, variable: str) -> None:
    """Exit, naming `variable`, if something already listens on `port`.

    A leftover emulator of an earlier run would otherwise answer in the new one's place, with
    the tables an older version made.
    """
    with socket.socket() as probe:
        if probe.connect_ex((EMULATOR_HOST, port)) == 0:
            raise SystemExit(
                f"port {port} for {name} is in use (another `make dev`, or what is left of "
                f"one?): stop it, or set {variable} to a free port"
            )


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, seconds: float = STARTUP_SECONDS
) -> None:
    """Return once `process` listens on `port`; exit naming `name` if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection((EMULATOR_HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not listen on {EMULATOR_HOST}:{port} within {seconds:g} s")


def stop(process: subprocess.Popen[bytes], seconds: float = STOP_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `seconds`.

    SIGTERM, not SIGINT: a process started in the background by a shell ignores SIGINT, and
    so do its children. The consumer finishes its in-flight batches on SIGTERM too.
    """
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_all(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Stop the children newest first, so the consumer settles its batches while SQS still runs."""
    for process in reversed(processes):
        stop(process)
