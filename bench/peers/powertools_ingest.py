"""A peer: our ingest's job for one log as a Powertools for AWS Lambda user writes it.

Written the way Powertools' documentation teaches: an `APIGatewayRestResolver` route reads
`current_event.json_body` and raises the resolver's `BadRequestError` for a bad field; its
`Logger` writes one structured JSON line per request with the Lambda context and the API
Gateway request id as correlation id; its `Metrics` flushes one EMF line per invocation. The
SQS client is made once per process at import. It answers 202 with the log id once SQS has
acknowledged the message.

Run only by the peers' virtualenv (`.venv-peers`): it imports nothing of this project.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

QUEUE_URL = os.environ["QUEUE_URL"]
TENANT_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
LOG_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")

sqs = boto3.client("sqs")
logger = Logger(service="ingest")
metrics = Metrics(namespace="LogIngest", service="ingest")
app = APIGatewayRestResolver()


def _field(log: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = log.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequestError(f"{name} must be a string matching {pattern.pattern}")
    return value


@app.post("/ingest")
def ingest() -> Response[dict[str, str]]:
    """Queue one log and answer with its id."""
    try:
        log = app.current_event.json_body
    except json.JSONDecodeError as error:
        raise BadRequestError(f"the body is not valid JSON: {error}") from None
    if not isinstance(log, dict):
        raise BadRequestError("the body must be a JSON object")
    tenant_id = _field(log, "tenant_id", TENANT_ID)
    log_id = _field(log, "log_id", LOG_ID) if log.get("log_id") is not None else str(uuid.uuid4())
    text = log.get("text")
    if not isinstance(text, str) or not text:
        raise BadRequestError("text must be a non-empty string")
    request_id = app.current_event.request_context.request_id
    message = {
        "tenant_id": tenant_id,
        "log_id": log_id,
        "source": "json_upload",
        "text": text,
        "received_at": datetime.now(UTC).isoformat(),
        "request_id": request_id,
    }
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(message))
    logger.info("log accepted", tenant_id=tenant_id, log_id=log_id)
    metrics.add_metric(name="LogsAccepted", unit=MetricUnit.Count, value=1)
    answer = {"status": "accepted", "tenant_id": tenant_id, "log_id": log_id}
    return Response(202, content_types.APPLICATION_JSON, {**answer, "request_id": request_id})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry: route the API Gateway event."""
    return app.resolve(event, context)
