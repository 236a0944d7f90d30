"""Queue messages the worker must refuse: one of each way a message body can be broken.

Ingest never writes these, but the queue is an interface of its own: anything with
`sqs:SendMessage` (an older ingest, a hand-sent test, a redrive of something else) can put any
body on it. Each must fail alone, leave the other records of its batch to succeed, and end in
the dead-letter queue after `MAX_RECEIVE_COUNT` receives. The chaos soak injects them among
real logs; the poison tests feed them through the worker and the consumer.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.config import Settings
from chalicelib.store import ITEM_MAX_BYTES

VALID_BODY: dict[str, Any] = {
    "tenant_id": "poison-test",
    "log_id": "poison",
    "source": "json_upload",
    "text": "a message that would be fine",
    "received_at": "2026-11-21T10:00:00.000Z",
    "request_id": "poison-request",
}


def _body(**changes: Any) -> str:
    """The valid body with fields changed (a value of `...` removes the field)."""
    fields = {name: value for name, value in {**VALID_BODY, **changes}.items() if value is not ...}
    return json.dumps(fields)


def poison_bodies(settings: Settings, tenant_id: str = "poison-test") -> dict[str, str]:
    """Every kind of broken message body, by what is wrong with it, for `settings`' worker.

    The oversized kinds depend on the settings: a text needing more simulated work than one
    invocation allows is one only while `WORK_SECONDS_PER_CHAR` is above zero; a text whose
    item (the original and the redacted text) passes DynamoDB's limit always is one.
    """
    valid = {"tenant_id": tenant_id}
    bodies = {
        "not JSON": "tenant_id=acme&text=hello",
        "truncated JSON": _body(**valid)[:40],
        "JSON, not an object": json.dumps([_body(**valid)]),
        "empty object": "{}",
        "missing text": _body(**valid, text=...),
        "missing tenant_id": _body(tenant_id=...),
        "text not a string": _body(**valid, text=7),
        "log_id not a string": _body(**valid, log_id=["1", "2"]),
        "empty text": _body(**valid, text=""),
        "tenant_id outside its rules": _body(tenant_id="../other-tenant"),
        "unknown source": _body(**valid, source="email"),
        "oversized: larger than a DynamoDB item": _body(
            **valid, log_id="too-large-to-store", text="x" * (ITEM_MAX_BYTES // 2 + 1)
        ),
    }
    if settings.work_seconds_per_char > 0:
        # More work than a whole invocation has, whatever ingest's budget allows.
        too_long = int(settings.worker_timeout_seconds / settings.work_seconds_per_char * 1.1)
        bodies["oversized: more work than one invocation"] = _body(
            **valid, log_id="too-long-to-process", text="y" * too_long
        )
    return bodies
