"""Replace phone numbers and e-mail addresses in log text with `[REDACTED]`.

`redact(text)` is `_PII_PATTERN.sub(REPLACEMENT, text)`: one regular expression, compiled at
import, defines every rule below. Every quantifier is bounded and none is nested in another over
the same characters, so each attempt reads a bounded stretch of text and time grows linearly
with the text. Tried at every position, though, the pattern reads logs at a few MB/s, so
`redact` first finds the few places where a match can start (see "Where a match can start"
below) and runs the pattern only there, with the same result. Every match is at
least `MIN_MATCH_LENGTH` characters long, and a character is at least one UTF-8 byte, so
redaction grows a text by at most a factor of `len(REPLACEMENT) / MIN_MATCH_LENGTH`, in
characters and in UTF-8 bytes.

What is redacted:

- North American numbers: `555-0199` (a 7-digit local number needs its dash),
  `(800) 555-0199`, `(800)555-0199`, and without parentheses one separator throughout
  (`800-555-0199`, `800.555.0199`, `800 555 0199`) or `800 555-0199`; each with an optional
  `1` in front (`1-800-555-0199`, `1 (800) 555-0199`).
- Numbers with a country code after `+` (or `%2B`, a `+` in a URL): 8 to 15 digits, the
  first not 0, grouped by single spaces, dots or dashes or by parentheses, or not at all
  (`+44 20 7946 0958`, `+442079460958`, `+1 (800) 555-0199`, `+44 (0)20 7946 0958`). Digits
  that continue the grouping (`+44 20 7946 0958 12`) go with it, up to the 15 of E.164; fewer
  than 8 (`+1234567`, the `+05:30` of a time) are not a phone number.
- E-mail addresses: 1 to 64 characters of `A-Z a-z 0-9 . _ % + -` or Latin letters with
  diacritics (`josé`), then `@` or `%40` (an `@` in a URL), then 1 to 8 dot-terminated labels
  of `A-Z a-z 0-9 -` and a top-level domain of 2 to 24 ASCII letters; in `<...>`, quotes or
  brackets, after `mailto:`, in a query string (`?to=john.doe%40example.com`).

Decisions on borderline text:

- A match neither starts nor ends inside a token. A boundary is glued when an ASCII letter,
  digit or `_` stands on both sides (`555-0199x`, `x555-0199`, `555-0199555-0199`); when
  digits on both sides are joined by `.`, `/` or `-` (`1.555-0199`, `555-0199-12`,
  `bytes 200-1000/67589`: versions, dates, ranges, ratios); or when a letter, digit or `_` is
  joined to a digit by `+` (`abc+18005550199`: base64, sums). One rule serves both ends of
  every pattern; that makes `redact(redact(t)) == redact(t)`, because a `[REDACTED]` never
  glues, and neither did the match it replaced. A dash alone does not glue a word to a
  number: `build-555-0199` is `build-[REDACTED]`, `build-555-0199x` stays.
- Only ASCII counts as digits and as glue. Arabic-Indic, fullwidth and other digits are never
  a phone number; a number or address inside text written without spaces is still found
  (`用户555-0199登录` is `用户[REDACTED]登录`).
- Bare digit runs are not phone numbers without a `+`: `8005550199`, `18005550199`, epoch
  times and long ids stay. Mixed separators other than `800 555-0199` are not one either
  (`443 123.4567` is a port and a coordinate). Any other 3-4 or 3-3-4 grouping is: a shape
  cannot tell `800 555 0199` from three counts, and redaction errs towards removing.
- Extensions stay: `555-0199 ext. 123` is `[REDACTED] ext. 123`, while `555-0199x123`, glued,
  is one token and stays whole.
- `logo@2x.png` and `icon@1.5x.webp` stay: a domain starting with a label of digits and `x`
  is an asset's pixel density (`@2x`), not a host.
- `git@github.com:org/repo.git` is `[REDACTED]:org/repo.git`: `git@github.com` has the shape
  of an address, and the same scp-style syntax carries personal user names
  (`alice@build.example.com:repo`); a rule on shapes cannot tell a role account from a person.
- Not addresses: a domain without a dot (`user@localhost`, `x@y`), a last label that is not
  letters (`react@18.2.0`, `@types/node@20.1.0`, `user@10.0.0.1`), nothing before the `@`
  (`@scope/pkg`, `@app.route`). An address may be directly followed by other text:
  `a@b.com.5` is `[REDACTED].5`, `a@b.com@c.com` is `[REDACTED]@c.com`.
- A local part has at most 64 characters (RFC 5321): `x` * 65 + `@example.com` is not an
  address, and of a longer dotted run only the end, from a dot, is taken.
- Addresses with other non-ASCII characters (`用户@例子.中国`) are not found.

Where a match can start: an address's local part is the run of up to 64 local-part characters
just before its `@` or `%40`; an international number starts at its `+` or `%2B` and a digit
from 1 to 9; any other number ends with its last group, three digits, a separator and four
digits, 8 to 16 characters after its start (after a space or a dot, the last group follows a
`)`, or three digits and a space or a dot). Byte-string searches find these anchors at memory
speed; in the window each anchor leaves, a cheap pattern (`_START`) skips the positions where
no match can begin, and the full pattern decides at the rest, in order, exactly as a scan of
the whole text would. Text crowded with anchors (more than one in `_CROWDED` characters) goes
to the full pattern at once, which is then about as fast. `max_growth` bounds how much
redaction can lengthen a text, from counts of separators and digits, without redacting it.
"""

