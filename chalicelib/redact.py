"""Replace personal data and secrets in log text with a placeholder, as a policy says.

`redact(text, policy)` finds the spans of every class the policy enables
(`chalicelib.detect` holds the classes, `chalicelib.redaction_policy` the policy) and of the
tenant's rules, keeps spans that do not overlap, and replaces each with `[REDACTED]` or, typed,
`[REDACTED:EMAIL]`. The default policy redacts every class but IP addresses. Of overlapping
spans, a class a checksum or a fixed shape confirms (card, SSN, IBAN, credentials) wins over an
address, number, key value or IP address. Of confirmed ones, a `Bearer` or `Basic` value wins
(a bearer token that is a JWT is an auth header), then the other classes a key, a prefix or
letters announce (credentials, IBANs), then cards and SSNs; otherwise the leftmost, and of
those starting together a private key block or a URL's password, then the longest. Classes
are looked for in that order, and not inside a span of one before them that is kept: what
started there would be left out (an IBAN's groups are no card and no national number). When
a span left out reached past the kept ones (its family read no further), the result is
scanned again, as redacting it again would: redaction is idempotent.

What is redacted (see the README for examples and the decisions on borderline text):

- E-mail addresses, with Latin, Greek or Cyrillic letters too (`ana@bücher.example`), `%40`
  for `@` in URLs; not the user of `https://bob@host`, not `logo@2x.png` or `react@18.2.0`.
- Phone numbers: international (`+` or `%2B`, 8 to 15 digits; when groups after a space could
  be the next token, the country's possible lengths from `phonenumbers` decide), North
  American (`(800) 555-0199`, `800.555.0199`, `1-800-555-0199`), local (`555-0199`,
  `555 0199`), national with a trunk 0 (`0161 496 0000`, `089 123456`), and bare digits
  under a key that names a phone (`"mobile":"6175550123"`, `msisdn=447700900123`). Words
  before a number that make it a range, size, count, port or id keep it (`bytes=200-2047`).
- Payment cards (13 to 19 digits, Luhn and an issuer's prefix), US social security numbers
  (valid area, group and serial), IBANs (the country's length and mod 97).
- Credentials: AWS access key ids (`AKIA`, `ASIA`) and secret keys under a secret's key, JWTs
  (the header decodes to a JSON object), `Bearer` and `Basic` values, prefixed tokens (GitHub,
  GitLab, Slack, Stripe, npm, Google API keys), the password of `scheme://user:pass@host`,
  PEM private key blocks, and values of keys named like password, secret, token or api_key.
- IP addresses, v4 and v6, when the policy enables them.
- A tenant's own terms and RE2 patterns.

A match never starts or ends inside a token: `EDGE` in `chalicelib.detect` treats letters,
digits and `_` on both sides of a boundary, digits joined by `.`, `/`, `-` or `:` (dates,
versions, ranges, times, IPv6) and a `+` between a word and a digit as one token, and a
placeholder's `]` as the word or digit it replaced. Fullwidth digits, Unicode hyphens and
non-breaking spaces count as their ASCII forms (`FOLDED`).

Speed: trying every pattern at every position reads logs at well under 1 MB/s. `redact` finds
where a match can be: byte-string searches over the text's ASCII bytes (one byte a character)
with every digit made `0` find the separators of addresses, the signs of international numbers
and the digit groups that end phone numbers, cards and social security numbers, a trunk 0 with
a national number's shape after it, and a URL's `://` before an `@`; one RE2 scan (a DFA, in
one pass) finds where the keys and prefixes the other classes start with are, and `re` says
which each is. Each family's pattern is then tried only there, with the same result as trying
it everywhere (`exhaustive=True`, which the tests compare). On a megabyte of logs a pass costs
as much as a thousand tries, so the searches are few, and an anchor checks what the match it
announces needs (whole digit groups, the shape after a trunk 0) before a try is spent there.
Time grows linearly with the text: patterns are bounded, and a family tries each position at
most once. `detect`, `re2` and `phonenumbers` are imported on the first redaction, not with
this module (the ingest path imports it for `max_growth`).

Growth: a match has at least `MIN_MATCH_LENGTH` character and a placeholder at most
`LONGEST_PLACEHOLDER` ASCII characters, so redacted text is at most `GROWTH_FACTOR` times the
original in characters and in UTF-8 bytes; `max_growth` gives a tighter bound from counts of
digits and of a few bytes every match of a growing class holds (`@`, `%`, `:`, `=`, `b`, `B`),
without redacting: one pass over the text, and one more for digits when it must be tighter.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from chalicelib.process_state import on_forget
from chalicelib.redaction_policy import (
    AUTH_HEADER,
    AWS_KEY,
    CARD,
    CUSTOM,
    DEFAULT_POLICY,
    EMAIL,
    IBAN,
    IP,
    JWT,
    LONGEST_PLACEHOLDER,
    PHONE,
    PRIVATE_KEY,
    REPLACEMENT,
    SECRET,
    SSN,
    TOKEN,
    URL_PASSWORD,
    RedactionPolicy,
    Span,
)

if TYPE_CHECKING:
    from chalicelib.detect import Family

__all__ = [
    "DEFAULT_POLICY",
    "GROWTH_FACTOR",
    "MIN_MATCH_LENGTH",
    "REPLACEMENT",
    "RedactionPolicy",
    "find",
    "max_growth",
    "redact",
    "redact_counted",
]

#: The shortest match of any class or rule: a one-character password (`user:x@host`).
MIN_MATCH_LENGTH: Final = 1
GROWTH_FACTOR: Final = LONGEST_PLACEHOLDER / MIN_MATCH_LENGTH

Window = tuple[int, int]


class Views(NamedTuple):
    """A text as the window finders read it, each view made once."""

    text: str  # folded (`_folded`)
    ascii: bytes  # one byte a character, `?` for what is not ASCII
    shapes: bytes  # the ASCII bytes with digits `0`, spaces and dashes `.` (`_SHAPES`)
    groups: dict[str, list[int]]  # where each of `_GROUP_SHAPES` starts
    ats: list[int]  # where `@` is


# What stands in the ASCII bytes for a character beyond ASCII.
_NOT_ASCII: Final = ord("?")
# `%40` and `%2B` (`%2b`): an address's separator and a number's sign, escaped in URLs.
_ESCAPED_SEPARATORS: Final = frozenset({b"40"})
_ESCAPED_SIGNS: Final = frozenset({b"2B", b"2b"})
_FIRST_DIGITS: Final = frozenset(b"123456789")
# Digits become `0`, spaces and dashes `.`: `800 555 0199`, `800-555-0199` and `800.555.0199`
# have one shape, and one search finds all three.
_SHAPES: Final = bytes.maketrans(b"0123456789 -", b"0000000000..")
_NUMBER_SPAN: Final = (len("555-0199"), len("1 (800) 555-0199"))
# What North American and local numbers are made of, in the shapes.
_NUMBER_BYTES: Final = b"0.()"
# A national number's trunk 0 (or its opening parenthesis) starts a token: it follows anything
# but a letter, digit or `_` (a space, `{`, `用`, which the ASCII bytes hold as `?`), or one of
# `.:/-+` that no digit precedes (`tel:0`, `x-0`), as in dates, times and versions one does.
# After it, its area code's other digits, a space or dash (or a closing parenthesis, anything
# but a letter, digit, `_` or joiner) and two digits: `0161 4`, `(030) 12`; a time's `07:47` or
# an offset's `+0000]` is not that. `re` looks for the fixed `0` quickly and checks around it.
_TRUNK: Final = (
    rb"0(?<![0-9A-Za-z_]0)(?<![0-9][.:/+-]0)"
    rb"(?=[0-9]{1,4}[^0-9A-Za-z_.:/+][^0-9A-Za-z_.:/+-]?[0-9]{2})"
)


# Shapes of digit groups, found in one pass: a number's last two groups, which stand alone
# (letters, `_` and digits, all `0` in the shapes, on neither side: `200 47931` and a card's
# `1111 1111` end no number); a social security number; a card's first three groups of four,
# or Amex's and Diners' four, six and four or five. Each ends in `.0000`, and no two end
# together: the pass finds that tail (literal bytes, as fast as `find`) and looks behind it.
_GROUP_SHAPES: Final = {
    "number": (b"000.0000", rb"(?<![0_A-Za-z]000\.0000)(?![0_A-Za-z])"),
    "ssn": (b"000.00.0000", b""),
    "card": (b"0000.0000.0000", b""),
    "amex": (b"0000.000000.0000", b""),
}
_GROUP_LENGTHS: Final = tuple(len(shape) for shape, _ in _GROUP_SHAPES.values())
_GROUP_TAIL: Final = b".0000"
_CARD_RUN: Final = b"0" * 13


@lru_cache(maxsize=1)
def _anchors() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """The trunk 0s' pattern and the digit groups' shapes', built on first use, not on import."""
    shapes = b"|".join(
        rb"(?<=%s)%s(?P<%s>)" % (re.escape(shape), sides, name.encode())
        for name, (shape, sides) in _GROUP_SHAPES.items()
    )
    return (
        re.compile(_TRUNK),
        re.compile(re.escape(_GROUP_TAIL) + rb"(?:" + shapes + rb")"),
    )


