"""How well redaction finds each class: precision and recall on a labeled corpus, beside Presidio.

The corpus is generated here from a fixed seed: log lines of several shapes, each with personal
data or secrets of random classes at labeled spans, and look-alikes that must stay (versions,
timestamps, UUIDs, hashes, trace ids, amounts, order ids failing Luhn, ranges, ports, pod
names, URLs without passwords, counts). It is not the tests' generators: a second, independent
description of the same classes. Presidio runs in its own virtualenv (`.venv-peers`, built by
`make bench` from requirements-peers.txt) through `bench/presidio_peer.py`.

Recall of a class: the share of its labeled spans that predicted spans (of any class) cover
whole. Precision of a class: the share of spans predicted as that class that overlap a
labeled span. Left intact: the share of look-alikes no predicted span touches.
"""

from __future__ import annotations

import base64
import json
import random
import string
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from devstack.stage import PROJECT_DIR

SEED: Final = 14
PEERS_PYTHON: Final = PROJECT_DIR / ".venv-peers" / "bin" / "python"
_PEER_SCRIPT: Final = Path(__file__).with_name("presidio_peer.py")
#: The classes Presidio has recognizers for (bench/presidio_peer.py).
PRESIDIO_CLASSES: Final = frozenset({"email", "phone", "card", "ssn", "iban", "ip"})

Span = tuple[int, int, str]
Item = tuple[str, str, str]  # what stays before, what must go, what stays after


@dataclass
class Line:
    """A generated line, its labeled spans, and the spans of its look-alikes."""

    text: str = ""
    labels: list[Span] = field(default_factory=list)
    look_alikes: list[tuple[int, int]] = field(default_factory=list)

    def add(self, piece: str) -> None:
        """Text that is neither labeled nor a look-alike."""
        self.text += piece

    def add_item(self, kind: str, item: Item) -> None:
        """An item of class `kind`: its secret labeled, its context not."""
        before, secret, after = item
        self.text += before
        self.labels.append((len(self.text), len(self.text) + len(secret), kind))
        self.text += secret + after

    def add_look_alike(self, token: str) -> None:
        """A token that must stay."""
        self.look_alikes.append((len(self.text), len(self.text) + len(token)))
        self.text += token


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _chars(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def _luhn_completed(partial: str) -> str:
    for check in string.digits:
        digits = [int(digit) for digit in partial + check]
        odd = sum(digits[-1::-2])
        even = sum(sum(divmod(digit * 2, 10)) for digit in digits[-2::-2])
        if (odd + even) % 10 == 0:
            return partial + check
    raise AssertionError("one check digit always fits")


def _email(rng: random.Random) -> Item:
    first = rng.choice(["john", "jane", "li", "omar", "sofia", "josé", "zoë", "müller", "ana"])
    local = rng.choice(
        [first, f"{first}.{rng.choice(['doe', 'smith', 'k'])}", f"{first}+{rng.randrange(99)}"]
    )
    domain = rng.choice(["example.com", "mail.example.org", "corp.example.co.uk", "bücher.example"])
    return "", local + rng.choice(["@", "@", "%40"]) + domain, ""


def _phone(rng: random.Random) -> Item:
    exchange = str(rng.randrange(200, 1000))
    area = str(rng.randrange(201, 990))
    forms = [
        f"({area}) {exchange}-{_digits(rng, 4)}",
        f"{area}-{exchange}-{_digits(rng, 4)}",
        f"{area}.{exchange}.{_digits(rng, 4)}",
        f"+1 {area} {exchange} {_digits(rng, 4)}",
        f"+1-{area}-{exchange}-{_digits(rng, 4)}",
        f"{exchange}-{_digits(rng, 4)}",
        f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
        f"+44 7700 {_digits(rng, 6)}",
        f"+33 6 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
        f"+91 9{_digits(rng, 4)} {_digits(rng, 5)}",
        f"+34 6{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
        f"0161 496 {_digits(rng, 4)}",
        f"020 {_digits(rng, 4)} {_digits(rng, 4)}",
        f"089 {_digits(rng, 6)}",
        f"06 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
    ]
    keyed = [
        ('"mobile":"', f"{area}{exchange}{_digits(rng, 4)}", '"'),
        ("msisdn=", f"4477009{_digits(rng, 5)}", ""),
        ("phone_number: ", f"0{_digits(rng, 10)}", ""),
    ]
    if rng.random() < 0.2:
        return rng.choice(keyed)
    return "", rng.choice(forms), ""


def _card(rng: random.Random) -> Item:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("2221", 16), ("34", 15), ("6011", 16)])
    number = _luhn_completed(prefix + _digits(rng, length - len(prefix) - 1))
    separator = rng.choice(["", " ", "-"])
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[at : at + 4] for at in range(0, length, 4)]
    return "", separator.join(groups), ""


def _ssn(rng: random.Random) -> Item:
    area = rng.choice([area for area in range(1, 900) if area != 666])
    return "", f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}", ""


