"""Robust Data Processor: the HTTP edge and the queue worker, wired to `chalicelib`."""

import uuid
from typing import Any, cast

from chalice.app import Chalice, Request, Response, SQSEvent

from chalicelib.config import get_settings
from chalicelib.ingest import accept
from chalicelib.worker import process_batch

app = Chalice(app_name="robust-data-processor")
_settings = get_settings()


def _request_id(request: Request) -> str:
    """API Gateway's id for the request, else the Lambda invocation's, so logs can be traced."""
    return str(
        (request.context or {}).get("requestId")
        or getattr(app.lambda_context, "aws_request_id", None)
        or uuid.uuid4()
    )


@app.route("/ingest", methods=["POST"], content_types=["application/json", "text/plain"])
def ingest_log() -> Response:
    """Accept one log; 202 means it is durably queued."""
    request = cast(Request, app.current_request)  # Chalice sets it before calling any route
    accepted = accept(request.headers, request.raw_body, _request_id(request))
    return Response(body=accepted, status_code=202)


@app.on_sqs_message(
    queue=_settings.queue_name,
    batch_size=_settings.worker_batch_size,
    maximum_batching_window_in_seconds=_settings.worker_batching_window_seconds,
    maximum_concurrency=_settings.worker_max_concurrency,
)
def worker(event: SQSEvent) -> dict[str, Any]:
    """Process a batch of queued logs; failed records go back to the queue alone."""
    records = [record.to_dict() for record in event]
    context: Any = event.context  # Lambda's context object, though Chalice annotates it as a dict
    return process_batch(records, context.get_remaining_time_in_millis)