on_forget(_anchors.cache_clear)


def _group_starts(shapes: bytes) -> dict[str, list[int]]:
    """Where each of `_GROUP_SHAPES` starts in `shapes`."""
    # By the index of the group each alternative ends in: the shapes' order.
    found: list[list[int]] = [[] for _ in _GROUP_SHAPES]
    for shape in _anchors()[1].finditer(shapes):
        index = (shape.lastindex or 0) - 1  # never 0: each alternative ends in its group
        found[index].append(shape.end() - _GROUP_LENGTHS[index])
    return dict(zip(_GROUP_SHAPES, found, strict=True))


# Classes a checksum, a decoded header or a fixed shape confirm: where one overlaps an address,
# a number, a key's value or an IP address, it wins, wherever either starts (`+3930470 4111
# 1111 1111 1111` holds a card, not a number that takes its first group).
_CONFIRMED: Final = frozenset(
    {
        CARD,
        SSN,
        IBAN,
        AWS_KEY,
        JWT,
        AUTH_HEADER,
        TOKEN,
        URL_PASSWORD,
        PRIVATE_KEY,
    }
)
# Confirmed by their digits alone: they come after the confirmed classes a scheme, a key, a
# prefix or letters announce (an IBAN's groups are no card).
_BY_DIGITS: Final = frozenset({CARD, SSN})
# Spans that win over others starting at the same place: a URL's password over the address
# `pass@host` it ends in, a key block over anything inside it.
_PRIORITY: Final = {PRIVATE_KEY: 0, URL_PASSWORD: 1}
# The stages families are tried in, each outside the spans the stages before it keep: the
# values of auth schemes (a bearer JWT costs no JWT try), the other announced classes, those
# of digits alone, the unconfirmed.
_SCHEMES, _ANNOUNCED, _DIGITS_ONLY, _UNCONFIRMED = range(4)


