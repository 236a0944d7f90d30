"""The chaos soak's traffic: many tenants' logs, and a client that retries as a good one should.

`plan` makes the posts, deterministically from a seed: tenants that share log ids (so a log put
in the wrong partition shows), sizes from a line to 30,000 characters (or the longest text the
worker's budget allows, if less), text in several scripts with phone numbers and e-mail
addresses planted among look-alikes that must survive redaction, and every upload form the API
takes. Some logs are posted alone (`PlannedLog`, in each of `FORMS`): a few twice after their
202, as a client that timed out would, some a second time with a different text, and a few too
large on purpose (the API must answer 413). The others travel in batches (`PlannedBatch`, in each
of `BATCH_FORMS`): NDJSON and JSON arrays, gzip- or deflate-encoded or not, with their own
log_ids or an `Idempotency-Key` instead, and OTLP/HTTP exports in protobuf, with the record's
`log.record.uid` or the id the API derives; their logs span tenants, carry attributes with
planted PII, and some are invalid or too large on purpose (refused alone, the others go on).

`IngestClient.submit` posts one text until it gets an answer that settles it: a 202, or a 4xx
that says the log is wrong. On a 5xx, a dropped connection or a timeout it waits and posts the
same log, with the same log_id, again. `IngestClient.submit_batch` does as a shipper does with a
batch: after a 503 (waiting its `Retry-After`), a 429, a dropped connection or a timeout it sends
the very same body again (same log_ids, same Idempotency-Key, same OTLP bytes) until an answer
settles it, and reads each log's own outcome from the answer.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from chalicelib import otlp
from chalicelib.config import Settings
from chalicelib.normalize import JSON_FIELDS, derived_log_id

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
Coding = Literal["gzip", "deflate"]
#: One-log upload forms, by name: the content type sent, whether JSON escapes all non-ASCII
#: text, and the content coding (None: sent as is).
FORMS: Final[Mapping[str, tuple[str, bool, Coding | None]]] = {
    "json": ("application/json", False, None),
    "json, ASCII-escaped, charset": ("application/json; charset=utf-8", True, None),
    "json, gzip": ("application/json", False, "gzip"),
    "text": ("text/plain", False, None),
    "text, charset": ("text/plain; charset=UTF-8", False, None),
    "text, gzip": ("text/plain", False, "gzip"),
}


@dataclass(frozen=True)
class BatchForm:
    """How a batch is sent: its envelope, its content coding, how its logs get their ids."""

    envelope: Literal["ndjson", "array", "otlp"]
    coding: Coding | None = None
    idempotency_key: bool = False


#: Batch forms, by name. OTLP records carry `log.record.uid` or not, mixed within an export.
BATCH_FORMS: Final[Mapping[str, BatchForm]] = {
    "NDJSON": BatchForm("ndjson"),
    "NDJSON, gzip": BatchForm("ndjson", "gzip"),
    "NDJSON, Idempotency-Key": BatchForm("ndjson", idempotency_key=True),
    "array": BatchForm("array"),
    "array, deflate": BatchForm("array", "deflate"),
    "array, gzip, Idempotency-Key": BatchForm("array", "gzip", idempotency_key=True),
    "OTLP protobuf": BatchForm("otlp"),
    "OTLP protobuf, gzip": BatchForm("otlp", "gzip"),
}
_SIZES = ((0.55, 30, 200), (0.30, 200, 2_000), (0.12, 2_000, 10_000), (0.03, 10_000, 30_000))
_REPOST_SHARE = 0.03
_CHANGED_SHARE = 0.02
_BATCHED_SHARE = 0.5  # of the planned logs, those sent in batches
_BATCH_SIZES = (2, 20)
_INVALID_EVERY = 3  # every third batch has one log invalid on purpose
_TOO_LARGE_EVERY = 10  # so has every tenth /ingest batch one too large, from the fourth
_ATTRIBUTES_SHARE = 0.5  # batched logs with attributes
_UID_SHARE = 0.5  # OTLP records with a `log.record.uid`
#: The event time of OTLP records: a fixed moment, so a plan is the same on every run.
_OTLP_EPOCH_NANOS = 1_795_000_000_000_000_000


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
    #: The attributes the API must keep (the stored item holds them redacted).
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def request(self, text: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one post of `text`, for a log posted alone."""
        content_type, ascii_only, coding = FORMS[self.form]
        headers = {"Content-Type": content_type}
        if content_type.startswith("text/plain"):
            headers |= {"X-Tenant-ID": self.tenant_id, "X-Log-ID": self.log_id}
            body = text.encode("utf-8")
        else:
            fields = {"tenant_id": self.tenant_id, "log_id": self.log_id, "text": text}
            body = json.dumps(fields, ensure_ascii=ascii_only).encode("utf-8")
        return _encoded(body, coding, headers)


