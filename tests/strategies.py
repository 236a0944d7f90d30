"""Hypothesis strategies for redaction: what must go (by class), what must stay, and fillers.

Each class's strategy draws a `Sample`: the text that must go (`secret`) with the context that
names it and must stay (`before`, `after`: `password=` and the closing quote, the user and host
of a URL). Look-alikes are tokens no class may take: versions, timestamps, UUIDs, hashes, trace
ids, amounts, IP addresses, order ids failing Luhn, ranges, ports, pod names, URLs without
passwords. `fillers` joins them into the text around a sample.
"""

from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import phonenumbers
from hypothesis import strategies as st

from chalicelib import redaction_policy as kinds
from chalicelib.detect import luhn_valid
from chalicelib.redaction_policy import CLASSES, REPLACEMENT


@dataclass(frozen=True)
class Sample:
    """`before + secret + after`, of which only `secret` must be redacted."""

    kind: str
    secret: str
    before: str = ""
    after: str = ""

    @property
    def text(self) -> str:
        return self.before + self.secret + self.after

    @property
    def open_ended(self) -> bool:
        """A value not in quotes: `!` or `?` after it may be its last character."""
        return not self.after and self.before.endswith(("=", ": "))


def digits(count: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=count, max_size=count)


# --- phone numbers ------------------------------------------------------------------------------

NORTH_AMERICAN_FORMATS = [
    "{a}-{e}-{n}",
    "({a}) {e}-{n}",
    "({a}){e}-{n}",
    "{a}.{e}.{n}",
    "{a} {e} {n}",
    "{a} {e}-{n}",
    "+1 {a} {e} {n}",
    "+1-{a}-{e}-{n}",
    "+1 ({a}) {e}-{n}",
    "1-{a}-{e}-{n}",
    "1 ({a}) {e}-{n}",
    "+1{a}{e}{n}",
    "%2B1{a}{e}{n}",
    "{e}-{n}",
    "{e} {n}",
]
exchanges = st.builds("{}{}".format, st.sampled_from("23456789"), digits(2))
north_american_phones = st.builds(
    lambda form, a, e, n: form.format(a=a, e=e, n=n),
    st.sampled_from(NORTH_AMERICAN_FORMATS),
    st.builds("{}{}".format, st.sampled_from("23456789"), digits(2)),
    exchanges,
    digits(4),
)

# Countries whose numbers have few possible lengths, so that a number's end is never in doubt
# against a following token (Germany's run from 4 to 15 digits: see the README).
_REGIONS = ["US", "GB", "FR", "ES", "MX", "CH", "PL", "SE", "BR", "IN"]


@st.composite
def international_phones(draw: st.DrawFn) -> str:
    """A country's example number with its last four digits drawn, grouped as people write."""
    region = draw(st.sampled_from(_REGIONS))
    example = phonenumbers.example_number(region)
    assert example is not None
    national = str(example.national_number)
    national = national[:-4] + draw(digits(4))
    number = phonenumbers.parse(f"+{example.country_code}{national}")
    style = draw(st.sampled_from(["international", "e164", "dashes", "dots", "url"]))
    if style == "e164":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "dashes":
        return text.replace(" ", "-")
    if style == "dots":
        return text.replace(" ", ".").replace("-", ".")
    if style == "url":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).replace(
            "+", "%2B"
        )
    return text


@st.composite
def national_phones(draw: st.DrawFn) -> str:
    """A trunk 0, an area code and the subscriber's digits: 9 to 11 digits, grouped."""
    area = "0" + draw(st.sampled_from("123456789")) + draw(digits(draw(st.integers(1, 3))))
    subscriber = draw(digits(draw(st.integers(9, 11)) - len(area)))
    separator = draw(st.sampled_from([" ", "-"]))
    if len(subscriber) >= 6 and draw(st.booleans()):
        middle = len(subscriber) // 2
        subscriber = subscriber[:middle] + separator + subscriber[middle:]
    if draw(st.booleans()):
        return f"({area}) {subscriber}"
    return area + separator + subscriber


