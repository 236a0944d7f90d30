"""Event lines: one valid JSON object each, metrics CloudWatch can read, and no personal data."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import telemetry
from chalicelib.config import Settings
from chalicelib.metrics import INGEST_ACCEPTED, LOGS_STORED, PROCESSING_LAG, RECORDS_FAILED
from chalicelib.redact import REPLACEMENT, redact
from tests.event_lines import (
    assert_no_personal_data,
    dimension_sets,
    event_lines,
    metric_values,
)
from tests.strategies import fillers, pii

NOW = 1_795_000_000.123  # 2026-11-18T11:06:40.123Z


def rendered(**arguments: Any) -> dict[str, Any]:
    arguments.setdefault("settings", Settings(stage="prod"))
    arguments.setdefault("now", NOW)
    [line] = event_lines(telemetry.render(**arguments))
    return line


def test_a_line_carries_its_fields_and_leaves_out_the_missing_ones() -> None:
    line = rendered(
        event="record", fields={"tenant_id": "acme", "log_id": "7", "attempt": 2, "lag_ms": None}
    )
    assert line == {
        "timestamp": "2026-11-18T11:06:40.123Z",
        "level": "INFO",
        "service": "robust-data-processor",
        "stage": "prod",
        "event": "record",
        "tenant_id": "acme",
        "log_id": "7",
        "attempt": 2,
    }


def test_metrics_are_published_by_stage_and_by_reason() -> None:
    line = rendered(event="record", fields={}, metrics={RECORDS_FAILED: 1}, reason="poison")
    assert metric_values(line) == {"RecordsFailed": 1}
    assert dimension_sets(line) == [{"Stage": "prod"}, {"Stage": "prod", "Reason": "poison"}]
    assert line["reason"] == "poison"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RobustDataProcessor"
    assert line["_aws"]["Timestamp"] == 1_795_000_000_123


@pytest.mark.parametrize("by_tenant", [True, False])
def test_tenants_become_a_dimension_only_where_the_stage_says_it_is_safe(by_tenant: bool) -> None:
    line = rendered(
        event="ingest",
        fields={"tenant_id": "acme"},
        settings=Settings(stage="prod", metrics_by_tenant=by_tenant),
        metrics={INGEST_ACCEPTED: 1},
    )
    per_tenant = [{"Stage": "prod", "TenantId": "acme"}] if by_tenant else []
    assert dimension_sets(line) == [{"Stage": "prod"}, *per_tenant]
    assert ("TenantId" in line) is by_tenant


def test_a_line_without_metrics_declares_none() -> None:
    line = rendered(event="batch", fields={"records": 3})
    assert "_aws" not in line
    assert "Stage" not in line


def test_ids_and_messages_shaped_like_personal_data_are_redacted() -> None:
    line = rendered(
        event="record",
        fields={"log_id": "555-0199", "error_message": "no mailbox for ann@example.com"},
        settings=Settings(stage="prod", metrics_by_tenant=True),
        metrics={LOGS_STORED: 1},
    )
    assert line["log_id"] == REPLACEMENT
    assert line["error_message"] == f"no mailbox for {REPLACEMENT}"


def test_a_line_is_ascii_whatever_its_fields_hold() -> None:
    text = telemetry.render("log", {"message": "caf\u00e9\u2028\n"}, Settings(), NOW)
    assert text.isascii()
    assert "\n" not in text
    [line] = event_lines(text)
    assert line["message"] == "caf\u00e9\u2028\n"


def test_emit_writes_one_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.emit("record", {"outcome": "stored"}, metrics={PROCESSING_LAG: 12.5})
    [line] = event_lines(capsys.readouterr().out)
    assert (line["event"], line["outcome"], line["ProcessingLag"]) == ("record", "stored", 12.5)
    assert line["stage"] == "dev"  # the test environment's default


def test_lines_from_many_threads_stay_whole(capsys: pytest.CaptureFixture[str]) -> None:
    def write(thread: int) -> None:
        for number in range(200):
            telemetry.emit("record", {"log_id": f"{thread}-{number}", "text_like": "x" * 500})

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = event_lines(capsys.readouterr().out)
    assert sorted(line["log_id"] for line in lines) == sorted(
        f"{thread}-{number}" for thread in range(8) for number in range(200)
    )


def test_elapsed_ms_counts_from_a_perf_counter_reading() -> None:
    assert telemetry.elapsed_ms(time.perf_counter() - 0.25) >= 250


def _record(message: str, *args: object, error: Exception | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except Exception:
            exc_info = sys.exc_info()
    return logging.LogRecord("botocore.retry", logging.ERROR, __file__, 1, message, args, exc_info)


def test_stdlib_records_become_event_lines_with_their_error_redacted() -> None:
    record = _record("delivery to %s failed", "bob@example.com", error=KeyError("+44 20 7946 0958"))
    [line] = event_lines(telemetry.JsonLogFormatter().format(record))
    assert line["event"] == "log"
    assert line["level"] == "ERROR"
    assert line["logger"] == "botocore.retry"
    assert line["message"] == f"delivery to {REPLACEMENT} failed"
    assert line["error"] == "KeyError"
    assert "Traceback" in line["traceback"]
    assert_no_personal_data(line)


@pytest.mark.parametrize(
    ("level", "shown"),
    [(logging.DEBUG, "INFO"), (logging.INFO, "INFO"), (logging.WARNING, "WARNING")],
)
def test_stdlib_levels_map_to_event_levels(level: int, shown: str) -> None:
    record = _record("x")
    record.levelno = level
    [line] = event_lines(telemetry.JsonLogFormatter().format(record))
    assert line["level"] == shown


@pytest.fixture
def bare_root(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The root logger, its handlers and level put back afterwards.

    pytest adds its capturing handlers when the test itself starts: tests clear them first.
    """
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    return root


