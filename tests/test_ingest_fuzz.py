"""Hostile input at the edge: `POST /ingest` answers 202 or a clear 4xx, never a 5xx.

Hypothesis drives Chalice's test client against moto (the route as Lambda runs it) and then raw
HTTP against `chalice local` in the real local stack, whose server parses requests itself.
After every request the queue is read: a 202 for one log put exactly one message there, one the
worker accepts, naming the answered tenant and log; a 202 for a batch put one message for each
log it answered 202; a refusal put nothing.
"""

from __future__ import annotations

import http.client
import json
import math
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from chalice.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.message import LogMessage
from devstack.stack import Stack
from infra.stage import PROJECT_DIR, stage_settings

# The edge's promises are stated here on their own, not imported from the code that keeps them.
TENANT_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_.-")
LOG_ID_CHARACTERS = TENANT_ID_CHARACTERS | {":"}
QUEUE_MESSAGE_MAX_BYTES = 262_144
ANSWER_FIELDS = {"status", "tenant_id", "log_id", "request_id"}
# A log's other fields are its attributes: at most 64, named by 1 to 128 characters, each value
# finite, valid Unicode, nested at most 8 deep and at most 16 KiB in JSON.
MAX_ATTRIBUTES = 64

# One test client and one emulated queue serve all of a test's examples: each example drains
# what it queued, so nothing carries over from one example to the next.
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64 and set(value) <= TENANT_ID_CHARACTERS


def is_log_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 128 and set(value) <= LOG_ID_CHARACTERS


def is_text(value: object) -> bool:
    return (
        isinstance(value, str)
        and value != ""
        and not any(0xD800 <= ord(character) <= 0xDFFF for character in value)
    )


@dataclass
class Outcome:
    """One answer of the edge and what it left on the queue."""

    status: int
    headers: dict[str, str]
    answer: Any
    queued: list[str]


@dataclass
class Edge:
    """`/ingest` through Chalice's test client, and the emulated queue behind it."""

    client: Client
    sqs: Any
    queue_url: str

    def send(self, body: bytes, headers: dict[str, str], method: str = "POST") -> Outcome:
        response = self.client.http.request(method, "/ingest", headers=headers, body=body)
        queued = self._drain()
        return Outcome(response.status_code, response.headers, response.json_body, queued)

    def _drain(self) -> list[str]:
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        messages = received.get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [message["Body"] for message in messages]


@pytest.fixture
def edge(aws: Any) -> Iterator[Edge]:
    """The route and the queue provisioned in moto by `aws`."""
    from app import app  # as loaded now: `keyed_app` reloads the module, stranding old imports

    with Client(app, project_dir=str(PROJECT_DIR)) as client:
        yield Edge(client, boto3.client("sqs"), aws.queue_url)


def check_error(status: int, answer: Any) -> None:
    """Assert a 4xx with Chalice's JSON error body and a message (a batch's lists its logs)."""
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict), answer
    assert set(answer) == {"Code", "Message"} or set(answer) >= {"Code", "Message", "items"}
    code, message = answer["Code"], answer["Message"]
    assert isinstance(code, str)
    assert code
    assert isinstance(message, str)
    assert message.strip()


def check_accepted(answer: Any) -> None:
    """Assert the 202 answer's shape, with ids the API itself would accept."""
    assert isinstance(answer, dict), answer
    assert set(answer) == ANSWER_FIELDS, answer
    assert answer["status"] == "accepted"
    assert is_tenant_id(answer["tenant_id"])
    assert is_log_id(answer["log_id"])
    assert isinstance(answer["request_id"], str)
    assert answer["request_id"]


def check_promise(outcome: Outcome) -> LogMessage | None:
    """Assert what every answer promises; return the queued log of a 202, None after a 4xx."""
    if outcome.status != 202:
        check_error(outcome.status, outcome.answer)
        assert outcome.queued == [], "a refused request was enqueued"
        return None
    if "items" in outcome.answer:  # a batch: each log answered 202 is queued, no other
        messages = [LogMessage.from_json(body) for body in outcome.queued]
        answered = [i for i in outcome.answer["items"] if i["status"] == 202]
        assert sorted((m.tenant_id, m.log_id) for m in messages) == sorted(
            (i["tenant_id"], i["log_id"]) for i in answered
        )
        return None
    check_accepted(outcome.answer)
    [body] = outcome.queued
    message = LogMessage.from_json(body)  # the worker's own validation
    answer = outcome.answer
    assert message.tenant_id == answer["tenant_id"]
    assert message.log_id == answer["log_id"]
    assert message.request_id == answer["request_id"]
    return message


