"""Settings of the running stage, read from environment variables in this one place.

`.chalice/config.json` sets the variables per stage; the defaults below are the documented
behaviour when a variable is absent. A bad value fails loudly at start-up, naming the variable,
instead of surfacing later as a confusing error in the middle of a request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from chalicelib.plans import PLANS
from chalicelib.process_state import kept
from chalicelib.redaction_policy import (
    DEFAULT_CLASSES,
    PLACEHOLDER_STYLES,
    PLAIN,
    RuleError,
    class_switches,
)

IngestAuth = Literal["open", "required"]
#: `open`: anyone may post for any tenant (the original spec). `required`: a tenant's API key
#: is needed and the tenant comes from the key.
INGEST_AUTH_MODES: Final[tuple[IngestAuth, ...]] = ("open", "required")

#: SQS keeps a failed message invisible for this many worker timeouts, so that a batch that is
#: still running (or being retried by Lambda) is never handed to a second worker.
VISIBILITY_TIMEOUT_FACTOR = 6
#: What an invocation may have used of its timeout before the worker looks at its first record.
INVOCATION_START_SECONDS = 0.1


class ConfigError(ValueError):
    """An environment variable holds a value the app cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the functions and the local stack need to know about their stage."""

    table_name: str = "robust-data-processor-logs"
    queue_name: str = "robust-data-processor-ingest"
    queue_url: str | None = None
    dead_letter_queue_name: str = "robust-data-processor-ingest-dlq"
    max_receive_count: int = 5
    queue_retention_seconds: int = 4 * 24 * 3600
    dead_letter_retention_seconds: int = 14 * 24 * 3600
    queue_message_max_bytes: int = 262_144
    work_seconds_per_char: float = 0.05
    crash_probability: float = 0.0
    worker_timeout_seconds: int = 60
    worker_time_margin_seconds: float = 2.0
    worker_batch_size: int = 10
    worker_batching_window_seconds: int = 0
    worker_max_concurrency: int = 2
    backlog_age_alarm_seconds: int = 900
    tenants_table_name: str = "robust-data-processor-tenants"
    usage_table_name: str = "robust-data-processor-usage"
    default_plan: str = "team"
    tenant_settings_ttl_seconds: int = 60
    ingest_auth: IngestAuth = "required"
    auth_cache_ttl_seconds: int = 300
    tenant_read_role_arn: str | None = None
    stage: str = "dev"
    metrics_by_tenant: bool = False
    redaction_classes: frozenset[str] = DEFAULT_CLASSES
    redaction_placeholder: str = PLAIN
    #: How long a stored log lives before DynamoDB's TTL removes (and the stream archives) it.
    retention_days: int = 30
    #: How long the unredacted original lives: never longer than the log it belongs to.
    original_retention_days: int = 7
    #: False: no original text is stored at all, only the redacted text.
    keep_original: bool = True
    archive_bucket_name: str = "robust-data-processor-archive"
    #: The logs table's stream, which feeds the archiver; the stacks set it by reference.
    logs_stream_arn: str | None = None

    @property
    def queue_visibility_timeout_seconds(self) -> int:
        """How long a received message stays hidden: six worker timeouts, as AWS advises."""
        return VISIBILITY_TIMEOUT_FACTOR * self.worker_timeout_seconds

    @property
    def worker_work_budget_seconds(self) -> float:
        """The longest simulated work one record may need and still finish in one invocation.

        The worker starts a record only if its work and margin fit the time left, and a fresh
        invocation never has the whole timeout left: it keeps `INVOCATION_START_SECONDS` back.
        """
        return (
            self.worker_timeout_seconds - self.worker_time_margin_seconds - INVOCATION_START_SECONDS
        )


#: Bounds of every numeric setting. Its variable is its name in capitals (`CRASH_PROBABILITY`)
#: and its type is its default's.
_BOUNDS: dict[str, tuple[float, float]] = {
    "max_receive_count": (1, 1000),
    "queue_retention_seconds": (60, 1_209_600),
    "dead_letter_retention_seconds": (60, 1_209_600),
    "queue_message_max_bytes": (1024, 1_048_576),
    "work_seconds_per_char": (0.0, 60.0),
    "crash_probability": (0.0, 1.0),
    "worker_timeout_seconds": (1, 900),
    "worker_time_margin_seconds": (0.0, 60.0),
    "worker_batch_size": (1, 10),
    "worker_batching_window_seconds": (0, 300),
    "worker_max_concurrency": (2, 1000),
    "backlog_age_alarm_seconds": (60, 86_400),
    "auth_cache_ttl_seconds": (0, 3600),
    "tenant_settings_ttl_seconds": (0, 3600),
    "retention_days": (1, 3650),
    "original_retention_days": (1, 3650),
}
#: Settings read as plain strings.
_NAMES = (
    "table_name",
    "queue_name",
    "dead_letter_queue_name",
    "tenants_table_name",
    "usage_table_name",
    "stage",
    "stage",
    "archive_bucket_name",
)
_FLAGS = {"true": True, "false": False}


def _number(env: Mapping[str, str], field: str, default: float) -> float:
    name, parse = field.upper(), type(default)
    low, high = _BOUNDS[field]
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {parse.__name__}") from None
    if not (low <= value <= high) or math.isnan(value):
        raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


def _ingest_auth(raw: str | None, default: IngestAuth) -> IngestAuth:
    if raw is None or raw.strip() == "":
        return default
    for mode in INGEST_AUTH_MODES:
        if raw.strip().lower() == mode:
            return mode
    raise ConfigError(f"INGEST_AUTH={raw!r} must be one of {', '.join(INGEST_AUTH_MODES)}")


def _default_plan(raw: str | None, default: str) -> str:
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() not in PLANS:
        raise ConfigError(f"DEFAULT_PLAN={raw!r} must be one of {', '.join(PLANS)}")
    return raw.strip()


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = _FLAGS.get(raw.strip().lower())
    if value is None:
        raise ConfigError(f"{name}={raw!r} must be true or false")
    return value


def _redaction_classes(raw: str | None, default: frozenset[str]) -> frozenset[str]:
    if raw is None or raw.strip() == "":
        return default
    try:
        switches = class_switches(raw)
    except RuleError as error:
        raise ConfigError(f"REDACTION_CLASSES={raw!r}: {error}") from None
    return frozenset(name for name in default | set(switches) if switches.get(name, True))


def _redaction_placeholder(raw: str | None, default: str) -> str:
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() not in PLACEHOLDER_STYLES:
        raise ConfigError(
            f"REDACTION_PLACEHOLDER={raw!r} must be one of {', '.join(PLACEHOLDER_STYLES)}"
        )
    return raw.strip()


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping of environment variables, validating every value."""
    defaults = Settings()
    values: dict[str, Any] = {
        field: env.get(field.upper()) or getattr(defaults, field) for field in _NAMES
    }
    values["queue_url"] = env.get("QUEUE_URL") or None
    values["tenant_read_role_arn"] = env.get("TENANT_READ_ROLE_ARN") or None
    values["logs_stream_arn"] = env.get("LOGS_STREAM_ARN") or None
    values["ingest_auth"] = _ingest_auth(env.get("INGEST_AUTH"), defaults.ingest_auth)
    values["default_plan"] = _default_plan(env.get("DEFAULT_PLAN"), defaults.default_plan)
    values["metrics_by_tenant"] = _flag(env, "METRICS_BY_TENANT", defaults.metrics_by_tenant)
    values["redaction_classes"] = _redaction_classes(
        env.get("REDACTION_CLASSES"), defaults.redaction_classes
    )
    values["redaction_placeholder"] = _redaction_placeholder(
        env.get("REDACTION_PLACEHOLDER"), defaults.redaction_placeholder
    )
    values["keep_original"] = _flag(env, "KEEP_ORIGINAL", defaults.keep_original)
    for field in _BOUNDS:
        values[field] = _number(env, field, getattr(defaults, field))
    settings = Settings(**values)
    if settings.dead_letter_retention_seconds <= settings.queue_retention_seconds:
        raise ConfigError(
            "DEAD_LETTER_RETENTION_SECONDS must exceed QUEUE_RETENTION_SECONDS: SQS keeps a "
            "message's original timestamp when it moves, so a shorter-lived dead-letter queue "
            "would delete poison messages before anyone could look at them"
        )
    if settings.original_retention_days > settings.retention_days:
        raise ConfigError(
            f"ORIGINAL_RETENTION_DAYS={settings.original_retention_days} must not exceed "
            f"RETENTION_DAYS={settings.retention_days}: the original text is the one to drop first"
        )
    if settings.worker_work_budget_seconds <= 0:
        raise ConfigError(
            "WORKER_TIME_MARGIN_SECONDS must be more than 0.1 s smaller than "
            "WORKER_TIMEOUT_SECONDS, or no record could ever be processed"
        )
    return settings


@kept
def get_settings() -> Settings:
    """Settings of this process, read once: Lambda's environment never changes while it runs."""
    return load_settings(os.environ)