phones = st.one_of(north_american_phones, international_phones(), national_phones())

_PHONE_KEYS = ["mobile", "phone", "msisdn", "phone_number", "userPhone", "tel", "cell", "fax"]
phone_keyed = st.builds(
    lambda key, style, value: Sample(
        kinds.PHONE, value, *_keyed(key, style, quoted=style == "json")
    ),
    st.sampled_from(_PHONE_KEYS),
    st.sampled_from(["json", "equals", "colon"]),
    st.one_of(
        st.builds("{}{}".format, st.sampled_from("23456789"), digits(9)),
        st.builds("44{}".format, digits(10)),
        st.builds("0{}".format, digits(10)),
    ),
)


def _keyed(key: str, style: str, quoted: bool) -> tuple[str, str]:
    if style == "json":
        return (f'"{key}":"', '"') if quoted else (f'"{key}": ', "")
    return (f"{key}=", "") if style == "equals" else (f"{key}: ", "")


# --- e-mail addresses ---------------------------------------------------------------------------

_atoms = st.from_regex(r"[A-Za-z0-9_+-]{1,16}", fullmatch=True)
_accented = st.sampled_from(["josé", "zoë", "ana", "müller", "ñandú", "jürgen", "ελένη", "иван"])
_labels = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,14}[A-Za-z0-9])?", fullmatch=True)
_DENSITY = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3})?[xX]\.")
domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(
        st.one_of(_labels, st.sampled_from(["bücher", "münchen", "пример"])), min_size=1, max_size=3
    ),
    st.from_regex(r"[A-Za-z]{2,12}", fullmatch=True),
).filter(lambda domain: not _DENSITY.match(domain))
emails = st.builds(
    lambda local, at, domain: local + at + domain,
    st.lists(st.one_of(_atoms, _accented), min_size=1, max_size=3).map(".".join),
    st.sampled_from(["@", "%40"]),
    domains,
)
pii = st.one_of(phones, emails)


# --- cards, social security numbers, IBANs ------------------------------------------------------


def _with_luhn_digit(partial: str) -> str:
    return next(partial + check for check in "0123456789" if luhn_valid(partial + check))


