"""What to redact and how to mark it: a stage's default and a tenant's choices, as one value.

A `RedactionPolicy` names the classes it redacts (`CLASSES`, found by `chalicelib.detect`), the
placeholder style (`[REDACTED]`, or typed: `[REDACTED:EMAIL]`) and a tenant's own rules,
literal terms or RE2 patterns. Settings are stored as JSON; `policy_from_settings` builds the
value from them and `compile_rules` refuses, naming it, a rule that does not compile in RE2's
syntax (which has no backreferences or lookaround, and so runs in time linear in the text) or
that could match nothing or a placeholder. `re2` (google-re2) is imported only when a policy
has rules of its own, never on the ingest path's cold start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

# The classes, by the names settings and typed placeholders use.
EMAIL: Final = "email"
PHONE: Final = "phone"
CARD: Final = "card"
SSN: Final = "ssn"
IBAN: Final = "iban"
AWS_KEY: Final = "aws_key"
JWT: Final = "jwt"
AUTH_HEADER: Final = "auth_header"
TOKEN: Final = "token"  # noqa: S105 - a class's name
URL_PASSWORD: Final = "url_password"  # noqa: S105 - a class's name
PRIVATE_KEY: Final = "private_key"
SECRET: Final = "secret"  # noqa: S105 - a class's name
IP: Final = "ip"
CUSTOM: Final = "custom"

#: Built-in classes, in the order the README lists them.
CLASSES: Final = (
    EMAIL,
    PHONE,
    CARD,
    SSN,
    IBAN,
    AWS_KEY,
    JWT,
    AUTH_HEADER,
    TOKEN,
    URL_PASSWORD,
    PRIVATE_KEY,
    SECRET,
    IP,
)

Span = tuple[int, int, str]  # start, end, class

PLAIN: Final = "plain"
TYPED: Final = "typed"
PLACEHOLDER_STYLES: Final = (PLAIN, TYPED)
REPLACEMENT: Final = "[REDACTED]"
#: Whether a default policy redacts each class: IP addresses are kept (operators need them).
DEFAULT_CLASSES: Final = frozenset(CLASSES) - {IP}
#: The longest placeholder any policy writes, for the bounds `chalicelib.limits` relies on.
LONGEST_PLACEHOLDER: Final = max(len(f"[REDACTED:{kind.upper()}]") for kind in (*CLASSES, CUSTOM))
_RULE_MAX_LENGTH: Final = 1000
_RULES_MAX: Final = 100


class RuleError(ValueError):
    """A tenant's rule or setting that cannot be used; the message names it and says why."""


class _CompiledPattern(Protocol):
    def finditer(self, text: str) -> Iterable[Any]: ...


@dataclass(frozen=True)
class CustomRules:
    """A tenant's rules as given (for storing and comparing) and compiled into one RE2 pattern."""

    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    compiled: _CompiledPattern | None = field(default=None, compare=False, repr=False)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where the rules match in `text`, as `(start, end, "custom")`, left to right."""
        if self.compiled is None:
            return []
        try:
            found = list(self.compiled.finditer(text))
        except UnicodeEncodeError:  # RE2 reads UTF-8: a lone surrogate becomes one `?`
            found = list(self.compiled.finditer(text.encode("utf-8", "replace").decode()))
        return [(match.start(), match.end(), CUSTOM) for match in found]


NO_RULES: Final = CustomRules()


@dataclass(frozen=True)
class RedactionPolicy:
    """The classes redacted, the placeholder style and a tenant's own rules."""

    classes: frozenset[str] = DEFAULT_CLASSES
    placeholder: str = PLAIN
    rules: CustomRules = NO_RULES

    def replacement(self, kind: str) -> str:
        """What a match of class `kind` becomes."""
        return REPLACEMENT if self.placeholder == PLAIN else f"[REDACTED:{kind.upper()}]"


DEFAULT_POLICY: Final = RedactionPolicy()


def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    return options


def compile_rules(terms: Sequence[str] = (), patterns: Sequence[str] = ()) -> CustomRules:
    """Compile a tenant's literal `terms` and RE2 `patterns`; raise `RuleError` naming a bad one.

    Terms match case-insensitively as written. A pattern must compile in RE2's syntax, match
    at least one character, and not match inside a placeholder (redaction must stay
    idempotent); at most 100 rules of up to 1000 characters each.
    """
    import re2

    if len(terms) + len(patterns) > _RULES_MAX:
        raise RuleError(f"at most {_RULES_MAX} rules, got {len(terms) + len(patterns)}")
    sources = [f"(?i:{re2.escape(_checked(term, 'term'))})" for term in terms]
    for pattern in patterns:
        try:
            re2.compile(_checked(pattern, "pattern"), _options())
        except re2.error as error:
            reason = error.args[0] if error.args else error
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            raise RuleError(
                f"pattern {pattern!r} is not a linear-time RE2 pattern: {reason}"
            ) from error
        sources.append(f"(?:{pattern})")
    for source, rule in zip(sources, [*terms, *patterns], strict=True):
        _refuse_if_degenerate(re2.compile(source, _options()), rule)
    if not sources:
        return NO_RULES
    combined = re2.compile("|".join(sources), _options())
    return CustomRules(tuple(terms), tuple(patterns), combined)


