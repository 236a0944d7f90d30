"""The status line of `make dev` and the progress of `make chaos`, from synthetic event lines.

Everything here is fed lines and depths by hand and reads back strings: no stack, no clock.
"""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from devstack.status import (
    ERASE,
    LAG_WINDOW,
    PipelineStatus,
    PipelineWatch,
    QueueDepths,
    StatusLine,
    draining_progress,
    parse_event,
    posting_progress,
    progress_bar,
    read_depths,
    tally,
)


def event(kind: str, **fields: Any) -> str:
    """One event line as the pipeline writes it, with the common fields and an EMF block."""
    line = {
        "timestamp": "2026-11-21T10:00:00.000Z",
        "level": "INFO",
        "service": "robust-data-processor",
        "stage": "dev",
        "event": kind,
        **fields,
        "_aws": {"Timestamp": 0, "CloudWatchMetrics": []},
        "Stage": "dev",
    }
    return json.dumps(line, separators=(",", ":"))


def record(outcome: str, log_id: str = "log-1", tenant_id: str = "acme", **fields: Any) -> str:
    return event("record", outcome=outcome, tenant_id=tenant_id, log_id=log_id, **fields)


CRASH = record("failed", reason="simulated_crash", attempt=1)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        '127.0.0.1 - - [21/Nov/2026 10:00:00] "POST /ingest HTTP/1.1" 202 -',
        "Traceback (most recent call last):",
        "2026-11-21 10:00:00,000 devstack.consumer stored acme/log-1 on attempt 1",
        '{"event": "record", "outcome": "stored"',  # cut short
        '["event", "record"]',
        '{"outcome": "stored"}',  # no event name
        '{"event": 7}',
        '"{\\"event\\": \\"record\\"}"',  # a JSON string holding an object
        '{"a":' * 100_000,  # nested past the parser's recursion limit
    ],
)
def test_anything_but_an_event_line_is_not_an_event(line: str) -> None:
    assert parse_event(line) is None


def test_an_event_line_is_read_with_its_fields_around_whitespace() -> None:
    line = "  " + record("stored", lag_ms=1500.0) + "\r\n"
    parsed = parse_event(line)
    assert parsed is not None
    assert (parsed["event"], parsed["outcome"], parsed["lag_ms"]) == ("record", "stored", 1500.0)


def test_ingest_lines_count_accepted_and_rejected() -> None:
    status = tally(
        [
            event("ingest", outcome="accepted", tenant_id="acme", log_id="1"),
            event("ingest", outcome="accepted", tenant_id="acme", log_id="2"),
            event("ingest", outcome="rejected", reason="invalid_json", status=400),
        ]
    )
    assert (status.accepted, status.rejected, status.stored) == (2, 1, 0)


def test_record_lines_count_stored_duplicates_failures_and_crashes() -> None:
    status = tally(
        [
            record("stored", "1", lag_ms=100),
            record("stored", "2", lag_ms=200),
            record("duplicate", "2"),  # a repost of a stored log
            CRASH,
            record("failed", "3", reason="error"),
            record("failed", "4", reason="out_of_time"),
            event("record", outcome="failed", reason="poison", message_id="m-9"),
            event("batch", outcome="partial", records=6, failed=4),
            event("consumer_batch", received=6, deleted=2),
            event("log", level="ERROR", message="stored 99 things"),
        ]
    )
    assert (status.stored, status.duplicates, status.failed, status.crashes) == (2, 1, 4, 1)


def test_a_duplicate_of_a_log_never_seen_stored_counts_it_stored_once() -> None:
    """The write happened and its answer was lost: the log is in the table all the same."""
    status = tally([record("failed", reason="error"), record("duplicate"), record("duplicate")])
    assert (status.stored, status.duplicates) == (1, 2)


def test_the_same_log_id_in_two_tenants_is_two_logs() -> None:
    status = tally([record("stored", "1", "acme"), record("stored", "1", "beta_inc")])
    assert status.stored == 2


