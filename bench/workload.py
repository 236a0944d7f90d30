"""The inputs every benchmark shares: log lines, request bodies, and the events Lambda delivers.

Log lines are generated from a seed, so runs compare like with like: access logs, application
logs, JSON logs, stack traces and syslog lines, full of the dates, addresses, ids and versions
redaction must leave alone, and, when asked, one phone number, e-mail address, card, SSN, IBAN
or credential each.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any, Final

TENANT: Final = "acme"

_PII: Final = (
    "user={first}.{last}{n}@example.com",
    "contact: <{first}.{last}@mail.example.org>",
    "phone=+1 (800) 555-{n:04d}",
    "callback {n:03d}-555-0199",
    "to=+44 20 7946 {n:04d}",
    "GET /unsubscribe?email={first}%40example.co.uk",
    "sms 555-{n:04d} sent",
    "charged card 4111 1111 1111 1111 for order {n}",
    "ssn=123-45-{n:04d} verified",
    "payout to DE89 3704 0044 0532 0130 00 queued",
    "assumed role with AKIAIOSFODNN7EXAMPLE",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ7bn0ifQ.c2lnbmF0dXJl{n:04d}",
    "password={last}{n} rejected",
    "dsn=postgres://app:{first}{n}@db.internal:5432/orders",
    "token ghp_{n:04d}abcdefghijklmnopqrstuvwxyz012345 used",
)
_NAMES: Final = ("john", "jane", "alex", "maria", "li", "omar", "sofia", "noah")


def _line(rng: random.Random, number: int) -> str:
    hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    day, millisecond = rng.randrange(1, 29), number % 1000
    iso = f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millisecond:03d}Z"
    ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    templates = (
        f'{ip} - - [21/Nov/2026:{hour:02d}:{minute:02d}:{second:02d} +0000] "GET /api/v2/orders/'
        f'{rng.randrange(10**6)}?page={rng.randrange(50)} HTTP/1.1" 200 {rng.randrange(10**5)} '
        f'"-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"',
        f"{iso} INFO  [http-nio-8080-exec-{rng.randrange(64)}] c.e.orders.OrderService - order "
        f"{uuid.UUID(int=rng.getrandbits(128))} created, total={rng.randrange(10**5) / 100:.2f} "
        f"EUR in {rng.randrange(900)} ms (v1.{rng.randrange(30)}.{rng.randrange(10)})",
        f'{{"ts":"{iso}","level":"warn","msg":"payment retry","attempt":{rng.randrange(1, 6)},'
        f'"trace_id":"{rng.getrandbits(128):032x}","latency_ms":{rng.randrange(5000)}}}',
        f"{iso} ERROR [worker-{rng.randrange(16)}] java.lang.IllegalStateException: cache miss "
        f"for session:{rng.getrandbits(64):016x} at com.example.cache.Loader.load"
        f"(Loader.java:{rng.randrange(1000)})",
        f"Nov 21 {hour:02d}:{minute:02d}:{second:02d} ip-{ip.replace('.', '-')} "
        f"sshd[{rng.randrange(10**5)}]: Accepted publickey for deploy from {ip} "
        f"port {rng.randrange(1024, 65535)} ssh2",
    )
    return templates[number % len(templates)]


def log_lines(count: int, pii: bool, seed: int = 7) -> list[str]:
    """`count` realistic log lines; with `pii`, each carries one thing redaction takes out."""
    rng = random.Random(seed)
    lines = []
    for number in range(count):
        line = _line(rng, number)
        if pii:
            found = rng.choice(_PII).format(
                first=rng.choice(_NAMES), last=rng.choice(_NAMES), n=rng.randrange(10000)
            )
            line = f"{line} {found}"
        lines.append(line)
    return lines


def log_text(size: int, pii: bool) -> str:
    """Log lines joined by newlines, about `size` characters of them."""
    lines = log_lines(max(1, size // 150), pii)
    return "\n".join(lines)


#: Inputs built to make each redaction pattern work hardest, by what they stress.
ADVERSARIAL: Final[dict[str, Callable[[int], str]]] = {
    "long digit runs": lambda size: "8" * size,
    "long runs of separators": lambda size: ("- . " * size)[:size],
    "digit groups (near-miss numbers)": lambda size: ("800 555 01 (800) 55-0199 " * size)[:size],
    "plus signs (near-miss international)": lambda size: ("+1234567 " * size)[:size],
    "spaced international digits (lengths in doubt)": lambda size: ("+44 20 7946 0958 1 " * size)[
        :size
    ],
    "trunk zeros (near-miss national)": lambda size: (" 0161 49 (0" * size)[:size],
    "local-part run without an @": lambda size: ("ab.cd-ef_gh+ij%" * size)[:size],
    "near-miss e-mails": lambda size: ("john.doe@example x@y.z " * size)[:size],
    "a separator every other character": lambda size: ("a@" * size)[:size],
    "URL-encoded separators": lambda size: ("%40%2B" * size)[:size],
    "card groups failing Luhn": lambda size: ("4111 1111 1111 1112 " * size)[:size],
    "SSN shapes with area 000": lambda size: ("000-12-3456 " * size)[:size],
    "IBAN starts failing mod 97": lambda size: ("GB00 WEST 1234 " * size)[:size],
    "secret keys without values": lambda size: ("password=token=secret: " * size)[:size],
    "phone keys without digits": lambda size: ("phone:mobile=tel " * size)[:size],
    "auth schemes without tokens": lambda size: ("Bearer Basic " * size)[:size],
    "prefixes without tokens": lambda size: ("eyJAKIAghp_xoxb-sk_live_" * size)[:size],
    "JWT-shaped, header not JSON": lambda size: ("eyJhbGci.eyJzdWIi." * size)[:size],
    "URL user information": lambda size: ("://a:b@://" * size)[:size],
    "private key headers without END": lambda size: (
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA" * size
    )[:size],
    "IPv6-like colons (IP addresses on)": lambda size: ("1:2:3:4:5:6:7:8:9:" * size)[:size],
}


def ingest_body(text: str, form: str) -> tuple[dict[str, str], str]:
    """Headers and body of a `POST /ingest` in `form` (`json` or `text`) carrying `text`."""
    if form == "json":
        body = json.dumps({"tenant_id": TENANT, "log_id": "bench-1", "text": text})
        return {"Content-Type": "application/json"}, body
    return {"Content-Type": "text/plain", "X-Tenant-ID": TENANT, "X-Log-ID": "bench-1"}, text


#: Headers API Gateway (behind CloudFront) adds to every request it passes on.
_GATEWAY_HEADERS: Final = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate, br",
    "CloudFront-Forwarded-Proto": "https",
    "CloudFront-Is-Desktop-Viewer": "true",
    "CloudFront-Is-Mobile-Viewer": "false",
    "CloudFront-Viewer-Country": "DE",
    "Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
    "User-Agent": "python-urllib3/2.2.3",
    "Via": "1.1 0123456789abcdef.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Id": "Xy1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL==",
    "X-Amzn-Trace-Id": "Root=1-673fd1a2-0123456789abcdef01234567",
    "X-Forwarded-For": "203.0.113.7, 130.176.1.1",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def proxy_event(headers: dict[str, str], body: str) -> dict[str, Any]:
    """The API Gateway proxy event for `POST /ingest`, as Lambda hands it to `app.app`.

    It carries the headers API Gateway adds and the authorizer's verdict for the tenant, as
    API Gateway passes it on when the stage puts ingest behind API keys; with
    `INGEST_AUTH=open` the route ignores it.
    """
    headers = {**_GATEWAY_HEADERS, "Content-Length": str(len(body.encode())), **headers}
    return {
        "resource": "/ingest",
        "path": "/ingest",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/ingest",
            "httpMethod": "POST",
            "path": "/api/ingest",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "authorizer": {"principalId": TENANT, "tenant_id": TENANT, "key_id": "0" * 16},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """A Lambda SQS event holding one record per queue message body."""
    records = [
        {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "handle",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-ingest",
            "awsRegion": "us-east-1",
        }
        for body in bodies
    ]
    return {"Records": records}


class LambdaContext:
    """The part of Lambda's context object the handlers read, with plenty of time left."""

    aws_request_id = "bench"
    function_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        """Always a minute: the benchmark never runs into a timeout."""
        return 60_000