_CARD_BRANDS = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16)]
_CARD_BRANDS += [("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14)]


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(_CARD_BRANDS))
    number = _with_luhn_digit(prefix + draw(digits(length - len(prefix) - 1)))
    separator = draw(st.sampled_from(["", " ", "-"]))
    if length == 15 and separator:
        return separator.join([number[:4], number[4:10], number[10:]])
    if length == 14 and separator:
        return separator.join([number[:4], number[4:10], number[10:]])
    return separator.join(number[at : at + 4] for at in range(0, length, 4))


ssns = st.builds(
    "{}-{}-{}".format,
    st.integers(1, 899).filter(lambda area: area != 666).map("{:03d}".format),
    st.integers(1, 99).map("{:02d}".format),
    st.integers(1, 9999).map("{:04d}".format),
)

_IBAN_FORMS = {"DE": "8n10n", "GB": "4a14n", "FR": "10n11c2n", "NL": "4a10n", "ES": "20n"}
_IBAN_FORMS |= {"IT": "1a10n12c", "BE": "12n", "CH": "5n12c", "PL": "24n", "NO": "11n"}


def _iban_check(country: str, bban: str) -> str:
    number = int("".join(str(int(character, 36)) for character in bban + country + "00"))
    return f"{98 - number % 97:02d}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(_IBAN_FORMS)))
    bban = ""
    for count, kind in re.findall(r"(\d+)([anc])", _IBAN_FORMS[country]):
        alphabet = {"a": string.ascii_uppercase, "n": string.digits}.get(
            kind, string.ascii_uppercase + string.digits
        )
        bban += draw(st.text(alphabet, min_size=int(count), max_size=int(count)))
    iban = country + _iban_check(country, bban) + bban
    if draw(st.booleans()):
        return " ".join(iban[at : at + 4] for at in range(0, len(iban), 4))
    return iban


# --- credentials --------------------------------------------------------------------------------

_UPPER_DIGITS = string.ascii_uppercase + "234567"
_BASE64 = string.ascii_letters + string.digits + "+/"
_URLSAFE = string.ascii_letters + string.digits + "_-"
aws_key_ids = st.builds(
    "{}{}".format,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(_UPPER_DIGITS, min_size=16, max_size=16),
)
aws_secrets = st.builds(
    lambda key, style, secret: Sample(kinds.AWS_KEY, secret, *_keyed(key, style, True)),
    st.sampled_from(["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey"]),
    st.sampled_from(["json", "equals", "colon"]),
    st.text(_BASE64, min_size=40, max_size=40),
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


jwts = st.builds(
    lambda alg, claims, signature: ".".join(
        [
            _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(signature),
        ]
    ),
    st.sampled_from(["HS256", "RS256", "ES256"]),
    st.dictionaries(
        st.sampled_from(["sub", "iss", "exp", "name"]),
        st.one_of(st.integers(0, 2**31), st.from_regex(r"[a-z]{1,10}", fullmatch=True)),
        min_size=1,
    ),
    st.binary(min_size=16, max_size=64),
)
_bearer_values = st.one_of(
    jwts, st.text(_URLSAFE, min_size=16, max_size=64).filter(lambda value: not value.isalpha())
)
auth_headers = st.one_of(
    st.builds(
        lambda header, value: Sample(kinds.AUTH_HEADER, value, f"{header}: Bearer "),
        st.sampled_from(["Authorization", "authorization", "Proxy-Authorization"]),
        _bearer_values,
    ),
    st.builds(
        lambda user, password: Sample(
            kinds.AUTH_HEADER,
            base64.b64encode(f"{user}:{password}".encode()).decode(),
            "Authorization: Basic ",
        ),
        st.from_regex(r"[a-z]{3,10}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9!#$]{4,16}", fullmatch=True),
    ),
)
_ALNUM = string.ascii_letters + string.digits
prefixed_tokens = st.one_of(
    st.builds(
        "gh{}_{}".format, st.sampled_from("pousr"), st.text(_ALNUM, min_size=36, max_size=36)
    ),
    st.builds("github_pat_{}".format, st.text(_ALNUM + "_", min_size=82, max_size=82)),
    st.builds("glpat-{}".format, st.text(_ALNUM, min_size=20, max_size=20)),
    st.builds("xoxb-{}-{}".format, digits(12), st.text(_ALNUM, min_size=24, max_size=24)),
    st.builds(
        "{}_live_{}".format,
        st.sampled_from(["sk", "rk"]),
        st.text(_ALNUM, min_size=24, max_size=24),
    ),
    st.builds("npm_{}".format, st.text(_ALNUM, min_size=36, max_size=36)),
    st.builds("AIza{}".format, st.text(_URLSAFE, min_size=35, max_size=35)),
)
url_passwords = st.builds(
    lambda scheme, user, password, host, path: Sample(
        kinds.URL_PASSWORD, password, f"{scheme}://{user}:", f"@{host}{path}"
    ),
    st.sampled_from(["https", "postgres", "redis", "amqp", "mongodb+srv"]),
    st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9!$*+._~-]{1,24}", fullmatch=True),
    st.builds(".".join, st.lists(_labels, min_size=1, max_size=3)).map(lambda host: host + ".io"),
    st.sampled_from(["", "/", "/db", ":5432/app", "/vhost?x=1"]),
)


@st.composite
def private_keys(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]))
    body = base64.b64encode(draw(st.binary(min_size=48, max_size=300))).decode()
    newline = draw(st.sampled_from(["\n", "\\n", "\r\n"]))
    lines = newline.join(body[at : at + 64] for at in range(0, len(body), 64))
    begin, end = f"-----BEGIN {kind}PRIVATE KEY-----", f"-----END {kind}PRIVATE KEY-----"
    return begin + newline + lines + newline + end