def test_lag_is_the_median_of_the_most_recent_stored_logs_in_seconds() -> None:
    status = PipelineStatus()
    assert status.lag_seconds is None
    for number in range(LAG_WINDOW):
        status.observe(record("stored", str(number), lag_ms=60_000))  # an old backlog
    for number in range(LAG_WINDOW // 2 + 1):
        status.observe(record("stored", f"new-{number}", lag_ms=2_000))
    status.observe(record("duplicate", "new-0"))  # a duplicate has no lag
    assert status.lag_seconds == 2.0


def test_garbage_between_event_lines_changes_nothing() -> None:
    lines = [record("stored", "1", lag_ms=10), CRASH]
    noisy = ["Traceback (most recent call last):", "{oops", *lines, "[]", "\x1b[31mred\x1b[0m"]
    assert tally(noisy) == tally(lines)


def test_the_status_line_shows_depths_counts_and_lag() -> None:
    status = tally(
        [
            event("ingest", outcome="accepted"),
            event("ingest", outcome="rejected"),
            record("stored", "1", lag_ms=1234),
            record("duplicate", "1"),
            CRASH,
        ]
    )
    status.depths = QueueDepths(waiting=1200, in_flight=20, dead_letter=3)
    assert status.render() == (
        "pipeline: queue 1,200 waiting, 20 in flight | dead-letter 3 | stored 1 | lag 1.2 s"
        " | accepted 1, rejected 1 | failed 1 (crashed 1), duplicates 1"
    )


def test_before_the_queues_are_read_and_anything_stored_the_line_says_so() -> None:
    expected = "pipeline: queue ? waiting, ? in flight | dead-letter ? | stored 0 | lag - |"
    assert PipelineStatus().render().startswith(expected)


def test_depths_are_read_from_both_queues(aws: Any) -> None:
    sqs = boto3.client("sqs")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
    sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=1)
    sqs.send_message(QueueUrl=aws.dead_letter_queue_url, MessageBody="poison")
    depths = read_depths(sqs, aws.queue_url, aws.dead_letter_queue_url)
    assert depths == QueueDepths(waiting=2, in_flight=1, dead_letter=1)
    assert depths.queued == 3


def test_on_a_terminal_the_status_stays_below_the_output_and_is_redrawn() -> None:
    out = io.StringIO()
    line = StatusLine(out, live=True, columns=lambda: 80)
    line.write("before any status")
    line.show("stored 1", now=0)
    line.write('{"event":"record"}')
    line.show("stored 2", now=0.1)
    line.show("stored 2", now=0.2)  # unchanged: not redrawn
    line.close()
    line.write("after")
    assert out.getvalue() == (
        "before any status\n"
        f"{ERASE}stored 1"
        f'{ERASE}{{"event":"record"}}\nstored 1'
        f"{ERASE}stored 2"
        f"{ERASE}stored 2\n"
        "after\n"
    )


def test_on_a_terminal_the_status_is_cut_to_its_width_so_it_never_wraps() -> None:
    out = io.StringIO()
    StatusLine(out, live=True, columns=lambda: 10).show("x" * 50, now=0)
    assert out.getvalue() == ERASE + "x" * 9


def test_off_a_terminal_a_status_is_printed_when_it_changed_and_is_due() -> None:
    out = io.StringIO()
    line = StatusLine(out, live=False, plain_seconds=5)
    line.show("stored 0", now=100)  # the first one at once
    line.write("an event")
    line.show("stored 0", now=110)  # unchanged: not again
    line.show("stored 1", now=111)  # changed and due
    line.show("stored 2", now=112)  # changed, not due
    line.show("stored 3", now=113)
    line.close()  # the last one is left
    assert out.getvalue() == "stored 0\nan event\nstored 1\nstored 3\n"
    assert "\r" not in out.getvalue()
    assert "\x1b" not in out.getvalue()


def test_off_a_terminal_closing_prints_nothing_already_printed() -> None:
    out = io.StringIO()
    line = StatusLine(out, live=False)
    line.show("stored 0", now=0)
    line.close()
    assert out.getvalue() == "stored 0\n"


