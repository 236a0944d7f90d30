"""`make logs`: each stored log with its original text where kept, tombstones left out."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib import worker
from chalicelib.erasure import erase_log
from ops.show import _items
from tests.conftest import queued_message, sqs_record


def test_logs_show_their_originals_and_no_tombstones(aws: Any) -> None:
    for tenant_id, log_id in (("acme", "1"), ("acme", "2"), ("beta_inc", "7")):
        body = queued_message(tenant_id=tenant_id, log_id=log_id)
        worker.process_batch([sqs_record(body)], lambda: 600_000.0)
    erase_log(lambda: "acme", "2", "req-1")
    dynamodb = boto3.client("dynamodb")
    everything = _items(dynamodb, aws.table_name, None)
    assert [(i["tenant_id"], i["log_id"]) for i in everything] == [("acme", "1"), ("beta_inc", "7")]
    [acme] = _items(dynamodb, aws.table_name, "acme")
    assert acme["original_text"] == "User 555-0199 logged in"
    assert acme["modified_data"] == "User [REDACTED] logged in"
