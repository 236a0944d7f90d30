"""Time one Lambda handler warm beside a bare `send_message`, in a process of its own.

`python -m bench.timed_handler module:handler` with the handler's directory first on
`PYTHONPATH`: any virtualenv holding boto3 runs it (ours, or the peers' `.venv-peers`), since
it imports only the standard library, boto3, `bench.workload` and the handler. It reads a JSON
list of cases from stdin, each `{"name", "event", "queue_body", "requests"}`, and prints one
JSON object: for each case, the handler's and the floor's seconds per call, taken in
interleaved pairs. The handler's own output (event lines, logs, metrics) goes to /dev/null, as
it would go to CloudWatch, so it costs what writing it costs and is never read.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Final

WARM_UP: Final = 10


def elapsed(call: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def interleaved(
    handler: Callable[[], object], floor: Callable[[], object], pairs: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of `handler` and of `floor`, after a warm-up, in alternating pairs.

    Each pair runs one of each back to back, first one then the other first, so both sides of
    a pair saw the same machine and neither always goes first.
    """
    for _ in range(WARM_UP):
        handler()
        floor()
    handled, floors = [], []
    for index in range(pairs):
        if index % 2 == 0:
            handled.append(elapsed(handler))
            floors.append(elapsed(floor))
        else:
            floors.append(elapsed(floor))
            handled.append(elapsed(handler))
    return handled, floors


def _handler(spec: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    module, _, attribute = spec.partition(":")
    found: Callable[[dict[str, Any], Any], dict[str, Any]]
    found = getattr(importlib.import_module(module), attribute)
    return found


def _case(
    handle: Callable[[dict[str, Any], Any], dict[str, Any]], case: dict[str, Any], sqs: Any
) -> dict[str, list[float]]:
    from bench.workload import LambdaContext

    event, context, name = case["event"], LambdaContext(), case["name"]
    queue_url, queue_body = os.environ["QUEUE_URL"], case["queue_body"]

    def handler() -> None:
        answer = handle(event, context)
        if answer["statusCode"] != 202:
            raise RuntimeError(f"{name}: answered {answer['statusCode']}: {answer['body']}")

    def floor() -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=queue_body)

    handled, floors = interleaved(handler, floor, case["requests"])
    return {"handler": handled, "floor": floors}


def main() -> None:
    """Time the handler named on the command line on the cases read from stdin."""
    import boto3

    cases = json.load(sys.stdin)
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    with open(os.devnull, "w") as discard:
        os.dup2(discard.fileno(), sys.stdout.fileno())
    handle = _handler(sys.argv[1])
    sqs = boto3.session.Session().client("sqs")
    timings = {case["name"]: _case(handle, case, sqs) for case in cases}
    results.write(json.dumps(timings))
    results.close()


if __name__ == "__main__":
    main()
