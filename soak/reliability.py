"""docs/reliability.md, written from a chaos run and from the tests' own words, never by hand.

`write_report` renders a `soak.chaos.Report`: the verdict, the figures, the faults with the
counts actually injected, the inputs tried, the retry semantics the run observed, the redrive
guarantee (from `ops.redrive`'s docstring), and what each reliability test proves, read
from the test modules' docstrings and test names with `ast`, so nothing is imported and a
module that does not exist yet is simply left out.
"""

from __future__ import annotations

import ast
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.faults import SLOW_SECONDS
from infra.stage import PROJECT_DIR
from ops import redrive
from soak.load import (
    BATCH_FORMS,
    FORMS,
    KEEP_SAMPLES,
    PII_SAMPLES,
    WORDS,
    BatchSubmission,
    PlannedLog,
    longest_text,
    planned_logs,
)
from soak.reconcile import percentile

if TYPE_CHECKING:
    from soak.chaos import Report

#: The test modules whose tests the document lists, in this order, when they exist.
TEST_MODULES = (
    "test_chaos.py",
    "test_faults.py",
    "test_retries.py",
    "test_poison.py",
    "test_worker.py",
    "test_consumer.py",
    "test_redrive.py",
    "test_ingest_fuzz.py",
    "test_openapi.py",
    "test_e2e.py",
)
_FAULT_HOW = {
    "TransactWriteItems throttle": (
        "DynamoDB answers the worker's write ProvisionedThroughputExceededException; not written"
    ),
    "TransactWriteItems lost": "DynamoDB applies the worker's write, then answers 500",
    "PutItem throttle": "DynamoDB answers ProvisionedThroughputExceededException; not written",
    "PutItem lost": "DynamoDB writes the item, then answers 500",
    "SendMessage lost": "SQS queues the message, then answers 500",
    "SendMessage error": "SQS answers 500; nothing queued",
    "SendMessage drop": "the connection is closed unanswered; nothing queued",
    "SendMessage slow": f"SQS queues the message and answers late ({SLOW_SECONDS:g} s): the "
    "client times out",
    "SendMessageBatch lost": "SQS queues every entry, then answers 500",
    "SendMessageBatch error": "SQS answers 500; nothing queued",
    "SendMessageBatch drop": "the connection is closed unanswered; nothing queued",
    "SendMessageBatch slow": f"SQS queues every entry and answers late ({SLOW_SECONDS:g} s): the "
    "client times out and sends the batch again",
    "SendMessageBatch partial": "SQS queues every entry but one, which its 200 answer lists as "
    "Failed (InternalError)",
    "ReceiveMessage error": "SQS answers the consumer's poll with 500",
    "DeleteMessageBatch error": "SQS answers 500; nothing deleted, so the batch comes back",
}


def _ms(values: Sequence[float]) -> str:
    shares = (0.5, 0.95, 0.99)
    return " / ".join(f"{percentile(values, share) * 1000:,.0f}" for share in shares)


def _s(values: Sequence[float]) -> str:
    return " / ".join(f"{percentile(values, share):,.2f}" for share in (0.5, 0.95, 0.99))


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.1f}" if seconds > 0 else "n/a"


def figure_rows(report: Report) -> list[tuple[str, str]]:
    """The headline figures, as (figure, value) pairs."""
    figures = report.figures
    placed = len(figures.post_to_stored_seconds)
    rows = [
        ("accepted (202)", f"{figures.accepted:,} of {figures.posted:,} logs posted"),
        ("stored", f"{figures.stored:,} items"),
        ("duplicates", f"{figures.duplicates}"),
        ("lost", f"{figures.lost}"),
        ("in the dead-letter queue (accepted logs)", f"{figures.in_dead_letter_queue}"),
        (
            "poison in the dead-letter queue",
            f"{figures.poison_in_dead_letter_queue} of {figures.poison_injected} injected",
        ),
        ("wrong partition", f"{figures.wrong_partition}"),
        ("wrong redaction", f"{figures.wrong_redaction}"),
        ("items nobody posted", f"{figures.unknown}"),
        ("wrong log ids in batch answers", f"{figures.wrong_log_ids}"),
        ("stored though refused", f"{figures.stored_though_refused}"),
        ("refused on purpose (400 invalid, 413 too large)", f"{figures.refused}"),
        ("unexpected answers", f"{figures.unexpected_answers}"),
        ("posts the client gave up on", f"{figures.gave_up}"),
        (
            "batches",
            f"{len(report.batches):,} requests holding {_batched(report.batches):,} logs; "
            f"{_resends(report.batches):,} sent again whole",
        ),
        (
            "throughput, accepted",
            f"{_rate(figures.accepted, report.load_seconds)} logs/s "
            f"over {report.load_seconds:,.1f} s of load",
        ),
        (
            "throughput, stored",
            f"{_rate(placed, report.last_stored_after_seconds)} logs/s "
            f"(last stored {report.last_stored_after_seconds:,.1f} s after the first post)",
        ),
        ("deepest ingest queue", f"{report.deepest_queue:,} messages, waiting or in flight"),
        (
            "queue drained",
            f"{report.drain_seconds:,.1f} s after the last client's answer"
            if report.drained
            else "not within the time limit",
        ),
        ("POST latency p50 / p95 / p99, one log", f"{_ms(figures.post_seconds)} ms"),
        (
            "POST latency p50 / p95 / p99, a batch",
            f"{_ms([a.seconds for b in report.batches for a in b.attempts if a.status])} ms",
        ),
        ("POST to stored p50 / p95 / p99", f"{_s(figures.post_to_stored_seconds)} s"),
    ]
    return rows


