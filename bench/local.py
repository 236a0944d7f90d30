"""Local end to end: load on `chalice local` and the emulator, and the time from POST to item.

The stack is the one `make dev` runs (and the end-to-end tests start), on free ports, without
simulated work or crashes. Client threads post realistic logs over keep-alive connections for
a fixed time per round; then, once the queue is drained, single logs are posted one at a time
and the table is polled until each is stored.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from bench.figures import Figure, Row, Section
from bench.workload import log_lines

_POLL_SECONDS: Final = 0.02
_STORED_WITHIN: Final = 60.0
_DRAINED_WITHIN: Final = 300.0
_STAGE: Final = "dev"


@dataclass
class _Round:
    """What the clients of one round saw."""

    latencies: list[float] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(connection: http.client.HTTPConnection, tenant: str, log_id: str, text: str) -> int:
    body = json.dumps({"tenant_id": tenant, "log_id": log_id, "text": text})
    connection.request("POST", "/ingest", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def _client(api: str, tenant: str, number: int, until: float, seen: _Round) -> None:
    address = urlsplit(api)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    texts = log_lines(50, pii=True, seed=number)
    sent = 0
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            status = _post(connection, tenant, str(uuid.uuid4()), texts[sent % len(texts)])
            elapsed = time.perf_counter() - started
            with seen.lock:
                seen.latencies.append(elapsed)
                if status != 202:
                    seen.failures.append(status)
            sent += 1
    finally:
        connection.close()


def _load(api: str, clients: int, seconds: float) -> tuple[_Round, float]:
    seen = _Round()
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(api, tenant, number, until, seen))
        for number in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen, time.monotonic() - started


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _drain(sqs: Any, queue_url: str) -> None:
    """Wait until the consumer has taken every message off the queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + _DRAINED_WITHIN
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if not any(int(counts[name]) for name in names):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the local queue was not drained within {_DRAINED_WITHIN:g} s")


def _post_to_stored(api: str, dynamodb: Any, table: str) -> float:
    """Seconds from posting one log to reading its item from the table."""
    address = urlsplit(api)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    tenant, log_id = "bench-probe", str(uuid.uuid4())
    key = {"tenant_id": {"S": tenant}, "log_id": {"S": log_id}}
    started = time.perf_counter()
    status = _post(connection, tenant, log_id, log_lines(1, pii=True)[0])
    connection.close()
    if status != 202:
        raise RuntimeError(f"the local API answered {status} to a probe")
    while time.perf_counter() - started < _STORED_WITHIN:
        if "Item" in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True):
            return time.perf_counter() - started
        time.sleep(_POLL_SECONDS)
    raise RuntimeError(f"a probe was not stored within {_STORED_WITHIN:g} s")


def measure(rounds: int, seconds: float, clients: int, probes: int) -> Section:
    """`rounds` rounds of `clients` clients posting for `seconds`, then `probes` single logs."""
    import boto3

    from devstack.stack import running_stack
    from devstack.stage import local_environment
    from infra.stage import stage_settings

    settings = stage_settings(_STAGE, "worker")
    rates, medians, tails, failures = [], [], [], 0
    with running_stack() as stack:
        environment = local_environment(_STAGE, "worker", stack.emulator)
        session = boto3.session.Session(
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            region_name=environment["AWS_DEFAULT_REGION"],
        )
        sqs = session.client("sqs", endpoint_url=stack.emulator)
        dynamodb = session.client("dynamodb", endpoint_url=stack.emulator)
        queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
        for _ in range(rounds):
            seen, elapsed = _load(stack.api, clients, seconds)
            rates.append((len(seen.latencies) - len(seen.failures)) / elapsed)
            medians.append(statistics.median(seen.latencies) * 1000)
            tails.append(_percentile(seen.latencies, 0.99) * 1000)
            failures += len(seen.failures)
        _drain(sqs, queue_url)
        stored = [_post_to_stored(stack.api, dynamodb, settings.table_name) for _ in range(probes)]
    if failures:
        raise RuntimeError(f"{failures} requests of the load were not accepted")
    return Section(
        "Local end to end (chalice local + emulator)",
        [
            Row("accepted requests per second", "req/s", Figure.of(rates)),
            Row("latency p50", "ms", Figure.of(medians)),
            Row("latency p99", "ms", Figure.of(tails)),
            Row("POST to stored item, idle pipeline", "ms", Figure.of(stored).scaled(1000)),
        ],
        notes=[
            f"{clients} client threads on keep-alive connections for {seconds:g} s a round, "
            f"{rounds} round(s); figures are over rounds. The emulator answers one request at "
            "a time (see devstack/emulator.py) and the consumer pauses 0.1 s between empty "
            f"polls, which bounds both; the table is polled every {_POLL_SECONDS * 1000:g} ms.",
        ],
    )
