"""Worker: per-record outcomes, the partial-batch response, time budget and idempotent writes."""

from __future__ import annotations

import contextlib
import io
import json
from itertools import zip_longest
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import store, worker
from chalicelib.config import Settings, get_settings
from chalicelib.message import _LOG_ID, LogMessage
from soak.poison import poison_bodies
from tests.conftest import queued_message, sqs_record
from tests.event_lines import (
    assert_no_personal_data,
    dimension_sets,
    event_lines,
    events,
    metric_values,
)
from tests.strategies import fillers, phones, pii

log_ids = st.from_regex(_LOG_ID, fullmatch=True)


def plenty() -> float:
    return 600_000.0


def table_items(aws: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return sorted(items, key=lambda item: (item["tenant_id"]["S"], item["log_id"]["S"]))


def stored_items(aws: Any) -> list[dict[str, Any]]:
    """The redacted logs: the items of tenants' own partitions, not originals or tombstones."""
    return [item for item in table_items(aws) if "#" not in item["tenant_id"]["S"]]


def test_redelivered_message_is_a_duplicate_that_succeeds_and_changes_nothing(aws: Any) -> None:
    first = worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    [log, original] = table_items(aws)
    assert original["tenant_id"] == {"S": "acme#original"}
    again = worker.process_batch(
        [sqs_record(queued_message(text="a different text"), "m-1", receive_count=2)], plenty
    )
    assert first == again == {"batchItemFailures": []}
    assert table_items(aws) == [log, original]


def test_simulated_crash_fails_the_record_and_stores_nothing(aws: Any, configure: Any) -> None:
    configure(CRASH_PROBABILITY="1")
    response = worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert stored_items(aws) == []


def test_a_failing_write_fails_only_its_record(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = store.put_unless_erased

    def flaky_put(items: list[store.Item]) -> store.Outcome:
        if items[0]["log_id"] == "bad":
            raise RuntimeError("throttled")
        return real_put(items)

    monkeypatch.setattr(store, "put_unless_erased", flaky_put)
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

    def recording(message: LogMessage, attempt: int, settings: Any) -> worker.Processed:
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
    assert worker.process_record(message, 1, get_settings()).outcome == "stored"
    assert slept == [pytest.approx(2.0)]


# --- event lines ------------------------------------------------------------------------------


def test_a_stored_log_says_who_it_is_how_long_it_took_and_what_was_redacted(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "User 555-0199 wrote to ann@example.com"
    worker.process_batch([sqs_record(queued_message(text=text), "m-1", receive_count=2)], plenty)
    output = capsys.readouterr().out
    [line] = events(output, "record")
    assert {key: line[key] for key in ("outcome", "tenant_id", "log_id", "request_id")} == {
        "outcome": "stored",
        "tenant_id": "acme",
        "log_id": "101",
        "request_id": "req-1",
    }
    assert (line["message_id"], line["attempt"], line["redactions"]) == ("m-1", 2, 2)
    assert line["duration_ms"] >= 0
    assert line["lag_ms"] > 0  # received_at is in the past
    metrics = metric_values(line)
    assert metrics["LogsStored"] == 1
    assert metrics["Redactions"] == 2
    assert metrics["ProcessingLag"] == line["lag_ms"]
    assert "555-0199" not in output
    assert "ann@example.com" not in output
    [batch] = events(output, "batch")
    assert (batch["outcome"], batch["records"], batch["failed"]) == ("complete", 1, 0)


def test_a_duplicate_is_counted_as_one(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    capsys.readouterr()
    worker.process_batch([sqs_record(queued_message(), "m-1", receive_count=2)], plenty)
    [line] = events(capsys.readouterr().out, "record")
    assert line["outcome"] == "duplicate"
    assert "lag_ms" not in line
    assert "redactions" not in line
    assert metric_values(line)["DuplicatesSkipped"] == 1
    assert "LogsStored" not in metric_values(line)


def test_a_copy_of_an_erased_log_is_counted_as_erased_not_as_a_duplicate(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(store, "put_unless_erased", lambda items: "erased")
    worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    [line] = events(capsys.readouterr().out, "record")
    assert line["outcome"] == "erased"
    assert metric_values(line) == {"ErasedSkipped": 1, "RecordDuration": line["duration_ms"]}


def failure_line(output: str) -> dict[str, Any]:
    [line] = events(output, "record")
    assert line["outcome"] == "failed"
    assert metric_values(line) == {"RecordsFailed": 1}
    assert {"Stage": "dev", "Reason": line["reason"]} in dimension_sets(line)
    return line


def test_a_simulated_crash_is_a_failure_by_its_own_reason(
    aws: Any, configure: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(CRASH_PROBABILITY="1")
    worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    line = failure_line(capsys.readouterr().out)
    assert (line["reason"], line["level"], line["error"]) == (
        "simulated_crash",
        "WARNING",
        "SimulatedCrashError",
    )
    assert (line["tenant_id"], line["log_id"], line["attempt"]) == ("acme", "101", 1)


def test_an_unexpected_error_keeps_its_traceback(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(items: list[store.Item]) -> store.Outcome:
        raise RuntimeError("table gone for +44 20 7946 0958")

    monkeypatch.setattr(store, "put_unless_erased", broken)
    worker.process_batch([sqs_record(queued_message(), "m-1")], plenty)
    line = failure_line(capsys.readouterr().out)
    assert (line["reason"], line["level"], line["error"]) == ("error", "ERROR", "RuntimeError")
    assert "in broken" in line["traceback"]
    assert "7946" not in json.dumps(line)


def test_poison_and_records_out_of_time_say_why(
    aws: Any, poison: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    worker.process_batch([sqs_record(poison["not JSON"], "bad")], fresh_invocation)
    line = failure_line(capsys.readouterr().out)
    assert (line["reason"], line["message_id"], line["error"]) == (
        "poison",
        "bad",
        "InvalidFieldError",
    )
    long = queued_message(text="x" * 30)
    worker.process_batch([sqs_record(long, "long")], lambda: 1_000.0)
    line = failure_line(capsys.readouterr().out)
    assert line["reason"] == "out_of_time"
    assert line["needed_seconds"] > line["seconds_left"] == 1.0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=fillers(),
    found=pii,
    after=fillers(),
    log_id=st.one_of(log_ids, phones.filter(_LOG_ID.fullmatch)),
)
def test_no_text_and_no_personal_data_reach_the_worker_lines(
    monkeypatch: pytest.MonkeyPatch, before: str, found: str, after: str, log_id: str
) -> None:
    monkeypatch.setattr(store, "put_unless_erased", lambda items: "stored")
    text = f"{before} {found} {after}"
    body = queued_message(text=text, log_id=log_id)
    with contextlib.redirect_stdout(io.StringIO()) as output:
        worker.process_batch([sqs_record(body, "m-1")], plenty)
    lines = event_lines(output.getvalue())
    assert [line["event"] for line in lines] == ["record", "batch"]
    for line in lines:
        assert_no_personal_data(line)
        assert found not in json.dumps(line, ensure_ascii=False)
        if len(text.strip()) > len(log_id):
            assert text.strip() not in json.dumps(line, ensure_ascii=False)