def _stage(kinds: frozenset[str]) -> int:
    if not kinds & _CONFIRMED:
        return _UNCONFIRMED
    if AUTH_HEADER in kinds:
        return _SCHEMES
    return _DIGITS_ONLY if kinds <= _BY_DIGITS else _ANNOUNCED


def _priority(span: Span) -> int:
    return _PRIORITY.get(span[2], 2)


_START: Final = itemgetter(0)
_END: Final = itemgetter(1)
_PASSES: Final = 4


def _occurrences(haystack: bytes, needle: bytes) -> list[int]:
    found = []
    at = haystack.find(needle)
    while at >= 0:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _contact_windows(views: Views) -> list[Window]:
    """Where e-mail addresses and phone numbers may start.

    Addresses start in the run of local-part characters before a separator; international
    numbers at a sign and a digit from 1 to 9; national ones at their trunk 0 or the
    parenthesis before it; North American and local ones in the run of digits, separators
    and parentheses (up to 8 characters) before their last two groups.
    """
    text, ascii_text, shapes, groups = views.text, views.ascii, views.shapes, views.groups
    # One byte is found fastest: `%` and then what it escapes, not `%40` and `%2B` in turn.
    escapes = [(at, ascii_text[at + 1 : at + 3]) for at in _occurrences(ascii_text, b"%")]
    signs = [(at, 1) for at in _occurrences(ascii_text, b"+")]
    signs += [(at, 3) for at, escaped in escapes if escaped in _ESCAPED_SIGNS]
    windows = [
        (at, at)
        for at, size in signs
        if at + size < len(ascii_text) and ascii_text[at + size] in _FIRST_DIGITS
    ]
    shortest, longest = _NUMBER_SPAN
    # A number whose last two groups (`555-0199`) start at `at` starts up to 8 characters
    # before, at a digit or parenthesis of the run of them and separators there (`1 (800) `).
    for at in groups["number"]:
        head = shapes[at + shortest - longest if at > longest - shortest else 0 : at]
        windows.append((at - len(head[len(head.rstrip(_NUMBER_BYTES)) :].lstrip(b".")), at))
    windows += [
        # `(0161) 496 0000` from its parenthesis, `(0161 496 0000` from either
        (at - 1 if at and ascii_text[at - 1] == ord("(") else at, at)
        for at in [trunk.start() for trunk in _anchors()[0].finditer(ascii_text)]
    ]
    separators = views.ats + [at for at, escaped in escapes if escaped in _ESCAPED_SEPARATORS]
    if separators:
        from chalicelib.detect import LOCAL_PART_ASCII, LOCAL_PART_MAX  # see _tables

        for at in separators:
            # The run of ASCII local-part characters before the separator, as far as a run
            # can reach; where a character outside ASCII (`?`) stops it, `re` reads the text.
            head = ascii_text[at - LOCAL_PART_MAX if at > LOCAL_PART_MAX else 0 : at]
            run = len(head) - len(head.rstrip(LOCAL_PART_ASCII))
            if run < len(head) and head[-run - 1] == _NOT_ASCII:
                run = _local_part_before(text, at)
            if run:
                windows.append((at - run, at - 1))
    return windows


