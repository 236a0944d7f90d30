"""Peers: ours beside what a user would pick instead, in the same run, on the same stub.

The peers do our ingest's job for one JSON log (validate tenant id, log id and text, build the
queue message, `SendMessage`, answer 202 with the log id), written as their users write them:
FastAPI + Mangum + pydantic (`bench/peers/fastapi_ingest.py`) and a Powertools
`APIGatewayRestResolver` with its Logger and Metrics (`bench/peers/powertools_ingest.py`).
They run on the peers' own virtualenv (`.venv-peers`, from `requirements-peers.txt`), with
bytecode compiled as a deployment package would carry it; ours runs from the unpacked
deployment package, as in the cold start section. Every contender gets the same API Gateway
proxy events and the same stub, and is compared with the bare boto3 call measured beside it:
a fresh `import boto3; send_message` process for the cold start, the same client call
interleaved in the same process when warm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from bench.coldstart import FLOOR, ColdProcess
from bench.figures import Figure, Row, Section, below, ratios
from bench.ingest import queue_body
from bench.stub import stub_environment
from bench.workload import ingest_body, log_lines, log_text, proxy_event
from infra.stage import PROJECT_DIR

TITLE: Final = "Peers: cold start and warm ingest"
PEERS_VENV: Final = PROJECT_DIR / ".venv-peers"
PEER_PACKAGES: Final = ("fastapi", "mangum", "pydantic", "aws-lambda-powertools", "boto3")
_SOURCES: Final = Path(__file__).parent / "peers"
_T = TypeVar("_T")

#: A fresh process: import the handler's module, then answer one event (argv: handler, event).
_HANDLER: Final = """
import importlib, json, sys, time
module, _, attribute = sys.argv[1].partition(":")
event = json.loads(sys.argv[2])
handler = getattr(importlib.import_module(module), attribute)
imported = time.monotonic()
from bench.workload import LambdaContext
answer = handler(event, LambdaContext())
print(answer["statusCode"], imported, time.monotonic())
"""


@dataclass(frozen=True)
class Contender:
    """One implementation of ingest: its name, its interpreter, its code and its entry point."""

    name: str
    python: str
    directory: Path
    handler: str

    def environment(self, endpoint: str) -> dict[str, str]:
        """Its code first on the path, then the project's (for `bench.workload`), on the stub."""
        return {
            **os.environ,
            **stub_environment(endpoint),
            "PYTHONPATH": os.pathsep.join([str(self.directory), str(PROJECT_DIR)]),
            "PYTHONDONTWRITEBYTECODE": "1",
        }


def peers_python() -> Path | None:
    """The peers' interpreter, or None when `.venv-peers` is not built."""
    python = PEERS_VENV / "bin" / "python"
    return python if python.exists() else None


def _contenders(package: Path, scratch: Path, python: Path | None) -> list[Contender]:
    """Ours, and the peers when their virtualenv exists, their code compiled in `scratch`."""
    ours = Contender("ours (Chalice)", sys.executable, package, "app:app")
    if python is None:
        return [ours]
    directory = scratch / "peers"
    directory.mkdir(parents=True)
    for source in _SOURCES.glob("*.py"):
        shutil.copy(source, directory)
    subprocess.run([str(python), "-m", "compileall", "-q", str(directory)], check=True)
    return [
        ours,
        Contender("FastAPI + Mangum + pydantic", str(python), directory, "fastapi_ingest:handler"),
        Contender(
            "Powertools resolver + Logger + Metrics",
            str(python),
            directory,
            "powertools_ingest:handler",
        ),
    ]


def _rotated(items: Sequence[_T], turn: int) -> list[_T]:
    """`items` started at position `turn`, so that no one always goes first."""
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


def _cold_rows(endpoint: str, contenders: list[Contender], rounds: int) -> list[Row]:
    """Each contender's cold start beside the floor's, rounds in rotating order."""
    headers, body = ingest_body(log_lines(1, pii=True)[0], "json")
    event = json.dumps(proxy_event(headers, body))
    environment = stub_environment(endpoint)
    floor = ColdProcess(FLOOR, [environment["QUEUE_URL"], body], {**os.environ, **environment})
    processes = {
        ColdProcess(_HANDLER, [one.handler, event], one.environment(endpoint), one.python): (
            one.directory
        )
        for one in contenders
    }
    processes[floor] = PROJECT_DIR
    for process, directory in processes.items():  # a first run of each warms the file cache
        process.time(directory)
    totals: dict[ColdProcess, list[float]] = {process: [] for process in processes}
    for turn in range(rounds):
        for process in _rotated(list(processes), turn):
            totals[process].append(process.time(processes[process])[0])
    measured = [totals[process] for process in processes if process is not floor]
    rows = [
        Row(
            f"cold start: {one.name}",
            "ms",
            Figure.of(seconds).scaled(1000),
            floor=Figure.of(totals[floor]).scaled(1000),
            ratio=ratios(seconds, totals[floor]),
        )
        for one, seconds in zip(contenders, measured, strict=True)
    ]
    for one, seconds in zip(contenders[1:], measured[1:], strict=True):
        relative = ratios(measured[0], seconds)
        rows.append(
            Row(f"cold start: ours / {one.name}", "x", relative, target=below(1.0, relative.median))
        )
    return rows


