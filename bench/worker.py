"""Worker: time per record through the SQS handler, and how much of it is the worker's own.

Batches go through Chalice's SQS entry (`app.worker(event, context)`) with
`WORK_SECONDS_PER_CHAR=0`: each record is parsed, validated, redacted and written with a
conditional `PutItem` to the stub. The floor is a plain boto3 client putting items of the same
size, one call per record; the worker's own overhead is the difference, per record.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from bench.figures import Figure, Row, Section, at_most, ratios
from bench.profiling import percent, shares
from bench.stub import TABLE_NAME, stub_process_environment
from bench.workload import TENANT, LambdaContext, log_lines, sqs_event

TARGET_MS: Final = 1.0
_WARM_UP = 3
_PROFILED = 20


def _bodies(count: int) -> list[str]:
    """Queue messages as ingest writes them, each with a new log id (so no duplicates)."""
    from chalicelib.message import LogMessage

    received = datetime.now(UTC).isoformat(timespec="milliseconds")
    return [
        LogMessage(TENANT, str(uuid.uuid4()), "json_upload", line, received, "req").to_json()
        for line in log_lines(count, pii=True)
    ]


def _bare_items(count: int) -> list[dict[str, dict[str, str]]]:
    """Items of the size the worker writes, for the floor: both texts, ids and timestamps."""
    return [
        {
            "tenant_id": {"S": TENANT},
            "log_id": {"S": str(uuid.uuid4())},
            "source": {"S": "json_upload"},
            "original_text": {"S": line},
            "modified_data": {"S": line},
            "received_at": {"S": "2026-11-22T00:00:00.000Z"},
            "processed_at": {"S": "2026-11-22T00:00:00.100Z"},
            "request_id": {"S": "req"},
            "worker_id": {"S": "bench"},
            "attempt": {"N": "1"},
        }
        for line in log_lines(count, pii=True)
    ]


def _work(event: dict[str, Any]) -> None:
    """Hand one SQS event to the worker as Lambda would; every record must succeed."""
    import app

    answer = app.worker(event, LambdaContext())
    if answer["batchItemFailures"]:
        raise RuntimeError(f"the worker failed records: {answer['batchItemFailures']}")


def _handle(batch: int) -> float:
    """Seconds the worker takes over one batch of `batch` new records."""
    event = sqs_event(_bodies(batch))
    started = time.perf_counter()
    _work(event)
    return time.perf_counter() - started


def _floor(bare: Any, batch: int) -> float:
    """Seconds a bare client takes to put `batch` items of the same size."""
    items = _bare_items(batch)
    started = time.perf_counter()
    for item in items:
        bare.put_item(
            TableName=TABLE_NAME, Item=item, ConditionExpression="attribute_not_exists(log_id)"
        )
    return time.perf_counter() - started


def _rows(batch: int, batches: int, bare: Any) -> tuple[list[Row], dict[str, float]]:
    for _ in range(_WARM_UP):
        _handle(batch)
        _floor(bare, batch)
    handled, floors = [], []
    for _ in range(batches):
        handled.append(_handle(batch) / batch)
        floors.append(_floor(bare, batch) / batch)
    overhead = Figure.of((one - other) * 1000 for one, other in zip(handled, floors, strict=True))
    rows = [
        Row(
            f"batch of {batch}: per record",
            "ms",
            Figure.of(handled).scaled(1000),
            floor=Figure.of(floors).scaled(1000),
            ratio=ratios(handled, floors),
        ),
        Row(
            f"batch of {batch}: the worker's own overhead per record",
            "ms",
            overhead,
            target=at_most(TARGET_MS, overhead.median, " ms"),
        ),
    ]
    parts = {
        "parse": ("chalicelib/message.py", "from_json"),
        # The text is redacted by `redact_counted`; the event lines' fields by `redact`, which
        # calls it too: the text's share is the difference.
        "redaction": ("chalicelib/redact.py", "redact_counted"),
        "field_redaction": ("chalicelib/redact.py", "redact"),
        "events": ("chalicelib/telemetry.py", "emit"),
        "put": ("chalicelib/store.py", "put_unless_erased"),
        "worker": ("chalicelib/worker.py", "process_batch"),
    }
    events = iter([sqs_event(_bodies(batch)) for _ in range(_PROFILED)])
    return rows, shares(lambda: _work(next(events)), _PROFILED, parts)


def measure(endpoint: str, batches: int) -> Section:
    """Time `batches` batches of 1 and of 10 records, each beside the same puts done bare."""
    import boto3

    rows, notes = [], []
    with stub_process_environment(endpoint):
        bare = boto3.session.Session().client("dynamodb")
        for batch in (1, 10):
            batch_rows, where = _rows(batch, batches, bare)
            rows += batch_rows
            text = where["redaction"] - where["field_redaction"]
            rest = where["worker"] - where["parse"] - text - where["events"] - where["put"]
            notes.append(
                f"batch of {batch}, profiled: the write (botocore) {percent(where['put'])}, "
                f"redaction of the text {percent(text)}, the event lines (their fields "
                f"redacted too) {percent(where['events'])}, parsing and validation "
                f"{percent(where['parse'])}, the rest of the worker {percent(rest)}, Chalice's "
                f"event and the handler {percent(1 - where['worker'])}."
            )
    return Section(
        "Worker",
        rows,
        floor_label="bare put_item",
        ratio_label="x floor",
        notes=[
            "Records are realistic log lines with one phone number or address each; "
            "WORK_SECONDS_PER_CHAR=0 and CRASH_PROBABILITY=0.",
            *notes,
        ],
    )