def _local_part_before(text: str, at: int) -> int:
    """How many local-part characters (of every script an address may hold) end at `at`."""
    from chalicelib.detect import LOCAL_PART_MAX  # see _tables

    # Read backwards from `at`, as far as a run can reach, not the whole text.
    stop = at - 1 - LOCAL_PART_MAX
    run = _local_part_reversed().match(text[at - 1 : stop if stop >= 0 else None : -1])
    return run.end() if run is not None else 0


def _card_windows(views: Views) -> list[Window]:
    """Grouped cards start where their first groups' shape does; runs of 13 digits too."""
    shapes, groups = views.shapes, views.groups
    windows = [(at, at) for at in groups["card"]] + [(at, at) for at in groups["amex"]]
    at = shapes.find(_CARD_RUN)
    while at >= 0:
        windows.append((at, at))
        end = at + len(_CARD_RUN)
        while end < len(shapes) and shapes[end] == 0x30:  # skip the rest of the run
            end += 1
        at = shapes.find(_CARD_RUN, end)
    return windows


def _ssn_windows(views: Views) -> list[Window]:
    return [(at, at) for at in views.groups["ssn"]]


def _url_password_windows(views: Views) -> list[Window]:
    """A URL's password is matched from the last `://` before an `@`, within the pattern's reach.

    A user and a password hold no `/`, so no other `://` can start a match that ends at that
    `@`: the last `/` before it must end a `://` (one byte is found faster than three). Not
    an RE2 trigger: a key's trigger ends at its `:` (`tel:`, `password:`), which may
    be the `:` of `://` (`tel://user:pass@host`), and RE2 finds triggers without overlaps.
    """
    from chalicelib.detect import URL_PASSWORD_REACH  # see _tables

    ascii_text = views.ascii
    windows = []
    for at in views.ats:
        reach = at - URL_PASSWORD_REACH if at > URL_PASSWORD_REACH else 0
        scheme = ascii_text.rfind(b"/", reach, at) - 2
        if scheme >= reach and ascii_text[scheme : scheme + 3] == b"://":
            windows.append((scheme, scheme))
    return windows


def _everywhere(views: Views) -> list[Window]:
    return [(0, len(views.text) - 1)]


WindowFinder = Callable[[Views], list[Window]]
Shaped = tuple[tuple["Family", frozenset[str], WindowFinder], ...]
Triggered = tuple[tuple["Family", frozenset[str], str], ...]


@lru_cache(maxsize=1)
def _local_part_reversed() -> re.Pattern[str]:
    from chalicelib import detect  # see _tables

    return re.compile(rf"[{detect.LOCAL_PART_CHARACTERS}]{{0,{detect.LOCAL_PART_MAX}}}")


on_forget(_local_part_reversed.cache_clear)


@lru_cache(maxsize=1)
def _tables() -> tuple[Shaped, Triggered]:
    """The families, with the classes they find and how to find where they may start.

    Those found from the text's bytes come with their window finder; those found by the RE2
    scan for a word or prefix where their matches start, with the trigger. No trigger
    can start inside another's, so one pass without overlaps finds them all. `detect`
    compiles its patterns when imported (some 10 ms): on first use, not on the ingest path's
    cold start, which imports this module for `max_growth`.
    """
    from chalicelib import detect

    shaped: Shaped = (
        (detect.CONTACT, frozenset({EMAIL, PHONE}), _contact_windows),
        (detect.CARDS, frozenset({CARD}), _card_windows),
        (detect.SSNS, frozenset({SSN}), _ssn_windows),
        (detect.URL_PASSWORDS, frozenset({URL_PASSWORD}), _url_password_windows),
        (detect.IPS, frozenset({IP}), _everywhere),
    )
    triggered: Triggered = (
        (detect.SECRETS, frozenset({SECRET, AWS_KEY}), detect.SECRET_TRIGGER),
        (detect.PHONE_KEY, frozenset({PHONE}), detect.PHONE_KEY_TRIGGER),
        (detect.AUTH, frozenset({AUTH_HEADER}), detect.AUTH_TRIGGER),
        (
            detect.LITERALS,
            frozenset({AWS_KEY, JWT, TOKEN, PRIVATE_KEY}),
            detect.LITERAL_TRIGGER,
        ),
        (detect.IBANS, frozenset({IBAN}), detect.IBAN_TRIGGER),
    )
    return shaped, triggered


