"""Archival: TTL removals, and only those, land in S3 per tenant as gzip NDJSON, redacted."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from chalicelib import worker
from chalicelib.archive import TTL_IDENTITY, archived, is_ttl_removal, objects
from chalicelib.config import get_settings
from chalicelib.erasure import erase_log
from devstack.stream_consumer import StreamConsumer
from devstack.ttl import SweptKeys, TtlSweeper
from tests.conftest import queued_message, sqs_record

FAR_FUTURE = 4_000_000_000  # epoch seconds in 2096: everything stored now has expired by then


def stream_record(image: dict[str, Any], ttl: bool = True, sequence: str = "100") -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventName": "REMOVE",
        "dynamodb": {"OldImage": image, "SequenceNumber": sequence},
    }
    if ttl:
        record["userIdentity"] = dict(TTL_IDENTITY)
    return record


LOG = {
    "tenant_id": {"S": "acme"},
    "log_id": {"S": "101"},
    "modified_data": {"S": "User [REDACTED] logged in"},
    "expires_at": {"N": "1800000000"},
}
ORIGINAL = {
    "tenant_id": {"S": "acme#original"},
    "log_id": {"S": "101"},
    "original_text": {"S": "User 555-0199 logged in"},
    "expires_at": {"N": "1790000000"},
}


def test_only_removals_by_dynamodbs_ttl_are_archived() -> None:
    assert is_ttl_removal(stream_record(LOG))
    assert not is_ttl_removal(stream_record(LOG, ttl=False))  # an erasure
    assert not is_ttl_removal(stream_record(LOG) | {"eventName": "MODIFY"})
    impostor = stream_record(LOG) | {"userIdentity": {"type": "Service", "principalId": "x"}}
    assert not is_ttl_removal(impostor)


def test_originals_are_archived_only_when_the_tenant_asked_and_tombstones_never() -> None:
    assert archived(stream_record(LOG)) == (
        "acme",
        "logs",
        {
            "tenant_id": "acme",
            "log_id": "101",
            "modified_data": "User [REDACTED] logged in",
            "expires_at": 1800000000,
        },
    )
    assert archived(stream_record(ORIGINAL)) is None
    kept = archived(stream_record(ORIGINAL | {"archive": {"N": "1"}}))
    assert kept is not None
    assert kept[:2] == ("acme", "originals")
    assert "archive" not in kept[2]
    tombstone = {"tenant_id": {"S": "acme#erased"}, "log_id": {"S": "101"}}
    assert archived(stream_record(tombstone)) is None


def test_a_batch_is_one_object_per_tenant_named_so_a_retry_overwrites_it() -> None:
    beta = LOG | {"tenant_id": {"S": "beta_inc"}}
    batch = [stream_record(LOG, sequence="1"), stream_record(beta, sequence="2")]
    batch.append(stream_record(LOG | {"log_id": {"S": "102"}}, sequence="3"))
    written = objects(batch)
    assert sorted(written) == [
        "acme/logs/2027/01/15/1-3.ndjson.gz",
        "beta_inc/logs/2027/01/15/2-2.ndjson.gz",
    ]
    lines = gzip.decompress(written["acme/logs/2027/01/15/1-3.ndjson.gz"]).decode().splitlines()
    assert [json.loads(line)["log_id"] for line in lines] == ["101", "102"]
    assert objects(batch) == written


def store(log_id: str, tenant_id: str = "acme") -> None:
    body = queued_message(log_id=log_id, tenant_id=tenant_id)
    assert worker.process_batch([sqs_record(body)], lambda: 600_000.0) == {"batchItemFailures": []}


def archive_contents(s3: Any) -> dict[str, list[dict[str, Any]]]:
    bucket = get_settings().archive_bucket_name
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        o["Key"]: [
            json.loads(line)
            for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
            .decode()
            .splitlines()
        ]
        for o in listed
    }


@pytest.fixture
def streams(aws: Any) -> Any:
    # moto routes the streams API only at its classic endpoint, not botocore's per-account one.
    return boto3.client(
        "dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
    )


def test_expired_logs_are_archived_redacted_and_erased_ones_never(aws: Any, streams: Any) -> None:
    import app

    store("101")
    store("102")
    store("7", tenant_id="beta_inc")
    erase_log(lambda: "acme", "102", "req-1")
    dynamodb = boto3.client("dynamodb")
    swept = SweptKeys()
    consumer = StreamConsumer(streams, aws.table_name, app.archiver, swept, batch_size=100)
    # Two logs, their originals and the tombstone: everything has expired by then.
    assert TtlSweeper(dynamodb, aws.table_name, swept).sweep(FAR_FUTURE) == 5
    assert consumer.run_once() > 0
    contents = archive_contents(boto3.client("s3"))
    by_tenant = {key.split("/")[0]: lines for key, lines in contents.items()}
    assert sorted(contents) == sorted(k for k in contents if "/logs/" in k)  # no originals
    assert [line["log_id"] for line in by_tenant["acme"]] == ["101"]  # 102 was erased
    assert [line["log_id"] for line in by_tenant["beta_inc"]] == ["7"]
    text = json.dumps(contents)
    assert "555-0199" not in text
    assert "[REDACTED]" in text
    assert dynamodb.scan(TableName=aws.table_name, Select="COUNT")["Count"] == 0


def test_a_failed_batch_is_delivered_again_still_marked(aws: Any, streams: Any) -> None:
    store("101")
    dynamodb = boto3.client("dynamodb")
    swept = SweptKeys()
    seen: list[int] = []

    def flaky(event: dict[str, Any], context: Any) -> None:
        seen.append(sum(is_ttl_removal(r) for r in event["Records"]))
        if len(seen) == 1:
            raise RuntimeError("S3 is down")

    consumer = StreamConsumer(streams, aws.table_name, flaky, swept, batch_size=100)
    TtlSweeper(dynamodb, aws.table_name, swept).sweep(FAR_FUTURE)
    with pytest.raises(RuntimeError):
        consumer.run_once()
    consumer.run_once()
    assert seen == [2, 2]  # the log and its original, both times marked as TTL removals
