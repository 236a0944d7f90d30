"""Settings: defaults as documented, loud failures for bad values, stages that agree with Lambda."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, Settings, load_settings
from chalicelib.redaction_policy import DEFAULT_CLASSES
from infra.stage import chalice_config, deployed_stages, stage_settings

STAGES = deployed_stages()


def test_defaults_match_the_documented_behaviour() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.work_seconds_per_char == 0.05
    assert settings.crash_probability == 0.0
    assert settings.queue_visibility_timeout_seconds == 6 * settings.worker_timeout_seconds


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRASH_PROBABILITY", "1.5"),
        ("CRASH_PROBABILITY", "often"),
        ("CRASH_PROBABILITY", "nan"),
        ("WORK_SECONDS_PER_CHAR", "-1"),
        ("WORKER_BATCH_SIZE", "11"),
        ("WORKER_TIMEOUT_SECONDS", "901"),
        ("WORKER_MAX_CONCURRENCY", "1"),
        ("MAX_RECEIVE_COUNT", "0"),
        ("INGEST_AUTH", "sometimes"),
        ("AUTH_CACHE_TTL_SECONDS", "3601"),
        ("METRICS_BY_TENANT", "yes"),
        ("DEFAULT_PLAN", "platinum"),
        ("TENANT_SETTINGS_TTL_SECONDS", "-1"),
        ("BACKLOG_AGE_ALARM_SECONDS", "10"),
        ("REDACTION_CLASSES", "default,+face"),
        ("REDACTION_PLACEHOLDER", "fancy"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize(
    ("classes", "on"),
    [
        ("", DEFAULT_CLASSES),
        ("default", DEFAULT_CLASSES),
        ("+ip,-phone", (DEFAULT_CLASSES | {"ip"}) - {"phone"}),
        ("default,+ip,-phone", (DEFAULT_CLASSES | {"ip"}) - {"phone"}),
        ("email, phone", {"email", "phone"}),
        ("none,+card", {"card"}),
        ("all,-ip", DEFAULT_CLASSES),
    ],
)
def test_a_stage_names_its_default_classes(classes: str, on: frozenset[str]) -> None:
    assert load_settings({"REDACTION_CLASSES": classes}).redaction_classes == on


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_redacts_as_before_by_default(stage: str) -> None:
    settings = stage_settings(stage, "worker")
    assert settings.redaction_classes == DEFAULT_CLASSES
    assert settings.redaction_placeholder == "plain"


def test_margin_must_leave_time_for_work() -> None:
    with pytest.raises(ConfigError, match="WORKER_TIME_MARGIN_SECONDS"):
        load_settings({"WORKER_TIMEOUT_SECONDS": "2", "WORKER_TIME_MARGIN_SECONDS": "2"})


def test_dead_letter_queue_outlives_the_queue() -> None:
    with pytest.raises(ConfigError, match="DEAD_LETTER_RETENTION_SECONDS"):
        load_settings({"QUEUE_RETENTION_SECONDS": "600", "DEAD_LETTER_RETENTION_SECONDS": "600"})


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_loads_and_tells_ingest_the_workers_real_timeout(stage: str) -> None:
    worker = chalice_config(stage, "worker")
    settings = load_settings(worker.environment_variables)
    assert settings.worker_timeout_seconds == worker.lambda_timeout
    assert stage_settings(stage, "api_handler") == settings
    assert settings.table_name.startswith(f"robust-data-processor-{stage}")


def test_ingest_is_keyed_unless_a_stage_opens_it() -> None:
    assert load_settings({}).ingest_auth == "required"
    assert load_settings({"INGEST_AUTH": " Open "}).ingest_auth == "open"
    assert stage_settings("dev", "api_handler").ingest_auth == "open"
    assert stage_settings("prod", "api_handler").ingest_auth == "required"


@pytest.mark.parametrize("stage", STAGES)
def test_metrics_name_their_stage_and_go_per_tenant_only_where_tenants_are_keyed(
    stage: str,
) -> None:
    # Open ingest lets anyone invent tenants: each would be a custom metric, paid for monthly.
    settings = stage_settings(stage, "worker")
    assert settings.stage == stage
    assert settings.metrics_by_tenant <= (settings.ingest_auth == "required")


def test_per_tenant_metrics_are_off_unless_asked_for() -> None:
    assert load_settings({}).metrics_by_tenant is False
    assert load_settings({"METRICS_BY_TENANT": " True "}).metrics_by_tenant is True


def test_prod_is_sized_for_the_design_point_of_docs_capacity() -> None:
    # 2,500 logs a minute of 100 characters at 0.05 s a character keep 208.3 workers busy.
    prod = stage_settings("prod", "worker")
    busy = 2500 / 60 * 100 * prod.work_seconds_per_char
    assert prod.worker_max_concurrency >= busy / 0.85 > 209
    assert (prod.worker_batch_size, prod.worker_batching_window_seconds) == (1, 0)
