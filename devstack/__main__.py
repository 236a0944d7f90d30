"""Run the whole pipeline on this machine: `python -m devstack` (what `make dev` runs).

Starts the AWS emulator (`devstack.emulator`), creates the stage's queue, dead-letter queue,
tables, stream and archive bucket in it, serves the API with Chalice's local server, runs the
queue consumer that feeds the worker, and expires and archives logs (`devstack.expire`). Their
output (one JSON line per event) is relayed to the terminal, under a status line of queue
depths, logs stored, lag and failures (`devstack.status`). Ctrl-C (or SIGTERM) stops all of them.
`EMULATOR_PORT` and `API_PORT` move the ports.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, cast

from chalicelib.config import load_settings
from devstack.processes import ensure_free, stop_all, wait_for_port
from devstack.resources import provision_stack
from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
from devstack.status import PipelineWatch, StatusLine, read_depths
from infra.stage import PROJECT_DIR

READY_LINE = "devstack ready"


@contextmanager
def _children() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        stop_all(processes)


#: The tenants of the README's examples, each given an API key when the stack starts.
DEMO_TENANTS = ("acme", "beta_inc")


def emulator_log_file(port: int) -> Path:
    """Where the emulator's output goes: outside the project, which `chalice local` watches.

    Its reloader restarts the server on any file written under the project directory, and the
    emulator writes a line per request.
    """
    state = os.environ.get("XDG_STATE_HOME") or tempfile.gettempdir()
    path = Path(state) / "robust-data-processor" / f"emulator-{port}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _banner(
    api_port: int,
    emulator_url: str,
    stage: str,
    keys: dict[str, str],
    keyed_ingest: bool,
    emulator_log_path: Path,
) -> str:
    api = f"http://{EMULATOR_HOST}:{api_port}"
    auth = {tenant: f"-H 'Authorization: Bearer {key}'" for tenant, key in keys.items()}
    ingest_auth = {tenant: f" {header}" if keyed_ingest else "" for tenant, header in auth.items()}
    mode = "a tenant's key (INGEST_AUTH=required)" if keyed_ingest else "no key (INGEST_AUTH=open)"
    return f"""
Robust Data Processor, stage {stage}, running locally:
  API        {api}/ingest, {api}/v1/logs (OTLP), {api}/logs
  emulator   {emulator_url} (SQS and DynamoDB), its log in {emulator_log_path}

Send logs from another shell; ingest takes {mode}:
  curl -X POST {api}/ingest -H 'Content-Type: application/json'{ingest_auth["acme"]} \\
       -d '{{"tenant_id": "acme", "log_id": "101", "text": "User 555-0199 logged in"}}'
  curl -X POST {api}/ingest -H 'Content-Type: text/plain'{ingest_auth["beta_inc"]} \\
       -H 'X-Tenant-ID: beta_inc' -d 'Error - 555-0100 - NullPointerException at module X'

Read them back; each key sees its own tenant's logs and nothing else:
  curl {api}/logs {auth["acme"]}
  curl {api}/logs {auth["beta_inc"]}

Look at what was stored (EMULATOR_PORT={emulator_url.rsplit(":", 1)[1]}):
  make logs                 every tenant, straight from the table
  make logs TENANT=acme     one tenant's partition
  make tenant-key TENANT=acme, make revoke-key KEY_ID=...   more keys, fewer keys

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
    emulator_log_path = emulator_log_file(emulator_port)
    ensure_free(emulator_port, "the emulator", "EMULATOR_PORT")
    ensure_free(api_port, "the API server", "API_PORT")

    api_env = local_environment(args.stage, "api_handler", emulator_url)
    worker_env = local_environment(args.stage, "worker", emulator_url)
    python = sys.executable
    try:
        # Left in reverse order: the children stop first, then the watch relays their last words.
        with (
            PipelineWatch(StatusLine(sys.stdout, live=sys.stdout.isatty())) as watch,
            _children() as processes,
            emulator_log_path.open("wb") as emulator_log,
        ):
            emulator = subprocess.Popen(
                [python, "-m", "devstack.emulator", "--port", str(emulator_port)],
                stdout=emulator_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # out of reach of the terminal's Ctrl-C: it stops last
            )
            processes.append(emulator)
            wait_for_port(emulator_port, emulator, "the emulator")
            resources = provision_stack(api_env, worker_env)
            keys = _demo_keys(api_env)
            api = [python, "-m", "devstack.api", "--stage", args.stage, "--port", str(api_port)]
            consumer = [python, "-m", "devstack.consume", "--stage", args.stage]
            expire = [python, "-m", "devstack.expire", "--stage", args.stage]
            archiver_env = local_environment(args.stage, "archiver", emulator_url)
            processes.append(_relayed(watch, api, api_env))
            processes.append(_relayed(watch, consumer, worker_env))
            processes.append(_relayed(watch, expire, archiver_env))
            wait_for_port(api_port, processes[1], "the API server")
            keyed_ingest = load_settings(api_env).ingest_auth == "required"
            watch.write(
                _banner(api_port, emulator_url, args.stage, keys, keyed_ingest, emulator_log_path)
            )
            sqs = emulator_client(worker_env, "sqs")
            watch.poll_depths(
                partial(read_depths, sqs, resources.queue_url, resources.dead_letter_queue_url)
            )
            _watch(processes, Path(emulator_log.name), watch.refresh)
    except KeyboardInterrupt:
        print("\nstopped", flush=True)


def _relayed(
    watch: PipelineWatch, command: list[str], environment: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start a child whose output (stdout and stderr, one stream) the watch relays and counts."""
    process = subprocess.Popen(
        command,
        env={**environment, "PYTHONUNBUFFERED": "1"},  # each line as it happens, not per 8 KB
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    watch.relay(cast(IO[bytes], process.stdout))  # a pipe: stdout=PIPE above
    return process


def _demo_keys(environment: dict[str, str]) -> dict[str, str]:
    """A fresh API key for each demo tenant, in the emulator's tenants table."""
    from chalicelib.keys import create_key

    dynamodb = emulator_client(environment, "dynamodb")
    table = load_settings(environment).tenants_table_name
    now = datetime.now(UTC)
    return {tenant: create_key(dynamodb, table, tenant, now).key for tenant in DEMO_TENANTS}


def _watch(
    processes: list[subprocess.Popen[bytes]], emulator_log: Path, refresh: Callable[[], None]
) -> None:
    """Block until a child dies (then fail loudly) or the user interrupts; refresh meanwhile."""
    names = ["the emulator", "the API server", "the consumer", "the TTL sweeper and archiver"]
    while True:
        for name, process in zip(names, processes, strict=True):
            if process.poll() is not None:
                raise SystemExit(
                    f"{name} exited with code {process.returncode}; see the output above"
                    + (f" and {emulator_log}" if process is processes[0] else "")
                )
        time.sleep(0.5)
        refresh()


if __name__ == "__main__":
    main()
