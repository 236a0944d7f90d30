"""Worker: per-record outcomes, the partial-batch response, time budget and idempotent writes."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

import boto3
import pytest

from chalicelib import store, worker
from chalicelib.config import Settings, get_settings
from chalicelib.message import LogMessage
from devstack.poison import poison_bodies
from tests.conftest import queued_message, sqs_record


def plenty() -> float:
    return 600_000.0


def stored_items(aws: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return items


def test_redelivered_message_is_a_duplicate_that_succeeds_and_changes_nothing(aws: Any) -> None:
    first = worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    [item] = stored_items(aws)
    again = worker.process_batch(
        [sqs_record(queued_message(text="a different text"), "m-1", receive_count=2)], plenty
    )
    assert first == again == {"batchItemFailures": []}
    assert stored_items(aws) == [item]


def test_simulated_crash_fails_the_record_and_stores_nothing(aws: Any, configure: Any) -> None:
    configure(CRASH_PROBABILITY="1")
    response = worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert stored_items(aws) == []


def test_a_failing_write_fails_only_its_record(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = store.put_new

    def flaky_put(item: dict[str, Any]) -> bool:
        if item["log_id"] == "bad":
            raise RuntimeError("throttled")
        return real_put(item)

    monkeypatch.setattr(store, "put_new", flaky_put)
    records = [
        sqs_record(queued_message(log_id="ok-1"), "m-1"),
        sqs_record(queued_message(log_id="bad"), "m-2"),
        sqs_record(queued_message(log_id="ok-2"), "m-3"),
    ]
    response = worker.process_batch(records, plenty)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert len(stored_items(aws)) == 2


POISON_KINDS = sorted(poison_bodies(Settings()))  # the default settings have every kind


@pytest.fixture
def poison(configure: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every kind of poison for a worker with simulated work (not slept: only its budget counts)."""
    monkeypatch.setattr("chalicelib.worker.time.sleep", lambda seconds: None)
    return poison_bodies(configure(WORK_SECONDS_PER_CHAR="0.05"))


def fresh_invocation() -> float:
    """A whole invocation's time left, the worker's timeout, as Lambda gives each batch."""
    return get_settings().worker_timeout_seconds * 1000.0


@pytest.mark.parametrize("kind", POISON_KINDS)
def test_poison_records_fail_alone(aws: Any, poison: dict[str, str], kind: str) -> None:
    records = [sqs_record(poison[kind], "poison"), sqs_record(queued_message(), "healthy")]
    response = worker.process_batch(records, fresh_invocation)
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert len(stored_items(aws)) == 1


def test_a_batch_of_every_poison_kind_fails_only_those_records(
    aws: Any, poison: dict[str, str]
) -> None:
    healthy = [sqs_record(queued_message(log_id=f"ok-{n}"), f"ok-{n}") for n in range(5)]
    bad = [sqs_record(body, f"poison-{n}") for n, body in enumerate(poison.values())]
    mixed = [record for pair in zip_longest(bad, healthy) for record in pair if record]
    response = worker.process_batch(mixed, fresh_invocation)
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    assert failed == {record["messageId"] for record in bad}
    stored = sorted(item["log_id"]["S"] for item in stored_items(aws))
    assert stored == [f"ok-{n}" for n in range(5)]


def test_records_that_cannot_finish_in_time_are_handed_back_untouched(
    aws: Any, configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(WORK_SECONDS_PER_CHAR="1", WORKER_TIME_MARGIN_SECONDS="2")
    slept: list[float] = []
    monkeypatch.setattr("chalicelib.worker.time.sleep", slept.append)
    records = [
        sqs_record(queued_message(log_id="long", text="x" * 30), "long"),
        sqs_record(queued_message(log_id="short", text="y" * 5), "short"),
    ]
    # 10 s left: the 30-character record needs 32 s, the 5-character one 7 s.
    response = worker.process_batch(records, lambda: 10_000.0)
    assert response == {"batchItemFailures": [{"itemIdentifier": "long"}]}
    assert slept == [5.0]
    [item] = stored_items(aws)
    assert item["log_id"] == {"S": "short"}


def test_most_delivered_records_go_first(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    real = worker.process_record

    def recording(message: LogMessage, attempt: int, settings: Any) -> bool:
        order.append(message.log_id)
        return real(message, attempt, settings)

    monkeypatch.setattr(worker, "process_record", recording)
    records = [
        sqs_record(queued_message(log_id="fresh"), "a", receive_count=1),
        sqs_record(queued_message(log_id="third-try"), "b", receive_count=3),
        sqs_record(queued_message(log_id="second-try"), "c", receive_count=2),
    ]
    worker.process_batch(records, plenty)
    assert order == ["third-try", "second-try", "fresh"]


def test_simulated_work_sleeps_for_each_character(
    aws: Any, configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(WORK_SECONDS_PER_CHAR="0.05")
    slept: list[float] = []
    monkeypatch.setattr("chalicelib.worker.time.sleep", slept.append)
    message = LogMessage.from_json(sqs_record(queued_message(text="x" * 40))["body"])
    assert worker.process_record(message, 1, get_settings()) is True
    assert slept == [pytest.approx(2.0)]
