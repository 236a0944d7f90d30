"""The pipeline's CloudWatch metrics, declared in log lines (Embedded Metric Format).

A JSON log line with an `_aws` block names some of its own fields as metric values and others
as dimensions; CloudWatch Logs turns them into metric data points as it ingests the line. So the
functions never call the CloudWatch API on the hot path: a metric costs one line on stdout.

Every metric is published under `Stage`. A line may add one more dimension (`Reason`,
`TenantId`), published as a second dimension set beside `Stage` alone, so a dashboard can show
both the total and the breakdown. `TenantId` is added only with `METRICS_BY_TENANT=true`: each
tenant becomes a custom metric of its own, which is safe only where tenants are bounded (keys
are required at ingest); elsewhere per-tenant counts come from the log lines themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

NAMESPACE: Final = "RobustDataProcessor"
STAGE_DIMENSION: Final = "Stage"
REASON_DIMENSION: Final = "Reason"
TENANT_DIMENSION: Final = "TenantId"

Unit = Literal["Count", "Milliseconds"]


@dataclass(frozen=True)
class Metric:
    """One metric of the catalogue: its name in CloudWatch, its unit, and what it counts."""

    name: str
    unit: Unit
    description: str


INGEST_ACCEPTED: Final = Metric("IngestAccepted", "Count", "logs durably queued (202)")
INGEST_REJECTED: Final = Metric(
    "IngestRejected",
    "Count",
    "logs refused at ingest (a request refused as a whole counts one), by Reason",
)
INGEST_DURATION: Final = Metric(
    "IngestDuration",
    "Milliseconds",
    "time from a request reaching the function to its 202, one value a request",
)
LIMITER_UNAVAILABLE: Final = Metric(
    "LimiterUnavailable",
    "Count",
    "requests admitted without their tenant's limits because the limiter could not decide",
)
LOGS_STORED: Final = Metric("LogsStored", "Count", "logs processed and written to the table")
DUPLICATES: Final = Metric(
    "DuplicatesSkipped", "Count", "redelivered or re-posted logs already stored, not rewritten"
)
ERASED_SKIPPED: Final = Metric(
    "ErasedSkipped", "Count", "queued copies of logs erased before they were stored, not written"
)
RECORDS_FAILED: Final = Metric(
    "RecordsFailed",
    "Count",
    "records handed back to the queue, by Reason (simulated_crash, error, out_of_time, poison, "
    "settings_unavailable)",
)
REDACTIONS: Final = Metric(
    "Redactions", "Count", "matches of the redaction classes and tenant rules replaced"
)
PROCESSING_LAG: Final = Metric(
    "ProcessingLag", "Milliseconds", "time from received_at (ingest) to processed_at (stored)"
)
RECORD_DURATION: Final = Metric(
    "RecordDuration", "Milliseconds", "the worker's time on one record, work included"
)

CATALOGUE: Final = (
    INGEST_ACCEPTED,
    INGEST_REJECTED,
    INGEST_DURATION,
    LIMITER_UNAVAILABLE,
    LOGS_STORED,
    DUPLICATES,
    ERASED_SKIPPED,
    RECORDS_FAILED,
    REDACTIONS,
    PROCESSING_LAG,
    RECORD_DURATION,
)

#: Why a record went back to the queue: the `Reason` of `RecordsFailed`.
FailureReason = Literal["simulated_crash", "error", "out_of_time", "poison", "settings_unavailable"]


def embedded_metrics(
    values: Mapping[Metric, float],
    dimensions: Mapping[str, str],
    timestamp_ms: int,
) -> dict[str, Any]:
    """The fields that make a log line an EMF document: `_aws`, dimension values, metric values.

    `dimensions` holds `Stage` and at most the extra dimensions to break the metrics down by,
    each published as its own set beside `Stage` alone.
    """
    extra = [name for name in dimensions if name != STAGE_DIMENSION]
    sets: Sequence[list[str]] = [[STAGE_DIMENSION], *([STAGE_DIMENSION, name] for name in extra)]
    declaration = {
        "Namespace": NAMESPACE,
        "Dimensions": sets,
        "Metrics": [{"Name": metric.name, "Unit": metric.unit} for metric in values],
    }
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [declaration]},
        **dimensions,
        **{metric.name: value for metric, value in values.items()},
    }
