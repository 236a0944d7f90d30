"""A tiny AWS stand-in on 127.0.0.1, so botocore's real serialization, signing and HTTP run.

It answers SQS `SendMessage` and `SendMessageBatch`, and DynamoDB `PutItem` (honouring the
`attribute_not_exists` condition), `TransactWriteItems` (the worker's write: its puts on the
same condition; its checks of erasure tombstones pass, as no bench erases), `GetItem` (the
authorizer's key lookup, a tenant's settings) and `UpdateItem` (the limiter's leases, always
granted: a bench never reaches a quota), in the JSON protocol boto3 speaks to both services,
with HTTP/1.1 keep-alive as AWS does. It counts the calls of each operation (`GET /calls`, read
with `stub_calls`), so a benchmark can say how many requests AWS would bill. It answers as fast
as plain Python can, so the time it adds is a small, equal share of every measured call: the
ratios against bare boto3 are harsher here than against AWS, whose round trip takes
milliseconds.

Run in its own process (`python -m bench.stub`, printing its port), so it never competes with
the measured code for the interpreter lock.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from chalicelib import process_state
from infra.stage import PROJECT_DIR

HOST = "127.0.0.1"
QUEUE_NAME = "bench-ingest"
TABLE_NAME = "bench-logs"
_ACCOUNT = "123456789012"

Answer = tuple[int, dict[str, Any]]


class _Store:
    """The stub's state, guarded for the server's threads: items by key, calls by operation."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, ...], dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()


_DUPLICATE: Final[Answer] = (
    400,
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": "The conditional request failed",
    },
)


def _key(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(item.get(name, {}).get("S")) for name in ("tenant_id", "log_id"))


def _sent(body: str) -> dict[str, str]:
    digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
    return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}


def _send_message(request: dict[str, Any], store: _Store) -> Answer:
    return 200, _sent(request["MessageBody"])


def _send_message_batch(request: dict[str, Any], store: _Store) -> Answer:
    entries = request["Entries"]
    successful = [{"Id": entry["Id"], **_sent(entry["MessageBody"])} for entry in entries]
    return 200, {"Successful": successful, "Failed": []}


def _put_item(request: dict[str, Any], store: _Store) -> Answer:
    item = request["Item"]
    with store.lock:
        if "attribute_not_exists" in request.get("ConditionExpression", "") and (
            _key(item) in store.items
        ):
            return _DUPLICATE
        store.items[_key(item)] = item
    return 200, {}


def _transact_write_items(request: dict[str, Any], store: _Store) -> Answer:
    puts = [entry["Put"]["Item"] for entry in request["TransactItems"] if "Put" in entry]
    with store.lock:
        taken = [_key(item) in store.items for item in puts]
        if any(taken):
            reasons = [
                {"Code": "ConditionalCheckFailed" if found else "None"} for found in taken
            ] + [{"Code": "None"}] * (len(request["TransactItems"]) - len(puts))
            return 400, {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled",
                "CancellationReasons": reasons,
            }
        for item in puts:
            store.items[_key(item)] = item
    return 200, {}


def _get_item(request: dict[str, Any], store: _Store) -> Answer:
    item = store.items.get(_key(request["Key"]))
    return 200, {} if item is None else {"Item": item}


def _update_item(request: dict[str, Any], store: _Store) -> Answer:
    return 200, {}


_OPERATIONS: dict[str, Callable[[dict[str, Any], _Store], Answer]] = {
    "AmazonSQS.SendMessage": _send_message,
    "AmazonSQS.SendMessageBatch": _send_message_batch,
    "DynamoDB_20120810.PutItem": _put_item,
    "DynamoDB_20120810.TransactWriteItems": _transact_write_items,
    "DynamoDB_20120810.GetItem": _get_item,
    "DynamoDB_20120810.UpdateItem": _update_item,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # or the body waits ~40 ms behind its headers' ACK
    server: _Server

    def do_POST(self) -> None:
        """Answer one JSON-protocol call, chosen by its `X-Amz-Target` header."""
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        operation = _OPERATIONS.get(target)
        if operation is None:
            status, answer = 400, {"__type": "UnknownOperationException", "message": "stub"}
        else:
            with self.server.store.lock:
                self.server.store.calls[target.rpartition(".")[2]] += 1
            status, answer = operation(request, self.server.store)
        self._answer(status, answer)

    def do_GET(self) -> None:
        """`GET /calls`: how many calls of each operation the stub has answered."""
        with self.server.store.lock:
            calls = dict(self.server.store.calls)
        if self.path == "/calls":
            self._answer(200, calls)
        else:
            self._answer(404, {"message": "the stub answers GET /calls only"})

    def _answer(self, status: int, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: a line per request would cost more than the answer."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Handler)
        self.store = _Store()


def stub_environment(endpoint: str) -> dict[str, str]:
    """Variables that point the app (and bare boto3) at the stub, with fake credentials."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "QUEUE_NAME": QUEUE_NAME,
        "QUEUE_URL": f"{endpoint}/{_ACCOUNT}/{QUEUE_NAME}",
        "TABLE_NAME": TABLE_NAME,
        "WORK_SECONDS_PER_CHAR": "0",
        "CRASH_PROBABILITY": "0",
    }


def stub_calls(endpoint: str) -> Counter[str]:
    """Calls of each operation (`SendMessage`, `SendMessageBatch`, ...) the stub has answered."""
    connection = http.client.HTTPConnection(urlsplit(endpoint).netloc, timeout=10)
    try:
        connection.request("GET", "/calls")
        counted: dict[str, int] = json.load(connection.getresponse())
    finally:
        connection.close()
    return Counter(counted)


@contextmanager
def stub_process_environment(endpoint: str) -> Iterator[None]:
    """Run this process's app code against the stub, then restore the environment it had."""
    saved = dict(os.environ)
    os.environ.update(stub_environment(endpoint))
    process_state.forget_all()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        process_state.forget_all()


@contextmanager
def running_stub() -> Iterator[str]:
    """Start the stub in its own process and yield its endpoint URL; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.stub"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = (process.stdout.readline() if process.stdout else "").strip()
        if not port.isdigit():
            raise RuntimeError(f"the AWS stub did not start (it printed {port!r})")
        yield f"http://{HOST}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    """Serve on a free port, printing it first, until terminated."""
    server = _Server()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