def test_the_watch_relays_every_line_counts_events_and_leaves_the_last_status() -> None:
    out = io.StringIO()
    child = io.BytesIO(
        b"Serving on http://127.0.0.1:8000\n"
        + record("stored", "1", lag_ms=500).encode()
        + b"\n"
        + "broken UTF-8 \xff\n".encode("latin-1")
        + CRASH.encode()
        + b"\n"
    )
    with PipelineWatch(StatusLine(out, live=False)) as watch:
        watch.write("devstack ready")
        watch.refresh()  # as `make dev` does once ready
        watch.relay(child)
    lines = out.getvalue().splitlines()
    assert lines[0] == "devstack ready"
    assert lines[1].startswith(
        "pipeline: queue ? waiting, ? in flight | dead-letter ? | stored 0 |"
    )
    assert lines[2:6] == [
        "Serving on http://127.0.0.1:8000",
        record("stored", "1", lag_ms=500),
        "broken UTF-8 \ufffd",
        CRASH,
    ]
    assert "stored 1 | lag 0.5 s" in lines[6]
    assert "failed 1 (crashed 1)" in lines[6]
    assert len(lines) == 7


def test_the_watch_shows_the_depths_it_reads_and_question_marks_until_a_read_succeeds() -> None:
    out = io.StringIO()
    with PipelineWatch(StatusLine(out, live=False)) as watch:
        watch.poll_depths(lambda: QueueDepths(waiting=3, in_flight=2, dead_letter=1))
        watch.refresh()
    assert out.getvalue().startswith("pipeline: queue 3 waiting, 2 in flight | dead-letter 1 |")

    def unreachable() -> QueueDepths:
        raise ConnectionError("the emulator is gone")

    out = io.StringIO()
    with PipelineWatch(StatusLine(out, live=False)) as watch:
        watch.poll_depths(unreachable)
        watch.refresh()
    assert out.getvalue().startswith("pipeline: queue ? waiting, ? in flight | dead-letter ? |")


def test_a_watch_closed_before_the_stack_was_ready_leaves_no_status() -> None:
    out = io.StringIO()
    with PipelineWatch(StatusLine(out, live=False)) as watch:
        watch.relay(io.BytesIO(b"the emulator exited\n"))
    assert out.getvalue() == "the emulator exited\n"


@pytest.mark.parametrize(
    ("done", "total", "bar"),
    [
        (0, 10, "[----------]   0%"),
        (5, 10, "[#####-----]  50%"),
        (999, 1000, "[#########-] 100%"),  # rounded, but the bar is full only when done
        (10, 10, "[##########] 100%"),
        (12, 10, "[##########] 100%"),  # more stored than accepted cannot overflow
        (0, 0, "[##########] 100%"),
    ],
)
def test_a_progress_bar_shows_the_share_done(done: int, total: int, bar: str) -> None:
    assert progress_bar(done, total, width=10) == bar


def test_the_soak_shows_posted_of_planned_while_posting() -> None:
    status = tally([record("stored", "1"), record("stored", "2")])
    status.depths = QueueDepths(waiting=40, in_flight=10, dead_letter=1)
    assert posting_progress(1500, 3000, status, seconds=12.4) == (
        "posting  [############------------]  50% 1,500/3,000 logs | queue 50 | stored 2 | 12 s"
    )


def test_the_soak_shows_stored_of_accepted_and_both_queues_while_draining() -> None:
    status = tally([record("stored", str(number)) for number in range(3)])
    status.depths = QueueDepths(waiting=7, in_flight=4, dead_letter=2)
    assert draining_progress(status, accepted=12, seconds=30.6) == (
        "draining [######------------------]  25% stored 3/12"
        " | queue 7 (4 in flight) | dead-letter 2 | 31 s"
    )
    status.depths = None
    assert "| queue ? | dead-letter ? |" in draining_progress(status, accepted=12, seconds=0)