on_forget(_tables.cache_clear)


FamilyTries = tuple["Family", frozenset[str]]
# The index of the auth family's trigger and of the literals' family (see `_triggers`).
Handoff = tuple[int, int] | None
TriggerScan = tuple[Any, re.Pattern[bytes], tuple[FamilyTries, ...], Handoff]


@lru_cache(maxsize=64)
def _trigger_scan(classes: frozenset[str]) -> TriggerScan | None:
    """The triggers of the families `classes` needs: where and which, and the families.

    RE2 finds where a trigger starts, in one pass; asking it which one (a group per family)
    costs more than the search. `re` answers that where RE2 found one: the same alternatives in
    the same order, and both take the first that matches there (leftmost-first).
    """
    import re2

    needed = [entry for entry in _tables()[1] if entry[1] & classes]
    if not needed:
        return None
    triggers = [trigger for _, _, trigger in needed]
    # The families that find auth headers and JWTs, by index (see `_triggers`).
    auth, jwt = (
        next((index for index, (_, kinds, _) in enumerate(needed) if kind in kinds), None)
        for kind in (AUTH_HEADER, JWT)
    )
    return (
        re2.compile("|".join(f"(?:{trigger})" for trigger in triggers).encode()),
        re.compile("|".join(f"({trigger})" for trigger in triggers).encode()),
        tuple((family, kinds) for family, kinds, _ in needed),
        None if auth is None or jwt is None else (auth, jwt),
    )


on_forget(_trigger_scan.cache_clear)


def _trigger_hits(scan: Any, text: bytes) -> Iterator[tuple[int, int]]:
    """Where `scan` finds a trigger in `text`: the spans `scan.finditer(text)` gives, for less.

    google-re2's `finditer` costs more a hit than RE2's search itself: a generator step, a
    match object, and at each `span()` a call into the binding for the pattern's number of
    groups (some 6,000 instructions a hit, against 7,000 for the search; 5% of a redaction
    of log lines with personal data). So this calls the binding's search as `finditer` does.
    google-re2 is pinned (requirements.txt), and a test holds this to `finditer`.
    """
    import re2

    search, unanchored = scan._regexp.Match, re2._Anchor.UNANCHORED
    end, at = len(text), 0
    while True:
        hit = search(unanchored, text, at, end)[0]
        if hit[0] < 0:
            return
        yield hit
        at = hit[1] if hit[1] > hit[0] else hit[1] + 1  # past an empty match, as finditer


def _triggers(
    scan: Any, which: re.Pattern[bytes], handoff: Handoff, text: bytes, families: int
) -> list[list[Window]]:
    """Where RE2 finds a trigger in `text`, as windows of each of the `families` in turn.

    Which one depends only on the bytes the trigger matched and the byte before them, the one
    context a trigger reads (a leading word boundary): had an earlier alternative matched
    these bytes after that byte anywhere, it would match them here, and be taken. So `re` is
    asked once per distinct trigger, not at each (a log repeats its keys and prefixes).

    An auth trigger that ends in a JWT's start (`Bearer eyJ`) is the literals' trigger there
    too (`handoff`, their indexes, when both families are needed).
    """
    from chalicelib.detect import JWT_START  # see _tables

    jwt_start = JWT_START.encode()
    auth, literals = handoff if handoff is not None else (-1, -1)
    found: list[list[Window]] = [[] for _ in range(families)]
    known: dict[bytes, int] = {}
    for at, end in _trigger_hits(scan, text):
        # The text's start reads as a non-word byte before it, a space.
        seen = text[at - 1 : end] if at else b" " + text[:end]
        index = known.get(seen)
        if index is None:
            kind = which.match(text, at)
            if kind is None or kind.lastindex is None:  # the engines read one pattern apart
                raise RuntimeError(f"RE2 found a trigger at {at} that re does not")
            index = known[seen] = kind.lastindex - 1
        found[index].append((at, at))
        if index == auth and text.endswith(jwt_start, at, end):
            found[literals].append((end - len(jwt_start), end - len(jwt_start)))
    return found