_SECRET_KEYS = ["password", "db_password", "passwd", "pwd", "secret", "client_secret"]
_SECRET_KEYS += ["api_key", "apiKey", "x-api-key", "access_token", "accessToken", "auth_token"]
_SECRET_KEYS += ["private_key", "credentials", "pass", "refresh-token"]
secret_values = st.builds(
    lambda key, style, value: Sample(kinds.SECRET, value, *_keyed(key, style, True)),
    st.sampled_from(_SECRET_KEYS),
    st.sampled_from(["json", "equals", "colon"]),
    st.from_regex(r"[A-Za-z0-9!#$%*+./:=?@^_~-]{1,40}", fullmatch=True).filter(
        lambda value: (
            value.lower() not in {"null", "none", "nil", "true", "false", "undefined"}
            and value != "-"
            and not value.endswith(".")
        )  # a full stop after a value is punctuation, by design
    ),
)
ip_addresses = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))


def whole(kind: str, strategy: st.SearchStrategy[str]) -> st.SearchStrategy[Sample]:
    return strategy.map(lambda secret: Sample(kind, secret))


#: Each class's samples (IP addresses only when a policy turns them on).
SAMPLES: dict[str, st.SearchStrategy[Sample]] = {
    kinds.EMAIL: whole(kinds.EMAIL, emails),
    kinds.PHONE: st.one_of(whole(kinds.PHONE, phones), phone_keyed),
    kinds.CARD: whole(kinds.CARD, cards()),
    kinds.SSN: whole(kinds.SSN, ssns),
    kinds.IBAN: whole(kinds.IBAN, ibans()),
    kinds.AWS_KEY: st.one_of(whole(kinds.AWS_KEY, aws_key_ids), aws_secrets),
    kinds.JWT: whole(kinds.JWT, jwts),
    kinds.AUTH_HEADER: auth_headers,
    kinds.TOKEN: whole(kinds.TOKEN, prefixed_tokens),
    kinds.URL_PASSWORD: url_passwords,
    kinds.PRIVATE_KEY: whole(kinds.PRIVATE_KEY, private_keys()),
    kinds.SECRET: secret_values,
    kinds.IP: whole(kinds.IP, ip_addresses),
}
samples = st.one_of([SAMPLES[kind] for kind in CLASSES if kind != kinds.IP])
#: Everything the default policy must take out of a text, as it would appear in a log.
sensitive = samples.map(lambda sample: sample.text)


# --- look-alikes and fillers --------------------------------------------------------------------

