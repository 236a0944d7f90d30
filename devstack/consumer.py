"""Lambda's SQS event source mapping, run locally: poll a queue and feed batches to a handler.

Nothing runs an event source mapping on this machine, so `QueueConsumer` does its job. It
long-polls the queue, builds the event Lambda would build, invokes the handler the way Lambda
invokes a Python function (fresh context per invocation, counting down from the function's
timeout), and then honours the response as Lambda does with
`FunctionResponseTypes: ["ReportBatchItemFailures"]`:

- `None`, `{}`, or no `batchItemFailures`: the whole batch succeeded and is deleted;
- `batchItemFailures` naming some of the batch's messages: all others are deleted, the named
  ones stay on the queue untouched and come back after the visibility timeout (and the queue's
  redrive policy moves them to the dead-letter queue after `maxReceiveCount` receives);
- an exception, a timeout, or a malformed response: the whole batch failed and nothing is
  deleted.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalice.local import LambdaContext

from chalicelib.telemetry import elapsed_ms, emit

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

_MAX_BATCH_SIZE = 10  # ReceiveMessage's and DeleteMessageBatch's limit
_MAX_WAIT_SECONDS = 20  # ReceiveMessage's WaitTimeSeconds limit
_BACKOFF_FIRST_SECONDS = 0.1
_BACKOFF_CAP_SECONDS = 2.0
_IDLE_SECONDS = 0.1  # pause between empty short polls, so poll_wait_seconds=0 does not spin
_WINDOW_TICK_SECONDS = 0.1  # short polls in a batching window's last second are this far apart
_LOCK_TICK_SECONDS = 0.2  # how often a thread waiting to poll checks whether it should stop


@dataclass(frozen=True)
class ConsumerSettings:
    """How to poll and invoke: the event source mapping's and the function's settings."""

    queue_url: str
    batch_size: int = 10
    batching_window_seconds: float = 0
    concurrency: int = 2
    function_timeout_seconds: float = 60
    function_name: str = "worker"
    memory_size_mb: int = 128
    poll_wait_seconds: int = 1

    def __post_init__(self) -> None:
        """Reject settings that SQS or Lambda would reject."""
        if not 1 <= self.batch_size <= _MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1..{_MAX_BATCH_SIZE}, got {self.batch_size}")
        if self.batching_window_seconds < 0:
            raise ValueError("batching_window_seconds must not be negative")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.function_timeout_seconds <= 0:
            raise ValueError("function_timeout_seconds must be positive")
        if not 0 <= self.poll_wait_seconds <= _MAX_WAIT_SECONDS:
            raise ValueError(f"poll_wait_seconds must be 0..{_MAX_WAIT_SECONDS}")


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one batch; `received` is always `deleted` plus `failed`, in order.

    `failed` holds every message left on the queue: those the handler reported, all of them when
    the invocation failed, and any whose deletion SQS refused. `handler_error` is the repr of the
    handler's exception, or what was wrong with its response, or None when the invocation
    succeeded.
    """

    received: tuple[str, ...]
    deleted: tuple[str, ...]
    failed: tuple[str, ...]
    handler_error: str | None


@dataclass(frozen=True)
class ConsumerStats:
    """Running totals since the consumer was created."""

    batches: int = 0
    records_received: int = 0
    records_deleted: int = 0
    records_failed: int = 0
    handler_errors: int = 0
    poll_errors: int = 0


class InvalidBatchResponseError(ValueError):
    """The handler's response is one Lambda treats as a failure of the whole batch."""


def lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """One SQS message attribute in the shape Lambda's event uses (binary data in base64)."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues", [])]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def _base64(data: bytes | str) -> str:
    """Binary attribute data as Lambda's JSON event carries it."""
    if isinstance(data, str):  # already text: a client that does not decode base64
        return data
    return base64.b64encode(data).decode("ascii")


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage message as a record of Lambda's SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: str(value) for name, value in message.get("Attributes", {}).items()},
        "messageAttributes": {
            name: lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def reported_failures(response: Any, batch_ids: Iterable[str]) -> frozenset[str]:
    """The message ids a partial-batch response hands back, read exactly as Lambda reads them.

    Raises InvalidBatchResponseError for the responses Lambda treats as a failed batch.
    """
    try:  # Lambda only ever sees the response as JSON
        response = json.loads(json.dumps(response))
    except (TypeError, ValueError) as error:
        raise InvalidBatchResponseError(f"response is not JSON-serializable: {error}") from error
    if response is None:
        return frozenset()
    if not isinstance(response, dict):
        raise InvalidBatchResponseError(
            f"response must be an object or null, not {type(response).__name__}"
        )
    failures = response.get("batchItemFailures")
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        raise InvalidBatchResponseError(
            f"batchItemFailures must be a list, not {type(failures).__name__}"
        )
    known = frozenset(batch_ids)
    return frozenset(_item_identifier(entry, known) for entry in failures)


def _item_identifier(entry: Any, known: frozenset[str]) -> str:
    """The message id one `batchItemFailures` entry names, which must be one of the batch's."""
    identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
    if not isinstance(identifier, str) or not identifier:
        raise InvalidBatchResponseError(
            f"batchItemFailures entry without a non-empty string itemIdentifier: {entry!r}"
        )
    if identifier not in known:
        raise InvalidBatchResponseError(f"itemIdentifier {identifier!r} is not in the batch")
    return identifier


def _report(outcome: BatchOutcome, duration_ms: float) -> None:
    """One `consumer_batch` line: what SQS was told about a batch, as Lambda's poller would."""
    if not outcome.failed:
        verdict = "deleted"
    elif outcome.handler_error is not None:
        verdict = "failed"
    else:
        verdict = "partial"
    fields = {
        "outcome": verdict,
        "received": len(outcome.received),
        "deleted": len(outcome.deleted),
        "failed": len(outcome.failed),
        "handler_error": outcome.handler_error,
        "duration_ms": duration_ms,
    }
    emit("consumer_batch", fields, "INFO" if verdict == "deleted" else "WARNING")


class QueueConsumer:
    """Poll one queue and invoke a handler with its batches, as Lambda's event source mapping.

    `sqs` is a boto3 SQS client; the queue's ARN is fetched with it on first use. `start()` runs
    `settings.concurrency` daemon threads, each polling, invoking and deleting in a loop;
    `run_once()` does one such cycle in the caller's thread.

    Handlers run concurrently, but the consumer makes one ReceiveMessage or DeleteMessageBatch
    call at a time. moto's SQS backend is not thread-safe: two concurrent receives can both
    deliver the same message, and a delete racing a receive can undo the receive's move of a
    message to the dead-letter queue. Serialising our own calls costs only latency (a thread may
    wait out another's long poll), never a batch.
    """

    def __init__(self, sqs: Any, settings: ConsumerSettings, handler: Handler) -> None:
        self._sqs = sqs
        self._settings = settings
        self._handler = handler
        self._lock = threading.Lock()
        self._stats = ConsumerStats()
        self._queue_arn: str | None = None
        self._sqs_calls = threading.Lock()  # one receive or delete at a time: see the class doc
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def settings(self) -> ConsumerSettings:
        """The settings this consumer polls and invokes with."""
        return self._settings

    @property
    def stats(self) -> ConsumerStats:
        """A consistent snapshot of the running totals."""
        with self._lock:
            return self._stats

    @property
    def running(self) -> bool:
        """Whether any polling thread is still alive."""
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        """Start `concurrency` daemon threads that poll, invoke and delete until stopped."""
        if self.running:
            raise RuntimeError("the consumer is already running")
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"sqs-consumer-{number}", daemon=True)
            for number in range(self._settings.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop polling and wait up to `timeout` seconds for in-flight batches to finish."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            logger.warning("consumer threads still busy after %.1f s: %s", timeout, stuck)
            return
        self._threads = []
        self._stopping.clear()  # run_once's batching windows need not end early any more

    def run_once(self) -> BatchOutcome | None:
        """Poll, invoke and delete once; None when the poll brought nothing (or failed)."""
        try:
            return self._cycle()
        except Exception:
            logger.exception("polling %s failed", self._settings.queue_url)
            self._count(poll_errors=1)
            return None

    def _loop(self) -> None:
        """One polling thread: cycle until stopped, backing off while polls fail."""
        failures = 0
        while not self._stopping.is_set():
            try:
                outcome = self._cycle()
            except Exception as error:
                failures += 1
                self._count(poll_errors=1)
                delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
                logger.warning(
                    "polling %s failed (%r); retrying in %.1f s",
                    self._settings.queue_url,
                    error,
                    delay,
                )
                self._stopping.wait(delay)
                continue
            failures = 0
            if outcome is None and self._settings.poll_wait_seconds == 0:
                self._stopping.wait(_IDLE_SECONDS)

    def _cycle(self) -> BatchOutcome | None:
        """Receive, invoke and delete once; raise if polling fails."""
        queue_arn = self._arn()  # before receiving, so a failure here strands no message
        messages = self._receive_batch()
        if not messages:
            return None
        started = time.perf_counter()
        ids = tuple(message["MessageId"] for message in messages)
        region = self._region(queue_arn)
        records = [lambda_record(message, queue_arn, region) for message in messages]
        failed, handler_error = self._invoke(records, ids)
        to_delete = [message for message in messages if message["MessageId"] not in failed]
        deleted = self._delete(to_delete)
        outcome = BatchOutcome(
            received=ids,
            deleted=tuple(id_ for id_ in ids if id_ in deleted),
            failed=tuple(id_ for id_ in ids if id_ not in deleted),
            handler_error=handler_error,
        )
        self._count(
            batches=1,
            records_received=len(outcome.received),
            records_deleted=len(outcome.deleted),
            records_failed=len(outcome.failed),
            handler_errors=int(handler_error is not None),
        )
        _report(outcome, elapsed_ms(started))
        return outcome

    def _arn(self) -> str:
        """The queue's ARN, fetched once."""
        if self._queue_arn is None:
            response = self._sqs.get_queue_attributes(
                QueueUrl=self._settings.queue_url, AttributeNames=["QueueArn"]
            )
            self._queue_arn = str(response["Attributes"]["QueueArn"])
        return self._queue_arn

    def _region(self, queue_arn: str) -> str:
        """The client's region, else the one in the queue's ARN."""
        region = getattr(getattr(self._sqs, "meta", None), "region_name", None)
        if isinstance(region, str) and region:
            return region
        parts = queue_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        """One ReceiveMessage call asking for all attributes; none if the consumer is stopping."""
        while not self._sqs_calls.acquire(timeout=_LOCK_TICK_SECONDS):
            if self._stopping.is_set():
                return []
        try:
            if self._stopping.is_set():
                return []
            response = self._sqs.receive_message(
                QueueUrl=self._settings.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        finally:
            self._sqs_calls.release()
        return list(response.get("Messages", []))

    def _receive_batch(self) -> list[dict[str, Any]]:
        """A batch: one long poll, then more receives while a batching window is open.

        The window opens when the first message arrives and closes when the batch is full, the
        window has elapsed, the consumer is stopping, or a receive fails (the messages already
        received are still processed). A message received twice in one window (possible with a
        visibility timeout of 0) appears once, with its latest receipt handle.
        """
        settings = self._settings
        batch = {
            m["MessageId"]: m
            for m in self._receive(settings.batch_size, settings.poll_wait_seconds)
        }
        if not batch or settings.batching_window_seconds <= 0:
            return list(batch.values())
        deadline = time.monotonic() + settings.batching_window_seconds
        while len(batch) < settings.batch_size and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait_seconds = min(settings.poll_wait_seconds, int(remaining))
            try:
                received = self._receive(settings.batch_size - len(batch), wait_seconds)
            except Exception:
                logger.exception("receiving during the batching window failed; invoking now")
                break
            batch.update((message["MessageId"], message) for message in received)
            if not received and wait_seconds == 0:
                self._stopping.wait(min(remaining, _WINDOW_TICK_SECONDS))
        return list(batch.values())

    def _invoke(
        self, records: list[dict[str, Any]], ids: Sequence[str]
    ) -> tuple[frozenset[str], str | None]:
        """Call the handler as Lambda would; return the ids to keep and any error."""
        settings = self._settings
        timeout_ms = int(settings.function_timeout_seconds * 1000)
        context = LambdaContext(
            settings.function_name, memory_size=settings.memory_size_mb, max_runtime_ms=timeout_ms
        )
        everything = frozenset(ids)
        try:
            response = self._handler({"Records": records}, context)
        except Exception as error:
            logger.exception("%s failed on a batch of %d", settings.function_name, len(ids))
            return everything, repr(error)
        if context.get_remaining_time_in_millis() < 0:
            problem = f"Task timed out after {settings.function_timeout_seconds:.2f} seconds"
            logger.error(
                "%s: %s; the whole batch returns to the queue", settings.function_name, problem
            )
            return everything, problem
        try:
            return reported_failures(response, ids), None
        except InvalidBatchResponseError as error:
            logger.error("%s returned an invalid batch response: %s", settings.function_name, error)
            return everything, str(error)

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> frozenset[str]:
        """Delete messages in chunks of ten; return the ids SQS confirmed deleted."""
        deleted: set[str] = set()
        for start in range(0, len(messages), _MAX_BATCH_SIZE):
            chunk = messages[start : start + _MAX_BATCH_SIZE]
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(chunk)
            ]
            try:
                with self._sqs_calls:  # never gives up: the batch's outcome must be settled
                    response = self._sqs.delete_message_batch(
                        QueueUrl=self._settings.queue_url, Entries=entries
                    )
            except Exception:
                logger.exception(
                    "deleting %d messages failed; they will be redelivered", len(chunk)
                )
                continue
            for success in response.get("Successful", []):
                deleted.add(chunk[int(success["Id"])]["MessageId"])
            for failure in response.get("Failed", []):
                logger.warning(
                    "deleting %s failed (%s: %s); it will be redelivered",
                    chunk[int(failure["Id"])]["MessageId"],
                    failure.get("Code"),
                    failure.get("Message"),
                )
        return frozenset(deleted)

    def _count(self, **increments: int) -> None:
        """Add to the running totals."""
        with self._lock:
            current = self._stats
            self._stats = replace(
                current, **{name: getattr(current, name) + n for name, n in increments.items()}
            )