def either(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` or `bad`, each half the time: `|` would weigh every branch of `bad` like `good`."""
    return st.booleans().flatmap(lambda pick_good: good if pick_good else bad)


def fuzzed(outcome: Outcome) -> LogMessage | None:
    """`check_promise`, counting answers for --hypothesis-show-statistics."""
    event(f"answered {outcome.status}")
    return check_promise(outcome)


# --- ids ------------------------------------------------------------------------------------

tenant_ids = st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True)
log_ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,128}", fullmatch=True)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\ufeff"), min_size=1, max_size=60)

# Pieces that make a valid-looking id point elsewhere or mean something else downstream.
ID_INTRUDERS = [
    "/", "\\", "../", "..\\", "%2F", "#", "?", "*", "@", "|", "\x00", " ", "\t", "\n", "\r\n",
    "\u00a0", "\u200b", "\u2028", "\u3000", "\ufeff",
]  # fmt: skip
# Characters that render like an allowed one: Cyrillic a e o c p, Kelvin sign, long s, dotless
# i, Arabic-Indic one, hyphen, one dot leader, fullwidth low line.
LOOK_ALIKES = "\u0430\u0435\u043e\u0441\u0440\u212a\u017f\u0131\u0661\u2010\u2024\uff3f"


def _insert(base: str, at: int, piece: str) -> str:
    at = min(at, len(base))
    return base[:at] + piece + base[at:]


def _replace(base: str, at: int, piece: str) -> str:
    at = min(at, len(base) - 1)
    return base[:at] + piece + base[at + 1 :]


def hostile(valid: st.SearchStrategy[str], longest: int) -> st.SearchStrategy[str]:
    """Ids near `valid` ones: intruders, look-alikes, fullwidth forms, too long, or anything."""
    positions = st.integers(0, longest)
    fullwidth = valid.map(lambda base: "".join(chr(ord(c) + 0xFEE0) for c in base))
    return st.one_of(
        st.builds(_insert, valid, positions, st.sampled_from(ID_INTRUDERS)),
        st.builds(_replace, valid, positions, st.sampled_from(LOOK_ALIKES)),
        fullwidth,
        st.integers(longest + 1, 4 * longest).map(lambda length: "a" * length),
        st.just(""),
        st.text(max_size=longest + 2),
    )


@FUZZ
@given(
    form=st.sampled_from(["application/json", "text/plain"]),
    tenant_id=either(tenant_ids, hostile(tenant_ids, 64)),
    log_id=either(st.none() | log_ids, hostile(log_ids, 128)),
    text=texts,
)
def test_ids_are_taken_exactly_as_sent_or_refused(
    edge: Edge, form: str, tenant_id: str, log_id: str | None, text: str
) -> None:
    """Tenant and log ids with path separators, `#`, look-alikes or whitespace are a 400 naming
    the id; valid ones are queued exactly as sent, never trimmed or normalized, in either form."""
    if form == "application/json":
        fields = {"tenant_id": tenant_id, "text": text}
        if log_id is not None:
            fields["log_id"] = log_id
        outcome = edge.send(json.dumps(fields).encode(), {"Content-Type": form})
    else:
        headers = {"Content-Type": form, "X-Tenant-ID": tenant_id}
        if log_id is not None:
            headers["X-Log-ID"] = log_id
        outcome = edge.send(text.encode(), headers)
    message = fuzzed(outcome)
    if is_tenant_id(tenant_id) and (log_id is None or is_log_id(log_id)):
        assert message is not None, outcome
        assert (message.tenant_id, message.text) == (tenant_id, text)
        assert log_id is None or message.log_id == log_id
    else:
        assert outcome.status == 400
        assert "_id" in outcome.answer["Message"] or "-ID" in outcome.answer["Message"]


# --- JSON bodies ----------------------------------------------------------------------------

# A JSON fragment as sent, and the value it stands for (a string exactly; other kinds loosely).
Fragment = tuple[str, object]


def _as_fragment(value: object) -> Fragment:
    raw = json.dumps(value)
    return raw, json.loads(raw)  # escaped surrogate pairs come back as one character


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
fragments: st.SearchStrategy[Fragment] = st.one_of(
    json_values.map(_as_fragment),
    # Lone and paired surrogates, which JSON can escape but UTF-8 cannot hold.
    st.text(st.characters(categories=["Cs", "Ll"]), min_size=1, max_size=4).map(_as_fragment),
    # Numbers around and past int()'s 4300-digit limit, arrays nested past the recursion limit,
    # arrays with tens of thousands of items.
    st.integers(4000, 20_000).map(lambda digits: ("9" * digits, 0)),
    st.integers(1, 50_000).map(lambda depth: ("[" * depth + "]" * depth, [])),
    st.integers(0, 30_000).map(lambda width: ("[" + ",".join(["0"] * width) + "]", [])),
)
known_keys = st.sampled_from(["tenant_id", "text", "log_id"])


FIELDS = {
    "tenant_id": tenant_ids.map(_as_fragment),
    "text": texts.map(_as_fragment),
    "log_id": (st.none() | log_ids).map(_as_fragment),
}
other_keys = st.text(max_size=12).filter(lambda key: key != "timestamp")
extra_members = st.lists(st.tuples(known_keys | other_keys, fragments), min_size=1)


@st.composite
def json_objects(draw: st.DrawFn) -> list[tuple[str, Fragment]]:
    """An object's members: each field valid (three times in five), any value, or absent; one
    object in four also repeats a field or has unknown ones."""
    members: list[tuple[str, Fragment]] = []
    for key, valid in FIELDS.items():
        kind = draw(st.sampled_from(["valid", "valid", "valid", "any", "absent"]))
        if kind != "absent":
            members.append((key, draw(valid if kind == "valid" else fragments)))
    if draw(st.integers(0, 3)) == 0:
        members += draw(extra_members)
    return members


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, list):
        return all(map(_finite, value))
    return True


def is_attribute(name: str, raw: str) -> bool:
    """Whether a field sent as `raw` JSON is an attribute a log may keep."""
    try:
        value = json.loads(raw)
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        shallow = _depth(value) <= 8
    except (ValueError, RecursionError):  # over 4,300 digits, a surrogate, too deep to read
        return False
    return 1 <= len(name) <= 128 and shallow and _finite(value) and size <= 16_384


def _acceptable(members: list[tuple[str, Fragment]]) -> bool:
    fields = {key: meaning for key, (_, meaning) in members}
    attributes = [(key, raw) for key, (raw, _) in members if key not in FIELDS]
    return (
        len(fields) == len(members)
        and len(attributes) <= MAX_ATTRIBUTES
        and all(is_attribute(key, raw) for key, raw in attributes)
        and is_tenant_id(fields.get("tenant_id"))
        and is_text(fields.get("text"))
        and (fields.get("log_id") is None or is_log_id(fields["log_id"]))
    )


def json_document(members: list[tuple[str, Fragment]]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{raw}" for key, (raw, _) in members) + "}"


@FUZZ
@given(members=json_objects())
def test_json_objects_are_accepted_only_when_exactly_right(
    edge: Edge, members: list[tuple[str, Fragment]]
) -> None:
    """A JSON object is queued only with a valid tenant_id and text, an optional valid log_id
    (or null), other fields only within the attributes' bounds, and no key twice; anything else
    (numbers where strings belong, huge numbers, deep or wide values, surrogates) is a clear
    400."""
    outcome = edge.send(json_document(members).encode(), {"Content-Type": "application/json"})
    message = fuzzed(outcome)
    if _acceptable(members):
        assert message is not None, outcome
        assert message.text == dict(members)["text"][1]
    else:
        assert outcome.status == 400, outcome


@pytest.mark.parametrize(
    ("prefix", "encoding", "readable"),
    [
        (prefix, encoding, prefix in ("", " \n\t", "\ufeff") and encoding == "utf-8")
        for prefix in ("", " \n\t", "\ufeff", "\ufeff\ufeff", "x")
        for encoding in ("utf-8", "utf-16", "utf-16-le", "utf-32")
    ],
)
def test_a_json_body_is_utf8_with_at_most_one_byte_order_mark(
    edge: Edge, prefix: str, encoding: str, readable: bool
) -> None:
    """UTF-8 JSON is read after whitespace or one byte order mark; a second BOM, other bytes,
    or UTF-16 and UTF-32 (with their own BOMs or without) are a 400, never guessed at."""
    body = (prefix + '{"tenant_id": "acme", "text": "caf\u00e9"}').encode(encoding)
    outcome = edge.send(body, {"Content-Type": "application/json"})
    message = check_promise(outcome)
    assert (message is not None) == readable, outcome


whole_bodies = st.one_of(
    fragments.map(lambda fragment: fragment[0]),
    st.integers(1, 50_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(MAX_ATTRIBUTES + 1, 30_000).map(
        lambda width: (
            '{"tenant_id":"a","text":"x",' + ",".join(f'"k{i}":{i}' for i in range(width)) + "}"
        )
    ),
)


@FUZZ
@given(body=whole_bodies)
def test_json_that_is_not_one_flat_object_is_a_400(edge: Edge, body: str) -> None:
    """Scalars, arrays holding no log, objects nested 50,000 deep or with more attributes than a
    log may have are a 400 (an array of more than 1,000 items a 413), not a crash."""
    outcome = edge.send(body.encode(), {"Content-Type": "application/json"})
    fuzzed(outcome)
    assert outcome.status in (400, 413)
    if outcome.status == 413:
        assert "the limit on logs a request" in outcome.answer["Message"]


# --- content types --------------------------------------------------------------------------


def _any_case(word: str) -> st.SearchStrategy[str]:
    cases = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return cases.map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )


supported_media_types = st.sampled_from(["application/json", "text/plain"]).flatmap(_any_case)
other_media_types = st.sampled_from(
    [
        "", "*/*", "text/*", "application/*", "text/html", "application/xml", "application/jsonl",
        "application/json-seq", "application/problem+json", "application/x-www-form-urlencoded",
        "multipart/form-data", "application/octet-stream", "image/png", "json", "text",
        "text/plain, application/json", "application/json text/plain", "application/json/x",
    ]
) | st.from_regex(r"[a-z]{1,8}/[a-z+.\-]{1,12}", fullmatch=True).filter(
    lambda media_type: media_type != "text/plain"
)  # fmt: skip
harmless_parameters = st.sampled_from(
    [
        "charset=utf-8", "charset=UTF-8", 'charset="utf-8"', "charset=utf8", "charset=us-ascii",
        "CHARSET=Utf-8", " charset = utf-8 ", "q=0.5", "boundary=xyz", "format=flowed", "", "x",
    ]
)  # fmt: skip
foreign_charsets = st.sampled_from(
    ["latin-1", "iso-8859-1", "utf-16", "utf-32", "windows-1252", "", "utf-8x", '"utf-16"']
).map(lambda charset: f"charset={charset}")


@st.composite
def content_types(draw: st.DrawFn) -> tuple[str, bool]:
    """A Content-Type header, with parameters or without, and whether the route reads it."""
    supported = draw(st.booleans())
    media_type = draw(supported_media_types if supported else other_media_types)
    padding = draw(st.sampled_from(["", " ", "\t"]))
    parameters = draw(st.lists(harmless_parameters, max_size=3))
    foreign = draw(st.lists(foreign_charsets, max_size=1))
    header = padding + media_type + padding + "".join(f";{p}" for p in parameters + foreign)
    return header, supported and not foreign


@FUZZ
@given(content_type=content_types(), tenant_id=tenant_ids, text=texts)
def test_only_json_and_plain_text_in_utf8_are_read(
    edge: Edge, content_type: tuple[str, bool], tenant_id: str, text: str
) -> None:
    """Any Content-Type, with or without parameters, is read only if it is application/json or
    text/plain (any case) with no charset but UTF-8; anything else is a 415 that says why."""
    body = json.dumps({"tenant_id": tenant_id, "text": text})  # a log in either form
    headers = {"Content-Type": content_type[0], "X-Tenant-ID": tenant_id}
    outcome = edge.send(body.encode(), headers)
    message = fuzzed(outcome)
    if content_type[1]:
        assert message is not None, outcome
        assert message.text == (text if "json" in content_type[0].lower() else body)
    else:
        assert outcome.status == 415, outcome
        says = outcome.answer["Message"]
        assert any(subject in says for subject in ("Content-Type", "media type", "charset"))


def test_a_request_without_content_type_is_a_415_naming_the_types(edge: Edge) -> None:
    """Without a Content-Type nothing is guessed: 415, naming the supported types."""
    outcome = edge.send(b'{"tenant_id": "acme", "text": "x"}', {})
    check_promise(outcome)
    assert outcome.status == 415
    assert "application/json, application/x-ndjson, text/plain" in outcome.answer["Message"]


# --- methods --------------------------------------------------------------------------------

# OPTIONS is left out: the local gateway answers it as a CORS preflight without calling the app
# (and Chalice's test client then fails on the empty body); on AWS, API Gateway answers it.
other_methods = st.sampled_from(
    ["GET", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", "CONNECT", "QUERY"]
) | st.from_regex(r"[A-Z]{1,12}", fullmatch=True).filter(lambda m: m not in {"POST", "OPTIONS"})


@FUZZ
@given(method=other_methods, body=st.binary(max_size=100), tenant_id=tenant_ids)
def test_other_methods_are_a_405_that_names_post(
    edge: Edge, method: str, body: bytes, tenant_id: str
) -> None:
    """Any method but POST, with any body, is a JSON 405 whose Allow header names POST."""
    outcome = edge.send(body, {"Content-Type": "text/plain", "X-Tenant-ID": tenant_id}, method)
    fuzzed(outcome)
    assert outcome.status == 405
    assert outcome.headers["Allow"] == "POST"


# --- sizes ----------------------------------------------------------------------------------

# Units a long log is made of, and how many bytes each takes in the queue message: one escaped
# control character takes six. Phone numbers and e-mail addresses grow when redacted.
SIZE_UNITS = [("x", 1), ("é", 2), ("€", 3), ("𝄞", 4), ("\x00", 6), ("555-0199 ", 9), ("a@b.co ", 7)]


@FUZZ
@given(unit=st.sampled_from(SIZE_UNITS), size=st.integers(0, 3 * QUEUE_MESSAGE_MAX_BYTES))
def test_long_logs_are_queued_whole_or_refused_with_a_413_naming_the_limit(
    edge: Edge, unit: tuple[str, int], size: int
) -> None:
    """A log is queued whole, or refused with a 413 that names the limit it exceeds; whatever
    the queue cannot carry (262,144 bytes) is always refused."""
    units = max(1, size // unit[1])
    text = unit[0] * units
    outcome = edge.send(text.encode(), {"Content-Type": "text/plain", "X-Tenant-ID": "acme"})
    message = fuzzed(outcome)
    if message is not None:
        assert message.text == text
    else:
        assert outcome.status == 413, outcome
        assert any(
            limit in outcome.answer["Message"] for limit in ("QUEUE_MESSAGE_MAX_BYTES", "DynamoDB")
        )
    if units * unit[1] > QUEUE_MESSAGE_MAX_BYTES:
        assert outcome.status == 413


# --- anything -------------------------------------------------------------------------------

# The headers the route reads, each present or not, in any case, and any others.
header_names = st.from_regex(r"[A-Za-z0-9\-]{1,20}", fullmatch=True)
request_headers = st.builds(
    lambda read, others: others | read,
    st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": content_types().map(lambda pair: pair[0]),
            "X-Tenant-ID": either(tenant_ids, hostile(tenant_ids, 64)),
            "X-Log-ID": either(log_ids, hostile(log_ids, 128)),
            "x-tenant-id": tenant_ids,
        },
    ),
    st.dictionaries(header_names, st.text(max_size=40), max_size=3),
)
bodies = st.one_of(
    st.binary(max_size=200),
    texts.map(str.encode),
    whole_bodies.map(str.encode),
    json_objects().map(lambda members: json_document(members).encode()),
    st.binary(max_size=50).map(lambda noise: b'{"tenant_id":"a","text":"' + noise + b'"}'),
)


@dataclass
class Request:
    """One request to `/ingest`."""

    method: str
    headers: dict[str, str]
    body: bytes


@st.composite
def requests(draw: st.DrawFn, other_methods: list[str]) -> Request:
    """A valid log in either form; then, each half the time, another method, more or other
    headers, another body."""
    tenant_id, text = draw(tenant_ids), draw(texts)
    if draw(st.booleans()):
        headers = {"Content-Type": "application/json"}
        body = json.dumps({"tenant_id": tenant_id, "text": text}).encode()
    else:
        headers, body = {"Content-Type": "text/plain", "X-Tenant-ID": tenant_id}, text.encode()
    return Request(
        method=draw(either(st.just("POST"), st.sampled_from(other_methods))),
        headers=headers | draw(either(st.just({}), request_headers)),
        body=draw(either(st.just(body), bodies)),
    )


@FUZZ
@given(request=requests(["GET", "PUT", "PATCH", "DELETE"]))
def test_any_request_is_a_202_or_a_clear_4xx(edge: Edge, request: Request) -> None:
    """Whatever the method, headers (the same one twice in other cases, too) and bytes
    (invalid UTF-8, NUL, BOMs, any JSON): a 202 that queued exactly one log the worker
    accepts, or a JSON 4xx that queued nothing."""
    fuzzed(edge.send(request.body, request.headers, request.method))


# --- raw HTTP through chalice local ---------------------------------------------------------

# Headers that frame the request are the client library's to write.
FRAMING = {"content-length", "transfer-encoding", "connection", "host", "expect"}


@dataclass
class RawRequest:
    """A request as bytes on the wire: headers are UTF-8 (the server reads them as Latin-1)
    or any bytes but line breaks."""

    method: str
    path: str
    headers: list[tuple[str, bytes]]
    body: bytes


def _on_the_wire(request: Request, path: str, noise: list[tuple[str, bytes]]) -> RawRequest:
    lines = [(name, value.encode()) for name, value in request.headers.items()] + noise
    headers = [
        (name, value)
        for name, value in lines
        if name.lower() not in FRAMING and b"\r" not in value and b"\n" not in value
    ]
    return RawRequest(request.method, path, headers, request.body)


raw_requests = st.builds(
    _on_the_wire,
    requests(["GET", "PUT", "PATCH", "DELETE", "HEAD"]),
    st.sampled_from(["/ingest", "/ingest/", "/ingest?tenant_id=acme"]),
    st.lists(st.tuples(header_names, st.binary(max_size=40)), max_size=2),
)


def exchange(api: str, request: RawRequest) -> tuple[int, str | None, bytes]:
    """Send one request on a fresh connection; return status, Content-Type and body."""
    host, port = api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(request.method, request.path, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.putheader("Connection", "close")
        connection.endheaders(request.body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def settled_keys(stack: Stack, deadline_seconds: float = 60) -> set[tuple[str, str]]:
    """Every stored (tenant, log) once the queue has nothing waiting or in flight."""
    sqs = boto3.client("sqs", endpoint_url=stack.emulator)
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.emulator)
    settings = stage_settings("dev", "api_handler")
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + deadline_seconds
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=counts)
        if all(attributes["Attributes"][name] == "0" for name in counts):
            break
        assert time.monotonic() < deadline, (attributes, "".join(stack.output))
        time.sleep(0.3)
    pages = dynamodb.get_paginator("scan").paginate(TableName=settings.table_name)
    items = [i for page in pages for i in page["Items"] if "#" not in i["tenant_id"]["S"]]
    return {(i["tenant_id"]["S"], i["log_id"]["S"]) for i in items}  # logs, not their originals


@pytest.mark.e2e
def test_raw_http_through_chalice_local_is_a_202_or_a_json_4xx(stack: Stack) -> None:
    """Over real HTTP (`chalice local` parses the request itself): any headers, including
    non-ASCII bytes, and any body get a 202 or a JSON 4xx; afterwards exactly the accepted logs
    are stored and the queue is empty, so no refused request was enqueued."""
    accepted: set[tuple[str, str]] = set()

    def check(request: RawRequest) -> None:
        status, content_type, raw = exchange(stack.api, request)
        if request.method == "HEAD":  # no route serves HEAD: API Gateway's 404, without a body
            assert status == 404
            return
        assert content_type == "application/json"
        answer = json.loads(raw)
        if status == 202:
            check_accepted(answer)
            accepted.add((answer["tenant_id"], answer["log_id"]))
        else:
            check_error(status, answer)

    plain = [("Content-Type", b"text/plain"), ("X-Tenant-ID", b"acme")]
    check(RawRequest("POST", "/ingest", plain, b"hello"))
    assert len(accepted) == 1, "a valid request was not accepted: the comparison would be empty"
    settings(max_examples=80, deadline=None)(given(request=raw_requests)(check))()
    assert settled_keys(stack) == accepted