@dataclass(frozen=True)
class PlannedBatch:
    """One request of many logs: its body and headers, sent identically on every retry.

    `logs` are in request order, each under the log_id the API must store it with (given,
    derived from the Idempotency-Key, or derived from the OTLP record) and with the status the
    API must give it: 202, 400 (invalid on purpose) or 413 (too large on purpose).
    """

    form: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    logs: tuple[PlannedLog, ...]


#: What the soak posts: one log, or a batch.
Post = PlannedLog | PlannedBatch


def planned_logs(posts: Sequence[Post]) -> list[PlannedLog]:
    """Every planned log, alone or in its batch."""
    return [
        log for post in posts for log in (post.logs if isinstance(post, PlannedBatch) else [post])
    ]


def _encoded(
    body: bytes, coding: Coding | None, headers: dict[str, str]
) -> tuple[bytes, dict[str, str]]:
    """`body` in `coding`, with its Content-Encoding header; mtime 0 keeps a plan repeatable."""
    if coding == "gzip":
        return gzip.compress(body, mtime=0), headers | {"Content-Encoding": "gzip"}
    if coding == "deflate":
        return zlib.compress(body), headers | {"Content-Encoding": "deflate"}
    return body, headers


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


class _Numbering:
    """Each tenant numbers its own logs from 1, so every log id exists in many partitions."""

    def __init__(self, names: list[str]) -> None:
        self._numbers = dict.fromkeys(names, 0)

    def next_id(self, tenant: str) -> str:
        self._numbers[tenant] += 1
        return f"log-{self._numbers[tenant]:05d}"


def plan(settings: Settings, logs: int, tenants: int, seed: int) -> list[Post]:
    """`logs` logs spread over `tenants` tenants, alone and in batches, in a shuffled order."""
    rng = random.Random(seed)
    longest = int(longest_text(settings) * 0.9)  # margin: the limit itself is tested alone
    names = tenant_names(tenants)
    numbering = _Numbering(names)
    planned: list[Post] = []
    batched = int(logs * _BATCHED_SHARE)
    for _ in range(logs - batched):
        tenant = rng.choice(names)
        log_id = numbering.next_id(tenant)
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
    batches = _Batches(rng, settings, names, numbering, seed)
    forms = list(BATCH_FORMS)
    while batched > 0:  # the forms in turn, so that a few hundred logs try each
        size = min(batched, rng.randint(*_BATCH_SIZES))
        planned.append(batches.make(forms[batches.made % len(forms)], size))
        batched -= size
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


def _attributes(rng: random.Random) -> dict[str, Any]:
    """A shipper's extra fields, PII and look-alikes among them, one of them nested."""
    return {
        "host": f"web-{rng.randint(1, 9)}",
        "level": rng.choice(("info", "warn", "error")),
        "user": rng.choice(PII_SAMPLES + KEEP_SAMPLES),
        "context": {"contacts": [rng.choice(PII_SAMPLES), rng.choice(KEEP_SAMPLES)]},
    }