def _iban(rng: random.Random) -> Item:
    country, bban = rng.choice(
        [
            ("DE", _digits(rng, 18)),
            ("GB", _chars(rng, string.ascii_uppercase, 4) + _digits(rng, 14)),
            ("FR", _digits(rng, 23)),
            ("NL", _chars(rng, string.ascii_uppercase, 4) + _digits(rng, 10)),
            ("ES", _digits(rng, 20)),
        ]
    )
    number = int("".join(str(int(character, 36)) for character in bban + country + "00"))
    iban = f"{country}{98 - number % 97:02d}{bban}"
    if rng.random() < 0.5:
        iban = " ".join(iban[at : at + 4] for at in range(0, len(iban), 4))
    return "", iban, ""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"sub": _digits(rng, 8), "exp": 1795000000}).encode())
    return f"{header}.{claims}.{_b64url(rng.randbytes(32))}"


_ALNUM: Final = string.ascii_letters + string.digits


def _credential(rng: random.Random, kind: str) -> Item:
    # Characters a URL's user information may hold unencoded (RFC 3986), for every password.
    password = _chars(rng, _ALNUM + "!$*+-_~", rng.randrange(6, 20))
    if kind == "aws_key":
        if rng.random() < 0.5:
            return (
                "",
                rng.choice(["AKIA", "ASIA"]) + _chars(rng, string.ascii_uppercase + "234567", 16),
                "",
            )
        return "aws_secret_access_key=", _chars(rng, _ALNUM + "/+", 40), ""
    if kind == "jwt":
        return "", _jwt(rng), ""
    if kind == "auth_header":
        if rng.random() < 0.5:
            token = _chars(rng, _ALNUM + "-_.", 31) + _chars(rng, _ALNUM, 1)
            return "Authorization: Bearer ", token, ""
        user_password = f"svc:{password}".encode()
        return "Authorization: Basic ", base64.b64encode(user_password).decode(), ""
    if kind == "token":
        return (
            "",
            rng.choice(
                [
                    "ghp_" + _chars(rng, _ALNUM, 36),
                    "github_pat_" + _chars(rng, _ALNUM + "_", 82),
                    "xoxb-" + _digits(rng, 12) + "-" + _chars(rng, _ALNUM, 24),
                    "sk_live_" + _chars(rng, _ALNUM, 24),
                    "glpat-" + _chars(rng, _ALNUM, 20),
                ]
            ),
            "",
        )
    if kind == "url_password":
        scheme, host = rng.choice(
            [("postgres", "db.internal:5432/app"), ("https", "api.example.com/v1")]
        )
        return f"{scheme}://svc_user:", password, f"@{host}"
    if kind == "private_key":
        body = base64.b64encode(rng.randbytes(120)).decode()
        lines = "\\n".join(body[at : at + 64] for at in range(0, len(body), 64))
        return "", f"-----BEGIN RSA PRIVATE KEY-----\\n{lines}\\n-----END RSA PRIVATE KEY-----", ""
    key = rng.choice(
        ["password", "db_password", "client_secret", "api_key", "accessToken", "x-api-key"]
    )
    if rng.random() < 0.5:
        return f'"{key}": "', password, '"'
    return f"{key}=", password, ""


def _ip(rng: random.Random) -> Item:
    if rng.random() < 0.7:
        return "", ".".join(str(rng.randrange(1, 255)) for _ in range(4)), ""
    return "", "2001:db8:" + ":".join(f"{rng.randrange(65536):x}" for _ in range(3)) + "::1", ""


def _credentials(kind: str) -> Callable[[random.Random], Item]:
    return lambda rng: _credential(rng, kind)


GENERATORS: Final[dict[str, Callable[[random.Random], Item]]] = {
    "email": _email,
    "phone": _phone,
    "card": _card,
    "ssn": _ssn,
    "iban": _iban,
    **{
        kind: _credentials(kind)
        for kind in ("aws_key", "jwt", "auth_header", "token", "url_password", "private_key")
    },
    "secret": _credentials("secret"),
    "ip": _ip,
}


_POD: Final = "bcdfghjkmnpqrstvwxz2456789"  # what Kubernetes draws pod name suffixes from


