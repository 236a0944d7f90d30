"""The alarms an operator needs, defined once and rendered by both the SAM and Terraform stacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from chalicelib.config import Settings

#: The falling-behind alarm fires when the backlog stayed too old this many minutes in a row:
#: long enough that a burst the stage drains on its own does not page anyone.
FALLING_BEHIND_MINUTES: Final = 5
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
    """Dead-letter queue not empty, a log waiting too long, and a backlog the stage cannot drain."""
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
        QueueAlarm(
            name="FallingBehind",
            description=(
                f"The oldest queued log has waited more than {settings.backlog_age_alarm_seconds} "
                f"s for {FALLING_BEHIND_MINUTES} minutes: logs arrive faster than "
                f"{settings.worker_max_concurrency} concurrent workers drain them (see "
                "docs/capacity.md), or a record keeps failing."
            ),
            queue="ingest",
            metric="ApproximateAgeOfOldestMessage",
            threshold=settings.backlog_age_alarm_seconds,
            comparison="GreaterThanThreshold",
            evaluation_periods=FALLING_BEHIND_MINUTES,
        ),
    )
