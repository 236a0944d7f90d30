"""Cold start: a fresh process answering its first `POST /ingest`, beside bare boto3's floor.

Both processes run the deployment package as `chalice package` builds it, unpacked and
read-only (`PYTHONDONTWRITEBYTECODE`), as Lambda runs it, with boto3 from the environment as
Lambda's runtime provides it. The app's process imports `app` and answers one API Gateway
proxy event through Chalice's Lambda entry; the floor's only does `import boto3;
boto3.client("sqs").send_message(...)`. Both send to the same stub, so botocore's real
serialization, signing and HTTP run in each. Pairs run back to back, in alternating order,
and the ratio is taken pair by pair.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench.figures import Figure, Row, Section, at_most, ratios
from bench.stub import stub_environment
from bench.workload import ingest_body, log_lines, proxy_event

TARGET: Final = 1.15

_APP: Final = """
import json, sys, time
event = json.loads(sys.argv[1])
import app
imported = time.monotonic()
answer = app.app(event, None)
print(answer["statusCode"], imported, time.monotonic())
"""
FLOOR: Final = """
import sys, time
import boto3
imported = time.monotonic()
boto3.client("sqs").send_message(QueueUrl=sys.argv[1], MessageBody=sys.argv[2])
print(200, imported, time.monotonic())
"""
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)")
_SDK = ("boto3", "botocore", "urllib3", "s3transfer", "jmespath", "dateutil", "six")
_SHOWN_GROUPS = 12
#: What only `POST /v1/logs` may load, inside `chalicelib.otlp`'s functions: were `/ingest`'s
#: cold start to import any of it, each would have its row in the import-time breakdown.
OTLP_ONLY: Final = ("google.protobuf", "opentelemetry")


class ColdProcess:
    """How to start one kind of cold process: its code, arguments, environment and Python.

    The code prints its status, then the monotonic times at the end of its imports and at its
    answer, as its last line.
    """

    def __init__(
        self,
        code: str,
        arguments: Sequence[str],
        environment: dict[str, str],
        python: str = sys.executable,
    ) -> None:
        self.code = code
        self.arguments = list(arguments)
        self.environment = environment
        self.python = python

    def run(self, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
        """Run the process once in `cwd`, with interpreter `options`, and wait for it."""
        return subprocess.run(
            [self.python, *options, "-c", self.code, *self.arguments],
            cwd=cwd,
            env=self.environment,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )

    def time(self, cwd: Path) -> tuple[float, float]:
        """Seconds from starting the process to its answer, and to the end of its imports."""
        started = time.monotonic()
        # The app's event line for the request comes first; the script's answer is the last.
        status, imported, answered = self.run(cwd).stdout.splitlines()[-1].split()
        if status not in {"200", "202"}:
            raise RuntimeError(f"the cold process answered {status}, not success")
        return float(answered) - started, float(imported) - started


def _group(module: str) -> str:
    """Import-time rows: chalicelib module by module, anything else by its top package.

    `google` is a namespace many distributions share, so its packages count one by one
    (`google.protobuf`).
    """
    if module.startswith("chalicelib."):
        return module
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "google" else parts[0]


def otlp_imports_note(app: list[dict[str, int]]) -> str:
    """Whether the app's cold start imported any of `OTLP_ONLY`, said from its import reports."""
    found = sorted({module for run in app for module in run if _group(module) in OTLP_ONLY})
    watched = " or ".join(f"`{group}`" for group in OTLP_ONLY)
    if not found:
        return (
            f"OTLP's decoding stays off `/ingest`'s cold start: no module of {watched} is among "
            "the imports above, though any would have its row. `POST /v1/logs` imports "
            "`chalicelib.otlp_ingest` on its first call, as the other routes and the worker "
            "import theirs, and protobuf and the OpenTelemetry classes load only inside the "
            "functions that decode protobuf."
        )
    shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
    return (
        f"`/ingest`'s cold start imports {len(found)} modules of {watched} ({shown}), which "
        "only `POST /v1/logs` needs: their rows above are what the route costs every cold start."
    )


def _self_times(output: str) -> dict[str, int]:
    """Microseconds each module spent importing itself, from `-X importtime`'s report."""
    return {match[2]: int(match[1]) for match in _IMPORT_LINE.finditer(output)}


