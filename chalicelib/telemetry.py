"""What the pipeline says about itself: one JSON line per event on stdout, metrics included.

Every event (a log accepted or rejected at ingest, a record stored or handed back, a batch) is
one line of JSON with the fields an operator follows a log by: `request_id`, `tenant_id`,
`log_id`, `attempt`, `duration_ms` and `outcome`. A line may also carry metric values in
CloudWatch's Embedded Metric Format (`chalicelib.metrics`), so the same line is a log to search
and a data point to graph, with no API call on the hot path. On Lambda, stdout is the function's
log group; locally it is the terminal of `make dev`.

No line ever holds a log's text, and every string in a line is redacted first: an id or an
error message shaped like a phone number or an e-mail address shows as `[REDACTED]`. (A UUID,
which redaction leaves as it is, skips the engine.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Final, Literal

from chalicelib.config import Settings, get_settings
from chalicelib.metrics import (
    REASON_DIMENSION,
    STAGE_DIMENSION,
    TENANT_DIMENSION,
    Metric,
    embedded_metrics,
)
from chalicelib.redact import redact

Level = Literal["INFO", "WARNING", "ERROR"]
SERVICE: Final = "robust-data-processor"

_writing = threading.Lock()  # one whole line at a time from the consumer's threads


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started`, a `time.perf_counter()` reading, to a tenth."""
    return round((time.perf_counter() - started) * 1000, 1)


#: A UUID (a request id) is left as it is by redaction, which the tests hold it to; the check
#: costs less than asking the engine.
_UUID: Final = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def _clean(value: object) -> object:
    if not isinstance(value, str) or _UUID.fullmatch(value):
        return value
    return redact(value)


def _timestamp(millis: int) -> str:
    """Epoch milliseconds in RFC 3339, UTC, to the millisecond: the line's own time."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"
    )


def render(
    event: str,
    fields: Mapping[str, object],
    settings: Settings,
    now: float,
    level: Level = "INFO",
    metrics: Mapping[Metric, float] | None = None,
    reason: str | None = None,
) -> str:
    """One event as its JSON line: the fields (None left out, strings redacted) and metrics.

    With `metrics`, `reason` breaks them down by `Reason`; a `tenant_id` among the fields
    breaks them down by `TenantId` when the stage publishes per-tenant metrics.
    """
    millis = int(now * 1000)  # one reading for the line's timestamp and its metrics'
    line: dict[str, Any] = {
        "timestamp": _timestamp(millis),
        "level": level,
        "service": SERVICE,
        "stage": settings.stage,
        "event": event,
    }
    line.update((name, _clean(value)) for name, value in fields.items() if value is not None)
    if reason is not None:
        line["reason"] = reason
    if metrics:
        dimensions = {STAGE_DIMENSION: settings.stage}
        if reason is not None:
            dimensions[REASON_DIMENSION] = reason
        tenant_id = line.get("tenant_id")
        if settings.metrics_by_tenant and isinstance(tenant_id, str):
            dimensions[TENANT_DIMENSION] = tenant_id
        line.update(embedded_metrics(metrics, dimensions, millis))
    # ASCII only: no character in a line (U+2028, say) is a line break to any reader.
    return json.dumps(line, separators=(",", ":"))


def emit(
    event: str,
    fields: Mapping[str, object],
    level: Level = "INFO",
    metrics: Mapping[Metric, float] | None = None,
    reason: str | None = None,
) -> None:
    """Write one event's line to stdout (see `render`)."""
    line = render(event, fields, get_settings(), time.time(), level, metrics, reason)
    with _writing:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def describe_error(error: BaseException, with_traceback: bool = False) -> dict[str, str]:
    """An exception as fields of a line: type, message and maybe traceback, redacted when rendered.

    A traceback is for failures nobody expected; `traceback` is imported only then, off the
    cold start.
    """
    fields = {"error": type(error).__name__, "error_message": str(error)}
    if with_traceback:
        import traceback

        fields["traceback"] = "".join(traceback.format_exception(error))
    return fields


class JsonLogFormatter(logging.Formatter):
    """Renders stdlib logging records (botocore's, the local consumer's) as event lines."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of the same shape as `emit`'s, its texts redacted."""
        level: Level = "ERROR" if record.levelno >= logging.ERROR else "WARNING"
        if record.levelno < logging.WARNING:
            level = "INFO"
        fields: dict[str, object] = {"logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            fields |= describe_error(record.exc_info[1], with_traceback=True)
        fields["function_request_id"] = getattr(record, "aws_request_id", None)
        return render("log", fields, get_settings(), record.created, level)


def _writes_to_stdout(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout


def configure_logging() -> None:
    """Make stdlib logging write event lines too, once per process, at start-up.

    On Lambda the runtime's handler on the root logger writes each record as one CloudWatch
    event: it gets our formatter. Elsewhere a process without handlers gets one on stdout, and
    the plain stdout handler `chalice local` installs before it imports the app gets our
    formatter; any other handler (pytest's) is left as it is.
    """
    root = logging.getLogger()
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        handlers = root.handlers
    elif not root.handlers:
        handlers = [logging.StreamHandler(sys.stdout)]
        root.addHandler(handlers[0])
    else:
        handlers = [handler for handler in root.handlers if _writes_to_stdout(handler)]
        if not handlers:
            return
    for handler in handlers:
        handler.setFormatter(JsonLogFormatter())
    root.setLevel(logging.INFO)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # not its credential chatter
