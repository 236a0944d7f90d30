"""The chaos soak's traffic: many tenants' logs, and a client that retries as a good one should.

`plan` makes the logs, deterministically from a seed: tenants that share log ids (so a log put
in the wrong partition shows), sizes from a line to 30,000 characters (or the longest text the
worker's budget allows, if less), text in several scripts with phone numbers and e-mail
addresses planted among look-alikes that must survive redaction, and every upload form the API
takes. Some logs are
posted twice after their 202, as a client that timed out would, some a second time with a
different text, and a few are too large on purpose (the API must answer 413).

`IngestClient.submit` posts one text until it gets an answer that settles it: a 202, or a 4xx
that says the log is wrong. On a 5xx, a dropped connection or a timeout it waits and posts the
same log, with the same log_id, again.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from chalicelib.config import Settings

#: Planted in the texts; none may be left in a stored log's `modified_data`.
PII_SAMPLES: Final = (
    "555-0199",
    "(800) 555-0199",
    "1-800-555-0100",
    "800.555.0142",
    "+44 20 7946 0958",
    "+81 3-1234-5678",
    "john.doe@example.com",
    "josé.garcía@correo.es",
    "ops%40example.org",
)
#: Planted too, and must come through redaction untouched: they only look like PII.
KEEP_SAMPLES: Final = (
    "2026-11-21T10:00:00Z",
    "10.0.0.1",
    "v1.2.3",
    "550e8400-e29b-41d4-a716-446655440000",
    "logo@2x.png",
    "react@18.2.0",
    "8005550199",
    "aa:bb:cc:dd:ee:ff",
)
#: Words in several scripts: accents, CJK, Cyrillic, Greek, right-to-left, emoji off the BMP.
WORDS: Final = (
    "request",
    "timeout",
    "retry",
    "payment",
    "héllo",
    "naïve",
    "Zürich",
    "ça",
    "日志",
    "用户登录",
    "Ошибка",
    "запрос",
    "Ελληνικά",
    "שגיאה",
    "خطأ",
    "🚀",
    "🔥",
    "✅",
)
SEPARATORS: Final = (" ", " ", " ", "\n", "\t", " - ")
#: Upload forms, by name: the content type sent, and whether JSON escapes all non-ASCII text.
FORMS: Final = {
    "json": ("application/json", False),
    "json, ASCII-escaped, charset": ("application/json; charset=utf-8", True),
    "text": ("text/plain", False),
    "text, charset": ("text/plain; charset=UTF-8", False),
}
_SIZES = ((0.55, 30, 200), (0.30, 200, 2_000), (0.12, 2_000, 10_000), (0.03, 10_000, 30_000))
_REPOST_SHARE = 0.03
_CHANGED_SHARE = 0.02


@dataclass(frozen=True)
class PlannedLog:
    """One log the soak posts: its key, its form, and the texts posted under it, in order.

    One text is the usual case; the same text twice is a repost after a lost 202; two different
    texts are a client changing its mind. `expect` is the status the first post must get.
    """

    tenant_id: str
    log_id: str
    form: str
    texts: tuple[str, ...]
    expect: int = 202

    def request(self, text: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one post of `text`."""
        content_type, ascii_only = FORMS[self.form]
        if content_type.startswith("text/plain"):
            headers = {"X-Tenant-ID": self.tenant_id, "X-Log-ID": self.log_id}
            return text.encode("utf-8"), {"Content-Type": content_type, **headers}
        fields = {"tenant_id": self.tenant_id, "log_id": self.log_id, "text": text}
        body = json.dumps(fields, ensure_ascii=ascii_only)
        return body.encode("utf-8"), {"Content-Type": content_type}


def longest_text(settings: Settings) -> int:
    """The most characters a log may have and still be processed within one invocation."""
    if settings.work_seconds_per_char <= 0:
        return 50_000  # no time limit: the item size is what bounds a text
    return int(settings.worker_work_budget_seconds / settings.work_seconds_per_char)


def _text(rng: random.Random, ref: str, size: int) -> str:
    pieces = [f"[{ref}]"]
    length = len(pieces[0])
    while length < size:
        draw = rng.random()
        pool = PII_SAMPLES if draw < 0.08 else KEEP_SAMPLES if draw < 0.14 else WORDS
        piece = rng.choice(SEPARATORS) + rng.choice(pool)
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def _size(rng: random.Random, longest: int) -> int:
    draw, stacked = rng.random(), 0.0
    for share, low, high in _SIZES:
        stacked += share
        if draw < stacked:
            return rng.randint(min(low, longest), min(high, longest))
    return longest