_NO_FENCE: Final = (1 << 62, 1 << 62)


def _family_spans(
    family: Family,
    text: str,
    windows: list[Window],
    classes: frozenset[str],
    fences: list[Span] | None = None,
) -> list[Span]:
    """`family`'s spans of `classes`, trying its pattern where `windows` let a match start.

    Windows are ranges of start positions; within one, `family.start` skips the positions
    where no match can begin. A found span moves on past its end: spans of one family never
    overlap. Windows overlap when anchors crowd (`%40%40%40...`): a position tried in one is
    not tried again in the next, so each is tried at most once. No position inside one of
    `fences` (spans in order that will be kept) is tried: what starts there would overlap it
    (unless the family's spans start past its matches: then every position is).
    """
    spans: list[Span] = []
    done = 0
    match, accept, search = family.pattern.match, family.accept, family.start.search
    fences = fences if fences and not family.value_after_key else []
    fence = 0
    fence_start, fence_end = fences[0][:2] if fences else _NO_FENCE
    # Comparisons, not min() and max(): this loop runs once a window, a try or a span. Windows
    # hold positions of the text, found in its views.
    for first, last in sorted(windows, key=_START):
        at = first if first > done else done
        if at > last:
            continue
        done = last + 1  # whatever this window finds or not, its positions are tried
        while True:
            while at >= fence_end:
                fence += 1
                fence_start, fence_end = fences[fence][:2] if fence < len(fences) else _NO_FENCE
            if at < fence_start:
                found = match(text, at)
                span = None if found is None else accept(found, text)
                if span is not None and span[2] in classes:
                    spans.append(span)
                    at = span[1] if span[1] > at else at + 1
                    if at > last:
                        done = at  # past this window's end, and so past `last + 1`
                        break
                    continue
            else:  # inside a fence: on from its end
                at = fence_end - 1
            if at >= last:
                break
            candidate = search(text, at + 1, last + 1 + family.reach)
            if candidate is None or candidate.start() > last:
                break
            at = candidate.start()
    return spans


def _spans(
    text: str, policy: RedactionPolicy, exhaustive: bool
) -> tuple[list[Span], list[Span], list[Span]]:
    """What the policy's classes and rules find: confirmed spans kept and left out, the others.

    Families are tried in stages, each outside the spans the stages before it keep (whatever
    starts inside one overlaps it and would be left out): auth headers' values, then the
    other confirmed classes a key, a prefix or letters announce (credentials, IBANs, URL
    passwords), then those of digits alone (cards, SSNs), then the others (addresses, phone
    numbers, IP addresses). The confirmed spans of a stage are kept around those of the stages
    before: of overlapping ones the leftmost, of those starting together a private key block
    or a URL's password, then the longest. A bearer JWT, an IBAN's digit groups and a URL's
    password cost no tries.
    """
    classes = policy.classes
    folded = _folded(text)
    ascii_text = folded.encode("ascii", "replace")
    shapes = ascii_text.translate(_SHAPES)
    views = (
        Views(folded, ascii_text, shapes, {}, [])
        if exhaustive
        else Views(
            folded, ascii_text, shapes, _group_starts(shapes), _occurrences(ascii_text, b"@")
        )
    )
    tries: list[tuple[Family, frozenset[str], list[Window]]] = [
        (family, kinds, _everywhere(views) if exhaustive else windows(views))
        for family, kinds, windows in _tables()[0]
        if kinds & classes
    ]
    triggered = _trigger_scan(classes)
    if triggered is not None:
        scan, which, families, handoff = triggered
        if exhaustive:
            tries += [(family, kinds, _everywhere(views)) for family, kinds in families]
        else:
            starts = _triggers(scan, which, handoff, ascii_text, len(families))
            tries += [
                (family, kinds, where)
                for (family, kinds), where in zip(families, starts, strict=True)
                if where
            ]
    taken: list[Span] = []
    left_out: list[Span] = []
    others = policy.rules.spans(text)
    for stage in (_SCHEMES, _ANNOUNCED, _DIGITS_ONLY):
        confirmed: list[Span] = []
        for family, kinds, windows in tries:
            if _stage(kinds) != stage:
                continue
            found = _family_spans(family, folded, windows, classes, taken)
            if kinds <= _CONFIRMED:
                confirmed += found
            else:  # keys' values, of which AWS secret keys are confirmed
                confirmed += [span for span in found if span[2] in _CONFIRMED]
                others += [span for span in found if span[2] not in _CONFIRMED]
        # Leftmost, then by priority, then longest: stable sorts by keys the C code reads, not
        # one sort by a tuple built for every span.
        confirmed.sort(key=_END, reverse=True)
        confirmed.sort(key=_priority)
        confirmed.sort(key=_START)
        taken = _leftmost(confirmed, taken, left_out)
    for family, kinds, windows in tries:
        if _stage(kinds) == _UNCONFIRMED:
            others += _family_spans(family, folded, windows, classes, taken)
    return taken, left_out, others