def _checked(rule: object, what: str) -> str:
    if not isinstance(rule, str) or not rule:
        raise RuleError(f"a {what} must be a non-empty string, got {rule!r}")
    if len(rule) > _RULE_MAX_LENGTH:
        raise RuleError(f"{what} {rule[:40]!r}... is longer than {_RULE_MAX_LENGTH} characters")
    return rule


def _refuse_if_degenerate(compiled: Any, rule: str) -> None:
    if compiled.fullmatch("") is not None or compiled.search("") is not None:
        raise RuleError(f"rule {rule!r} matches the empty string: it would match everywhere")
    for kind in (*CLASSES, CUSTOM):
        for placeholder in (REPLACEMENT, f"[REDACTED:{kind.upper()}]"):
            if compiled.search(placeholder) is not None:
                raise RuleError(
                    f"rule {rule!r} matches inside the placeholder {placeholder!r}: redacted "
                    "text would change again each time it is redacted"
                )


def policy_from_settings(
    settings: Mapping[str, Any], base: RedactionPolicy = DEFAULT_POLICY
) -> RedactionPolicy:
    """The policy `settings` describe, on top of `base` (the stage's default).

    `settings` is plain JSON data: `{"classes": {"ip": true, "email": false},
    "placeholder": "typed", "rules": {"terms": ["Project Falcon"], "patterns": ["EMP-[0-9]{6}"]}}`;
    every key is optional. Unknown keys, classes or styles raise `RuleError`.
    """
    unknown = set(settings) - {"classes", "placeholder", "rules"}
    if unknown:
        raise RuleError(f"unknown redaction settings {sorted(unknown)}")
    classes = set(base.classes)
    for name, enabled in _mapping(settings.get("classes", {}), "classes").items():
        if name not in CLASSES:
            raise RuleError(f"unknown class {name!r}; the classes are {', '.join(CLASSES)}")
        if not isinstance(enabled, bool):
            raise RuleError(f"class {name!r} must be true or false, got {enabled!r}")
        (classes.add if enabled else classes.discard)(name)
    placeholder = settings.get("placeholder", base.placeholder)
    if placeholder not in PLACEHOLDER_STYLES:
        raise RuleError(f"placeholder must be one of {PLACEHOLDER_STYLES}, got {placeholder!r}")
    rules = base.rules
    if "rules" in settings:
        given = _mapping(settings["rules"], "rules")
        if set(given) - {"terms", "patterns"}:
            raise RuleError(f"rules take 'terms' and 'patterns', got {sorted(given)}")
        rules = compile_rules(_strings(given, "terms"), _strings(given, "patterns"))
    return RedactionPolicy(frozenset(classes), placeholder, rules)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(f"{what} must be a JSON object, got {value!r}")
    return value


def _strings(rules: Mapping[str, Any], what: str) -> list[str]:
    value = rules.get(what, [])
    if not isinstance(value, list):  # a lone string would be taken a character at a time
        raise RuleError(f"{what} must be a list of strings, got {value!r}")
    return value


def class_switches(spec: str) -> dict[str, bool]:
    """Which classes a comma list turns on or off, read left to right, a later word winning.

    `email,phone`: exactly those (the others off). `+ip,-phone`: changes to the default the
    list is applied to. `default` (every class but ip), `all` and `none` set every class;
    `default,+ip` is the default with IP addresses. Unknown words raise `RuleError`.
    """
    words = [word.strip() for word in spec.split(",") if word.strip()]
    if words and all(word in CLASSES for word in words):
        words.insert(0, "none")
    switches: dict[str, bool] = {}
    for word in words:
        every = {"default": DEFAULT_CLASSES, "all": frozenset(CLASSES), "none": frozenset()}
        if word in every:
            switches |= {name: name in every[word] for name in CLASSES}
            continue
        name = word.lstrip("+-")
        if name not in CLASSES:
            raise RuleError(
                f"unknown class {name!r} in {spec!r}; the classes are {', '.join(CLASSES)}, "
                "and default, all and none name them all"
            )
        switches[name] = not word.startswith("-")
    return switches


def settings_of(policy: RedactionPolicy) -> dict[str, Any]:
    """The JSON data `policy_from_settings` turns back into `policy` (classes in full)."""
    return {
        "classes": {name: name in policy.classes for name in CLASSES},
        "placeholder": policy.placeholder,
        "rules": {"terms": list(policy.rules.terms), "patterns": list(policy.rules.patterns)},
    }
