"""Replace phone numbers and e-mail addresses in log text with `[REDACTED]`.

`redact` is pure and runs one regular expression, compiled at import, over the text. Every
quantifier is bounded and none is nested in another over the same characters, so each attempt
reads a bounded stretch of text and time grows linearly with the text. Every match is at
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
_EMAIL = (
    "[A-Za-z0-9._%+\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f-]{1,64}"
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


def redact(text: str) -> str:
    """Return `text` with every phone number and e-mail address replaced by `REPLACEMENT`."""
    return _PII_PATTERN.sub(REPLACEMENT, text)
