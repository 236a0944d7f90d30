"""Faults on demand: a WSGI layer around the emulator that makes SQS and DynamoDB misbehave.

The chaos soak (`soak.chaos`) needs AWS to fail the ways it really fails, at the moments it
chooses, while the app's code stays untouched: the app only ever sees what boto3 sees. With
`python -m devstack.emulator --faults` every request passes through `FaultInjector`, which
answers some operations with a fault instead of (or after) the emulator's own answer:

- `throttle`: the service's throttling error (DynamoDB's
  `ProvisionedThroughputExceededException`, SQS's `RequestThrottled`), nothing applied;
- `error`: HTTP 500, nothing applied;
- `lost`: the request is applied, then answered with HTTP 500, as when a reply is lost on the
  way back: the caller cannot tell it from `error`, and retrying repeats a done write;
- `drop`: the connection is closed without an answer and nothing is applied, as when the
  service is unreachable;
- `slow`: the request is applied, and its answer held `SLOW_SECONDS` (less than the app's read
  timeout, so the app gets it, late: a caller with less patience has given up by then);
- `partial` (SendMessageBatch only): one entry, drawn at random, is refused inside a successful
  answer (`Failed`, `InternalError`) and not queued; the others are queued.

`POST /_devstack/faults` with `{"rules": [{"operation": "PutItem", "mode": "throttle",
"probability": 0.05}, ...], "seed": 7}` replaces the rules; `GET` returns them with how many
faults each rule has injected since the emulator started. Without `--faults` the emulator is
exactly moto, so `make dev` never sees any of this.
"""

from __future__ import annotations

import http.client
import io
import json
import random
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Mode = Literal["throttle", "error", "lost", "drop", "slow", "partial"]
MODES: tuple[str, ...] = get_args(Mode)
CONTROL_PATH = "/_devstack/faults"
#: How long a `slow` answer is held: past a patient shipper's second, within the app's 2 s read
#: timeout (`chalicelib.clients`), so the app's call succeeds and its own answer comes late.
SLOW_SECONDS = 1.5
#: The operation whose answers can refuse some entries and take the others.
PARTIAL_OPERATION = "SendMessageBatch"

# Per service, by the prefix of its X-Amz-Target header: the JSON protocol's error namespace
# and the codes it uses for throttling and for an internal error.
_SERVICES = {
    "DynamoDB_20120810": (
        "com.amazonaws.dynamodb.v20120810#",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
    ),
    "AmazonSQS": ("com.amazonaws.sqs#", "RequestThrottled", "InternalError"),
}


@dataclass(frozen=True)
class FaultRule:
    """Answer `operation` (an AWS action name, `PutItem`) with `mode` this often."""

    operation: str
    mode: Mode
    probability: float

    def __post_init__(self) -> None:
        """Refuse a rule that could never mean what it says."""
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not 0 <= self.probability <= 1:
            raise ValueError(f"probability must be between 0 and 1, got {self.probability}")
        if self.mode == "partial" and self.operation != PARTIAL_OPERATION:
            raise ValueError(f"mode 'partial' applies to {PARTIAL_OPERATION} only")

    @property
    def name(self) -> str:
        """How the rule's count is reported: `PutItem throttle`."""
        return f"{self.operation} {self.mode}"


def check_rules(rules: Sequence[FaultRule]) -> None:
    """Raise ValueError if one operation's rules add up to more than certainty."""
    totals: defaultdict[str, float] = defaultdict(float)
    for rule in rules:
        totals[rule.operation] += rule.probability
    for operation, total in totals.items():
        if total > 1:
            raise ValueError(f"the rules for {operation} add up to {total:g}, more than 1")


def _target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """(service prefix, operation) of an AWS JSON-protocol request; empty strings otherwise."""
    service, _, operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")
    return service, operation


def _json_response(
    start_response: Callable[..., Any], status: str, body: Any, headers: Sequence[tuple[str, str]]
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(data))),
            *headers,
        ],
    )
    return [data]


def _error(start_response: Callable[..., Any], service: str, throttle: bool) -> list[bytes]:
    """The service's own shape of a throttling (400) or internal (500) error."""
    namespace, throttled, internal = _SERVICES[service]
    code = throttled if throttle else internal
    status = "400 Bad Request" if throttle else "500 Internal Server Error"
    side = "Sender" if throttle else "Receiver"
    return _json_response(
        start_response,
        status,
        {"__type": namespace + code, "message": f"injected by devstack.faults ({code})"},
        [("x-amzn-query-error", f"{code};{side}")],
    )


def _drop(environ: Mapping[str, Any]) -> list[bytes]:
    """Close the connection without an answer; werkzeug treats the error as a client gone."""
    connection = environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by devstack.faults")