class _Batches:
    """Makes batches of every form, numbering their logs with the single logs' numbering."""

    def __init__(
        self,
        rng: random.Random,
        settings: Settings,
        names: list[str],
        numbering: _Numbering,
        seed: int,
    ) -> None:
        self._rng = rng
        self._longest = int(longest_text(settings) * 0.9)
        self._too_large_chars = settings.queue_message_max_bytes // 3 + 1
        self._names = names
        self._numbering = numbering
        self._seed = seed
        self.made = 0  # batches made so far

    def make(self, form: str, size: int) -> PlannedBatch:
        """One batch of `size` logs in `form`, some refused on purpose."""
        self.made += 1
        rng = self._rng
        invalid = rng.randrange(size) if size > 1 and self.made % _INVALID_EVERY == 0 else None
        if BATCH_FORMS[form].envelope == "otlp":
            return self._otlp(form, size, invalid)
        too_large = None
        if size > 1 and self.made % _TOO_LARGE_EVERY == 4:
            too_large = next(p for p in range(size) if p != invalid)
        return self._ingest(form, size, invalid, too_large)

    def _text(self, tenant: str, log_id: str) -> str:
        return _text(self._rng, f"{tenant}/{log_id}#1", _size(self._rng, self._longest))

    def _ingest(
        self, form: str, size: int, invalid: int | None, too_large: int | None
    ) -> PlannedBatch:
        """An NDJSON or JSON array batch for `POST /ingest`."""
        shape = BATCH_FORMS[form]
        key = f"soak-{self._seed}-{self.made}" if shape.idempotency_key else None
        lines: list[str] = []
        logs: list[PlannedLog] = []
        for position in range(size):
            tenant = self._rng.choice(self._names)
            log_id = derived_log_id(key, position) if key else self._numbering.next_id(tenant)
            text = self._text(tenant, log_id)
            expect = 202
            if position == too_large:
                text = f"[{tenant}/{log_id}#1]" + "用" * self._too_large_chars
                expect = 413
            fields: dict[str, Any] = {"tenant_id": tenant, "text": text}
            if key is None:
                fields["log_id"] = log_id
            if self._rng.random() < _ATTRIBUTES_SHARE:
                fields |= _attributes(self._rng) | {"timestamp": "2026-11-21T10:00:00Z"}
            line = json.dumps(fields, ensure_ascii=False)
            if position == invalid:  # an NDJSON line cut short; an array's log with a bad time
                expect = 400
                fields["timestamp"] = "yesterday"
                line = line[:-1] if shape.envelope == "ndjson" else json.dumps(fields)
            lines.append(line)
            attributes = {name: value for name, value in fields.items() if name not in JSON_FIELDS}
            logs.append(PlannedLog(tenant, log_id, form, (text,), expect, attributes))
        if shape.envelope == "ndjson":
            body, content_type = "\n".join(lines) + "\n", "application/x-ndjson"
        else:
            body, content_type = "[" + ",".join(lines) + "]", "application/json"
        headers = {"Content-Type": content_type} | ({"Idempotency-Key": key} if key else {})
        encoded, headers = _encoded(body.encode("utf-8"), shape.coding, headers)
        return PlannedBatch(form, "/ingest", encoded, headers, tuple(logs))

    def _otlp(self, form: str, size: int, invalid: int | None) -> PlannedBatch:
        """An OTLP/HTTP protobuf export: one ResourceLogs per tenant, `tenant.id` on each."""
        by_tenant: dict[str, list[LogRecord]] = {}
        texts: list[tuple[str, str, str]] = []  # (tenant, text, uid or ""), in request order
        for position in range(size):
            tenant = self._rng.choice(self._names)
            uid = self._numbering.next_id(tenant)
            text = "" if position == invalid else self._text(tenant, uid)
            pairs = [_key_value(name, value) for name, value in _attributes(self._rng).items()]
            if position == invalid or self._rng.random() < _UID_SHARE:
                pairs.append(_key_value(otlp.UID_ATTRIBUTE, uid))
            else:
                uid = ""
            record = LogRecord(
                time_unix_nano=_OTLP_EPOCH_NANOS + self.made * 1_000_000 + position,
                severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
                severity_text="INFO",
                body=AnyValue(string_value=text),
                attributes=pairs,
            )
            by_tenant.setdefault(tenant, []).append(record)
            texts.append((tenant, text, uid))
        request = ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    resource=Resource(
                        attributes=[
                            _key_value(otlp.TENANT_ATTRIBUTE, tenant),
                            _key_value("service.name", "soak"),
                        ]
                    ),
                    scope_logs=[
                        ScopeLogs(scope=InstrumentationScope(name="soak"), log_records=records)
                    ],
                )
                for tenant, records in by_tenant.items()
            ]
        )
        raw = request.SerializeToString()
        order = sorted(range(size), key=lambda p: list(by_tenant).index(texts[p][0]))
        logs = []
        # The API's own decoder names each record's log id: ours must match what it stores.
        for position, decoded in zip(order, otlp.decode_request(raw, "protobuf"), strict=True):
            tenant, text, uid = texts[position]
            if isinstance(decoded, otlp.RejectedRecord):
                logs.append(PlannedLog(tenant, uid, form, (text,), expect=400))
                continue
            attributes = {k: v for k, v in decoded.items() if k not in JSON_FIELDS}
            logs.append(PlannedLog(tenant, decoded["log_id"], form, (text,), 202, attributes))
        headers = {"Content-Type": "application/x-protobuf", "Accept": "application/x-protobuf"}
        encoded, headers = _encoded(raw, BATCH_FORMS[form].coding, headers)
        return PlannedBatch(form, "/v1/logs", encoded, headers, tuple(logs))


def _key_value(name: str, value: Any) -> KeyValue:
    """An OTLP attribute: strings as strings, lists as arrays, objects as key-value lists."""
    if isinstance(value, str):
        return KeyValue(key=name, value=AnyValue(string_value=value))
    if isinstance(value, list):
        items = [_key_value("", item).value for item in value]
        return KeyValue(key=name, value=AnyValue(array_value=ArrayValue(values=items)))
    pairs = [_key_value(key, item) for key, item in value.items()]
    return KeyValue(key=name, value=AnyValue(kvlist_value=KeyValueList(values=pairs)))