from __future__ import annotations

import re
from typing import Final

REPLACEMENT: Final = "[REDACTED]"

# The shortest possible match is an address like `a@b.co`; phone numbers are longer
# (`555-0199` has 8 characters, an international number at least 9).
MIN_MATCH_LENGTH: Final[int] = 6

_WORD = "[A-Za-z0-9_]"
_DIGIT = "[0-9]"

# Configurations around a position that make it the inside of one token.
_GLUED = (
    rf"(?<={_WORD})(?:{_WORD}|\+{_DIGIT})"  # a|b  a|+1
    rf"|(?<={_WORD}\+){_DIGIT}"  # a+|1
    rf"|(?<={_DIGIT})[./-]{_DIGIT}"  # 1|.2
    rf"|(?<={_DIGIT}[./-]){_DIGIT}"  # 1.|2
)
_EDGE = rf"(?!{_GLUED})"

# Latin letters with diacritics (U+00C0-U+024F without the multiplication and division signs)
# may be in a local part: `josé@example.com`.
_LOCAL_PART_CHARACTERS = "A-Za-z0-9._%+\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f-"
_LOCAL_PART_MAX = 64
_EMAIL = (
    rf"[{_LOCAL_PART_CHARACTERS}]{{1,{_LOCAL_PART_MAX}}}"
    r"(?:@|%40)"
    r"(?![0-9]{1,3}(?:\.[0-9]{1,3})?[xX]\.)"  # logo@2x.png
    r"(?:[A-Za-z0-9-]{1,63}\.){1,8}"
    r"[A-Za-z]{2,24}"
)

# Each repetition takes one digit, after at most one separator: no ambiguity to backtrack over.
_INTERNATIONAL = rf"(?:\+|%2[Bb])[1-9](?:(?:[ .-]?\(|\)[ .-]?|[ .-])?{_DIGIT}){{7,14}}"
# `(800) 555-0199`, `(800)555-0199`; without parentheses one separator throughout
# (`800.555.0199`, `800 555 0199`) or `800 555-0199`: `443 123.4567` is a port and a coordinate.
_NORTH_AMERICAN = (
    rf"(?:1[ .-]?)?"
    rf"(?:\({_DIGIT}{{3}}\)[ .-]?{_DIGIT}{{3}}[ .-]"
    rf"|{_DIGIT}{{3}}(?P<sep>[ .-]){_DIGIT}{{3}}(?P=sep)"
    rf"|{_DIGIT}{{3}} {_DIGIT}{{3}}-)"
    rf"{_DIGIT}{{4}}"
)
_LOCAL_NUMBER = rf"{_DIGIT}{{3}}-{_DIGIT}{{4}}"

_PII_PATTERN: Final = re.compile(
    rf"{_EDGE}(?:{_EMAIL}|{_INTERNATIONAL}|{_NORTH_AMERICAN}|{_LOCAL_NUMBER}){_EDGE}"
)


# Anchors, found by byte-string searches in the text's ASCII bytes (one byte a character): an
# address's separator, with the run of local-part characters before it (read on the reversed
# text); a country code's sign followed by a digit from 1 to 9; and, with every digit made `0`
# and every space `.`, a last group. After a space or a dot a last group must follow three
# digits and a space or a dot, or a `)`: `800-555 0199` is not a number, `200 12345` neither.
_SEPARATORS: Final = (b"@", b"%40")
_LOCAL_PART_REVERSED: Final = re.compile(rf"[{_LOCAL_PART_CHARACTERS}]{{0,{_LOCAL_PART_MAX}}}")
_SIGNS: Final = (b"+", b"%2B", b"%2b")
_FIRST_DIGITS: Final = frozenset(b"123456789")
_SHAPES: Final = bytes.maketrans(b"0123456789 ", b"0000000000.")
_DASHED_GROUP: Final = b"000-0000"
_DOTTED_GROUP: Final = b"000.0000"
_BEFORE_DOTTED_GROUP: Final = (b"000.", b")", b").", b")-")
_NUMBER_LENGTHS: Final = (len("555-0199"), len("1 (800) 555-0199"))
_NUMBER_MIN_DIGITS: Final = 7

