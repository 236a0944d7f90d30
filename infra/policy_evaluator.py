"""Evaluate our IAM policies against requests, for exactly the condition operators they use.

No well-kept Python library evaluates IAM conditions: the maintained simulator is Node
(`@cloud-copilot/iam-simulate`), AWS's own `SimulateCustomPolicy` needs an account, and moto's
IAM enforcement evaluates no `dynamodb:*` condition key (only trust-policy conditions it fills
itself). So this is a small evaluator of AWS's documented rules for what we write: a request is
allowed when some `Allow` statement matches it and no `Deny` does; a statement matches when its
action, its resource and every condition match; a condition block holds when every key holds,
and a key holds when any of its values matches. A policy using an operator not listed here is
refused (`UnsupportedConditionError`), never guessed at.

Not covered: resource policies, permission boundaries, SCPs, `NotAction`/`NotResource`, and how
AWS fills a request's context (which keys a DynamoDB call carries is our model, in
`tests/test_policy_evaluator.py`, from AWS's documentation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Final

Context = Mapping[str, Sequence[str]]
_VARIABLE: Final = re.compile(r"\$\{([^}]+)\}")


class UnsupportedConditionError(ValueError):
    """A policy uses a condition operator this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One AWS request as IAM sees it: action, resource and context keys (each a list)."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _substitute(pattern: str, context: Context) -> str | None:
    """A policy value with its `${key}` variables replaced; None if a variable has no value."""
    missing = False

    def value_of(match: re.Match[str]) -> str:
        nonlocal missing
        found = context.get(match[1])
        if not found:
            missing = True
            return ""
        return found[0]

    replaced = _VARIABLE.sub(value_of, pattern)
    return None if missing else replaced


def _equals(actual: str, wanted: str) -> bool:
    return actual == wanted


def _like(actual: str, wanted: str) -> bool:
    return fnmatchcase(actual, wanted.replace("[", "[[]"))


def _any_match(actual: str, wanted: list[str], context: Context, like: bool) -> bool:
    match = _like if like else _equals
    for pattern in wanted:
        resolved = _substitute(pattern, context)
        if resolved is not None and match(actual, resolved):
            return True
    return False


def _key_holds(operator: str, key: str, wanted: list[str], context: Context) -> bool:
    """Whether one key of one condition operator holds for the request's context."""
    present = list(context.get(key, ()))
    if operator == "Null":
        return (not present) == (wanted[0].lower() == "true")
    base = operator.removeprefix("ForAllValues:").removesuffix("IfExists")
    if base not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
        raise UnsupportedConditionError(f"condition operator {operator!r} is not evaluated here")
    like = base in ("StringLike", "ArnLike")
    if operator.startswith("ForAllValues:"):
        # True when every value matches, and so, vacuously, when the key has none.
        return all(_any_match(value, wanted, context, like) for value in present)
    if not present:
        return operator.endswith("IfExists")
    return any(_any_match(value, wanted, context, like) for value in present)


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        _key_holds(operator, key, _values(wanted), context)
        for operator, keys in condition.items()
        for key, wanted in keys.items()
    )


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    actions = _values(statement["Action"])
    if not any(fnmatchcase(request.action.lower(), a.lower()) for a in actions):
        return False
    resources = _values(statement.get("Resource", "*"))
    if not any(_like(request.resource, r) for r in resources):
        return False
    return _condition_holds(statement.get("Condition", {}), request.context)


def allowed(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether `policy` allows `request`: an Allow matches and no Deny does."""
    statements = _values_of_statements(policy["Statement"])
    matching = [s["Effect"] for s in statements if _statement_matches(s, request)]
    return "Allow" in matching and "Deny" not in matching


def _values_of_statements(statements: Any) -> list[Mapping[str, Any]]:
    return list(statements) if isinstance(statements, list) else [statements]