def _look_alike(rng: random.Random) -> str:
    day, hour, minute = rng.randrange(1, 29), rng.randrange(24), rng.randrange(60)
    order = _digits(rng, 16)
    while _luhn_completed(order[:-1]) == order:
        order = _digits(rng, 16)
    return rng.choice(
        [
            f"v{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(100)}",
            f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00.{rng.randrange(1000):03d}Z",
            f"{hour:02d}:{minute:02d}",
            f"{rng.getrandbits(128):032x}",
            f"{rng.getrandbits(160):040x}",
            f"Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}",
            "-".join(f"{rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48)),
            f"total={rng.randrange(10**6) / 100:.2f} EUR",
            f"${rng.randrange(10**7) / 100:,.2f}",
            f"order {order}",
            f"bytes={rng.randrange(1000)}-{rng.randrange(1000, 9999)}",
            f"port {rng.randrange(1024, 65535)}",
            f"{rng.randrange(1024, 9000)}-{rng.randrange(9000, 65535)}",
            f"api-{_chars(rng, _POD, 10)}-{_chars(rng, _POD, 5)}",
            f"https://shop.example.com/items/{rng.randrange(10**6)}?page={rng.randrange(50)}",
            f"took {rng.randrange(5000)} ms",
            f"{rng.randrange(10**9, 10**10)}",
            f"retries={rng.randrange(10)} token_count={rng.randrange(9999)}",
            f"pid={rng.randrange(10**5)}",
            f"{rng.randrange(100)} items",
            f"build-{rng.randrange(10**4)}",
            f"+{rng.randrange(10**6, 10**7)}",
        ]
    )


_SHAPES: Final = (
    "{ts} INFO  [worker-{n}] {a} processed {b} for {x}",
    '{{"ts":"{ts}","level":"warn","msg":"{a}","user":"{x}","ref":"{b}"}}',
    "{ts} ERROR {a} - request failed: {x} ({b})",
    "{ts} DEBUG {a} {x}; {b}",
)


def corpus(lines: int, seed: int = SEED) -> list[Line]:
    """`lines` labeled lines, the same for the same seed."""
    rng = random.Random(seed)
    kinds = list(GENERATORS)
    out = []
    for number in range(lines):
        line = Line()
        shape = _SHAPES[number % len(_SHAPES)]
        day, hour, minute = rng.randrange(1, 29), rng.randrange(24), rng.randrange(60)
        ts = f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"
        for literal, slot in _slots(
            shape.replace("{ts}", ts).replace("{n}", str(rng.randrange(16)))
        ):
            line.add(literal)
            if slot == "x":
                kind = rng.choice(kinds)
                line.add_item(kind, GENERATORS[kind](rng))
            elif slot:
                line.add_look_alike(_look_alike(rng))
        out.append(line)
    return out


def _slots(shape: str) -> list[tuple[str, str]]:
    """The literal text before each `{a}`, `{b}` or `{x}` slot, and the slot's name."""
    pieces: list[tuple[str, str]] = []
    rest = shape.replace("{{", "{").replace("}}", "}")
    while rest:
        starts = [rest.find(f"{{{name}}}") for name in "abx" if f"{{{name}}}" in rest]
        if not starts:
            pieces.append((rest, ""))
            break
        at = min(starts)
        pieces.append((rest[:at], rest[at + 1]))
        rest = rest[at + 3 :]
    return pieces


@dataclass(frozen=True)
class Scores:
    """Per class recall and precision (None where nothing was predicted), and the rest."""

    recall: dict[str, float]
    precision: dict[str, float | None]
    intact: float
    mb_per_second: float


def score(
    lines: list[Line], predicted: list[list[Span]], seconds: float, classes: frozenset[str]
) -> Scores:
    """Scores of `predicted` (per line) against the labels, for `classes`."""
    labeled = {kind: 0 for kind in classes}
    covered = dict.fromkeys(classes, 0)
    claimed = dict.fromkeys(classes, 0)
    right = dict.fromkeys(classes, 0)
    touched = looks = 0
    for line, spans in zip(lines, predicted, strict=True):
        for start, end, kind in line.labels:
            if kind in classes:
                labeled[kind] += 1
                covered[kind] += _covered(start, end, spans)
        for start, end, kind in spans:
            if kind in classes:
                claimed[kind] += 1
                right[kind] += any(_overlap(start, end, label) for label in line.labels)
        for start, end in line.look_alikes:
            looks += 1
            touched += any(_overlap(start, end, span) for span in spans)
    size = sum(len(line.text.encode()) for line in lines)
    return Scores(
        {kind: covered[kind] / labeled[kind] for kind in classes if labeled[kind]},
        {kind: right[kind] / claimed[kind] if claimed[kind] else None for kind in classes},
        1 - touched / max(looks, 1),
        size / 1e6 / seconds,
    )


def _overlap(start: int, end: int, span: Span | tuple[int, int]) -> bool:
    return start < span[1] and span[0] < end


def _covered(start: int, end: int, spans: list[Span]) -> bool:
    at = start
    for span_start, span_end, _ in sorted(spans):
        if span_start <= at < span_end:
            at = span_end
    return at >= end


def ours(lines: list[Line]) -> Scores:
    """Our redaction, every class on (IP addresses included), on `lines`."""
    from chalicelib.redact import find
    from chalicelib.redaction_policy import policy_from_settings

    policy = policy_from_settings({"classes": {"ip": True}})
    find(lines[0].text, policy)  # imports and caches, as a warm worker has them
    started = time.perf_counter()
    predicted = [find(line.text, policy) for line in lines]
    seconds = time.perf_counter() - started
    return score(lines, predicted, seconds, frozenset(GENERATORS))


def presidio(lines: list[Line]) -> Scores | None:
    """Presidio's recognizers on `lines`, or None without `.venv-peers`."""
    if not PEERS_PYTHON.exists():
        return None
    run = subprocess.run(
        [str(PEERS_PYTHON), str(_PEER_SCRIPT)],
        input=json.dumps([line.text for line in lines]),
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    found = json.loads(run.stdout)
    predicted = [[(start, end, kind) for start, end, kind in spans] for spans in found["spans"]]
    return score(lines, predicted, found["seconds"], PRESIDIO_CLASSES)
