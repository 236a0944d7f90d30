"""Where each class of personal data or secret sits in a text: spans, validated, never replaced.

A class is found by a family: a regular expression tried only at a few positions, and a check
that turns a match into a span or refuses it (a checksum, a decoded header, the context before
it). `chalicelib.redact` decides where to try each family and merges their spans. Every
pattern here is compiled at import from the standard library's `re`; every quantifier is
bounded or runs over characters its successor cannot take, so a try reads a bounded stretch.

Digits are ASCII `0-9`; `redact` first folds fullwidth digits, Unicode hyphens (U+2011, the
non-breaking one, too) and the other one-character look-alikes in `FOLDED` onto ASCII, so the
patterns see `555-0199` in `555-0199` written with fullwidth digits.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from chalicelib.process_state import on_forget
from chalicelib.redaction_policy import (
    AUTH_HEADER,
    AWS_KEY,
    CARD,
    EMAIL,
    IBAN,
    IP,
    JWT,
    PHONE,
    PRIVATE_KEY,
    SECRET,
    SSN,
    TOKEN,
    URL_PASSWORD,
    Span,
)

#: One character onto one, so spans in the folded text are spans in the original: fullwidth
#: digits and signs, the non-breaking and other Unicode hyphens, non-breaking spaces.
FOLDED: Final = str.maketrans(
    {
        **{0xFF10 + digit: str(digit) for digit in range(10)},
        0xFF0B: "+",
        0xFF08: "(",
        0xFF09: ")",
        0xFF20: "@",
        0x2010: "-",
        0x2011: "-",
        0x2012: "-",
        0x2013: "-",
        0x2212: "-",
        0x00A0: " ",
        0x2007: " ",
        0x202F: " ",
    }
)

Accept = Callable[[re.Match[str], str], Span | None]

_WORD = "[A-Za-z0-9_]"
_DIGIT = "[0-9]"
# Configurations around a position that make it the inside of one token: a|b, a|+1, 1|.2,
# 1|-2, 1|/2, 1|-A0 (a MAC address's last pair), and a time's or an IPv6 address's colon,
# 1|:2 (17:05, 2001:db8). A placeholder's `]` glues as the word or digit it replaced may have:
# what did not match beside a match does not match beside its placeholder (redaction stays
# idempotent). Each alternative first takes the character after the position and then looks
# behind: `re` skips an alternative whose first character does not fit without trying it, and
# every pattern checks this at both of its ends.
_HEX = "[0-9A-Fa-f]"
_GLUED = (
    # 1|2, a|2, a+|2, 1.|2, 1/|2, 1-|2, 1:|2, and after a placeholder X]|2, X].|2
    rf"{_DIGIT}(?:(?<={_WORD}[0-9])|(?<={_WORD}\+[0-9])|(?<={_DIGIT}[./:-][0-9])"
    rf"|(?<=[A-Z]\][0-9])|(?<=[A-Z]\][.:/+-][0-9]))"
    rf"|[A-Za-z_](?:(?<={_WORD}[A-Za-z_])|(?<=[A-Z]\][A-Za-z_]))"
    rf"|\+(?:(?<={_WORD}\+)|(?<=[A-Z]\]\+)){_DIGIT}"
    rf"|[./](?:(?<={_DIGIT}[./])|(?<=[A-Z]\][./])){_DIGIT}"
    # A dash and a hex pair go on a MAC address or a hex id: 00-00-00-00-00-A0, 12-AB-CD.
    rf"|-(?:(?<={_DIGIT}-)(?:{_DIGIT}|{_HEX}{{2}}(?:-|(?![0-9A-Za-z_])))|(?<=[A-Z]\]-){_DIGIT})"
    rf"|:(?:(?<={_DIGIT}:){_HEX}|(?<=[A-Z]\]:){_DIGIT})"
    rf"|\[(?<={_WORD}\[)REDACTED"
)
EDGE: Final = rf"(?!{_GLUED})"

# Letters with diacritics and of the Greek and Cyrillic alphabets (no multiplication or
# division sign) may be in an address: `josé@example.com`, `ana@bücher.example`.
_LETTERS = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
LOCAL_PART_CHARACTERS: Final = f"A-Za-z0-9._%+{_LETTERS}-"
LOCAL_PART_MAX: Final = 64
#: The ASCII ones of those characters, as bytes.
LOCAL_PART_ASCII: Final = bytes(
    byte for byte in range(128) if re.match(f"[{LOCAL_PART_CHARACTERS}]", chr(byte))
)
_EMAIL = (
    r"(?<!://)"  # `https://bob@host`: a user name, not an address
    rf"(?P<email>[{LOCAL_PART_CHARACTERS}]{{1,{LOCAL_PART_MAX}}}"
    r"(?:@|%40)"
    r"(?![0-9]{1,3}(?:\.[0-9]{1,3})?[xX]\.)"  # logo@2x.png
    rf"(?:[A-Za-z0-9{_LETTERS}-]{{1,63}}\.){{1,8}}"
    rf"[A-Za-z{_LETTERS}]{{2,24}})"
)
# A country code's sign and digits grouped by one separator each or by parentheses; how many
# of the groups belong to the number, and whether it has the 8 to 15 digits of one, is decided
# afterwards (`_international_end`). Runs of digits, not each digit, are the repeated unit:
# fewer steps for `re`, and a bounded stretch read all the same.
_INTERNATIONAL = (
    r"(?P<international>(?:\+|%2[Bb])[1-9]"
    rf"(?:[ .-]?(?:\({_DIGIT}{{1,4}}\)|{_DIGIT}{{1,15}})){{0,20}})"
)
# `(800) 555-0199`, `(800)555-0199`; without parentheses one separator throughout
# (`800.555.0199`, `800 555 0199`) or `800 555-0199`: `443 123.4567` is a port and a coordinate.
_NORTH_AMERICAN = (
    rf"(?P<north_american>(?:1[ .-]?)?"
    rf"(?:\({_DIGIT}{{3}}\)[ .-]?{_DIGIT}{{3}}[ .-]"
    rf"|{_DIGIT}{{3}}(?P<sep>[ .-]){_DIGIT}{{3}}(?P=sep)"
    rf"|{_DIGIT}{{3}} {_DIGIT}{{3}}-)"
    rf"{_DIGIT}{{4}})"
)
# `555-0199`, and `555 0199` with an exchange from 2 to 9 as North America has them.
_LOCAL = rf"(?P<local>{_DIGIT}{{3}}-{_DIGIT}{{4}}|[2-9]{_DIGIT}{{2}} {_DIGIT}{{4}})"
# A trunk 0, an area code and the subscriber's digits: `0161 496 0000`, `089 123456`,
# `(030) 1234567`, `06 12 34 56 78`; 9 to 11 digits in all (`_NATIONAL_DIGITS`).
_NATIONAL = (
    rf"(?P<national>(?:\(0{_DIGIT}{{1,4}}\) ?|0{_DIGIT}{{1,4}}[ -])"
    rf"{_DIGIT}{{2,8}}(?:[ -]{_DIGIT}{{2,4}}){{0,3}})"
)
_NATIONAL_DIGITS = range(9, 12)
# A day and a month then a year, which a trunk 0's groups would read as a number from the day
# or the month on: `01-12-2026 443` is a date and a count.
_A_DATE = re.compile(r"[0-3]?[0-9]([ -])[0-3]?[0-9]\1(?:19|20)[0-9]{2}(?![0-9])")


# Pairs of digits joined by dashes after a pair of hex digits and a dash at a token's start:
# the rest of a MAC address or a hex id (`0A-00-00-00-00-00`), not a national number.
_DIGIT_PAIRS = re.compile(r"[0-9]{2}(?:-[0-9]{2})+")
_HEX_PAIR = re.compile(r"(?<![0-9A-Za-z_])[0-9A-Fa-f]{2}-")


def _in_hex_pairs(text: str, start: int, national: str) -> bool:
    return (
        start >= 3
        and _HEX_PAIR.match(text, start - 3) is not None
        and _DIGIT_PAIRS.fullmatch(national) is not None
    )


def _in_a_date(text: str, start: int) -> bool:
    """Whether the number at `start` is a date's day or month.

    A date starts there, or one or two digits and a separator before it.
    """
    for begin in (start, start - 2, start - 3):
        if begin >= 0 and (begin == 0 or not text[begin - 1].isdigit()):
            found = _A_DATE.match(text, begin)
            if found is not None and begin <= start < found.end():
                return True
    return False


CONTACT_PATTERN: Final = re.compile(
    rf"{EDGE}(?:{_EMAIL}|{_INTERNATIONAL}|{_NORTH_AMERICAN}|{_LOCAL}|{_NATIONAL}){EDGE}"
)
# Where a contact match can start: not inside a word, and either a possible start of a number
# or the start of a run of local-part characters that reaches an `@` or a `%`.
_NUMBER_FIRST = "+%(0-9"
_LOCAL_PART_BUT_PERCENT = LOCAL_PART_CHARACTERS.replace("%", "")
CONTACT_START: Final = re.compile(
    rf"[{_NUMBER_FIRST}{LOCAL_PART_CHARACTERS}](?<!{_WORD}{_WORD})"
    rf"(?:(?<=[{_NUMBER_FIRST}])"
    rf"|(?=[{_LOCAL_PART_BUT_PERCENT}]{{0,{LOCAL_PART_MAX - 1}}}+[@%]))"
)
CONTACT_START_REACH: Final = LOCAL_PART_MAX + 2

# Words before a number that say it counts, sizes, ranges, ports or identifies something.
# A label and a space (`bytes 200-1000/67589`, `order 555-0199`), or any of these words as a
# key (`count=555-0199`, `"id": "555 0199"`); `20 items 089 923107` is a count, then a number.
_LABELS = (
    *("bytes?", "ranges?", "ports?", "pid", "order"),
    *("invoice", "ticket", "build", "version", "v"),
)
_KEYS = (
    *("bytes?", "ranges?", "ports?", "size", "length", "len", "count", "offset", "limit"),
    *("lines?", "pages?", "items?", "ids?", "pid", "uid", "gid", "build", "version", "v", "seq"),
    *("order", "invoice", "ticket"),
)


def _backwards(word: str) -> str:
    """`word`, a pattern, spelled from its end: `bytes?` is `s?etyb`."""
    return "s?" + word[:-2][::-1] if word.endswith("s?") else word[::-1]


# Read backwards from the number, one anchored try instead of a search of the 24 characters
# before it (which cost some 9 us a number): a label and one or two spaces, or a key and its
# `=`, `:` or `#`, or the end of an access log's request line (`HTTP/1.1" `, before its status
# and size, `200 5117`), that end where the number starts (or before a line break there) and
# start a word.
_NOT_A_PHONE_BEFORE = re.compile(
    rf"(?i)\n?(?:\s{{1,2}}(?:{'|'.join(map(_backwards, _LABELS))})"
    rf"|[\"']?\s{{0,2}}[=:#]\s{{0,2}}[\"']?(?:{'|'.join(map(_backwards, _KEYS))})"
    r"|\s{1,2}\"(?:[0-9]\.)?[0-9]/ptth)(?!\w)"
)
_CONTEXT_REACH = 24


def _not_a_phone_by_context(text: str, start: int) -> bool:
    if not start:
        return False
    low = start - _CONTEXT_REACH if start > _CONTEXT_REACH else 0
    # With the character before the 24, which says whether a word starts at the first of them;
    # sliced backwards in one step (a slice's stop of -1 would be the text's last character).
    found = _NOT_A_PHONE_BEFORE.match(text[start - 1 : low - 2 if low > 1 else None : -1])
    return found is not None and found.end() <= start - low


@lru_cache(maxsize=1024)
def _possible_lengths(digits: str) -> frozenset[int]:
    """National number lengths the country of `digits` (E.164, no sign) has, from its metadata.

    `phonenumbers` is imported here, on the first number whose length is in doubt.
    """
    import phonenumbers

    for size in (1, 2, 3):
        code = int(digits[:size])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions is None:
            continue
        lengths: set[int] = set()
        for region in regions:
            metadata = (
                phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
                if region == "001"
                else phonenumbers.PhoneMetadata.metadata_for_region(region)
            )
            if metadata is not None and metadata.general_desc is not None:
                lengths.update(
                    size + length for length in metadata.general_desc.possible_length or ()
                )
        return frozenset(lengths)
    return frozenset()


on_forget(_possible_lengths.cache_clear)


# Besides digits a number's groups hold only these (past its sign), and spaces between them.
_NOT_DIALLED = b"().-"
_NOT_DIGITS = b" " + _NOT_DIALLED
_E164_DIGITS = range(8, 16)


def _ends(text: str, first: int, lengths: range) -> list[tuple[int, int]]:
    """Where `text` may end, at a space or its end, with how many digits (from `first`).

    Only ends with a digit count in `lengths` are listed; a trunk `(0)` is not counted.

    Dots group a number only without spaces (`+49.30.123456`): after a space, `0.0.0.0` is
    the next token.
    """
    ends: list[tuple[int, int]] = []
    count = 0
    end = first - 1
    for group in text[first:].split(" "):
        if end >= first and "." in group:  # a group after the first
            break
        end += len(group) + 1
        if group.isdigit():
            count += len(group)
        else:
            # Parentheses, dots and dashes are no digits, and a trunk `(0)` is not dialled;
            # bytes drop them in one call where str would take one per character.
            count += len(group.encode().translate(None, _NOT_DIALLED)) - group.count("(0)")
        if count in lengths:
            ends.append((end, count))
    return ends


# A number's layout: its digits as `0` (a trunk `(0)` is not dialled) or `1`, and what groups
# them, as they stand. Where it ends depends only on its layout and its country.
_LAYOUT = bytes.maketrans(b"123456789", b"111111111")


def _international_end(match: re.Match[str]) -> int | None:
    """Where an international number ends: after the groups its country's lengths allow.

    Numbers a log holds share a few layouts (`+1 (800) 555-0199`, `+44 20 7946 0000`): the
    reading is done once per layout and country (`_reading`).
    """
    data = match.group().encode()  # ASCII: a sign, digits, spaces, dots, dashes, parentheses
    first = 3 if data.startswith(b"%2") else 1
    country = data[first : first + 8].translate(None, _NOT_DIGITS)[:3]
    end = _reading(data.translate(_LAYOUT), country, first)
    return None if end is None else match.start() + end


@lru_cache(maxsize=1024)
def _reading(layout: bytes, country: bytes, first: int) -> int | None:
    """Where a number of `layout` (its digits from `first` on) and `country` ends, if it is one.

    A group after a space may be the next token (`+1 415 555 2671 3 items`, `+1234567
    2024-01-15`); E.164 numbers have 8 to 15 digits. A group after a space belongs to the
    number only if the country's numbers can have the length it makes; the longest such
    reading wins. The reading before the first space stands as it would alone: what follows
    the space (a phone number's placeholder once redacted) cannot make it less of a number,
    so redacting again finds what the first pass found (`+100000000000 200 0000`).
    """
    text = layout.decode()
    eligible = _ends(text, first, _E164_DIGITS)
    if not eligible:
        return None
    end, space = eligible[-1][0], text.find(" ")
    if 0 <= space < end:  # a group after a space is in doubt
        possible = _possible_lengths(country.decode())
        ends = [end for end, count in eligible if count in possible or end <= space]
        if not ends:
            return None
        end = ends[-1]
    return end


on_forget(_reading.cache_clear)


# In a URL's authority before its `@` (`https://user:pass@host`, `https://bob@host`) is a
# user and a password, never an address.
_USERINFO_BEFORE = re.compile(r"://[^\s/?#@\[\]]{0,256}$")
_USERINFO_REACH = len("://") + 256


def accept_contact(match: re.Match[str], text: str) -> Span | None:
    """An address as it is; a number checked against its context and its country's lengths."""
    start, kind = match.start(), match.lastgroup  # the alternative's group closes last
    if kind == "email":
        # `re` reads a negative position as 0.
        if _USERINFO_BEFORE.search(text, start - _USERINFO_REACH, start):
            return None
        return start, match.end(), EMAIL
    if kind == "international":
        end = _international_end(match)
        return None if end is None else (start, end, PHONE)
    if kind != "national":
        return None if _not_a_phone_by_context(text, start) else (start, match.end(), PHONE)
    national = match.group()  # the edges around it read no characters
    # The longest reading with 9 to 11 digits; its length first, the cheaper check.
    ends = _ends(national, 0, _NATIONAL_DIGITS)
    if (
        not ends
        or _in_a_date(text, start)
        or _in_hex_pairs(text, start, national)
        or _not_a_phone_by_context(text, start)
    ):
        return None
    return start, start + ends[-1][0], PHONE


# Triggers are RE2 patterns over the text's ASCII bytes, where what is not ASCII reads `?`;
# each must find wherever its family's pattern can match. So a trigger's space is any byte a
# pattern's `\s` may stand on (U+2003 and U+3000 read `?`), and the patterns' words ignore
# case in ASCII only (`(?ai:`): in Unicode the long s (U+017F) is an `s`, the Kelvin sign a `k`.
_SCANNED_SPACE = r"[\t-\r\x1c-\x20?]"

# Bare digits under a key that names a phone: `"mobile":"6175550123"`, `msisdn=447700900123`.
_PHONE_WORDS = "phone|mobile|msisdn|cell|cellphone|tel|telephone|fax|sms|whatsapp"
_PHONE_KEY = rf"(?:{_PHONE_WORDS})(?:[_-]?(?:number|no|num|nr))?"
# The word must start the key or follow a separator or a lower-case letter (`user_phone`,
# `userPhone`), not be inside another word (`hotel`); a match starts at the word.
_WORD_START = r"(?:(?<![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))"
# The trigger runs to the value's first seven digits: a key before anything else (`phone=+1
# (800) 555-0199`, a number the contact family takes) costs no RE2 hit and no try. What it
# adds (quotes, spaces, `:`, `=`, `+`, digits) starts no other trigger, so none hides in it.
PHONE_KEY_TRIGGER: Final = (
    rf"(?i:{_PHONE_KEY})[\"']?{_SCANNED_SPACE}{{0,3}}[:=]"
    rf"{_SCANNED_SPACE}{{0,3}}[\"']?\+?[0-9]{{7}}"
)
PHONE_KEY_PATTERN: Final = re.compile(
    rf"{_WORD_START}(?ai:{_PHONE_KEY})[\"']?\s{{0,3}}[:=]"
    r"\s{0,3}[\"']?(?P<value>\+?[0-9]{7,15})(?![0-9A-Za-z_\[])"
    rf"{EDGE}"
)


def accept_value(kind: str) -> Accept:
    """A span over the match's `value` group, of `kind`."""

    def accept(match: re.Match[str], text: str) -> Span | None:
        return match.start("value"), match.end("value"), kind

    return accept


# Payment cards: 13 to 19 digits, together or in groups of four (Amex 4-6-5, Diners 4-6-4)
# joined by one space or dash throughout; the Luhn checksum and an issuer's prefix decide.
CARD_PATTERN: Final = re.compile(
    rf"{EDGE}(?:{_DIGIT}{{13,19}}"
    rf"|{_DIGIT}{{4}}(?P<sep>[ -]){_DIGIT}{{4}}(?P=sep){_DIGIT}{{4}}(?P=sep){_DIGIT}{{1,4}}"
    rf"(?:(?P=sep){_DIGIT}{{1,3}})?"
    rf"|{_DIGIT}{{4}}(?P<amex>[ -]){_DIGIT}{{6}}(?P=amex){_DIGIT}{{4,5}}){EDGE}"
)
DIGIT_START: Final = re.compile(rf"(?<![0-9]){_DIGIT}")
_CARD_PREFIXES = re.compile(
    r"4|5[1-5]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|3[47]|3(?:0[0-5]|[68])"
    r"|6(?:011|5|4[4-9]|2)|35(?:2[89]|[3-8][0-9])"
)


# Every second digit from the right counts doubled, less 9 when that has two digits.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number (or any digit string) holds.

    Summed as ASCII bytes (each digit's value plus 48), a quarter of the time of `int` each.
    """
    data = digits.encode()
    doubled = data[-2::-2].translate(_LUHN_DOUBLED)
    return (sum(data[-1::-2]) + sum(doubled) - 48 * len(data)) % 10 == 0


def accept_card(match: re.Match[str], text: str) -> Span | None:
    """A card if the Luhn checksum holds and the number starts as an issuer's numbers do."""
    found = match.group()
    if not _CARD_PREFIXES.match(found):  # within the first group: no issuer's has 5 digits
        return None
    digits = found.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19:
        return None
    return (match.start(), match.end(), CARD) if luhn_valid(digits) else None


# US social security numbers: area 001-899 but 666, group 01-99, serial 0001-9999.
SSN_PATTERN: Final = re.compile(
    rf"{EDGE}(?!000|666|9)({_DIGIT}{{3}})(?P<sep>[ -])(?!00){_DIGIT}{{2}}(?P=sep)"
    rf"(?!0000){_DIGIT}{{4}}{EDGE}"
)


def accept_whole(kind: str) -> Accept:
    """A span over the whole match, of `kind`."""

    def accept(match: re.Match[str], text: str) -> Span | None:
        return match.start(), match.end(), kind

    return accept


# IBANs: a country, two check digits and up to 30 letters and digits, in groups of four or
# not; the country's length and the mod-97 check decide.
IBAN_TRIGGER: Final = r"\b[A-Z]{2}[0-9]{2}"
IBAN_PATTERN: Final = re.compile(
    rf"{EDGE}(?<![A-Za-z0-9_\]])[A-Z]{{2}}[0-9]{{2}}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9_])"
    rf"{EDGE}"
)
_IBAN_LENGTHS: Final = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK"], 20),
    **dict.fromkeys(["CH", "CR", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU"], 30),
    **dict.fromkeys(["MT"], 31),
    **dict.fromkeys(["LC", "SC"], 32),
}


# For the check, letters are numbers: A is 10, B 11, ... Z 35.
_IBAN_LETTERS = str.maketrans(
    {letter: str(value) for value, letter in enumerate(string.ascii_uppercase, start=10)}
)


# Each country's letters as numbers, as the check moves them to the end: `DE` is `1314`.
_IBAN_COUNTRIES: Final = {country: country.translate(_IBAN_LETTERS) for country in _IBAN_LENGTHS}


def iban_valid(iban: str) -> bool:
    """The country's IBAN length and the ISO 7064 mod-97 check both hold.

    Most accounts are digits only: they skip translating letters (the slow part of the check).
    """
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    account = iban[4:]
    if not account.isdigit():
        account = account.translate(_IBAN_LETTERS)
    return int(account + _IBAN_COUNTRIES[iban[:2]] + iban[2:4]) % 97 == 1


def accept_iban(match: re.Match[str], text: str) -> Span | None:
    """An IBAN if its length and checksum hold; of grouped ones, the longest prefix that does."""
    found = match.group()
    if iban_valid(found.replace(" ", "")):  # most often, the whole of it
        return match.start(), match.end(), IBAN
    groups = found.split(" ")
    for count in range(len(groups) - 1, 0, -1):
        if iban_valid("".join(groups[:count])):
            end = match.start() + len(" ".join(groups[:count]))
            return match.start(), end, IBAN
    return None


# Values of keys that name a secret: `password=hunter2`, `"apiKey": "..."`, `X-Auth-Token: x`.
# A key ends with the word (`db_password`, `accessToken`, `x-api-key`; not `token_count`);
# the short `pass` and `pwd` must start a word (not `bypass`).
_SECRET_WORDS = "|".join(
    (
        *("password", "passwd", "passphrase", "secret", "token"),
        *("api[_-]?key", "access[_-]?key", "private[_-]?key", "auth[_-]?key", "credentials?"),
    )
)
SECRET_TRIGGER: Final = rf"(?i:{_SECRET_WORDS}|pass|pwd)[\"']?{_SCANNED_SPACE}{{0,3}}[:=]"
SECRET_PATTERN: Final = re.compile(
    rf"(?P<key>(?ai:{_SECRET_WORDS})|(?<![A-Za-z0-9])(?ai:pass|pwd))"
    r"[\"']?\s{0,3}[:=]\s{0,3}"
    r"(?:\"(?P<double>[^\"\n]{1,512})\"|'(?P<single>[^'\n]{1,512})'"
    r"|(?P<bare>[^\s\"',;&<>{}\[\]()]{0,511}[^\s\"',;&<>{}\[\]().]))"
)
_NOT_SECRETS = frozenset({"null", "none", "nil", "true", "false", "undefined", "***", "-"})
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")


def accept_secret(match: re.Match[str], text: str) -> Span | None:
    """The value, unless it is empty, a literal like `null`, or already redacted."""
    group = match.lastgroup  # `double`, `single` or `bare`: the value closes after the key
    if group is None:
        return None
    value = match.group(group)
    if value.lower() in _NOT_SECRETS or value.startswith("[REDACTED"):
        return None
    key = text[max(0, match.start() - len("aws_secret_")) : match.end("key")].lower()
    secret_key = "secret" in key  # `aws_secret_access_key`, `SecretAccessKey`
    kind = AWS_KEY if secret_key and _AWS_SECRET.fullmatch(value) else SECRET
    return match.start(group), match.end(group), kind


#: How a JWT starts: `{"` in base64.
JWT_START: Final = "eyJ"

# `Authorization: Bearer <token>` and `Basic <base64 of user:password>`. The trigger takes the
# start of a JWT after the scheme too (`Bearer eyJ`, the usual bearer token), where the
# literals' family starts as well: one RE2 hit for both.
AUTH_TRIGGER: Final = rf"\b(?i:bearer|basic){_SCANNED_SPACE}(?:{JWT_START})?"
AUTH_PATTERN: Final = re.compile(
    r"(?<![A-Za-z0-9_])(?ai:(?P<scheme>bearer|basic))\s{1,4}"
    r"(?P<value>[A-Za-z0-9._~+/-]{7,4095}[A-Za-z0-9_~+/-]=*)"
    # Not before a dot and what may go on (a placeholder counts as what it replaced).
    rf"(?![A-Za-z0-9_~+/=\[-]|\.(?:[A-Za-z0-9]|\[REDACTED)){EDGE}"
)


def accept_auth(match: re.Match[str], text: str) -> Span | None:
    """A Bearer token, or Basic credentials that decode to `user:password`.

    A bearer token has 16 characters or more and is not a lower-case or capitalised word.
    """
    value = match.group("value")
    if match.group("scheme").lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if b":" not in decoded:
            return None
    elif len(value) < 16 or (value.isalpha() and (value.islower() or value.istitle())):
        return None  # `Bearer authentication required`: a word, not a token
    return match.start("value"), match.end("value"), AUTH_HEADER


# Keys and tokens recognised by their prefix; JWTs by their header; PEM private key blocks.
LITERAL_TRIGGER: Final = (
    rf"A[KS]IA|{JWT_START}|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|[rs]k_(?:live|test)_"
    r"|npm_|AIza|-----BEGIN"
)
LITERAL_PATTERN: Final = re.compile(
    rf"{EDGE}(?<![A-Za-z0-9_\]-])(?:"
    r"(?P<aws>A[KS]IA[A-Z0-9]{16})(?![A-Za-z0-9\[])"
    r"|(?P<jwt>eyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,4096})"
    r"(?![A-Za-z0-9_\[-])"
    r"|(?P<token>(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251}"
    r"|glpat-[A-Za-z0-9_-]{20,64}|xox[abposre]-[A-Za-z0-9-]{10,251}"
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{16,247}|npm_[A-Za-z0-9]{36}|AIza[A-Za-z0-9_-]{35}))"
    r"(?![A-Za-z0-9_\[-])"
    r"|(?P<pem>-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----))"
    rf"{EDGE}"
)
# A key block's body: base64, whitespace, escaped line breaks of JSON, and headers such as
# `Proc-Type: 4,ENCRYPTED`; it ends at its END line or where that alphabet stops.
# No `-----` inside, so a body's scan stops at the next block's line: linear however many.
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s:,]|\\[rn]|-(?!----))*")
_PEM_FOOTER = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")