NOT_SENSITIVE = {
    "date": "2024-01-15",
    "iso-datetime": "2024-01-15T10:30:00Z",
    "datetime-offset": "2024-01-15 10:30:00.123+05:30",
    "date-day-first": "15/01/2024",
    "date-month-first": "01-15-2024",
    "dashed-2-2": "555-01-99",
    "date-dots": "2024.01.15",
    "date-compact": "20240115",
    "time": "10:30:45",
    "ipv6-zone": "fe80::1%eth0",
    "mac-colons": "00:1A:2B:3C:4D:5E",
    "version-pre-release": "2.0.0-rc.1",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "git-short-hash-digits": "5550199",
    "order-id": "order 5550199000",
    "bare-10-digits": "8005550199",
    "epoch-millis": "1700000000123",
    "order-failing-luhn": "4111111111111112",
    "ssn-area-666": "666-12-3456",
    "ssn-area-9": "912-34-5678",
    "iban-bad-check": "DE00370400440532013000",
    "amount-euro": "1.234,56 EUR",
    "coordinates-comma": "40.7128,-74.0060",
    "byte-range": "bytes=0-1023",
    "byte-range-200": "Range: bytes=200-2047",
    "content-range": "bytes 200-1000/67589",
    "port-range": "8000-8080",
    "port-and-coordinate": "443 123.4567",
    "glued-letters-both-sides": "build-555-0199x",
    "glued-extension": "555-0199x123",
    "version-then-number": "1.555-0199",
    "base64-plus": "abc+18005550199",
    "timezone-offset": "10:30:00+0530",
    "plus-7-digits": "+1234567",
    "arabic-indic-digits": "\u0665\u0665\u0665-\u0660\u0661\u0669\u0669",
    "image-density": "logo@2x.png",
    "npm-scoped-version": "@types/node@20.1.0",
    "localhost": "user@localhost",
    "ip-host": "user@10.0.0.1",
    "java-object": "java.lang.Object@1b6d3586",
    "url-user-no-password": "https://bob@example.com/x",
    "url-port": "https://example.com:8443/a?b=c",
    "pod": "api-7d9f8b6c5d-x2k4p",
    "not-a-jwt": "eyJub3QganNvbg.eyJhIjoxfQ.sig",
    "aws-too-short": "AKIA1234",
    "bearer-word": "Bearer authentication required",
    "basic-word": "Basic auth failed",
    "token-count": "token_count=5",
    "tokens-used": "max_tokens: 1200",
    "password-policy": "password_length=12",
    "secret-name": "secret_name=prod-db",
    "bypass": "bypass=true",
    "hotel": "hotel=12345678",
    "cell-id": "cell_id=1234567",
    "prefix-only": "ghp_short",
    "pem-public": "-----BEGIN PUBLIC KEY-----",
}

