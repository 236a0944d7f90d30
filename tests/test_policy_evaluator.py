"""Policies evaluated, not just read: who may do what to which partition and attributes.

`ACCESS` is the table docs/retention.md shows operators: each row is a request a principal
might make and whether its policy allows it, decided by `infra.policy_evaluator` on the very
documents the stacks deploy. The operators themselves are checked against their definitions.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.iam import (
    READABLE_ATTRIBUTES,
    REVIEWABLE_ATTRIBUTES,
    TOMBSTONE_ATTRIBUTES,
    policy_document,
    reader_policy,
    reader_trust,
    resource_arns,
    reviewer_policy,
)
from infra.policy_evaluator import Request, UnsupportedConditionError, allowed
from infra.stage import PROJECT_DIR, stage_settings

SETTINGS = stage_settings("prod", "worker")
ARNS = resource_arns(SETTINGS, "us-east-1", "123456789012") | {"logs": "arn:aws:logs:*"}
TABLE = ARNS["table"]
ALL = "ALL_ATTRIBUTES"
SPECIFIC = "SPECIFIC_ATTRIBUTES"


def dynamodb_request(
    action: str,
    partition: str | None,
    attributes: tuple[str, ...],
    tenant_tag: str | None = "acme",
    resource: str = TABLE,
    returns: str = "NONE",
) -> Request:
    """The context AWS documents for a DynamoDB request (our model of it, see the docstring).

    `LeadingKeys` is the partition keys a request names (none for a Scan); `Attributes` the
    attributes it names; `Select` is SPECIFIC_ATTRIBUTES with a projection, else ALL_ATTRIBUTES,
    and absent from the item-level actions (GetItem, PutItem, DeleteItem), whose
    `ReturnValues` is NONE unless asked otherwise; a write's `Attributes` are its item's.
    """
    context: dict[str, list[str]] = {}
    if partition is not None:
        context["dynamodb:LeadingKeys"] = [partition]
    if attributes:
        context["dynamodb:Attributes"] = list(attributes)
    if action in ("dynamodb:Query", "dynamodb:Scan"):
        context["dynamodb:Select"] = [SPECIFIC if attributes else ALL]
    if action in ("dynamodb:DeleteItem", "dynamodb:PutItem"):
        context["dynamodb:ReturnValues"] = [returns]
    if tenant_tag is not None:
        context["aws:PrincipalTag/tenant"] = [tenant_tag]
    return Request(action, resource, context)


POLICIES: Final[dict[str, dict[str, Any]]] = {
    "tenant reader (session tagged acme)": reader_policy(TABLE),
    "reviewer": reviewer_policy(TABLE),
    "worker": policy_document("worker", ARNS),
    "api_handler": policy_document("api_handler", ARNS),
}
FIELDS = READABLE_ATTRIBUTES
TOMBSTONE = TOMBSTONE_ATTRIBUTES
#: (principal, action, partition key, attributes, allowed)
ACCESS: Final = [
    ("tenant reader (session tagged acme)", "Query", "acme", FIELDS, True),
    ("tenant reader (session tagged acme)", "GetItem", "acme", FIELDS, True),
    ("tenant reader (session tagged acme)", "Query", "beta_inc", FIELDS, False),
    ("tenant reader (session tagged acme)", "Query", "acme#original", ("original_text",), False),
    ("tenant reader (session tagged acme)", "GetItem", "acme", ("original_text",), False),
    ("tenant reader (session tagged acme)", "Query", "acme", (), False),
    ("tenant reader (session tagged acme)", "Scan", None, FIELDS, False),
    ("tenant reader (session tagged acme)", "DeleteItem", "acme", (), True),
    ("tenant reader (session tagged acme)", "DeleteItem", "acme#original", (), True),
    ("tenant reader (session tagged acme)", "DeleteItem", "beta_inc", (), False),
    ("tenant reader (session tagged acme)", "PutItem", "acme#erased", TOMBSTONE, True),
    ("tenant reader (session tagged acme)", "PutItem", "beta_inc#erased", TOMBSTONE, False),
    ("tenant reader (session tagged acme)", "PutItem", "acme", FIELDS, False),
    ("tenant reader (session tagged acme)", "PutItem", "acme#erased", ("original_text",), False),
    ("reviewer", "Scan", None, REVIEWABLE_ATTRIBUTES, True),
    ("reviewer", "Query", "acme", FIELDS, True),
    ("reviewer", "Scan", None, ("original_text",), False),
    ("reviewer", "Scan", None, (), False),
    ("reviewer", "DeleteItem", "acme", (), False),
    ("worker", "PutItem", "acme", (), True),
    ("worker", "ConditionCheckItem", "acme#erased", (), True),
    ("worker", "GetItem", "acme", FIELDS, False),
    ("worker", "DeleteItem", "acme", (), False),
    ("api_handler", "DeleteItem", "acme", (), False),
    ("api_handler", "PutItem", "acme#erased", TOMBSTONE, False),
    ("api_handler", "Query", "acme", FIELDS, False),
]


@pytest.mark.parametrize(("principal", "action", "partition", "attributes", "expected"), ACCESS)
def test_each_principal_may_do_exactly_what_the_table_says(
    principal: str, action: str, partition: str | None, attributes: tuple[str, ...], expected: bool
) -> None:
    request = dynamodb_request(f"dynamodb:{action}", partition, attributes)
    assert allowed(POLICIES[principal], request) is expected


def test_a_reader_session_without_its_tag_reads_nothing() -> None:
    untagged = dynamodb_request("dynamodb:Query", "acme", FIELDS, tenant_tag=None)
    assert not allowed(reader_policy(TABLE), untagged)


def test_an_erasure_cannot_read_what_it_deletes() -> None:
    for partition in ("acme", "acme#original"):
        reading = dynamodb_request("dynamodb:DeleteItem", partition, (), returns="ALL_OLD")
        assert not allowed(reader_policy(TABLE), reading)


def test_the_tenants_table_is_out_of_every_readers_reach() -> None:
    tenants = ARNS["tenants_table"]
    for policy in (reader_policy(TABLE), reviewer_policy(TABLE)):
        assert not allowed(policy, dynamodb_request("dynamodb:GetItem", "k", (), resource=tenants))


def trust_request(action: str, tags: dict[str, str]) -> Request:
    context = {f"aws:RequestTag/{key}": [value] for key, value in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    return Request(f"sts:{action}", "*", context)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"tenant": "acme"}, True),
        ({}, False),
        ({"tenant": ""}, False),
        ({"tenant": "a", "x": "y"}, False),
    ],
)
def test_the_reader_role_is_assumed_only_naming_one_tenant(
    tags: dict[str, str], expected: bool
) -> None:
    trust = reader_trust({"AWS": "api"})
    both = [allowed(trust, trust_request(a, tags)) for a in ("AssumeRole", "TagSession")]
    assert both == [expected, expected]


def test_the_operators_table_in_the_docs_is_this_one() -> None:
    page = (PROJECT_DIR / "docs" / "retention.md").read_text()
    for principal, action, partition, attributes, expected in ACCESS:
        shown = ", ".join(attributes)
        shown = {FIELDS: "the API's fields", TOMBSTONE: "a tombstone's"}.get(attributes, shown)
        row = f"| {principal} | {action} | {partition or '(none)'} | {shown or '(all)'} |"
        assert f"{row} {'yes' if expected else 'no'} |" in page, row


# --- the operators, against their definitions ------------------------------------------------

words = st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)


@given(present=words, wanted=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2))
def test_for_all_values_holds_when_every_value_is_wanted_even_none(
    present: list[str], wanted: list[str]
) -> None:
    policy = statement({"ForAllValues:StringEquals": {"k": wanted}})
    assert allowed(policy, Request("s:A", "r", {"k": present})) is (set(present) <= set(wanted))


@given(present=words, null=st.booleans())
def test_null_is_about_presence_alone(present: list[str], null: bool) -> None:
    policy = statement({"Null": {"k": "true" if null else "false"}})
    assert allowed(policy, Request("s:A", "r", {"k": present})) is (null == (not present))


@given(present=words)
def test_string_equals_needs_the_key_unless_if_exists(present: list[str]) -> None:
    request = Request("s:A", "r", {"k": present})
    assert allowed(statement({"StringEquals": {"k": "a"}}), request) is ("a" in present)
    if_exists = allowed(statement({"StringEqualsIfExists": {"k": "a"}}), request)
    assert if_exists is (not present or "a" in present)


@given(value=st.text(alphabet="ab?*", max_size=4))
def test_string_like_wildcards(value: str) -> None:
    request = Request("s:A", "r", {"k": [value]})
    assert allowed(statement({"StringLike": {"k": "?*"}}), request) is (len(value) >= 1)
    assert allowed(statement({"StringLike": {"k": "a*"}}), request) is value.startswith("a")


@given(tag=st.text(alphabet="ab", min_size=1, max_size=3), key=st.text(alphabet="ab", max_size=3))
def test_a_policy_variable_takes_the_requests_value(tag: str, key: str) -> None:
    policy = statement({"StringEquals": {"k": "${aws:PrincipalTag/t}"}})
    assert allowed(policy, Request("s:A", "r", {"k": [key], "aws:PrincipalTag/t": [tag]})) is (
        key == tag
    )
    assert not allowed(policy, Request("s:A", "r", {"k": [key]}))


def test_a_deny_wins_and_an_unknown_operator_is_refused() -> None:
    allow = statement({})
    deny = {"Effect": "Deny", "Action": "s:A", "Resource": "*"}
    policy = {"Statement": [*allow["Statement"], deny]}
    assert not allowed(policy, Request("s:A", "r"))
    with pytest.raises(UnsupportedConditionError, match="NumericLessThan"):
        allowed(statement({"NumericLessThan": {"k": "1"}}), Request("s:A", "r", {"k": ["0"]}))


def statement(condition: dict[str, Any]) -> dict[str, Any]:
    """A policy allowing `s:A` on every resource under `condition`."""
    return {
        "Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", "Condition": condition}]
    }