def test_a_process_without_logging_gets_event_lines_on_stdout(bare_root: logging.Logger) -> None:
    bare_root.handlers.clear()
    telemetry.configure_logging()
    [handler] = bare_root.handlers
    assert isinstance(handler.formatter, telemetry.JsonLogFormatter)
    assert bare_root.level == logging.INFO


def test_a_process_that_logs_its_own_way_is_left_alone(bare_root: logging.Logger) -> None:
    own = logging.StreamHandler(io.StringIO())
    bare_root.handlers[:] = [own]
    telemetry.configure_logging()
    assert bare_root.handlers == [own]
    assert not isinstance(own.formatter, telemetry.JsonLogFormatter)
    assert bare_root.level == logging.WARNING


def test_chalice_locals_plain_stdout_handler_writes_event_lines(
    bare_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = io.StringIO()
    monkeypatch.setattr(sys, "stdout", sink)
    plain = logging.StreamHandler(sys.stdout)  # what `chalice local`'s basicConfig installs
    plain.setFormatter(logging.Formatter("%(message)s"))
    bare_root.handlers[:] = [plain]
    telemetry.configure_logging()
    logging.getLogger("chalicelib.errors").error("ingest queue unreachable: %s", "NoRegionError")
    [line] = event_lines(sink.getvalue())
    assert line["message"] == "ingest queue unreachable: NoRegionError"


def test_on_lambda_the_runtime_handler_writes_event_lines(
    bare_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = io.StringIO()
    runtime = logging.StreamHandler(sink)  # stands for the Lambda runtime's handler
    bare_root.handlers[:] = [runtime]
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "robust-data-processor-prod-worker")
    telemetry.configure_logging()
    assert bare_root.handlers == [runtime]
    logging.getLogger("chalicelib.errors").info("ingest queue refused the call: %s", "Throttling")
    [line] = event_lines(sink.getvalue())
    assert line["message"] == "ingest queue refused the call: Throttling"


@settings(max_examples=150, deadline=None)
@given(
    before=fillers(),
    found=pii,
    after=fillers(),
    key=st.sampled_from(["log_id", "message", "tenant_id", "outcome"]),
)
def test_no_personal_data_reaches_a_line(before: str, found: str, after: str, key: str) -> None:
    # Whatever a caller puts in a field, the line carries none of it that redaction would take.
    text = f"{before} {found} {after}"
    line = rendered(
        event="record",
        fields={"tenant_id": "acme", key: text},
        settings=Settings(metrics_by_tenant=True),
        metrics={LOGS_STORED: 1},
    )
    assert found not in json.dumps(line, ensure_ascii=False)
    assert_no_personal_data(line)


def test_a_repeating_field_is_redacted_on_every_line() -> None:
    # A field that repeats from line to line (the tenant) is redacted on every one of them.
    for _ in range(3):
        line = rendered(
            event="record", fields={"tenant_id": "ann@example.com"}, settings=Settings()
        )
        assert line["tenant_id"] == REPLACEMENT


@settings(max_examples=200, deadline=None)
@given(
    uuid=st.one_of(
        st.uuids().map(str),
        st.text("0123456789", min_size=32, max_size=32).map(
            lambda d: f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"
        ),
    )
)
def test_a_uuid_shows_as_redaction_would_show_it(uuid: str) -> None:
    # Request ids skip the engine; they must come out as the engine would leave them.
    line = rendered(event="record", fields={"request_id": uuid}, settings=Settings())
    assert line["request_id"] == redact(uuid)


@given(now=st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_the_lines_time_and_its_metrics_time_are_one_reading(now: float) -> None:
    line = json.loads(telemetry.render("record", {}, Settings(), now, metrics={LOGS_STORED: 1}))
    millis = line["_aws"]["Timestamp"]
    assert millis == int(now * 1000)
    shown = datetime.fromtimestamp(millis // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert line["timestamp"] == f"{shown}.{millis % 1000:03d}Z"
