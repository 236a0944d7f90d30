"""The operators' CloudWatch dashboard: defined once, rendered by the SAM and Terraform stacks.

It answers without reading code: how many logs came in (per tenant too), how many were refused
and why, how far behind the worker is, what failed or crashed, and what ended in the
dead-letter queue. The body is built from the stage's `Settings`. Where it names one of the
stack's resources it holds the placeholder the template gives in `StackNames`: CloudFormation
(`Fn::Sub`) and Terraform (string templates) both substitute `${...}` when they deploy, so one
JSON text serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chalicelib.config import Settings
from chalicelib.metrics import (
    DUPLICATES,
    ERASED_SKIPPED,
    INGEST_ACCEPTED,
    INGEST_DURATION,
    INGEST_REJECTED,
    LIMITER_UNAVAILABLE,
    LOGS_STORED,
    NAMESPACE,
    PROCESSING_LAG,
    REASON_DIMENSION,
    RECORD_DURATION,
    RECORDS_FAILED,
    REDACTIONS,
    STAGE_DIMENSION,
    TENANT_DIMENSION,
    Metric,
)

#: Seconds per data point of every graph: the finest resolution of standard metrics.
PERIOD: Final = 60
#: Columns of CloudWatch's dashboard grid.
GRID_WIDTH: Final = 24
#: Rows of every Logs Insights table.
TABLE_ROWS: Final = 20

Widget = dict[str, Any]


@dataclass(frozen=True)
class StackNames:
    """How one template refers to the stack's resources inside the dashboard body."""

    region: str
    queue: str
    dead_letter_queue: str
    #: The deployed name of each function, by its name in `app.py` (`api_handler`, ...).
    functions: Mapping[str, str]
    #: The REST API's name and stage: API Gateway publishes its metrics under both.
    api: str
    api_stage: str
    alarm_arns: tuple[str, ...]


def dashboard_name(settings: Settings) -> str:
    """One dashboard per stage, named after the metrics' namespace."""
    return f"{NAMESPACE}-{settings.stage}"


def log_group(function: str) -> str:
    """The log group Lambda writes a function's stdout to."""
    return f"/aws/lambda/{function}"


def _widget(kind: str, height: int, properties: dict[str, Any]) -> Widget:
    return {"type": kind, "height": height, "properties": properties}


def _heading(markdown: str) -> Widget:
    return _widget("text", 2, {"markdown": markdown})


def _graph(title: str, metrics: list[list[Any]], names: StackNames, stat: str = "Sum") -> Widget:
    properties = {"title": title, "region": names.region, "view": "timeSeries", "stat": stat}
    return _widget("metric", 6, properties | {"period": PERIOD, "metrics": metrics})


def _ours(metric: Metric, settings: Settings, **options: str) -> list[Any]:
    """One of our metrics, the stage's total: the line published under `Stage` alone."""
    return [
        NAMESPACE,
        metric.name,
        STAGE_DIMENSION,
        settings.stage,
        *([options] if options else []),
    ]


def _by(dimension: str, metric: Metric, settings: Settings, stat: str = "Sum") -> list[Any]:
    """A line per value of `dimension` (each reason, each tenant), found by a SEARCH."""
    schema = f"{{{NAMESPACE},{STAGE_DIMENSION},{dimension}}}"
    terms = f'MetricName="{metric.name}" {STAGE_DIMENSION}="{settings.stage}"'
    search = f"SEARCH('{schema} {terms}', '{stat}', {PERIOD})"
    return [{"expression": search, "id": f"by_{dimension.lower()}"}]


def _spread(metric: Metric, settings: Settings) -> list[list[Any]]:
    """A duration's median, 99th percentile and maximum."""
    stats = (("p50", "median"), ("p99", "p99"), ("Maximum", "max"))
    return [_ours(metric, settings, stat=stat, label=label) for stat, label in stats]


def _per_function(metric: str, stat: str, names: StackNames) -> list[list[Any]]:
    """One line of a Lambda metric per function, labelled with the function's name in app.py."""
    return [
        [
            "AWS/Lambda",
            metric,
            "FunctionName",
            deployed,
            {"stat": stat, "label": f"{name} {metric}"},
        ]
        for name, deployed in names.functions.items()
    ]


def _queue(metric: str, queue: str, label: str) -> list[Any]:
    return ["AWS/SQS", metric, "QueueName", queue, {"label": label}]


def _api(metric: str, names: StackNames, **options: str) -> list[Any]:
    return ["AWS/ApiGateway", metric, "ApiName", names.api, "Stage", names.api_stage, options]