def tenant_names(count: int) -> list[str]:
    """`count` tenant ids: mostly plain, and the odd ones the id rules still allow."""
    odd = ["a", "Acme.Corp_EU-1", "t" * 64]
    plain = [f"tenant-{number:03d}" for number in range(max(0, count - len(odd)))]
    return (plain + odd)[:count]


def plan(settings: Settings, logs: int, tenants: int, seed: int) -> list[PlannedLog]:
    """`logs` logs spread over `tenants` tenants, each tenant numbering its own from 1."""
    rng = random.Random(seed)
    longest = int(longest_text(settings) * 0.9)  # margin: the limit itself is tested alone
    names = tenant_names(tenants)
    numbers = dict.fromkeys(names, 0)
    planned: list[PlannedLog] = []
    for _ in range(logs):
        tenant = rng.choice(names)
        numbers[tenant] += 1
        log_id = f"log-{numbers[tenant]:05d}"
        size = _size(rng, longest)
        first = _text(rng, f"{tenant}/{log_id}#1", size)
        draw = rng.random()
        if draw < _REPOST_SHARE:
            texts: tuple[str, ...] = (first, first)
        elif draw < _REPOST_SHARE + _CHANGED_SHARE:
            texts = (first, _text(rng, f"{tenant}/{log_id}#2", _size(rng, longest)))
        else:
            texts = (first,)
        planned.append(PlannedLog(tenant, log_id, rng.choice(list(FORMS)), texts))
    planned.extend(_too_large(settings, names[0]))
    rng.shuffle(planned)
    return planned


def _too_large(settings: Settings, tenant: str) -> list[PlannedLog]:
    """Logs the API must refuse with 413: over the queue's message size, over the worker's time."""
    texts = ["用" * (settings.queue_message_max_bytes // 3 + 1)]
    if settings.work_seconds_per_char > 0:  # well over: the limit itself is test_limits' job
        texts.append("x" * int(longest_text(settings) * 1.1))
    return [
        PlannedLog(tenant, f"too-large-{number}", "json", (text,), expect=413)
        for number, text in enumerate(texts)
    ]


@dataclass(frozen=True)
class Attempt:
    """One HTTP request: its status (None: no answer at all), time taken, and request id."""

    status: int | None
    seconds: float
    request_id: str | None = None


@dataclass
class Submission:
    """Posting one text of one planned log, with every attempt it took."""

    log: PlannedLog
    text: str
    started: float  # wall-clock time of the first attempt, to compare with `processed_at`
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """The last attempt's status: what the client finally got."""
        return self.attempts[-1].status if self.attempts else None

    @property
    def accepted_request_ids(self) -> list[str]:
        """Request ids of the attempts answered 202."""
        return [a.request_id for a in self.attempts if a.status == 202 and a.request_id]


def _retryable(status: int | None) -> bool:
    return status is None or status >= 500


class IngestClient:
    """Posts logs to `POST /ingest`, retrying with the same log_id until it is settled.

    Past `deadline` (a `time.monotonic()` value), or once stopped, it makes no new attempt: a
    submission still unsettled then has given up, which keeps a soak bounded in time even if
    the API hangs.
    """

    def __init__(self, host: str, port: int, deadline: float, timeout_seconds: float = 10) -> None:
        self._address = (host, port)
        self._deadline = deadline
        self._timeout = timeout_seconds
        self._random = random.Random()
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Make no new attempt from now on: the soak is being interrupted."""
        self._stopped.set()

    def submit(self, log: PlannedLog, text: str) -> Submission:
        """Post `text` under `log`'s key until it is answered other than 5xx, or time runs out."""
        submission = Submission(log, text, started=time.time())
        body, headers = log.request(text)
        for pause in self._pauses():
            if self._stopped.is_set() or time.monotonic() >= self._deadline:
                break
            attempt = self._post(body, headers)
            submission.attempts.append(attempt)
            if not _retryable(attempt.status):
                break
            self._stopped.wait(pause)
        return submission

    def _pauses(self) -> Iterator[float]:
        """Exponential backoff with full jitter, from 50 ms up to 2 s."""
        ceiling = 0.05
        while True:
            yield self._random.uniform(0, ceiling)
            ceiling = min(2.0, ceiling * 2)

    def _post(self, body: bytes, headers: dict[str, str]) -> Attempt:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(*self._address, timeout=self._timeout)
        try:
            connection.request("POST", "/ingest", body, headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            return Attempt(None, time.perf_counter() - started)
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        request_id = None
        if response.status == 202:
            request_id = json.loads(answer).get("request_id")
        return Attempt(response.status, seconds, request_id)