def _import_rows(
    app: list[dict[str, int]], floor: list[dict[str, int]]
) -> tuple[list[Row], Figure, Figure]:
    """Rows of what the app adds, by group; and the app's total and the SDK's, in ms."""
    extra_runs: list[dict[str, float]] = []
    for app_run, floor_run in zip(app, floor, strict=True):
        extra: dict[str, float] = defaultdict(float)
        for module, micros in app_run.items():
            if module not in floor_run:
                extra[_group(module)] += micros / 1000
        extra_runs.append(extra)
    groups = {group for run in extra_runs for group in run}
    figures = {group: Figure.of(run.get(group, 0.0) for run in extra_runs) for group in groups}
    ranked = sorted(figures, key=lambda group: -figures[group].median)
    shown = ranked[:_SHOWN_GROUPS] + [g for g in ranked[_SHOWN_GROUPS:] if g in OTLP_ONLY]
    rows = [Row(f"app adds: {group}", "ms", figures[group]) for group in shown]
    rest_groups = [group for group in ranked if group not in shown]
    if rest_groups:
        rest = Figure.of(sum(run.get(group, 0.0) for group in rest_groups) for run in extra_runs)
        rows.append(Row("app adds: everything else", "ms", rest))
    total = Figure.of(sum(run.values()) for run in extra_runs)
    sdk = Figure.of(
        sum(micros for module, micros in run.items() if _group(module) in _SDK) / 1000
        for run in floor
    )
    rows.append(Row("app adds: total", "ms", total))
    rows.append(Row("both: boto3, botocore and their dependencies", "ms", sdk))
    return rows, total, sdk


def _processes(endpoint: str, package: Path) -> tuple[ColdProcess, ColdProcess]:
    environment = {
        **os.environ,
        **stub_environment(endpoint),
        "PYTHONPATH": str(package),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    headers, body = ingest_body(log_lines(1, pii=True)[0], "json")
    app = ColdProcess(_APP, [json.dumps(proxy_event(headers, body))], environment)
    floor = ColdProcess(FLOOR, [environment["QUEUE_URL"], body], environment)
    return app, floor


def measure(endpoint: str, package: Path, pairs: int, import_runs: int) -> list[Section]:
    """Time `pairs` cold starts of each kind and `import_runs` import-time reports of each."""
    app, floor = _processes(endpoint, package)
    app.time(package)  # a first run of each warms the file cache, as a busy host would have
    floor.time(package)
    samples: dict[ColdProcess, list[tuple[float, float]]] = {app: [], floor: []}
    for pair in range(pairs):
        for process in (app, floor) if pair % 2 == 0 else (floor, app):
            samples[process].append(process.time(package))
    (app_totals, app_imports), (floor_totals, floor_imports) = (
        zip(*samples[process], strict=True) for process in (app, floor)
    )
    app_reports, floor_reports = (
        [_self_times(process.run(package, "-X", "importtime").stderr) for _ in range(import_runs)]
        for process in (app, floor)
    )
    imports, added, sdk = _import_rows(app_reports, floor_reports)
    ratio = ratios(app_totals, floor_totals)
    cold = Section(
        "Cold start",
        [
            Row(
                "first POST /ingest in a fresh process",
                "ms",
                Figure.of(app_totals).scaled(1000),
                floor=Figure.of(floor_totals).scaled(1000),
                ratio=ratio,
                target=at_most(TARGET, ratio.median),
            ),
            Row(
                "  of which, in the app: start and `import app`",
                "ms",
                Figure.of(app_imports).scaled(1000),
            ),
            Row(
                "  of which, in the floor: start and `import boto3`",
                "ms",
                Figure.of(floor_imports).scaled(1000),
            ),
        ],
        floor_label="import boto3; send_message",
        ratio_label="x floor",
        notes=[
            "Each process runs the unpacked deployment package with no bytecode cache written, "
            "as Lambda runs it; the app imports boto3 on its first request, not at start.",
            f"Importing boto3, botocore and their dependencies takes {sdk.median:.0f} ms of self "
            f"time in both processes and the app adds {added.median:.0f} ms of its own (next "
            "section): most of a cold start is the AWS SDK's, not ours.",
        ],
    )
    breakdown = Section(
        "Cold start: import time the app adds (python -X importtime)",
        imports,
        notes=[
            "Self time of every module the app's process imports and the floor's does not, "
            "grouped by package; -X importtime's own bookkeeping inflates every figure a "
            "little. The last row is what both processes spend on the AWS SDK.",
            otlp_imports_note(app_reports),
        ],
    )
    return [cold, breakdown]
