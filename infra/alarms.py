"""The alarms an operator needs, defined once and rendered by both the SAM and Terraform stacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from chalicelib.config import Settings

#: The oldest-log alarm fires past this many visibility timeouts: a log that old has been
#: received and failed at least twice, or no worker is consuming at all. One timeout would
#: fire on every single retried crash.
OLDEST_LOG_VISIBILITY_TIMEOUTS: Final = 2


@dataclass(frozen=True)
class QueueAlarm:
    """A CloudWatch alarm on one SQS metric of the ingest or the dead-letter queue."""

    name: str
    description: str
    queue: Literal["ingest", "dead_letter"]
    metric: str
    threshold: int
    comparison: Literal["GreaterThanOrEqualToThreshold", "GreaterThanThreshold"]
    evaluation_periods: int
    period_seconds: int = 60
    statistic: str = "Maximum"


def queue_alarms(settings: Settings) -> tuple[QueueAlarm, ...]:
    """Dead-letter queue not empty, and a log waiting too long in the ingest queue."""
    return (
        QueueAlarm(
            name="DeadLetterQueueNotEmpty",
            description=(
                f"Logs failed {settings.max_receive_count} times and were moved to the "
                "dead-letter queue: they are not stored."
            ),
            queue="dead_letter",
            metric="ApproximateNumberOfMessagesVisible",
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=1,
        ),
        QueueAlarm(
            name="OldestLogWaiting",
            description=(
                f"A log has waited more than {OLDEST_LOG_VISIBILITY_TIMEOUTS} visibility "
                "timeouts: it keeps failing, or the worker is not consuming."
            ),
            queue="ingest",
            metric="ApproximateAgeOfOldestMessage",
            threshold=OLDEST_LOG_VISIBILITY_TIMEOUTS * settings.queue_visibility_timeout_seconds,
            comparison="GreaterThanThreshold",
            evaluation_periods=5,
        ),
    )