@dataclass(frozen=True)
class _Warm:
    """One contender's warm timings of one case: per-call seconds, and each round's ratio."""

    handled: list[float]
    floors: list[float]
    round_ratios: list[float]


def _timed(
    contender: Contender, endpoint: str, cases: list[dict[str, object]]
) -> dict[str, dict[str, list[float]]]:
    answer = subprocess.run(
        [contender.python, "-m", "bench.timed_handler", contender.handler],
        input=json.dumps(cases),
        cwd=contender.directory,
        env=contender.environment(endpoint),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    timings: dict[str, dict[str, list[float]]] = json.loads(answer.stdout)
    return timings


def _warm_rows(
    endpoint: str, contenders: list[Contender], rounds: int, requests: int, large: int
) -> list[Row]:
    """Each contender warm, small and large body, beside a bare call in the same process."""
    texts = {"small": log_text(150, pii=True), "large": log_text(large, pii=True)}
    bodies = {size: ingest_body(text, "json") for size, text in texts.items()}
    cases: list[dict[str, object]] = [
        {
            "name": size,
            "event": proxy_event(*bodies[size]),
            "queue_body": queue_body(text, "json"),
            "requests": max(1, requests // rounds),
        }
        for size, text in texts.items()
    ]
    warm = {(one.name, size): _Warm([], [], []) for one in contenders for size in texts}
    for turn in range(rounds):
        for one in _rotated(contenders, turn):
            for size, timing in _timed(one, endpoint, cases).items():
                found = warm[(one.name, size)]
                found.handled.extend(timing["handler"])
                found.floors.extend(timing["floor"])
                found.round_ratios.append(ratios(timing["handler"], timing["floor"]).median)
    rows = []
    for size, (_, body) in bodies.items():
        label = f"warm, {size} ({len(body.encode()) / 1024:.1f} KB body)"
        for one in contenders:
            found = warm[(one.name, size)]
            rows.append(
                Row(
                    f"{label}: {one.name}",
                    "ms",
                    Figure.of(found.handled).scaled(1000),
                    floor=Figure.of(found.floors).scaled(1000),
                    ratio=ratios(found.handled, found.floors),
                )
            )
        ours = warm[(contenders[0].name, size)].round_ratios
        for one in contenders[1:]:
            relative = ratios(ours, warm[(one.name, size)].round_ratios)
            rows.append(
                Row(
                    f"{label}: ours / {one.name}",
                    "x",
                    relative,
                    target=below(1.0, relative.median),
                )
            )
    return rows


def _versions(python: Path) -> str:
    code = (
        "import sys; from importlib.metadata import version; "
        "print(', '.join(f'{name} {version(name)}' for name in sys.argv[1:]))"
    )
    answer = subprocess.run(
        [str(python), "-c", code, *PEER_PACKAGES], capture_output=True, text=True, check=True
    )
    return answer.stdout.strip()


def measure(
    endpoint: str,
    package: Path,
    scratch: Path,
    cold_rounds: int,
    rounds: int,
    requests: int,
    large: int,
) -> Section:
    """Cold start and warm ingest of ours and each peer, `rounds` rounds of `requests` in all."""
    python = peers_python()
    contenders = _contenders(package, scratch, python)
    rows = _cold_rows(endpoint, contenders, cold_rounds)
    rows += _warm_rows(endpoint, contenders, rounds, requests, large)
    notes = [
        "The floor of a cold start is a fresh process doing `import boto3; "
        "boto3.client('sqs').send_message(...)`; warm, it is the same call from a client made "
        "once, interleaved call by call with the handler in the handler's own process. Each "
        "contender's x floor is taken pair by pair against its own floor.",
        "`ours / peer` is ours divided by the peer: for a cold start, round by round (each "
        "round starts every process once, in rotating order); warm, each round's median x "
        "floor over the peer's in the same round (each round runs every contender's process "
        "once, in rotating order). Below 1 we are ahead; a quotient whose min-max spans 1 "
        "is a tie on this machine, whatever side its median falls on. Where our own time goes "
        "at each body size is profiled in the warm ingest section's notes.",
        "Every contender's handler is called as Lambda calls it, `handler(event, context)`, "
        "with the same API Gateway proxy events carrying the same JSON log; each writes its "
        "request's line (our event line, Powertools' Logger line and EMF metrics; the FastAPI "
        "peer logs nothing, as its users' code usually does) to /dev/null.",
        "The FastAPI route is a plain `def`, as FastAPI's documentation says to write one that "
        "calls a blocking library such as boto3, so Starlette runs it in its thread pool; the "
        "Powertools route checks the fields by hand, as its resolver's documentation does "
        "without the optional pydantic validation.",
    ]
    if python is None:
        notes.insert(
            0,
            f"The peers were not measured: {PEERS_VENV.name} is missing. `make bench` builds it "
            "from requirements-peers.txt; the rows here are ours alone.",
        )
    else:
        notes.append(f"Peers' packages ({PEERS_VENV.name}): {_versions(python)}.")
    return Section(
        TITLE, rows, floor_label="bare boto3 send_message", ratio_label="x floor", notes=notes
    )
