"""Erasing a tenant: everything of it goes, once, resumably, and queued copies stay erased."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import worker
from chalicelib.config import get_settings
from chalicelib.keys import create_key
from ops.erase import Erased, Stores, UnknownTenantError, erase_tenant
from tests.conftest import queued_message, sqs_record

NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
BEFORE = "2026-11-21T10:59:59.999Z"
AFTER = "2026-11-21T11:00:00.001Z"


@pytest.fixture
def stores(aws: Any) -> Stores:
    return Stores(boto3.client("dynamodb"), boto3.client("s3"), get_settings())


def store(tenant_id: str, log_id: str, received_at: str = BEFORE) -> None:
    body = queued_message(tenant_id=tenant_id, log_id=log_id, received_at=received_at)
    assert worker.process_batch([sqs_record(body)], lambda: 600_000.0) == {"batchItemFailures": []}


def partitions(stores: Stores) -> list[str]:
    items = stores.dynamodb.scan(TableName=stores.settings.table_name)["Items"]
    return sorted(f"{i['tenant_id']['S']}/{i['log_id']['S']}" for i in items)


def archive(stores: Stores, *keys: str) -> None:
    for key in keys:
        stores.s3.put_object(Bucket=stores.settings.archive_bucket_name, Key=key, Body=b"x")


def test_an_unknown_tenant_is_refused_and_nothing_is_written(stores: Stores) -> None:
    store("beta_inc", "7")
    before = partitions(stores)
    with pytest.raises(UnknownTenantError, match="'acme' has nothing stored"):
        erase_tenant(stores, "acme", keys=True, now=NOW)
    assert partitions(stores) == before


def test_a_tenant_is_erased_whole_and_its_queued_logs_stay_erased(stores: Stores) -> None:
    store("acme", "1")
    store("acme", "2")
    store("beta_inc", "7")
    archive(stores, "acme/logs/a.ndjson.gz", "acme/originals/b.ndjson.gz", "acme.x/logs/c.gz")
    settings = stores.settings
    create_key(stores.dynamodb, settings.tenants_table_name, "acme", NOW)
    create_key(stores.dynamodb, settings.tenants_table_name, "beta_inc", NOW)

    erased = erase_tenant(stores, "acme", keys=True, now=NOW)

    assert erased == Erased("acme", logs=2, originals=2, archive_objects=2, keys=1)
    assert partitions(stores) == [
        "acme#erased/#tenant",
        "beta_inc#original/7",
        "beta_inc/7",
    ]
    left = stores.s3.list_objects_v2(Bucket=settings.archive_bucket_name)["Contents"]
    assert [o["Key"] for o in left] == ["acme.x/logs/c.gz"]
    store("acme", "3", received_at=BEFORE)  # still queued when the tenant was erased
    store("acme", "4", received_at=AFTER)  # posted afterwards: a new log
    assert [p for p in partitions(stores) if p.startswith("acme/")] == ["acme/4"]


def test_an_interrupted_erasure_finishes_when_run_again_and_counts_once(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    for log_id in ("1", "2", "3"):
        store("acme", log_id)
    archive(stores, "acme/logs/a.ndjson.gz")

    def crash(stores: Stores, tenant_id: str) -> int:
        raise ConnectionError("the operator's laptop went to sleep")

    with monkeypatch.context() as patch:
        patch.setattr("ops.erase._delete_archive", crash)
        with pytest.raises(ConnectionError):
            erase_tenant(stores, "acme", keys=False, now=NOW)
    assert [p for p in partitions(stores) if not p.startswith("acme#erased")] == []
    resumed = erase_tenant(stores, "acme", keys=False, now=NOW)
    assert resumed == Erased("acme", archive_objects=1)  # the logs went in the first run
    assert erase_tenant(stores, "acme", keys=False, now=NOW) == Erased("acme")