def _insights(title: str, functions: Sequence[str], query: str, names: StackNames) -> Widget:
    """A Logs Insights table over the JSON lines the functions write, one event a line."""
    sources = " | ".join(f"SOURCE '{log_group(names.functions[f])}'" for f in functions)
    properties = {"title": title, "region": names.region, "view": "table"}
    return _widget("log", 6, properties | {"query": f"{sources} | {query}"})


def _overview(settings: Settings, names: StackNames) -> list[list[Widget]]:
    heading = _heading(
        f"# Robust Data Processor: {settings.stage}\n"
        f"`POST /ingest` queues each log; the worker stores it. Graphs of our own metrics are "
        f"namespace `{NAMESPACE}`, `{STAGE_DIMENSION}` = `{settings.stage}`; tables come from "
        "the functions' log lines, so they work whatever the stage publishes."
    )
    alarms = _widget("alarm", 3, {"title": "Alarms", "alarms": list(names.alarm_arns)})
    return [[heading], [alarms]]


def _ingest(settings: Settings, names: StackNames) -> list[list[Widget]]:
    graphs = [
        _graph(
            "Logs accepted (202) and rejected",
            [_ours(INGEST_ACCEPTED, settings), _ours(INGEST_REJECTED, settings)],
            names,
        ),
        _graph(
            "Admitted without limits (limiter failed open)",
            [_ours(LIMITER_UNAVAILABLE, settings)],
            names,
        ),
        _graph("Rejections by reason", [_by(REASON_DIMENSION, INGEST_REJECTED, settings)], names),
        _graph("Time to 202 (ms)", _spread(INGEST_DURATION, settings), names, "p99"),
    ]
    if settings.metrics_by_tenant:
        by_tenant = [_by(TENANT_DIMENSION, INGEST_ACCEPTED, settings)]
        graphs.append(_graph("Accepted per tenant", by_tenant, names))
    # A one-log request's line is one log; a batch's line counts its logs (`accepted`), and its
    # refusals are counted by reason on `ingest_rejected` lines (`logs`), never on its own line.
    ingest = 'filter event = "ingest"'
    tables = [
        _insights(
            "Accepted per tenant (logs)",
            ["api_handler"],
            f'{ingest} and (outcome = "accepted" or outcome = "partial")'
            " | stats sum(coalesce(accepted, 1)) as accepted by tenant_id"
            f" | sort accepted desc | limit {TABLE_ROWS}",
            names,
        ),
        _insights(
            "Rejected per tenant and reason (logs)",
            ["api_handler"],
            f'filter (event = "ingest" and outcome = "rejected" and ispresent(reason))'
            ' or event = "ingest_rejected"'
            " | stats sum(coalesce(logs, 1)) as rejected by tenant_id, reason, status"
            f" | sort rejected desc | limit {TABLE_ROWS}",
            names,
        ),
    ]
    heading = _heading(
        "## Ingest: what came in, what was refused\n"
        "API Gateway's own 401s (no `Authorization` header) never reach the function: "
        "only the API Gateway 4XX graph below counts them."
    )
    return [[heading], graphs, tables]


def _worker(settings: Settings, names: StackNames) -> list[list[Widget]]:
    kinds = (LOGS_STORED, DUPLICATES, ERASED_SKIPPED, RECORDS_FAILED)
    outcomes = [_ours(m, settings) for m in kinds]
    graphs = [
        _graph("Records stored, duplicates and erased logs skipped, failed", outcomes, names),
        _graph(
            "Failures by reason: crash, error, out of time, poison",
            [_by(REASON_DIMENSION, RECORDS_FAILED, settings)],
            names,
        ),
        _graph("Lag: received to stored (ms)", _spread(PROCESSING_LAG, settings), names, "p99"),
    ]
    more = [
        _graph("Worker time per record (ms)", _spread(RECORD_DURATION, settings), names, "p99"),
        _graph("Phone numbers and addresses redacted", [_ours(REDACTIONS, settings)], names),
    ]
    if settings.metrics_by_tenant:
        more.append(
            _graph("Stored per tenant", [_by(TENANT_DIMENSION, LOGS_STORED, settings)], names)
        )
    record = 'filter event = "record"'
    tables = [
        _insights(
            "Stored per tenant (logs)",
            ["worker"],
            f'{record} and outcome = "stored"'
            " | stats count(*) as stored, avg(lag_ms) as avg_lag_ms by tenant_id"
            f" | sort stored desc | limit {TABLE_ROWS}",
            names,
        ),
        _insights(
            "Failures by reason and tenant (logs)",
            ["worker"],
            f'{record} and outcome = "failed"'
            " | stats count(*) as failures by reason, tenant_id"
            f" | sort failures desc | limit {TABLE_ROWS}",
            names,
        ),
    ]
    last_attempts = _insights(
        f"Failed on receive {settings.max_receive_count} or later: bound for the dead-letter queue",
        ["worker"],
        "fields @timestamp, tenant_id, log_id, reason, attempt, error, error_message"
        f' | {record} and outcome = "failed" and attempt >= {settings.max_receive_count}'
        f" | sort @timestamp desc | limit {TABLE_ROWS}",
        names,
    )
    heading = _heading(
        "## Worker: how far behind, what failed\n"
        f"A failed record goes back to the queue; after {settings.max_receive_count} receives SQS "
        "moves it to the dead-letter queue; "
        f"`make redrive AWS=1 STAGE={settings.stage}` moves it back."
    )
    return [[heading], graphs, more, tables, [last_attempts]]