def _kept(found: tuple[list[Span], list[Span], list[Span]]) -> tuple[list[Span], list[Span]]:
    """Spans that do not overlap, in order, and those left out.

    `found` is `_spans`'s: the confirmed spans kept and left out, and the others, which are
    kept around the confirmed ones: of overlapping ones the leftmost, then the longest, then
    (stable sorts) in the order found: a tenant's rule, a key's value, an address or number.
    """
    taken, left_out, others = found
    others.sort(key=_END, reverse=True)
    others.sort(key=_START)
    return _leftmost(others, taken, left_out), left_out


def _leftmost(spans: list[Span], taken: list[Span], left_out: list[Span]) -> list[Span]:
    """`taken` and those of `spans` that overlap neither it nor an earlier one, in order.

    `taken` is in order, `spans` by start (and, of those starting together, the one to keep
    first); the others go to `left_out`.
    """
    kept = list(taken)
    end = 0
    blocked, count = 0, len(taken)
    for span in spans:
        start, stop = span[0], span[1]
        while blocked < count and taken[blocked][1] <= start:
            blocked += 1
        if start >= end and stop > start and (blocked == count or taken[blocked][0] >= stop):
            kept.append(span)
            end = stop
        else:
            left_out.append(span)
    kept.sort(key=_START)  # no two start together
    return kept


def _hides_matches(left_out: list[Span], kept: list[Span]) -> bool:
    """Whether a span left out reaches past the kept ones that overlap it.

    Its family read no further than its end, so a match of it may start there. A span the
    kept ones cover (an address inside a key's value, a JWT that is a bearer token, the same
    span found twice) hides nothing: any match after it would overlap them too.
    """
    for span in left_out:
        at, index = span[0], bisect.bisect_right(kept, span[0], key=_START) - 1
        while at < span[1]:
            if index < 0 or index == len(kept) or not kept[index][0] <= at < kept[index][1]:
                return True
            at, index = kept[index][1], index + 1
    return False


def find(text: str, policy: RedactionPolicy = DEFAULT_POLICY) -> list[Span]:
    """The spans `redact` replaces first, as `(start, end, class)` in order: what it found."""
    return _kept(_spans(text, policy, exhaustive=False))[0] if text else []


def redact(text: str, policy: RedactionPolicy = DEFAULT_POLICY) -> str:
    """Return `text` with every span of the policy's classes and rules replaced."""
    return redact_counted(text, policy)[0]


#: The fewest digits a phone number has (social security and card numbers have more), and the
#: shortest JWT. `_may_hold_a_match` and `_BOUNDS` both stand on these two facts.
_FEWEST_PHONE_DIGITS: Final = 7
_SHORTEST_JWT: Final = "eyJ.12345.ab."
#: Under this many characters only the classes that need a mark or seven digits can match:
#: IBANs, tokens and AWS keys are longer than a JWT, an auth header's scheme and value 14.
_SHORT_TEXT: Final = len(_SHORTEST_JWT)


def _may_hold_a_match(text: str, policy: RedactionPolicy) -> bool:
    """False only where no class of `policy` can match, decided without the patterns.

    That is a short ASCII text with fewer than seven digits and none of the marks e-mail
    addresses, URL passwords and keyed values need (`@`, `%`, `:`, `=`): an id, a level, a
    host name. It spares short strings (event lines' fields, attributes) the engine's fixed
    cost and a cold start its compiling. Tenant rules and IP addresses may match anything.
    """
    if len(text) >= _SHORT_TEXT or not text.isascii():
        return True
    if policy.rules.compiled is not None or IP in policy.classes:
        return True
    if "@" in text or "%" in text or ":" in text or "=" in text:
        return True
    return sum(map(str.isdigit, text)) >= _FEWEST_PHONE_DIGITS


