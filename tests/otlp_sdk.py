"""The OpenTelemetry Python SDK as our users run it: logs exported over OTLP/HTTP, gzipped.

`export_logs` drives the real SDK and its OTLP/HTTP log exporter at any endpoint (the local
stack's `/v1/logs`, or `capture_server` here); `capture_server` is a tiny HTTP server on
127.0.0.1 that records each request's bytes and answers as told, so tests can decode what the
real exporter sends and watch how it takes each status code. Both stop by themselves.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from chalicelib import otlp

#: Seconds the exporter waits for an answer, retries included: every test ends within it.
EXPORT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Emitted:
    """One log as a program hands it to the SDK's logger."""

    body: Any
    severity: SeverityNumber = SeverityNumber.INFO
    severity_text: str = "INFO"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    event_name: str | None = None
    in_span: bool = False


@dataclass(frozen=True)
class Captured:
    """One request as the server received it: path, headers (lowercase names), raw body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def payload(self) -> bytes:
        """The body as the exporter serialized it, before `Content-Encoding`."""
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.body)
        return self.body


@dataclass
class CaptureServer:
    """What `capture_server` received, and the answers it still has to give, in order."""

    url: str
    answers: list[tuple[int, dict[str, str]]]
    requests: list[Captured] = field(default_factory=list)


@contextmanager
def capture_server(answers: Sequence[tuple[int, dict[str, str]]] = ()) -> Iterator[CaptureServer]:
    """Serve on a free port of 127.0.0.1 until the block ends.

    Each request gets the next of `answers` (status, headers), then 200: the body is what OTLP
    says for that status, from `chalicelib.otlp`, in protobuf.
    """
    captured = CaptureServer(url="", answers=list(answers))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = Captured(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with lock:
                captured.requests.append(request)
                status, headers = captured.answers.pop(0) if captured.answers else (200, {})
            if status == 200:
                body, content_type = otlp.encode_response("protobuf")
            else:
                body, content_type = otlp.encode_status("protobuf", f"answered {status}")
            self.send_response(status)
            for name, value in {**headers, "Content-Type": content_type}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    captured.url = f"http://127.0.0.1:{server.server_address[1]}/v1/logs"
    try:
        yield captured
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=EXPORT_TIMEOUT)


def export_logs(
    endpoint: str,
    logs: Sequence[Emitted],
    resource: Mapping[str, str],
    *,
    scope: tuple[str, str] = ("checkout.views", "1.4.0"),
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Emit `logs` through the SDK, export them gzipped to `endpoint`, and shut the SDK down.

    Returns the hex trace id of each log emitted in a span ("" for the others), to compare
    with what arrives. All logs go in one export, as the batch processor sends them.
    """
    exporter = OTLPLogExporter(
        endpoint=endpoint,
        compression=Compression.Gzip,
        timeout=EXPORT_TIMEOUT,
        headers=dict(headers or {}),
    )
    provider = LoggerProvider(resource=Resource.create(dict(resource)))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, schedule_delay_millis=60_000, max_export_batch_size=512)
    )
    tracer = TracerProvider().get_tracer("checkout")
    logger = provider.get_logger(*scope)
    trace_ids = []
    try:
        for log in logs:
            fields: dict[str, Any] = {
                "body": log.body,
                "severity_number": log.severity,
                "severity_text": log.severity_text,
                "attributes": dict(log.attributes),
                "event_name": log.event_name,
            }
            if log.in_span:
                with tracer.start_as_current_span("charge") as span:
                    logger.emit(**fields)
                    trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            else:
                logger.emit(**fields)
                trace_ids.append("")
        provider.force_flush(timeout_millis=int(EXPORT_TIMEOUT * 1000) + 1000)
    finally:
        provider.shutdown()
    return trace_ids