def _queues(names: StackNames) -> list[list[Widget]]:
    depth = [
        _queue("ApproximateNumberOfMessagesVisible", names.queue, "waiting"),
        _queue("ApproximateNumberOfMessagesNotVisible", names.queue, "in flight"),
    ]
    oldest = [_queue("ApproximateAgeOfOldestMessage", names.queue, "oldest log (s)")]
    dead = [_queue("ApproximateNumberOfMessagesVisible", names.dead_letter_queue, "logs")]
    heading = _heading("## Queues\nThe ingest queue's backlog, and the logs that gave up.")
    return [
        [heading],
        [
            _graph("Ingest queue: waiting and in flight", depth, names, "Maximum"),
            _graph("Oldest log waiting (s)", oldest, names, "Maximum"),
            _graph("Dead-letter queue: logs not stored", dead, names, "Maximum"),
        ],
    ]


def _functions(names: StackNames) -> list[list[Widget]]:
    failures = _per_function("Errors", "Sum", names) + _per_function("Throttles", "Sum", names)
    crashes = _insights(
        "Recent errors and crashes, all functions (logs)",
        list(names.functions),
        "fields @timestamp, @log, event, reason, tenant_id, log_id, error, error_message"
        ' | filter level = "ERROR" or @message like /Task timed out|Runtime\\./'
        f" | sort @timestamp desc | limit {TABLE_ROWS}",
        names,
    )
    return [
        [_heading("## Functions\nLambda's own view: invocations that failed or were throttled.")],
        [
            _graph("Errors and throttles", failures, names),
            _graph("Duration (ms, p99)", _per_function("Duration", "p99", names), names, "p99"),
            _graph(
                "Concurrent executions",
                _per_function("ConcurrentExecutions", "Maximum", names),
                names,
                "Maximum",
            ),
        ],
        [crashes],
    ]


def _rest_api(names: StackNames) -> list[list[Widget]]:
    requests = [
        _api("Count", names, label="requests"),
        _api("4XXError", names, label="4XX"),
        _api("5XXError", names, label="5XX"),
    ]
    latency = [
        _api("Latency", names, stat="p50", label="median"),
        _api("Latency", names, stat="p99", label="p99"),
        _api("IntegrationLatency", names, stat="p99", label="function p99"),
    ]
    return [
        [_heading("## API Gateway\nEvery request, including those refused before the function.")],
        [
            _graph("Requests, 4XX and 5XX answers", requests, names),
            _graph("Latency (ms)", latency, names, "p99"),
        ],
    ]


def _placed(rows: Iterable[Sequence[Widget]]) -> list[Widget]:
    """The rows top to bottom, each row's widgets side by side in equal widths."""
    placed: list[Widget] = []
    y = 0
    for row in rows:
        width = GRID_WIDTH // len(row)
        placed += [
            {"type": w["type"], "x": i * width, "y": y, "width": width, **w}
            for i, w in enumerate(row)
        ]
        y += max(w["height"] for w in row)
    return placed


def dashboard_body(settings: Settings, names: StackNames) -> dict[str, Any]:
    """The dashboard of `settings`' stage, its resources named as `names` says."""
    rows = [
        *_overview(settings, names),
        *_ingest(settings, names),
        *_worker(settings, names),
        *_queues(names),
        *_functions(names),
        *_rest_api(names),
    ]
    return {"start": "-PT6H", "widgets": _placed(rows)}
