"""Redaction policies: built from stored settings, tenant rules compiled or refused by name."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chalicelib import redaction_policy as kinds
from chalicelib.redact import redact
from chalicelib.redaction_policy import (
    CLASSES,
    DEFAULT_CLASSES,
    DEFAULT_POLICY,
    REPLACEMENT,
    RuleError,
    compile_rules,
    policy_from_settings,
    settings_of,
)


def test_the_default_redacts_every_class_but_ip_addresses_with_the_plain_placeholder() -> None:
    assert DEFAULT_POLICY.classes == DEFAULT_CLASSES == set(CLASSES) - {kinds.IP}
    assert DEFAULT_POLICY.replacement(kinds.EMAIL) == REPLACEMENT == "[REDACTED]"
    assert policy_from_settings({}) == DEFAULT_POLICY


def test_settings_turn_classes_on_and_off_and_choose_the_placeholder() -> None:
    policy = policy_from_settings({"classes": {"ip": True, "email": False}, "placeholder": "typed"})
    assert kinds.IP in policy.classes
    assert kinds.EMAIL not in policy.classes
    assert policy.replacement(kinds.IP) == "[REDACTED:IP]"


def test_a_tenant_setting_builds_on_the_stage_default() -> None:
    stage = policy_from_settings({"placeholder": "typed", "classes": {"ip": True}})
    tenant = policy_from_settings({"classes": {"phone": False}}, base=stage)
    assert tenant.placeholder == "typed"
    assert kinds.IP in tenant.classes
    assert kinds.PHONE not in tenant.classes


def test_settings_round_trip_through_json() -> None:
    policy = policy_from_settings(
        {
            "classes": {"ip": True},
            "placeholder": "typed",
            "rules": {"terms": ["Falcon"], "patterns": ["EMP-[0-9]{6}"]},
        }
    )
    again = policy_from_settings(json.loads(json.dumps(settings_of(policy))))
    assert again == policy
    assert redact("Falcon EMP-123456", again) == "[REDACTED:CUSTOM] [REDACTED:CUSTOM]"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"classes": {"passport": True}}, "'passport'"),
        ({"classes": {"ip": "yes"}}, "'ip'"),
        ({"placeholder": "stars"}, "'stars'"),
        ({"colour": "red"}, "colour"),
        ({"rules": {"regexes": []}}, "regexes"),
    ],
)
def test_unknown_settings_are_refused_by_name(settings: dict[str, object], named: str) -> None:
    with pytest.raises(RuleError, match=named):
        policy_from_settings(settings)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a+)\1", "not a linear-time RE2 pattern"),
        (r"(?<=user=)\w+", "not a linear-time RE2 pattern"),
        (r"(?=x)y", "not a linear-time RE2 pattern"),
        (r"[a-", "not a linear-time RE2 pattern"),
        (r"a*", "matches the empty string"),
        (r"REDACTED", "inside the placeholder"),
        (r"[A-Z]+", "inside the placeholder"),
    ],
)
def test_a_bad_pattern_is_refused_naming_it(pattern: str, why: str) -> None:
    with pytest.raises(RuleError, match=re_escape(pattern)) as refused:
        compile_rules(patterns=["EMP-[0-9]{6}", pattern])
    assert why in str(refused.value)


def re_escape(text: str) -> str:
    import re

    return re.escape(repr(text))


def test_terms_and_limits_are_checked() -> None:
    with pytest.raises(RuleError, match="non-empty"):
        compile_rules(terms=[""])
    with pytest.raises(RuleError, match="longer than 1000"):
        compile_rules(patterns=["a" * 1001])
    with pytest.raises(RuleError, match="at most 100 rules"):
        compile_rules(terms=[f"term{index}" for index in range(101)])


def test_terms_match_literally_and_ignore_case() -> None:
    rules = compile_rules(terms=["a.b (c)"])
    assert [span[:2] for span in rules.spans("A.B (C) axb (c)")] == [(0, 7)]


def test_the_ingest_path_imports_no_pattern_and_no_heavy_module() -> None:
    # limits (ingest) imports redact for max_growth; patterns compile on first redaction.
    code = (
        "import sys; from chalicelib.redaction_policy import DEFAULT_POLICY; "
        "import chalicelib.limits; "
        "print(*(name in sys.modules for name in ('re2', 'phonenumbers', 'chalicelib.detect')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "False"]