# Positions worth trying in a window: not inside a word, and either a possible start of a
# number or the start of a run of local-part characters that reaches an `@` or a `%`. It
# reads at most `_START_REACH` characters past a window's end.
_NUMBER_FIRST = "+%(0-9"
_LOCAL_PART_BUT_PERCENT = _LOCAL_PART_CHARACTERS.replace("%", "")
_START: Final = re.compile(
    rf"[{_NUMBER_FIRST}{_LOCAL_PART_CHARACTERS}](?<!{_WORD}{_WORD})"
    rf"(?:(?<=[{_NUMBER_FIRST}])"
    rf"|(?=[{_LOCAL_PART_BUT_PERCENT}]{{0,{_LOCAL_PART_MAX - 1}}}+[@%]))"
)
_START_REACH = _LOCAL_PART_MAX + 2
_CROWDED = 16

Window = tuple[int, int]


def _occurrences(haystack: bytes, needle: bytes) -> list[int]:
    found = []
    at = haystack.find(needle)
    while at >= 0:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _sign_windows(ascii_text: bytes) -> list[Window]:
    """International numbers start at a country code's sign followed by a digit from 1 to 9."""
    return [
        (at, at)
        for sign in _SIGNS
        for at in _occurrences(ascii_text, sign)
        if at + len(sign) < len(ascii_text) and ascii_text[at + len(sign)] in _FIRST_DIGITS
    ]


def _group_windows(shapes: bytes) -> list[Window]:
    """Other numbers start 8 to 16 characters before the end of their last group."""
    ends = [at + len(_DASHED_GROUP) for at in _occurrences(shapes, _DASHED_GROUP)]
    ends += [
        at + len(_DOTTED_GROUP)
        for at in _occurrences(shapes, _DOTTED_GROUP)
        if shapes.endswith(_BEFORE_DOTTED_GROUP, 0, at)
    ]
    shortest, longest = _NUMBER_LENGTHS
    return [(max(end - longest, 0), end - shortest) for end in ends]


def _address_windows(text: str, separators: list[int]) -> list[Window]:
    """Where addresses may start: in the run of local-part characters before a separator."""
    reversed_text = text[::-1]
    windows: list[Window] = []
    for at in separators:
        local_part = _LOCAL_PART_REVERSED.match(reversed_text, len(text) - at)
        if local_part is not None and local_part.end() > local_part.start():
            windows.append((at - (local_part.end() - local_part.start()), at - 1))
    return windows


def max_growth(text: str) -> int:
    """At most how many bytes `redact` adds to `text`, counted at memory speed, not redacting.

    A match of n bytes becomes `REPLACEMENT`: an address (at least `MIN_MATCH_LENGTH` bytes)
    holds a separator of its own, a phone number at least 7 digits in 8 characters.
    """
    ascii_text = text.encode("ascii", "replace")
    digits = len(ascii_text) - len(ascii_text.translate(None, b"0123456789"))
    addresses = sum(map(ascii_text.count, _SEPARATORS))
    address_growth = len(REPLACEMENT) - MIN_MATCH_LENGTH
    number_growth = len(REPLACEMENT) - _NUMBER_LENGTHS[0]
    return address_growth * addresses + number_growth * (digits // _NUMBER_MIN_DIGITS)


def redact(text: str) -> str:
    """Return `text` with every phone number and e-mail address replaced by `REPLACEMENT`."""
    return redact_counted(text)[0]


def redact_counted(text: str) -> tuple[str, int]:
    """`redact(text)` and how many phone numbers and addresses it replaced."""
    ascii_text = text.encode("ascii", "replace")
    separators = [at for separator in _SEPARATORS for at in _occurrences(ascii_text, separator)]
    windows = _sign_windows(ascii_text) + _group_windows(ascii_text.translate(_SHAPES))
    anchors = len(separators) + len(windows)
    if anchors == 0:
        return text, 0
    if anchors * _CROWDED > len(text):
        return _PII_PATTERN.subn(REPLACEMENT, text)
    windows += _address_windows(text, separators)
    windows.sort()
    pieces: list[str] = []
    done = replaced = 0
    match, search = _PII_PATTERN.match, _START.search
    for first, last in windows:
        at = first if first > done else done
        while at <= last:
            found = match(text, at)
            if found:
                pieces += (text[done:at], REPLACEMENT)
                replaced += 1
                done = at = found.end()
                continue
            candidate = search(text, at + 1, last + _START_REACH) if at < last else None
            if candidate is None:
                break
            at = candidate.start()
    pieces.append(text[done:])
    return "".join(pieces), replaced