# Words that, before `:` or `=`, name a secret or a phone, or make a number a count or an id.
_CONTEXT_WORDS = re.compile(
    r"(?i)pass|pwd|secret|token|key|credential|phone|mobile|msisdn|cell|tel|fax|sms|whatsapp"
    r"|bearer|basic|^(?:bytes?|range|ranges|ports?|size|length|len|count|offset|limit|lines?"
    r"|pages?|items?|ids?|pid|uid|gid|build|version|v|seq|order|invoice|ticket)$"
)
_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
_offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
_words = st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True).filter(
    lambda word: not _CONTEXT_WORDS.search(word)
)
look_alikes = st.one_of(
    # An access log's status and size after its request line: `HTTP/1.1" 200 5117`.
    st.builds(
        '"{} /{} HTTP/{}" {} {}'.format,
        st.sampled_from(["GET", "POST", "HEAD"]),
        st.from_regex(r"[a-z0-9/?=&.]{0,20}", fullmatch=True),
        st.sampled_from(["1.0", "1.1", "2", "2.0"]),
        st.integers(100, 599),
        st.one_of(st.integers(1000, 9999), st.integers(0, 10**9)),  # 4 digits: `555 0199`'s
    ),
    st.sampled_from(sorted(NOT_SENSITIVE.values())),
    st.builds(
        lambda day, form: day.strftime(form),
        _dates,
        st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%m-%d-%Y", "%Y.%m.%d", "%Y%m%d", "%b %d %Y"]),
    ),
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=_offsets
    ).map(datetime.isoformat),
    st.times().map(lambda moment: moment.isoformat()),
    st.ip_addresses(v=4).map(str),
    st.builds("{}:{}".format, st.ip_addresses(v=4), st.integers(1, 65535)),
    st.ip_addresses(v=6).map(str),
    st.builds("[{}]:{}".format, st.ip_addresses(v=6), st.integers(1, 65535)),
    st.uuids().map(str),
    st.binary(min_size=4, max_size=32).map(bytes.hex),
    st.binary(min_size=16, max_size=16).map(
        lambda trace: f"Root=1-{trace.hex()[:8]}-{trace.hex()[8:32]}"
    ),
    st.integers(10**9, 10**20).map(str).filter(lambda number: not luhn_valid(number)),
    st.builds(
        lambda parts, prefix, suffix: prefix + ".".join(map(str, parts)) + suffix,
        st.lists(st.integers(0, 99), min_size=2, max_size=4),
        st.sampled_from(["", "v"]),
        st.sampled_from(["", "-rc.1", "-beta"]),
    ),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False).map(
        lambda amount: f"${amount:,.2f}"
    ),
    st.builds(
        "{:.4f}{}{:.4f}".format,
        st.floats(-90, 90),
        st.sampled_from([",", ", "]),
        st.floats(-180, 180),
    ),
    st.builds(
        "bytes {}-{}/{}".format, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**7)
    ),
    st.builds("bytes={}-{}".format, st.integers(0, 10**6), st.integers(0, 10**6)),
    st.builds("{}-{}".format, st.integers(1024, 65535), st.integers(1024, 65535)),
    st.builds("port {}".format, st.integers(1, 65535)),
    st.builds(
        lambda octets, sep: sep.join(f"{octet:02X}" for octet in octets),
        st.binary(min_size=6, max_size=6),
        st.sampled_from([":", "-"]),
    ),
    st.builds(
        "{}-{}-{}".format,
        st.from_regex(r"[a-z]{3,10}", fullmatch=True),
        st.text("bcdfghjklmnpqrstvwxz2456789", min_size=10, max_size=10),
        st.text("bcdfghjklmnpqrstvwxz2456789", min_size=5, max_size=5),
    ),
    st.builds(
        "https://{}.example.com/{}?page={}".format,
        st.from_regex(r"[a-z]{1,10}", fullmatch=True),
        st.from_regex(r"[a-z0-9/]{0,20}", fullmatch=True),
        st.integers(0, 999),
    ),
    st.builds("order {}".format, digits(16).filter(lambda number: not luhn_valid(number))),
    _words,
)
joiners = st.sampled_from([" ", ", ", "; ", " | ", "\n", " - ", "\t", " = ", ": "])


# IP addresses and what holds one (`10.0.0.1:8080`, `[::1]:443`, `fe80::1%eth0`).
_HOLDS_AN_IP = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+|:[0-9A-Fa-f]*:")


@st.composite
def fillers(draw: st.DrawFn, ips: bool = True) -> str:
    """Look-alikes joined as log lines join tokens, ending with a joiner; IPs unless told not."""
    tokens = draw(
        st.lists(
            look_alikes
            if ips
            else look_alikes.filter(lambda token: not _HOLDS_AN_IP.search(token)),
            max_size=6,
        )
    )
    return "".join(token + draw(joiners) for token in tokens)


left_separators = st.sampled_from([" ", "\n", "\t", "(", '"', "'", "<", "[", ":", "=", ", "])
# Not a space: after one, a group of digits may belong to an international number, by design.
_RIGHT = ["\n", ")", '"', "'", ">", "]", ", ", "; ", ". "]
right_separators = st.sampled_from([*_RIGHT, "!"])
#: After a value that is not quoted: a password may end with `!`.
value_ends = st.sampled_from(_RIGHT)

# Bits that glue to or between matches: the cases where idempotence could break.
glue = st.sampled_from(
    ["", "-", ".", "/", "+", "1", "x", "_", "@", "%40", "(", ")", " ", ":", "=", '"', REPLACEMENT]
)
sensitive_heavy_texts = st.lists(st.one_of(sensitive, pii, look_alikes, glue), max_size=8).map(
    "".join
)

any_texts = st.text(
    st.one_of(
        st.characters(),
        st.characters(categories=["Cs"]),
        st.sampled_from(["\x00", "\u0301", "\u202e", "\u0661", "\uff15", "\u2011", "@", "-", "5"]),
    )
)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
