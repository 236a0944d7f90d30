"""Send an application's logs to Robust Data Processor with the OpenTelemetry Python SDK.

The SDK's OTLP/HTTP exporter posts protobuf to `/v1/logs`; everything about where and how comes
from the standard OpenTelemetry variables, so this file holds no address or key:

    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:8000/v1/logs
    OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=gzip
    OTEL_EXPORTER_OTLP_LOGS_HEADERS="Authorization=Bearer%20rdp_..."   # stages that need a key
    OTEL_RESOURCE_ATTRIBUTES="service.name=checkout,tenant.id=acme"  # open stages: the tenant

    pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    python otel_python.py "payment failed for ann@example.com" "retrying in 2 s"

Each argument is logged as one record through the standard `logging` module. Tested by
tests/test_shippers.py, which runs this file as it is.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource


def main() -> None:
    """Log each command-line argument as a warning, then flush and stop the exporter."""
    provider = LoggerProvider(resource=Resource.create())  # reads OTEL_RESOURCE_ATTRIBUTES
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    logger = logging.getLogger("checkout")
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
    logger.setLevel(logging.INFO)
    for message in sys.argv[1:]:
        logger.warning(message, extra={"order.id": "A-1042"})
    provider.shutdown()  # exports what is left; a failed export is logged by the SDK


if __name__ == "__main__":
    main()
