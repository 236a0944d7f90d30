"""A peer: our ingest's job for one log as a FastAPI + Mangum + pydantic user writes it.

The stack of a popular implementation of this system, written the way FastAPI's and Mangum's
documentation teach: a pydantic model validates the body (tenant id and log id by pattern, a
non-empty text), a second one is the queue message, the route is a plain `def` because boto3
blocks, the SQS client is made once per process at import, and `Mangum(app, lifespan="off")`
is the Lambda handler. It answers 202 with the log id once SQS has acknowledged the message.

Run only by the peers' virtualenv (`.venv-peers`): it imports nothing of this project.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Literal

import boto3
from fastapi import FastAPI, Request, status
from mangum import Mangum
from pydantic import BaseModel, Field

QUEUE_URL = os.environ["QUEUE_URL"]
sqs = boto3.client("sqs")


class LogIn(BaseModel):
    """One log as a client posts it."""

    tenant_id: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    log_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")
    text: str = Field(min_length=1)


class QueueMessage(BaseModel):
    """What the worker takes off the queue."""

    tenant_id: str
    log_id: str
    source: Literal["json_upload"] = "json_upload"
    text: str
    received_at: datetime
    request_id: str


class Accepted(BaseModel):
    """The 202 answer: the log is on the queue."""

    status: Literal["accepted"] = "accepted"
    tenant_id: str
    log_id: str
    request_id: str


app = FastAPI(title="log ingest")


@app.post("/ingest", status_code=status.HTTP_202_ACCEPTED)
def ingest(log: LogIn, request: Request) -> Accepted:
    """Queue one log and answer with its id."""
    request_id = request.scope["aws.event"]["requestContext"]["requestId"]
    message = QueueMessage(
        tenant_id=log.tenant_id,
        log_id=log.log_id or str(uuid.uuid4()),
        text=log.text,
        received_at=datetime.now(UTC),
        request_id=request_id,
    )
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=message.model_dump_json())
    return Accepted(tenant_id=message.tenant_id, log_id=message.log_id, request_id=request_id)


handler = Mangum(app, lifespan="off")
