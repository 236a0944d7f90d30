"""Warm ingest: the handler's time per request beside a bare `send_message` of the same body.

Requests go through Chalice's Lambda entry (`app.app(event, context)`) with API Gateway proxy
events, so routing, validation, the limits, serialization and `SendMessage` all run. The floor
is a plain boto3 SQS client sending the same queue message to the same stub. Calls alternate,
one of each, and the ratio is taken pair by pair.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, Final

from bench.figures import Figure, Row, Section, at_most, ratios
from bench.profiling import percent, shares
from bench.stub import stub_process_environment
from bench.timed_handler import interleaved
from bench.workload import TENANT, LambdaContext, ingest_body, log_text, proxy_event

TARGET: Final = 1.10
_PROFILED = 50


def queue_body(text: str, form: str) -> str:
    """The queue message ingest sends for this upload, for the floor to send too."""
    from chalicelib.message import LogMessage, Source

    source: Source = "json_upload" if form == "json" else "text_upload"
    received = datetime.now(UTC).isoformat(timespec="milliseconds")
    return LogMessage(TENANT, "bench-1", source, text, received, "request-id").to_json()


def _note(name: str, extra: float, where: dict[str, float]) -> str:
    """Where a case's time goes, by profile, and how much it adds to the bare call."""
    return (
        f"{name}: {extra:.2f} ms over the bare call. Profiled: SendMessage (botocore) "
        f"{percent(where['sdk'])}; ours {percent(where['ours'] - where['sdk'])}: validation "
        f"with the JSON parse {percent(where['reading'] + where['validation'])}, the queue "
        "message's JSON "
        f"{percent(where['serialization'])}, the limits {percent(where['limits'])}, the event "
        f"line {percent(where['events'])}; Chalice "
        f"and the route {percent(1 - where['ours'])}."
    )


def _case(name: str, text: str, form: str, requests: int, bare: Any) -> tuple[Row, str]:
    """Time one case against the floor; its row, and a note on where its time goes."""
    import app

    headers, body = ingest_body(text, form)
    event, context = proxy_event(headers, body), LambdaContext()

    def handler() -> None:
        answer = app.app(event, context)
        if answer["statusCode"] != 202:
            raise RuntimeError(f"{name}: ingest answered {answer['statusCode']}: {answer['body']}")

    message, queue_url = queue_body(text, form), os.environ["QUEUE_URL"]

    def floor() -> None:
        bare.send_message(QueueUrl=queue_url, MessageBody=message)

    handled, floors = interleaved(handler, floor, requests)
    ratio = ratios(handled, floors)
    value, floor_figure = Figure.of(handled).scaled(1000), Figure.of(floors).scaled(1000)
    row = Row(
        f"{name} ({len(body.encode()) / 1024:.1f} KB body)",
        "ms",
        value,
        floor=floor_figure,
        ratio=ratio,
        target=at_most(TARGET, ratio.median),
    )
    parts = {
        "ours": ("chalicelib/ingest.py", "accept"),
        "sdk": ("chalicelib/queue.py", "send"),
        "reading": ("chalicelib/normalize.py", "read_request"),
        "validation": ("chalicelib/normalize.py", "log_message"),
        "serialization": ("chalicelib/message.py", "to_json"),
        "limits": ("chalicelib/limits.py", "check_fits"),
        "events": ("chalicelib/telemetry.py", "emit"),
    }
    where = shares(handler, _PROFILED, parts)
    return row, _note(name, value.median - floor_figure.median, where)


def measure(endpoint: str, requests: int, large: int) -> Section:
    """Time `requests` requests of each case, small and `large`-character texts, both forms."""
    import boto3

    cases = [
        (f"{form_name}, {size_name}", log_text(size, pii=True), form)
        for size_name, size in (("small", 150), ("large", large))
        for form_name, form in (("JSON", "json"), ("text", "text"))
    ]
    rows, notes = [], []
    with stub_process_environment(endpoint):
        bare = boto3.session.Session().client("sqs")
        for name, text, form in cases:
            row, note = _case(name, text, form, requests, bare)
            rows.append(row)
            notes.append(note)
    return Section(
        "Warm ingest",
        rows,
        floor_label="bare send_message",
        ratio_label="x floor",
        notes=[
            "Per request, warm; the queue is a local stub answering in well under a "
            "millisecond, where SQS takes several, so the ratios here are the harshest they "
            "can be. WORK_SECONDS_PER_CHAR=0, so large texts are limited by the queue only.",
            "Our SQS client leaves checking a call's parameters to SQS "
            "(`parameter_validation=False`, chalicelib/clients.py); the floor's is boto3's "
            "default client, which checks them: about 8 us of a 0.51 ms call on this stub "
            "(measured apart from this run) that ours skips.",
            "What is ours is the JSON work the route cannot skip, in the json module's C code: "
            "parsing a JSON upload and writing the queue message (botocore then encodes that "
            "again, as the floor does); above about 40 KB also two passes over the text's bytes "
            "(a copy and a filter) whose counts bound the redacted item's size without "
            "redacting. Chalice's "
            "request and response handling is not ours.",
            *notes,
        ],
    )
