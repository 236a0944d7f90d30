"""Per-tenant limits at ingest: leases from shared counters, 429s that say why, failing open."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from chalice.test import Client
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import limiter
from chalicelib.limiter import LEASE_PARTS, Lease, admit, admitted_prefix, windows
from chalicelib.plans import PLANS, RATE_WINDOW_SECONDS
from chalicelib.tenant_settings import write
from infra.stage import PROJECT_DIR

#: 2026-11-29 21:00:03 UTC: 3 s into a rate window, 3 h before the day resets.
NOW = datetime(2026, 11, 29, 21, 0, 3, tzinfo=UTC).timestamp()
FREE = PLANS["free"]


def _on_plan(aws: Any, tenant: str, plan: str) -> None:
    write(
        boto3.client("dynamodb"), aws.tenants_table_name, tenant, {"plan": plan}, datetime.now(UTC)
    )


def _counter(aws: Any, counter_id: str) -> dict[str, int]:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=aws.usage_table_name, Key={"counter_id": {"S": counter_id}})
        .get("Item", {})
    )
    return {name: int(value["N"]) for name, value in item.items() if name != "counter_id"}


def test_windows_name_their_counters_and_resets() -> None:
    rate, day = windows("acme", FREE, NOW)
    assert rate.counter_id == f"usage#acme#rate#{int(NOW) // RATE_WINDOW_SECONDS}"
    assert rate.logs == 5 * RATE_WINDOW_SECONDS + 50
    assert rate.bytes is None
    assert rate.resets_at == NOW - 3 + RATE_WINDOW_SECONDS
    assert day.counter_id == "usage#acme#day#2026-11-29"
    assert day.resets_at == datetime(2026, 11, 30, tzinfo=UTC).timestamp()


def test_a_prefix_is_admitted_while_every_lease_covers_it() -> None:
    rate, day = windows("acme", FREE, NOW)
    leases = [(Lease(0, logs=3), rate), (Lease(0, logs=10, bytes=250), day)]
    assert admitted_prefix([100, 100, 100], leases) == 2  # bytes: 300 > 250
    assert admitted_prefix([10, 10, 10, 10], leases) == 3  # logs: 4 > 3
    assert admitted_prefix([], leases) == 0


@given(
    sizes=st.lists(st.integers(0, 50), max_size=30),
    logs=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    size=st.integers(0, 600),
)
def test_the_admitted_prefix_is_the_longest_every_lease_covers(
    sizes: list[int], logs: tuple[int, int], size: int
) -> None:
    rate, day = windows("acme", FREE, NOW)
    leases = [(Lease(0, logs=logs[0]), rate), (Lease(0, logs=logs[1], bytes=size), day)]
    longest = max(
        count
        for count in range(len(sizes) + 1)
        if count <= min(logs) and sum(sizes[:count]) <= size
    )
    assert admitted_prefix(sizes, leases) == longest


def test_a_lease_costs_one_write_for_many_logs(aws: Any) -> None:
    _on_plan(aws, "acme", "free")
    admissions = [admit("acme", [10], NOW) for _ in range(10)]
    assert all(a.admitted == 1 and a.refusal is None for a in admissions)
    rate, day = windows("acme", FREE, NOW)
    rate_lease = -(-rate.logs // LEASE_PARTS["rate"])
    assert _counter(aws, rate.counter_id)["logs"] == rate_lease  # one lease covered all ten
    assert _counter(aws, day.counter_id)["logs"] == -(-day.logs // LEASE_PARTS["day"])
    assert _counter(aws, day.counter_id)["expires_at"] > day.resets_at


def test_a_batch_counts_each_log_and_the_rest_get_the_rate_429(aws: Any) -> None:
    _on_plan(aws, "acme", "free")
    allowance = FREE.logs_per_rate_window
    admission = admit("acme", [10] * (allowance + 5), NOW)
    assert admission.admitted == allowance
    refusal = admission.refusal
    assert refusal is not None
    assert refusal.limit == "rate_limit"
    assert refusal.retry_after_seconds == RATE_WINDOW_SECONDS - 3
    assert "over the rate of plan free, 5 logs a second with a burst of 50" in refusal.message
    assert "resets at 2026-11-29T21:00:10Z" in refusal.message
    later = admit("acme", [10], NOW + RATE_WINDOW_SECONDS)  # the next window admits again
    assert later.admitted == 1


def test_the_daily_bytes_quota_refuses_with_the_day_reset(aws: Any) -> None:
    _on_plan(aws, "acme", "free")
    big = FREE.daily_bytes // 4
    admission = admit("acme", [big, big, big, big, 1], NOW)
    assert admission.admitted == 4
    refusal = admission.refusal
    assert refusal is not None
    assert refusal.limit == "day_limit"
    assert refusal.retry_after_seconds == 3 * 3600 - 3
    assert "daily quota of plan free" in refusal.message
    assert "2026-11-30T00:00:00Z" in refusal.message


def test_instances_together_never_admit_more_than_the_window(aws: Any) -> None:
    # Three instances (each a fresh process) share the counters: the total stays in bounds and
    # the early refusal is at most the leases left unspent.
    _on_plan(aws, "acme", "free")
    instances = [limiter.Limiter() for _ in range(3)]
    admitted = 0
    for _ in range(40):
        for instance in instances:
            admitted += instance.admit("acme", [1, 1], NOW).admitted
    rate, _ = windows("acme", FREE, NOW)
    lease = -(-rate.logs // LEASE_PARTS["rate"])
    assert rate.logs - len(instances) * lease <= admitted <= rate.logs
    assert _counter(aws, rate.counter_id)["logs"] <= rate.logs


def test_the_limiter_fails_open_and_says_so(
    aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(USAGE_TABLE_NAME="no-such-table")
    admission = admit("acme", [10, 10], NOW)
    assert (admission.admitted, admission.refusal) == (2, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failed = [line for line in lines if line.get("event") == "limiter"]
    assert failed
    assert failed[0]["outcome"] == "failed_open"
    assert failed[0]["LimiterUnavailable"] == 1
    assert failed[0]["level"] == "ERROR"


def test_unreadable_settings_fail_open_too(aws: Any, configure: Any) -> None:
    configure(TENANTS_TABLE_NAME="no-such-table")
    assert admit("acme", [10], NOW).admitted == 1


def test_ingest_answers_429_with_retry_after_and_queues_nothing(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    # The requests share one rate window however long they take: a loaded machine once spread
    # them over two, and the second window admitted the one meant to be refused.
    frozen = time.time()
    monkeypatch.setattr(limiter, "time", SimpleNamespace(time=lambda: frozen))
    _on_plan(aws, "acme", "free")
    headers = {"Content-Type": "text/plain", "X-Tenant-ID": "acme"}
    with Client(app.app, project_dir=str(PROJECT_DIR)) as client:
        answers = [
            client.http.post("/ingest", headers=headers, body=b"hello")
            for _ in range(FREE.logs_per_rate_window + 1)
        ]
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) <= FREE.logs_per_rate_window
    refused = answers[-1]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= RATE_WINDOW_SECONDS
    assert refused.json_body["Code"] == "TooManyLogsError"
    assert "tenant 'acme' is over the rate of plan free" in refused.json_body["Message"]
    sqs = boto3.client("sqs")
    depth = sqs.get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert int(depth) == statuses.count(202)


def test_queued_logs_carry_their_tenant_as_message_group(aws: Any) -> None:
    import app

    with Client(app.app, project_dir=str(PROJECT_DIR)) as client:
        answer = client.http.post(
            "/ingest", headers={"Content-Type": "text/plain", "X-Tenant-ID": "beta"}, body=b"x"
        )
    assert answer.status_code == 202
    message = boto3.client("sqs").receive_message(
        QueueUrl=aws.queue_url, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"][0]
    assert message["Attributes"]["MessageGroupId"] == "beta"


def test_a_batch_is_decided_once_per_tenant_in_request_order(aws: Any) -> None:
    _on_plan(aws, "acme", "free")
    allowance = FREE.logs_per_rate_window
    batch = [("acme", 10)] * allowance + [("beta", 10), ("acme", 10), ("beta", 10)]
    verdicts = limiter.admit_each(batch)
    assert verdicts[:allowance] == [None] * allowance
    assert verdicts[allowance] is None  # beta, on the default plan, is far from its limits
    refused = verdicts[allowance + 1]
    assert refused is not None
    assert refused.limit == "rate_limit"
    assert verdicts[allowance + 2] is None