def redact_counted(
    text: str, policy: RedactionPolicy = DEFAULT_POLICY, exhaustive: bool = False
) -> tuple[str, int]:
    """`redact(text, policy)` and how many spans it replaced.

    A span left out for overlapping a kept one may hide a shorter match of its class that
    starts after the kept one ends; the text is then scanned again, with the kept spans as
    placeholders, as redacting the result would (at most `_PASSES` times: each pass replaces
    what the last left, and in logs overlaps are rare). `exhaustive` tries every pattern at
    every position instead of where a match can be: the definition the fast path must
    reproduce, slow, for tests.
    """
    if not exhaustive and not _may_hold_a_match(text, policy):
        return text, 0
    replaced = 0
    for _ in range(_PASSES):
        kept, left_out = _kept(_spans(text, policy, exhaustive)) if text else ([], [])
        if not kept:
            break
        placeholders = {kind: policy.replacement(kind) for kind in {span[2] for span in kept}}
        pieces: list[str] = []
        add = pieces.append  # two calls, not a tuple and an extend, a span
        done = 0
        for start, end, kind in kept:
            add(text[done:start])
            add(placeholders[kind])
            done = end
        add(text[done:])
        text, replaced = "".join(pieces), replaced + len(kept)
        if not _hides_matches(left_out, kept):
            break
    return text, replaced


# Per class: the fewest characters a match has, and what bounds how many matches there are.
# Matches of a class never overlap, so each holds its own byte of the class's kind: an `@` or
# the `%` of `%40` (e-mail), an `@` (a URL's password), the `:` or `=` after a secret's key, the
# `b` or `B` of `Bearer` and `Basic`, digits; a class with no such byte is bounded by its length.
_BOUNDS: Final[dict[str, tuple[int, Callable[[dict[str, int]], int]]]] = {
    EMAIL: (len("a@b.co"), lambda count: count["@"] + count["%"]),
    PHONE: (_FEWEST_PHONE_DIGITS, lambda count: count["digits"] // _FEWEST_PHONE_DIGITS),
    CARD: (13, lambda count: count["digits"] // 13),
    SSN: (9, lambda count: count["digits"] // 9),
    IBAN: (15, lambda count: count["digits"] // 2),
    AWS_KEY: (20, lambda count: count["characters"] // 20),
    JWT: (len(_SHORTEST_JWT), lambda count: count["characters"] // len(_SHORTEST_JWT)),
    AUTH_HEADER: (8, lambda count: count["b"] + count["B"]),
    TOKEN: (15, lambda count: count["characters"] // 15),
    URL_PASSWORD: (1, lambda count: count["@"]),
    PRIVATE_KEY: (len("-----BEGIN PRIVATE KEY-----"), lambda count: count["characters"] // 27),
    SECRET: (1, lambda count: count[":"] + count["="]),
    IP: (len("::"), lambda count: count["characters"] // 2),
}
_MARKS: Final = b"@%:=bB"
_NOT_MARKS: Final = bytes(sorted(set(range(256)) - set(_MARKS)))
_DIGITS: Final = b"0123456789"


def _folded(text: str) -> str:
    if text.isascii():
        return text
    from chalicelib.detect import FOLDED  # see _tables

    return text.translate(FOLDED)


def _growth(counts: dict[str, int], text: str, policy: RedactionPolicy) -> int:
    growth = 0
    for kind in policy.classes:
        shortest, most = _BOUNDS[kind]
        added = len(policy.replacement(kind)) - shortest
        if added > 0:
            growth += added * most(counts)
    if policy.rules.compiled is not None:
        growth += (len(policy.replacement(CUSTOM)) - 1) * len(text)
    return growth


def max_growth(
    text: str, policy: RedactionPolicy = DEFAULT_POLICY, enough: int | None = None
) -> int:
    """At most how many bytes `redact(text, policy)` adds, from counts, without redacting.

    A match of a class with at least `n` characters (and so bytes) becomes a placeholder of
    `p` ASCII bytes: it adds at most `p - n`, and the text holds at most as many matches of
    the class as it has of what each match needs (digits, an `@`, a key's `:` or `=`).

    The marks are counted in a copy that keeps only them (one filtering pass); digits take a
    pass of their own, skipped when `enough` is given and the bound with every character
    taken for a digit is at most `enough`.
    """
    ascii_text = _folded(text).encode("ascii", "replace")
    marks = ascii_text.translate(None, _NOT_MARKS)
    counts = {chr(mark): marks.count(mark) for mark in _MARKS}
    counts["characters"] = counts["digits"] = len(text)
    if enough is not None and (coarse := _growth(counts, text, policy)) <= enough:
        return coarse
    counts["digits"] = len(ascii_text) - len(ascii_text.translate(None, _DIGITS))
    return _growth(counts, text, policy)