def _batched(batches: Iterable[BatchSubmission]) -> int:
    return sum(len(batch.batch.logs) for batch in batches)


def _resends(batches: Iterable[BatchSubmission]) -> int:
    return sum(len(batch.attempts) - 1 for batch in batches if batch.attempts)


def _batches(report: Report) -> list[str]:
    """Per batch form: requests, logs, logs refused on purpose, and whole-batch resends by cause."""
    rows = [
        "| form | batches | logs | refused on purpose | sent again | after a 503 | after no "
        "answer (timeout, dropped) | answers settling it |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for form in BATCH_FORMS:
        batches = [b for b in report.batches if b.batch.form == form]
        if not batches:
            continue
        retried = [a.status for b in batches for a in b.attempts[:-1]]
        settling = Counter(str(b.attempts[-1].status) for b in batches if b.attempts)
        refused = sum(1 for b in batches for log in b.batch.logs if log.expect != 202)
        rows.append(
            f"| {form} | {len(batches):,} | {_batched(batches):,} | {refused} | "
            f"{len(retried):,} | {sum(1 for s in retried if s == 503):,} | "
            f"{sum(1 for s in retried if s is None):,} | "
            + ", ".join(f"{status}: {count:,}" for status, count in sorted(settling.items()))
            + " |"
        )
    return rows


def _examples(report: Report) -> list[str]:
    """A few keys of each kind of damage, and of the accepted logs in the dead-letter queue."""
    return [
        f"Examples, {name}: {', '.join(f'`{key}`' for key in keys)}.\n"
        for name, keys in report.figures.examples.items()
    ]


def summary(report: Report) -> str:
    """The console version: verdict, figures, and a few keys of each kind of damage."""
    lines = [_verdict(report).replace("**", ""), ""]
    lines += [f"{figure}: {value}" for figure, value in figure_rows(report)]
    lines += [f"{name}, e.g.: {', '.join(keys)}" for name, keys in report.figures.examples.items()]
    return "\n".join(lines)


def _verdict(report: Report) -> str:
    failures = report.figures.failures
    if not failures:
        return (
            "**Passed**: every accepted log is stored exactly once, in its tenant's partition, "
            "redacted; none lost, none doubled; all poison in the dead-letter queue."
        )
    listed = ", ".join(f"{name} {count}" for name, count in failures.items())
    drained = "" if report.drained else " (the queue had not emptied by the time limit)"
    return f"**Failed**: {listed}{drained}."


def _faults(report: Report) -> list[str]:
    rows = [
        "| fault | how | injected |",
        "| --- | --- | --- |",
        (
            f"| worker crash | `CRASH_PROBABILITY={report.settings.crash_probability:g}`: the "
            f"worker raises before writing | {report.crashes:,} |"
        ),
    ]
    for name, count in sorted(report.injected.items()):
        rows.append(f"| {name} | {_FAULT_HOW.get(name, '')} | {count:,} |")
    events = Counter(event.name for event in report.events)
    for name, count in events.items():
        details = "; ".join(
            f"at {event.seconds:g} s: {event.detail}"
            for event in report.events
            if event.name == name
        )
        rows.append(f"| {name} | {details} | {count} |")
    return rows


def _inputs(report: Report) -> list[str]:
    planned = planned_logs(report.planned)
    sizes = sorted(len(text) for log in planned for text in log.texts if log.expect == 202)
    forms = Counter(log.form for log in report.planned if isinstance(log, PlannedLog))
    sizes_batched = [len(batch.batch.logs) for batch in report.batches]
    tenants = sorted({log.tenant_id for log in planned})
    odd = ", ".join(f"`{tenant}`" for tenant in tenants if not tenant.startswith("tenant-"))
    reposted = sum(1 for log in planned if len(log.texts) == 2 and log.texts[0] == log.texts[1])
    changed = sum(1 for log in planned if len(set(log.texts)) == 2)
    settings = report.settings
    overrides = ", ".join(f"`{name}={value}`" for name, value in report.options.environment.items())
    return [
        f"- {len(planned):,} planned logs over {len(tenants)} tenants, numbered per tenant "
        f"(`log-00001`, ...), so every log id exists in many partitions at once; odd but valid "
        f"tenant ids among them: {odd}.",
        f"- {report.options.clients} client threads posting concurrently, each giving a request "
        f"{report.options.client_timeout_seconds:g} s; on a 5xx, a dropped connection or a "
        "timeout each retries the same log with the same log_id, with exponential backoff, and "
        "sends a batch again whole, byte for byte, after its `Retry-After` when it has one.",
        f"- Text sizes: {sizes[0]:,} to {sizes[-1]:,} characters, median "
        f"{statistics.median(sizes):,.0f}, {sum(sizes):,} in all; the longest a log may have "
        f"with these settings is {longest_text(settings):,}.",
        "- One-log upload forms: " + ", ".join(f"{name} ({forms[name]:,})" for name in FORMS) + ".",
        f"- Batches: {len(report.batches):,} requests of {min(sizes_batched, default=0)} to "
        f"{max(sizes_batched, default=0)} logs, {_batched(report.batches):,} logs in all, "
        "across tenants, in the forms of the table under Batches; half the logs carry "
        "attributes with planted PII (nested too), half the OTLP records a "
        "`log.record.uid`, the others the id the API derives; some logs invalid or too large on "
        "purpose.",
        "- Scripts and symbols: " + " ".join(WORDS) + ", with newlines and tabs.",
        "- Planted PII, which must be redacted: " + ", ".join(f"`{p}`" for p in PII_SAMPLES) + ".",
        "- Planted look-alikes, which must survive: "
        + ", ".join(f"`{k}`" for k in KEEP_SAMPLES)
        + ".",
        f"- Posted twice after a 202 (a client that timed out): {reposted}; posted again with "
        f"a different text: {changed}.",
        f"- Too large on purpose (must be 413): {sum(1 for log in planned if log.expect == 413)}.",
        "- Poison put straight on the queue, one of each: " + "; ".join(report.poison_kinds) + ".",
        f"- Settings: the {report.options.stage} stage with {overrides}; "
        f"`MAX_RECEIVE_COUNT={settings.max_receive_count}`, visibility timeout "
        f"{settings.queue_visibility_timeout_seconds} s, batches of {settings.worker_batch_size}, "
        f"{settings.worker_max_concurrency} concurrent batches; seed {report.options.seed}.",
    ]


def _retries(report: Report) -> list[str]:
    figures = report.figures
    return [
        "A log is identified by `(tenant_id, log_id)`. The worker writes it with "
        "`attribute_not_exists(log_id)`, so the first copy to be *stored* wins and every later "
        "copy is acknowledged and dropped as a duplicate, whatever its text. In this run:",
        "",
        f"- {figures.reposted} logs were posted again with the same text after their 202: "
        "none made a second record (a second record would count under duplicates).",
        f"- {figures.changed_text} logs were posted again with a different text, both answered "
        f"202; {figures.changed_text_kept_first} kept the first text posted, "
        f"{figures.changed_text - figures.changed_text_kept_first} the second: stored first is "
        "not always posted first, because a crash or a throttled write sends the first copy "
        "back to the queue behind the second. A client that must change a log needs a new "
        "log_id.",
        f"- {figures.stored_from_unacknowledged_post} items came from a post the client saw "
        "fail: SQS had queued the message but its answer was lost, ingest answered 503, and "
        "the client's retry (same log_id) was the duplicate. A 503 therefore means *not known "
        "to be accepted*: retry with the same log_id; a client without a log_id may get two "
        "records.",
        f"- {figures.stored_on_redelivery} items were written on a redelivery (attempt > 1): "
        "after a crash, a lost answer, a killed worker or a failed delete.",
        f"- {_resends(report.batches)} times a batch was sent again whole, the same bytes, after "
        "a 503 or no answer in time: its logs already queued were queued again and stored "
        "once, under the same given, Idempotency-Key or OTLP-derived ids (the Batches table "
        "has them by form).",
    ]


def _redrive() -> list[str]:
    doc = redrive.__doc__ or ""
    guarantee = doc[doc.index("The emulator lacks") :] if "The emulator lacks" in doc else doc
    return [
        "`make redrive` lists the dead-letter queue (each message's receive count, age, and "
        "its log or why it is poison) and moves the messages back to the ingest queue. On "
        "AWS, `make redrive AWS=1 STAGE=prod` asks SQS to do it (`StartMessageMoveTask`); from the "
        "AWS CLI: `aws sqs start-message-move-task --source-arn <dead-letter queue ARN>`, "
        "then `aws sqs list-message-move-tasks --source-arn <same ARN>`.",
        "",
        guarantee.strip(),
    ]


def _humanized(name: str) -> str:
    return name.removeprefix("test_").replace("_", " ")


def _kind(function: ast.FunctionDef) -> str:
    names = {ast.unparse(d).split("(")[0] for d in function.decorator_list}
    if "given" in names:
        return " (property-based, hypothesis)"
    if any(name.endswith("parametrize") for name in names):
        return " (for each case of its table)"
    return ""


def describe_tests(directory: Path, modules: Iterable[str] = TEST_MODULES) -> list[str]:
    """What each test proves, per module: its docstring, else its name in words."""
    lines: list[str] = []
    for module in modules:
        path = directory / module
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        lines += ["", f"### `tests/{module}`", ""]
        doc = ast.get_docstring(tree)
        if doc:
            lines += [" ".join(doc.split()), ""]
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                said = ast.get_docstring(node)
                text = _humanized(node.name) + (f": {' '.join(said.split())}" if said else "")
                lines.append(f"- {text}{_kind(node)}")
    return lines


def render(report: Report, tests_directory: Path) -> str:
    """The whole document."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        "# Reliability: chaos, load, poison and hostile input",
        "",
        f"Generated by `make chaos` (`python -m soak --report docs/reliability.md`) "
        f"on {when}. Do not edit: rerun it. The figures are that run's.",
        "",
        "## Verdict",
        "",
        _verdict(report),
        "",
        "## Figures",
        "",
        "| figure | value |",
        "| --- | --- |",
        *(f"| {figure} | {value} |" for figure, value in figure_rows(report)),
        "",
        *_examples(report),
        "Definitions (`soak/reconcile.py`): a log is *stored* when an item under its "
        "`(tenant_id, log_id)` holds a text posted under that key; *lost* when it was accepted "
        "and is neither stored nor in the dead-letter queue; a *duplicate* is a text stored a "
        "second time under another log id; *wrong partition* is a text stored under another "
        "tenant; *wrong redaction* is `modified_data` other than `redact(original_text)`, a "
        "planted phone number or address left in it, or a planted look-alike removed. Every "
        "text posted is unique, so an item always leads back to its post.",
        "",
        "## Faults injected",
        "",
        *_faults(report),
        "",
        "## Inputs tried",
        "",
        *_inputs(report),
        "",
        "## Batches",
        "",
        "Each batch is sent until an answer settles it: a 202 (or OTLP's 200) whose per-log "
        "answers give every log its planned status and id, or a 400 whose logs are all invalid. "
        "A resend is the same body: the same log_ids, the same `Idempotency-Key`, the same OTLP "
        "bytes. Each log's expected id is the one it was sent with, `derived_log_id` of the "
        "batch's key and its position, or what `chalicelib.otlp` decodes from the request the "
        "soak built; the reconciliation above counts every batched log as it counts a single "
        "one.",
        "",
        *_batches(report),
        "",
        "## Client retries and the same log_id",
        "",
        *_retries(report),
        "",
        "## Poison and the dead-letter queue",
        "",
        *_redrive(),
        "",
        "## What each test proves",
        *describe_tests(tests_directory),
        "",
    ]
    return "\n".join(sections)


def write_report(report: Report, path: Path, tests_directory: Path | None = None) -> None:
    """Write docs/reliability.md (or `path`) from `report`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, tests_directory or PROJECT_DIR / "tests"))
