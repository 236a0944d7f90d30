"""Robust Data Processor: the HTTP edge and the queue worker, wired to `chalicelib`."""

import uuid
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote

from chalice.app import AuthRequest, Chalice, DynamoDBEvent, Request, Response, SQSEvent

from chalicelib.archive import BATCH_SIZE, STARTING_POSITION, archive_records, stream_arn_pattern
from chalicelib.auth import authorize, caller_tenant
from chalicelib.config import get_settings
from chalicelib.ingest import accept
from chalicelib.normalize import BINARY_REQUEST_TYPES
from chalicelib.telemetry import configure_logging

# Every function (the API's, the worker's, the archiver's) imports this module, and the API's
# first `POST /ingest` waits for it: the modules of the other routes and of the worker (OTLP's
# decoder, reads, erasure, storage; some 13 ms) are imported by the handlers that use them.

# Chalice's own logger would write an unexpected error's traceback as many plain lines: without
# it, the record reaches the root logger, whose handler writes one redacted event line.
app = Chalice(app_name="robust-data-processor", configure_logs=False)
# API Gateway hands a body of these types to the function as it came, in base64, rather than as
# UTF-8 text, so a gzip- or deflate-encoded body arrives intact. Chalice renders the list into
# the API's binaryMediaTypes; no answer of ours has these types, so none is base64-encoded.
app.api.binary_types.extend(BINARY_REQUEST_TYPES)
_settings = get_settings()
configure_logging()


def _request() -> Request:
    return cast(Request, app.current_request)  # Chalice sets it before calling any route


def _request_id(request: Request) -> str:
    """API Gateway's id for the request, else the Lambda invocation's, so logs can be traced."""
    return str(
        (request.context or {}).get("requestId")
        or getattr(app.lambda_context, "aws_request_id", None)
        or uuid.uuid4()
    )


@app.authorizer(ttl_seconds=_settings.auth_cache_ttl_seconds)
def api_key_authorizer(auth_request: AuthRequest) -> dict[str, Any]:
    """Resolve `Authorization: Bearer <key>` to the key's tenant, or deny the request."""
    return authorize(auth_request)


# INGEST_AUTH=open keeps the original, unauthenticated ingest; `required` puts it behind keys.
_ingest_authorizer = api_key_authorizer if _settings.ingest_auth == "required" else None
# Routes behind the authorizer are metered by the tenant's API Gateway usage plan: the key is the
# authorizer's `usageIdentifierKey` (the API's key source is AUTHORIZER), never a client header.
# `chalice local` and the test client ignore it; `infra/template.py` sets the key source.


def _posted(accept_logs: Callable[..., Any]) -> Response:
    """Hand a request of logs to `accept_logs` and answer as it says.

    Where keys are required, `accept_logs` resolves the key's tenant through `caller`.
    """
    request = _request()
    caller = (lambda: caller_tenant(request.context)) if _ingest_authorizer else None
    answer = accept_logs(request.headers, request.raw_body, _request_id(request), caller)
    return Response(body=answer.body, status_code=answer.status, headers=answer.headers)


@app.route(
    "/ingest",
    methods=["POST"],
    content_types=["*/*"],  # every media type reaches `normalize`, which answers the 415s
    authorizer=_ingest_authorizer,
    api_key_required=_ingest_authorizer is not None,
)
def ingest_log() -> Response:
    """Accept one log or a batch; 202 means every valid log is durably queued."""
    return _posted(accept)


@app.route(
    "/v1/logs",
    methods=["POST"],
    content_types=["*/*"],  # `accept_export` answers the 415s, as `/ingest` does
    authorizer=_ingest_authorizer,
    api_key_required=_ingest_authorizer is not None,
)
def export_logs() -> Response:
    """OTLP/HTTP logs: each record one log; 200 means every valid one is durably queued."""
    from chalicelib.otlp_ingest import accept_export

    return _posted(accept_export)


def _reader(request: Request) -> Callable[[], str]:
    """The tenant whose logs a read may see: its key's, and no other it names."""
    return lambda: caller_tenant(request.context, request.headers.get("x-tenant-id"))


@app.route("/logs", methods=["GET"], authorizer=api_key_authorizer, api_key_required=True)
def list_tenant_logs() -> dict[str, Any]:
    """One page of the calling tenant's processed logs."""
    from chalicelib.reads import list_logs

    request = _request()
    return list_logs(_reader(request), request.query_params, _request_id(request))


@app.route("/logs/{log_id}", methods=["GET"], authorizer=api_key_authorizer, api_key_required=True)
def get_tenant_log(log_id: str) -> dict[str, Any]:
    """One of the calling tenant's processed logs, or 404."""
    from chalicelib.reads import get_log

    request = _request()
    # API Gateway and `chalice local` hand path parameters over still percent-encoded.
    return get_log(_reader(request), unquote(log_id), _request_id(request))


@app.route(
    "/logs/{log_id}", methods=["DELETE"], authorizer=api_key_authorizer, api_key_required=True
)
def erase_tenant_log(log_id: str) -> Response:
    """Erase one of the calling tenant's logs: 204, or 404 if none was stored."""
    from chalicelib.erasure import erase_log

    request = _request()
    erase_log(_reader(request), unquote(log_id), _request_id(request))
    return Response(body="", status_code=204)


@app.on_sqs_message(
    queue=_settings.queue_name,
    batch_size=_settings.worker_batch_size,
    maximum_batching_window_in_seconds=_settings.worker_batching_window_seconds,
    maximum_concurrency=_settings.worker_max_concurrency,
)
def worker(event: SQSEvent) -> dict[str, Any]:
    """Process a batch of queued logs; failed records go back to the queue alone."""
    from chalicelib.worker import process_batch

    records = [record.to_dict() for record in event]
    context: Any = event.context  # Lambda's context object, though Chalice annotates it as a dict
    return process_batch(records, context.get_remaining_time_in_millis)


@app.on_dynamodb_record(
    stream_arn=_settings.logs_stream_arn or stream_arn_pattern(_settings.table_name),
    batch_size=BATCH_SIZE,
    starting_position=STARTING_POSITION,
)
def archiver(event: DynamoDBEvent) -> None:
    """Archive the logs DynamoDB's TTL removed, per tenant, to the archive bucket."""
    archive_records([record.to_dict() for record in event])
