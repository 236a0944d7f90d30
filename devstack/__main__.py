"""Run the whole pipeline on this machine: `python -m devstack` (what `make dev` runs).

Starts the AWS emulator (`devstack.emulator`), creates the stage's queue, dead-letter queue and
table in it, serves the API with Chalice's local server, and runs the queue consumer that feeds
the worker. Ctrl-C (or SIGTERM) stops all of them. `EMULATOR_PORT` and `API_PORT` move the ports.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stage import EMULATOR_HOST, PROJECT_DIR, local_environment

READY_LINE = "devstack ready"
_STARTUP_SECONDS = 60
_STOP_SECONDS = 10


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection((EMULATOR_HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not listen on {EMULATOR_HOST}:{port} within {_STARTUP_SECONDS} s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the children newest first, so the consumer settles its batches while SQS still runs.

    SIGTERM, not SIGINT: a process started in the background by a shell ignores SIGINT, and
    so do its children. The consumer finishes its in-flight batches on SIGTERM too.
    """
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _children() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        _stop(processes)


def _banner(api_port: int, emulator_url: str, stage: str) -> str:
    api = f"http://{EMULATOR_HOST}:{api_port}"
    return f"""
Robust Data Processor, stage {stage}, running locally:
  API        {api}/ingest
  emulator   {emulator_url} (SQS and DynamoDB)

Send logs from another shell:
  curl -X POST {api}/ingest -H 'Content-Type: application/json' \\
       -d '{{"tenant_id": "acme", "log_id": "101", "text": "User 555-0199 logged in"}}'
  curl -X POST {api}/ingest -H 'Content-Type: text/plain' \\
       -H 'X-Tenant-ID: beta_inc' -d 'Error - 555-0100 - NullPointerException at module X'

Look at what was stored (EMULATOR_PORT={emulator_url.rsplit(":", 1)[1]}):
  make logs                 every tenant
  make logs TENANT=acme     one tenant's partition

Ctrl-C stops everything.
{READY_LINE}"""


def main() -> None:
    """Start the emulator, provision it, start the API and the consumer, and wait."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    args = parser.parse_args()
    # Ctrl-C works even when started from a background job, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    emulator_port = int(os.environ.get("EMULATOR_PORT", "5000"))
    api_port = int(os.environ.get("API_PORT", "8000"))
    emulator_url = f"http://{EMULATOR_HOST}:{emulator_port}"
    log_dir = PROJECT_DIR / "build" / "local"
    log_dir.mkdir(parents=True, exist_ok=True)

    api_env = local_environment(args.stage, "api_handler", emulator_url)
    worker_env = local_environment(args.stage, "worker", emulator_url)
    python = sys.executable
    try:
        with _children() as processes, (log_dir / "emulator.log").open("wb") as emulator_log:
            emulator = subprocess.Popen(
                [python, "-m", "devstack.emulator", "--port", str(emulator_port)],
                stdout=emulator_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # out of reach of the terminal's Ctrl-C: it stops last
            )
            processes.append(emulator)
            _wait_for_port(emulator_port, emulator, "the emulator")
            queue_url = _provision(worker_env)
            for env in (api_env, worker_env):
                env["QUEUE_URL"] = queue_url
            api_command = [python, "-m", "devstack.api", "--stage", args.stage]
            processes.append(
                subprocess.Popen(
                    [*api_command, "--port", str(api_port)], env=api_env, cwd=PROJECT_DIR
                )
            )
            processes.append(
                subprocess.Popen(
                    [python, "-m", "devstack.consume", "--stage", args.stage],
                    env=worker_env,
                    cwd=PROJECT_DIR,
                )
            )
            _wait_for_port(api_port, processes[1], "the API server")
            print(_banner(api_port, emulator_url, args.stage), flush=True)
            _watch(processes, Path(emulator_log.name))
    except KeyboardInterrupt:
        print("\nstopped", flush=True)


def _provision(environment: dict[str, str]) -> str:
    """Create the stage's resources in the emulator and return the queue's URL."""
    import boto3

    from chalicelib.config import load_settings
    from devstack.resources import provision

    session = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    endpoint = environment["AWS_ENDPOINT_URL"]
    resources = provision(
        load_settings(environment),
        session.client("sqs", endpoint_url=endpoint),
        session.client("dynamodb", endpoint_url=endpoint),
    )
    return resources.queue_url


def _watch(processes: list[subprocess.Popen[bytes]], emulator_log: Path) -> None:
    """Block until a child dies (then fail loudly) or the user interrupts."""
    names = ["the emulator", "the API server", "the consumer"]
    while True:
        for name, process in zip(names, processes, strict=True):
            if process.poll() is not None:
                raise SystemExit(
                    f"{name} exited with code {process.returncode}; see the output above"
                    + (f" and {emulator_log}" if process is processes[0] else "")
                )
        time.sleep(0.5)


if __name__ == "__main__":
    main()