class _Captured:
    """A WSGI app's answer, held back: its status, headers and body."""

    def __init__(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        self.status = "500 Internal Server Error"
        self.headers: list[tuple[str, str]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            self.status, self.headers = status, headers

        self.body = b"".join(app(environ, start_response))

    def send(self, start_response: Callable[..., Any], body: bytes | None = None) -> list[bytes]:
        """Pass the answer on, its body replaced by `body` if given."""
        data = self.body if body is None else body
        kept = [(name, value) for name, value in self.headers if name.lower() != "content-length"]
        start_response(self.status, [*kept, ("Content-Length", str(len(data)))])
        return [data]


def _with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """A copy of `environ` whose request body is `body`."""
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


class FaultInjector:
    """WSGI middleware: pass requests to `app`, except those the current rules pick to fail."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._rules: tuple[FaultRule, ...] = ()
        self._random = random.Random(0)
        self._injected: Counter[str] = Counter()

    def set_rules(self, rules: Sequence[FaultRule], seed: int | None = None) -> None:
        """Replace the rules (an empty list switches faults off); counts carry on."""
        check_rules(rules)
        with self._lock:
            self._rules = tuple(rules)
            if seed is not None:
                self._random.seed(seed)

    def state(self) -> dict[str, Any]:
        """The rules and how many faults each `operation mode` has injected so far."""
        with self._lock:
            return {
                "rules": [asdict(rule) for rule in self._rules],
                "injected": dict(self._injected),
            }

    def _pick(self, operation: str) -> FaultRule | None:
        """The rule that fires for this request, if any: one draw against the stacked odds."""
        with self._lock:
            rules = [rule for rule in self._rules if rule.operation == operation]
            if not rules:
                return None
            draw, stacked = self._random.random(), 0.0
            for rule in rules:
                stacked += rule.probability
                if draw < stacked:
                    self._injected[rule.name] += 1
                    return rule
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Answer one request: the control endpoint, a fault, or the emulator's own answer."""
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return self._control(environ, start_response)
        service, operation = _target(environ)
        rule = self._pick(operation) if service in _SERVICES else None
        if rule is None:
            return self._app(environ, start_response)
        if rule.mode == "drop":
            return _drop(environ)
        if rule.mode == "lost":
            list(self._app(environ, lambda status, headers, exc_info=None: None))
        if rule.mode == "slow":
            answer = _Captured(self._app, environ)
            time.sleep(SLOW_SECONDS)
            return answer.send(start_response)
        if rule.mode == "partial":
            return self._partial(environ, start_response)
        return _error(start_response, service, throttle=rule.mode == "throttle")

    def _partial(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Queue a SendMessageBatch's entries but one, which the answer lists as `Failed`."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        entries = list(request.get("Entries", []))
        with self._lock:
            refused = entries.pop(self._random.randrange(len(entries))) if entries else None
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if entries:  # SQS refuses a batch of no entries: with one entry, nothing is sent
            forwarded = json.dumps({**request, "Entries": entries}).encode()
            captured = _Captured(self._app, _with_body(environ, forwarded))
            if not captured.status.startswith("200"):
                return captured.send(start_response)
            answer = {"Successful": [], "Failed": []} | json.loads(captured.body)
        if refused is not None:
            answer["Failed"] = [
                *answer.get("Failed", []),
                {
                    "Id": refused["Id"],
                    "SenderFault": False,
                    "Code": "InternalError",
                    "Message": "injected by devstack.faults (entry refused)",
                },
            ]
        return _json_response(start_response, "200 OK", answer, [])

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                rules = [FaultRule(**rule) for rule in request.get("rules", [])]
                self.set_rules(rules, request.get("seed"))
            except (ValueError, TypeError, AttributeError) as error:
                return _json_response(
                    start_response, "400 Bad Request", {"message": str(error)}, []
                )
        return _json_response(start_response, "200 OK", self.state(), [])


class FaultControl:
    """The chaos runner's side of the control endpoint of an emulator started with `--faults`."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)

    def set_rules(self, rules: Sequence[FaultRule], seed: int | None = None) -> None:
        """Replace the emulator's rules."""
        self._call("POST", {"rules": [asdict(rule) for rule in rules], "seed": seed})

    def injected(self) -> dict[str, int]:
        """How many faults each `operation mode` has injected since the emulator started."""
        return cast(dict[str, int], self._call("GET", None)["injected"])

    def _call(self, method: str, body: Any) -> dict[str, Any]:
        connection = http.client.HTTPConnection(*self._address, timeout=10)
        try:
            connection.request(method, CONTROL_PATH, None if body is None else json.dumps(body))
            response = connection.getresponse()
            answer = json.loads(response.read())
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"the fault control endpoint refused: {answer.get('message')}")
        return cast(dict[str, Any], answer)