def _jwt_header_is_json(token: str) -> bool:
    return _header_is_json(token.split(".", 1)[0])


@lru_cache(maxsize=256)
def _header_is_json(header: str) -> bool:
    """Whether a JWT's header decodes to a JSON object; an issuer's tokens share one header."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict)


on_forget(_header_is_json.cache_clear)


def accept_literal(match: re.Match[str], text: str) -> Span | None:
    """Prefixed keys as they are; a JWT if its header is JSON; a key block to its END line."""
    kind = match.lastgroup  # the alternative's group
    if kind == "aws":
        return match.start(), match.end(), AWS_KEY
    if kind == "token":
        return match.start(), match.end(), TOKEN
    if kind == "jwt":
        return (match.start(), match.end(), JWT) if _jwt_header_is_json(match.group()) else None
    end = match.end()
    body = _PEM_BODY.match(text, end)
    end = body.end() if body else end
    footer = _PEM_FOOTER.match(text, end)
    return match.start(), footer.end() if footer else end, PRIVATE_KEY


# `scheme://user:password@host`: only the password goes. A host in brackets is an IPv6
# address (hex digits and colons), never a placeholder.
URL_PASSWORD_PATTERN: Final = re.compile(
    r"://[^\s/?#@:\[\]]{0,128}:(?P<value>[^\s/?#@\[\]]{1,256})@(?=[A-Za-z0-9:]|\[[0-9A-Fa-f:])"
)
#: How far from its `://` a URL's password's `@` may be.
URL_PASSWORD_REACH: Final = len("://") + 128 + len(":") + 256

# IPv4 and IPv6 addresses (an optional class), checked by `ipaddress`.
IP_PATTERN: Final = re.compile(
    r"(?<![0-9A-Za-z_.\]])(?:"
    r"(?P<v4>(?:[0-9]{1,3}\.){3}[0-9]{1,3})(?![0-9\[]|\.[0-9])"
    r"|(?<!:)(?P<v6>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)(?:[0-9]{1,3}\.){3}[0-9]{1,3})?)"
    r"(?![0-9A-Za-z_:\[]))"
)
IP_START: Final = re.compile(r"(?<![0-9A-Za-z_.\]])[0-9A-Fa-f:]")


def accept_ip(match: re.Match[str], text: str) -> Span | None:
    """An address `ipaddress` reads: not a time (`10:30:45`), a MAC or a version."""
    import ipaddress

    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return None
    return match.start(), match.end(), IP


@dataclass(frozen=True)
class Family:
    """A pattern, what turns its matches into spans, and where else a match may start.

    `reach`: how far past a position `start` looks to tell whether a match may start there.
    `value_after_key`: its spans start past where its matches do, after a key, a scheme or a
    URL's user (`password=`, `Bearer `): a match that starts inside a span may end in one
    that does not.
    """

    pattern: re.Pattern[str]
    accept: Accept
    start: re.Pattern[str]
    reach: int = 0
    value_after_key: bool = False


ANY_START: Final = re.compile(r"(?s:.)")

CONTACT: Final = Family(CONTACT_PATTERN, accept_contact, CONTACT_START, CONTACT_START_REACH)
PHONE_KEY: Final = Family(PHONE_KEY_PATTERN, accept_value(PHONE), ANY_START, value_after_key=True)
CARDS: Final = Family(CARD_PATTERN, accept_card, DIGIT_START)
SSNS: Final = Family(SSN_PATTERN, accept_whole(SSN), DIGIT_START)
IBANS: Final = Family(IBAN_PATTERN, accept_iban, ANY_START)
SECRETS: Final = Family(SECRET_PATTERN, accept_secret, ANY_START, value_after_key=True)
AUTH: Final = Family(AUTH_PATTERN, accept_auth, ANY_START, value_after_key=True)
LITERALS: Final = Family(LITERAL_PATTERN, accept_literal, ANY_START)
URL_PASSWORDS: Final = Family(
    URL_PASSWORD_PATTERN, accept_value(URL_PASSWORD), ANY_START, value_after_key=True
)
IPS: Final = Family(IP_PATTERN, accept_ip, IP_START)