@dataclass(frozen=True)
class Attempt:
    """One HTTP request, as one log saw it.

    Its status (None: no answer at all), time taken, request id, and the log_id the answer gave
    the log, when it gave one.
    """

    status: int | None
    seconds: float
    request_id: str | None = None
    log_id: str | None = None


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


@dataclass(frozen=True)
class BatchAttempt:
    """One send of a batch: the request's status and time, and each log's own `Attempt`."""

    status: int | None
    seconds: float
    logs: tuple[Attempt, ...]


@dataclass
class BatchSubmission:
    """Sending one planned batch until an answer settled it, with every attempt it took."""

    batch: PlannedBatch
    started: float
    attempts: list[BatchAttempt] = field(default_factory=list)

    def submissions(self) -> list[Submission]:
        """Each log's submission: the batch's attempts as that log saw them."""
        return [
            Submission(log, log.texts[0], self.started, [a.logs[n] for a in self.attempts])
            for n, log in enumerate(self.batch.logs)
        ]


@dataclass(frozen=True)
class _Answer:
    """An HTTP answer: status (None: none came), seconds, Retry-After, body."""

    status: int | None
    seconds: float
    retry_after: float | None = None
    body: bytes = b""


def _retryable(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


def _ingest_logs(batch: PlannedBatch, answer: _Answer) -> tuple[Attempt, ...]:
    """Each log's outcome in a `POST /ingest` answer: its item, else the request's status."""
    try:
        body = json.loads(answer.body)
        items = body["items"]
        request_id = body.get("request_id")
    except (ValueError, KeyError, TypeError):
        items = None
    if not isinstance(items, list) or len(items) != len(batch.logs):
        return tuple(Attempt(answer.status, answer.seconds) for _ in batch.logs)
    return tuple(
        Attempt(
            item["status"],
            answer.seconds,
            request_id if item["status"] == 202 else None,
            item.get("log_id"),
        )
        for item in items
    )


def _export_logs(batch: PlannedBatch, answer: _Answer) -> tuple[Attempt, ...]:
    """Each record's outcome in an OTLP answer, which counts refused records but names none.

    A 200 whose `partial_success` counts exactly the records refused on purpose gives each
    record its planned status; any other count leaves every record with the 200 itself, an
    answer no log expects.
    """
    statuses = [answer.status for _ in batch.logs]
    if answer.status == 200:
        rejected = ExportLogsServiceResponse.FromString(answer.body).partial_success
        refused = sum(1 for log in batch.logs if log.expect != 202)
        if rejected.rejected_log_records == refused:
            statuses = [log.expect for log in batch.logs]
    return tuple(Attempt(status, answer.seconds) for status in statuses)


class IngestClient:
    """Posts logs to `POST /ingest` and batches to their routes, retrying until each is settled.

    Past `deadline` (a `time.monotonic()` value), or once stopped, it makes no new attempt: a
    submission still unsettled then has given up, which keeps a soak bounded in time even if
    the API hangs. `timeout_seconds` is a shipper's patience with one request: an answer that
    comes later is a timeout, and the request is sent again.
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
            answer = self._post("/ingest", body, headers)
            request_id = None
            if answer.status == 202:
                request_id = json.loads(answer.body).get("request_id")
            submission.attempts.append(Attempt(answer.status, answer.seconds, request_id))
            if not _retryable(answer.status):
                break
            self._stopped.wait(pause)
        return submission

    def submit_batch(self, batch: PlannedBatch) -> BatchSubmission:
        """Send `batch`'s body until an answer settles it; wait Retry-After when one is given."""
        submission = BatchSubmission(batch, started=time.time())
        read = _export_logs if batch.path == "/v1/logs" else _ingest_logs
        for pause in self._pauses():
            if self._stopped.is_set() or time.monotonic() >= self._deadline:
                break
            answer = self._post(batch.path, batch.body, dict(batch.headers))
            attempt = BatchAttempt(answer.status, answer.seconds, read(batch, answer))
            submission.attempts.append(attempt)
            if not _retryable(answer.status):
                break
            self._stopped.wait(pause if answer.retry_after is None else answer.retry_after)
        return submission

    def _pauses(self) -> Iterator[float]:
        """Exponential backoff with full jitter, from 50 ms up to 2 s."""
        ceiling = 0.05
        while True:
            yield self._random.uniform(0, ceiling)
            ceiling = min(2.0, ceiling * 2)

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> _Answer:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(*self._address, timeout=self._timeout)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            return _Answer(None, time.perf_counter() - started)
        finally:
            connection.close()
        retry_after = response.getheader("Retry-After")
        return _Answer(
            response.status,
            time.perf_counter() - started,
            float(retry_after) if retry_after and retry_after.isdigit() else None,
            answer,
        )
