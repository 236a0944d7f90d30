"""Batches: what one log costs when a request carries 1, 10, 100 or 1,000 of them.

For `POST /ingest` with NDJSON (shipper log objects, `bench.workload.shipper_logs`) and for
`POST /v1/logs` with a gzip-compressed protobuf export (`bench.otlp_export`), at each size: the
ingest function's time per log, through Chalice's Lambda entry as in the warm ingest section;
the SQS requests per log, counted by the stub; and the request's bytes per log, plain and gzip.
Each batch request is interleaved with a single-log `POST /ingest` of the first log as a JSON
object, the post a client sending one log a request makes, and the ratio taken pair by pair.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bench.figures import Figure, Row, Section, at_most, ratios
from bench.otlp_export import exports
from bench.stub import stub_calls, stub_process_environment
from bench.timed_handler import interleaved
from bench.workload import LambdaContext, ndjson_body, proxy_event, shipper_logs

SIZES: Final = (1, 10, 100, 1_000)
#: The size the issue sets its targets at, and the targets: time per log against a single-log
#: post, and SQS requests per log (SendMessageBatch carries 10).
TARGET_SIZE: Final = 100
TIME_TARGET: Final = 1 / 20
REQUESTS_TARGET: Final = 0.11
#: zlib's default level, the one shippers' gzip uses unless told otherwise.
GZIP_LEVEL: Final = 6
_QUEUE_OPERATIONS: Final = ("SendMessage", "SendMessageBatch")


@dataclass(frozen=True)
class Route:
    """One way of posting a batch: its name, its request, and its status when all is queued.

    `event(count)` is the proxy event of a request of `count` logs, and its body uncompressed.
    """

    name: str
    event: Callable[[int], tuple[dict[str, Any], bytes]]
    accepted: int


def _ndjson(count: int) -> tuple[dict[str, Any], bytes]:
    body = ndjson_body(shipper_logs(count))
    return proxy_event({"Content-Type": "application/x-ndjson"}, body), body


def _otlp(count: int) -> tuple[dict[str, Any], bytes]:
    body = exports(count).protobuf
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    compressed = gzip.compress(body, GZIP_LEVEL)
    return proxy_event(headers, compressed, "/v1/logs"), body


ROUTES: Final = (
    Route("/ingest NDJSON", _ndjson, 202),
    Route("/v1/logs protobuf+gzip", _otlp, 200),
)


def _caller(name: str, accepted: int, event: dict[str, Any]) -> Callable[[], None]:
    """A call of the app on `event`, checked once to queue every log, then on its status."""
    import app

    context = LambdaContext()

    def call() -> None:
        answer = app.app(event, context)
        if answer["statusCode"] != accepted:
            raise RuntimeError(f"{name}: answered {answer['statusCode']}: {answer['body']}")

    answer = app.app(event, context)
    body = answer["body"]
    if answer.get("isBase64Encoded"):
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceResponse,
        )

        rejected = ExportLogsServiceResponse.FromString(
            base64.b64decode(body)
        ).partial_success.rejected_log_records
    else:
        rejected = json.loads(body).get("rejected", 0)
    if answer["statusCode"] != accepted or rejected:
        raise RuntimeError(f"{name}: answered {answer['statusCode']}: {body[:300]}")
    return call


def _queue_requests(endpoint: str, call: Callable[[], None], count: int, samples: int) -> Figure:
    """SQS requests per log, counted by the stub around each of `samples` requests."""
    per_log = []
    for _ in range(samples):
        before = stub_calls(endpoint)
        call()
        after = stub_calls(endpoint)
        made = sum(after[name] - before[name] for name in _QUEUE_OPERATIONS)
        per_log.append(made / count)
    return Figure.of(per_log)


def _rows(
    endpoint: str, route: Route, count: int, pairs: int, single: Callable[[], None]
) -> list[Row]:
    event, body = route.event(count)
    label = f"{route.name}, {count:,} a request"
    call = _caller(label, route.accepted, event)
    handled, singles = interleaved(call, single, pairs)
    per_log = [seconds / count for seconds in handled]
    ratio = ratios(per_log, singles)
    targeted = route is ROUTES[0] and count == TARGET_SIZE
    requests = _queue_requests(endpoint, call, count, samples=3)
    compressed = len(gzip.compress(body, GZIP_LEVEL))
    return [
        Row(
            f"{label}: ingest time per log",
            "ms",
            Figure.of(per_log).scaled(1000),
            floor=Figure.of(singles).scaled(1000),
            ratio=ratio,
            target=at_most(TIME_TARGET, ratio.median) if targeted else None,
        ),
        Row(
            f"{label}: SQS requests per log",
            "requests",
            requests,
            target=at_most(REQUESTS_TARGET, requests.median, "") if targeted else None,
        ),
        Row(f"{label}: bytes per log", "B", Figure.of([len(body) / count])),
        Row(f"{label}: bytes per log, gzip", "B", Figure.of([compressed / count])),
    ]


def measure(endpoint: str, logs: int, least: int, most: int) -> Section:
    """Every route at every size, `logs` logs' worth of requests a size, `least` to `most`."""
    with stub_process_environment(endpoint):
        [first] = shipper_logs(1)
        single_event = proxy_event({"Content-Type": "application/json"}, json.dumps(first))
        single = _caller("single log", 202, single_event)
        rows = [
            row
            for route in ROUTES
            for count in SIZES
            for row in _rows(endpoint, route, count, max(least, min(most, logs // count)), single)
        ]
    return Section(
        "Batches: cost per log",
        rows,
        floor_label="single-log POST /ingest",
        ratio_label="per log / single post",
        notes=[
            "Per log, warm, through Chalice's Lambda entry on the same stub as the warm ingest "
            "section. NDJSON lines are log objects as syslog-ng's JSON template writes them "
            "(text, host, program, severity, an RFC 3339 timestamp, no log_id: each gets a "
            "generated one); OTLP exports are those of the OTLP decoding section, gzip-compressed "
            f"(level {GZIP_LEVEL}, as shippers' gzip by default) and decompressed by the route.",
            "The floor is a single-log `POST /ingest` of the first of those logs as a JSON "
            "object, interleaved request by request with the batch; per log / single post is "
            "the batch's time per log over the single post's time, pair by pair. SQS requests "
            "are the `SendMessage` and `SendMessageBatch` calls the stub answered during one "
            "request, per log: a batch sends up to 10 logs a call (256 KB), several calls at "
            "once. Bytes are the request body's, per log, plain and gzip-compressed.",
            "The stub answers in well under a millisecond, so a call costs what botocore's "
            "serializing, signing and HTTP cost in this process, about a bare `send_message`: "
            "a batch's SendMessageBatch calls alone, one per 10 logs, come to about 0.1 of a "
            "single post per log, however many run at once, since they share the interpreter "
            "lock. Against SQS, whose round trip takes milliseconds, the calls in flight "
            "together wait out their round trips side by side, and a log's share of its batch "
            "falls further below a single post than here.",
        ],
    )
