"""The chaos soak, `make chaos`: load the local stack, break it on purpose, and count every log.

Starts the emulator with fault injection (`devstack.faults`), the API server and the queue
consumer as their own processes on free ports, puts one of each kind of poison message on the
queue, then posts the planned logs (`soak.load`) from many client threads while:

- the worker crashes on `CRASH_PROBABILITY` of its records (the app's own simulation);
- DynamoDB throttles some writes and loses the answer to others (the write happened, the
  worker sees a 500 and retries into its own conditional check);
- SQS loses the answer to some SendMessage and SendMessageBatch calls (the logs are queued,
  ingest answers 503 and the client posts them again), fails others, holds some answers past
  the client's patience (the client times out and sends again what was queued), refuses one
  entry inside some successful SendMessageBatch answers (ingest sends it once more, then
  answers 503 naming it), and fails some receives and deletes;
- the worker process is killed (SIGKILL) in the middle of its batches, and restarted;
- the consumer is restarted gracefully (SIGTERM, in-flight batches finish);
- the queue is unreachable at ingest for a moment: every SendMessage's and SendMessageBatch's
  connection is dropped, ingest answers 503, and clients retry with the same log_id, batches
  whole with the same body;
- for another moment SQS queues every message but loses every answer: ingest retries (queuing
  more copies), answers 503, and the client posts again a log that was in fact queued;
- for another, every SendMessageBatch refuses one entry and queues the others: a batch's 503
  lists which logs were queued, and the client sends the whole batch again after Retry-After.

The logs travel alone and in batches (NDJSON, JSON arrays, gzip and deflate, Idempotency-Key,
OTLP/HTTP protobuf exports), each batch resent whole, byte for byte, until settled.

When every client has its answer, it waits for the queue to empty (each message stored, or
moved to the dead-letter queue after `MAX_RECEIVE_COUNT` receives), reads the whole table and
the dead-letter queue, and reconciles them with what was accepted (`soak.reconcile`). It
prints the figures, writes them to `--report` if asked, and exits 1 if anything was lost,
doubled, misplaced or misredacted. Everything runs in bounded time: a time limit ends the wait
for the queue, and whatever is missing by then counts as lost. Meanwhile a progress line on
stderr (`SoakProgress`) shows the logs posted, then the logs stored against those accepted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.config import Settings, load_settings
from chalicelib.partitions import with_originals
from devstack.faults import FaultControl, FaultRule, Mode
from devstack.processes import free_port, stop, stop_all, wait_for_port
from devstack.resources import provision_stack
from devstack.stage import EMULATOR_HOST, emulator_client, local_environment
from devstack.status import (
    POLL_SECONDS,
    PipelineStatus,
    QueueDepths,
    StatusLine,
    draining_progress,
    posting_progress,
    queue_depth,
    read_depths,
    tally,
)
from infra.stage import PROJECT_DIR
from ops.redrive import inspect
from soak.load import (
    BatchSubmission,
    IngestClient,
    PlannedBatch,
    Post,
    Submission,
    plan,
    planned_logs,
)
from soak.poison import poison_bodies
from soak.reconcile import Figures, epoch_seconds, reconcile

#: What the soak changes in the stage's settings: little simulated work, so thousands of logs
#: fit in minutes; a 3 s worker timeout, so a crashed record is back in 18 s, not 6 minutes, with
#: 1 s of it kept for the write, which waits its turn in the one-request-at-a-time emulator;
#: the spec's crash rate; and ingest without keys, since the soak is about the pipeline.
CHAOS_ENVIRONMENT: Mapping[str, str] = {
    "WORK_SECONDS_PER_CHAR": "0.00002",
    "CRASH_PROBABILITY": "0.05",
    "WORKER_TIMEOUT_SECONDS": "3",
    "WORKER_TIME_MARGIN_SECONDS": "1",
    "WORKER_MAX_CONCURRENCY": "4",
    "INGEST_AUTH": "open",
}
#: Faults drawn at random all through the run, as (operation, mode, probability).
STEADY_FAULTS: tuple[FaultRule, ...] = (
    # The worker's write (a transaction with the erasure checks) and the erasures' puts.
    FaultRule("TransactWriteItems", "throttle", 0.05),
    FaultRule("TransactWriteItems", "lost", 0.02),
    FaultRule("PutItem", "throttle", 0.05),
    FaultRule("PutItem", "lost", 0.02),
    FaultRule("SendMessage", "lost", 0.01),
    FaultRule("SendMessage", "error", 0.01),
    FaultRule("SendMessage", "slow", 0.005),
    FaultRule("SendMessageBatch", "lost", 0.02),
    FaultRule("SendMessageBatch", "error", 0.02),
    FaultRule("SendMessageBatch", "slow", 0.02),
    FaultRule("SendMessageBatch", "partial", 0.05),
    FaultRule("ReceiveMessage", "error", 0.01),
    FaultRule("DeleteMessageBatch", "error", 0.02),
)
#: The operations ingest queues with: the outage windows strike both.
SEND_OPERATIONS = ("SendMessage", "SendMessageBatch")
#: The scheduled faults, by the share of planned logs posted when they strike.
SCHEDULE: tuple[tuple[float, str], ...] = (
    (0.15, "kill the worker"),
    (0.30, "queue unreachable at ingest"),
    (0.40, "queue answers lost at ingest"),
    (0.50, "restart the consumer"),
    (0.58, "batch entries refused at ingest"),
    (0.65, "queue unreachable at ingest"),
    (0.80, "kill the worker"),
)


@dataclass(frozen=True)
class Options:
    """How big and how long a soak is, and what it runs with."""

    logs: int = 3000
    tenants: int = 40
    clients: int = 12
    seed: int = 20261121
    stage: str = "dev"
    environment: Mapping[str, str] = field(default_factory=lambda: dict(CHAOS_ENVIRONMENT))
    window_seconds: float = 1.5
    time_limit_seconds: float = 900
    #: A client's patience with one request: past `devstack.faults.SLOW_SECONDS`' hold minus
    #: the answer's own time, it times out on a slow queue and sends the request again.
    client_timeout_seconds: float = 1.2
    steady_faults: tuple[FaultRule, ...] = STEADY_FAULTS
    log_dir: Path = PROJECT_DIR / "build" / "chaos"


@dataclass(frozen=True)
class Event:
    """One scheduled fault as it happened: when (seconds into the load) and what it found."""

    seconds: float
    name: str
    detail: str


@dataclass(frozen=True)
class Report:
    """Everything a soak found, for printing and for docs/reliability.md."""

    options: Options
    settings: Settings
    planned: tuple[Post, ...]
    batches: tuple[BatchSubmission, ...]
    poison_kinds: tuple[str, ...]
    figures: Figures
    injected: Mapping[str, int]
    crashes: int
    events: tuple[Event, ...]
    load_seconds: float
    deepest_queue: int
    drain_seconds: float
    drained: bool
    last_stored_after_seconds: float


class ChaosStack:
    """The emulator (with faults), the API server and the consumer, as child processes."""

    def __init__(self, options: Options) -> None:
        self._options = options
        self.emulator_port, self.api_port = free_port(), free_port()
        emulator_url = f"http://{EMULATOR_HOST}:{self.emulator_port}"
        shell = {**os.environ, **options.environment}
        self.api_env = local_environment(options.stage, "api_handler", emulator_url, shell)
        self.worker_env = local_environment(options.stage, "worker", emulator_url, shell)
        self.settings = load_settings(self.worker_env)
        self.faults = FaultControl(EMULATOR_HOST, self.emulator_port)
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._consumers = 0
        options.log_dir.mkdir(parents=True, exist_ok=True)
        for old_log in options.log_dir.glob("*.log"):  # a consumer log counts crashes
            old_log.unlink()

    def client(self, service: str) -> Any:
        """A boto3 client of the emulator."""
        return emulator_client(self.worker_env, service)

    def start(self) -> None:
        """Start the emulator, provision it, start the API server and a consumer."""
        emulator = self._spawn(
            "emulator",
            ["devstack.emulator", "--port", str(self.emulator_port), "--faults"],
            os.environ,
        )
        wait_for_port(self.emulator_port, emulator, "the emulator")
        self.resources = provision_stack(self.api_env, self.worker_env)
        self.sqs = self.client("sqs")
        api = self._spawn(
            "api",
            ["devstack.api", "--stage", self._options.stage, "--port", str(self.api_port)],
            self.api_env,
        )
        self.start_consumer()
        wait_for_port(self.api_port, api, "the API server")

    def start_consumer(self) -> None:
        """Start a fresh consumer process (a cold Lambda fleet), logging to its own file."""
        self._consumers += 1
        self._spawn(
            "consumer",
            ["devstack.consume", "--stage", self._options.stage],
            self.worker_env,
            log_name=f"consumer-{self._consumers}",
        )

    def kill_consumer(self) -> str:
        """SIGKILL the consumer mid-batch, as a Lambda instance dies; start another."""
        in_flight = self.in_flight()
        self._processes["consumer"].send_signal(signal.SIGKILL)
        self._processes["consumer"].wait()
        self.start_consumer()
        return f"SIGKILL with {in_flight} messages received and not yet deleted"

    def restart_consumer(self) -> str:
        """SIGTERM the consumer (it finishes its batches), then start another."""
        in_flight = self.in_flight()
        stop(self._processes["consumer"])
        self.start_consumer()
        return f"SIGTERM with {in_flight} messages in flight, then a fresh consumer"

    def in_flight(self) -> int:
        """Messages received from the ingest queue and neither deleted nor visible again."""
        return queue_depth(self.sqs, self.resources.queue_url)[1]

    def queued(self) -> int:
        """Messages on the ingest queue, waiting or in flight."""
        return sum(queue_depth(self.sqs, self.resources.queue_url))

    def depths(self) -> QueueDepths:
        """The ingest queue's depths and the dead-letter queue's."""
        return read_depths(self.sqs, self.resources.queue_url, self.resources.dead_letter_queue_url)

    def crashes(self) -> int:
        """Simulated crashes (`CRASH_PROBABILITY`) the workers logged, across every consumer.

        Each is a `record` event line with outcome `failed` and reason `simulated_crash`.
        """
        return tally(ConsumerLogs(self._options.log_dir).new_lines()).crashes

    def stop(self) -> None:
        """Stop everything, newest first."""
        order = ("emulator", "api", "consumer")
        stop_all([self._processes[name] for name in order if name in self._processes])

    def _spawn(
        self,
        name: str,
        module: list[str],
        environment: Mapping[str, str],
        log_name: str | None = None,
    ) -> subprocess.Popen[bytes]:
        log_path = self._options.log_dir / f"{log_name or name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", *module],
                env=dict(environment),
                cwd=PROJECT_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._processes[name] = process
        return process


class ConsumerLogs:
    """The consumers' log files as they grow: each `new_lines` returns the lines added since.

    Only whole lines count; a line still being written is read once its newline arrives.
    """

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._read: dict[Path, int] = {}

    def new_lines(self) -> list[str]:
        """The complete lines written to any consumer's log since the last call (all, first)."""
        lines: list[str] = []
        for path in sorted(self._log_dir.glob("consumer-*.log")):
            offset = self._read.get(path, 0)
            with path.open("rb") as log:
                log.seek(offset)
                added = log.read()
            whole = added[: added.rfind(b"\n") + 1]
            self._read[path] = offset + len(whole)
            lines += whole.decode("utf-8", errors="replace").splitlines()
        return lines


class SoakProgress:
    """The soak's progress line on stderr, redrawn every second from its own thread.

    While the clients post: logs posted of those planned. Once they have their answers
    (`draining`): logs stored, counted from the consumers' event lines, against those accepted,
    with both queues' depths. A bar on a terminal, a plain line every few seconds elsewhere.
    The depths it reads once a second also give the report its deepest queue.
    """

    def __init__(
        self,
        depths: Callable[[], QueueDepths],
        log_dir: Path,
        planned: int,
        posted: Callable[[], int],
    ) -> None:
        self._depths = depths
        self._logs = ConsumerLogs(log_dir)
        self._planned = planned
        self._posted = posted
        self._line = StatusLine(sys.stderr, live=sys.stderr.isatty())
        self._status = PipelineStatus()
        self.deepest_queue = 0  # messages on the ingest queue, waiting or in flight, at most
        self._started = time.monotonic()
        self._drain: tuple[int, float] | None = None  # logs accepted, when the drain began
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-progress", daemon=True)

    def __enter__(self) -> SoakProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join()
        self._draw()
        self._line.close()

    def draining(self, accepted: int) -> None:
        """Every client has its answer: from now on, show the drain of `accepted` logs."""
        self._drain = (accepted, time.monotonic())

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._draw()
            self._stopping.wait(POLL_SECONDS)

    def _draw(self) -> None:
        for line in self._logs.new_lines():
            self._status.observe(line)
        with contextlib.suppress(Exception):  # a failed read keeps the last depths shown
            self._status.depths = self._depths()
            self.deepest_queue = max(self.deepest_queue, self._status.depths.queued)
        now, drain = time.monotonic(), self._drain
        if drain is None:
            text = posting_progress(
                self._posted(), self._planned, self._status, now - self._started
            )
        else:
            text = draining_progress(self._status, drain[0], now - drain[1])
        self._line.show(text, now)


@contextlib.contextmanager
def running(options: Options) -> Iterator[ChaosStack]:
    """A started stack, stopped however the block ends."""
    stack = ChaosStack(options)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


class FaultSchedule:
    """Strikes the scheduled faults as the load passes their marks, from its own thread."""

    def __init__(self, stack: ChaosStack, total: int, options: Options) -> None:
        self._stack = stack
        self._total = total
        self._window = options.window_seconds
        self._steady = options.steady_faults
        self._seed = options.seed
        self._done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._pending = list(SCHEDULE)
        self.events: list[Event] = []
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-schedule", daemon=True)
        self._actions: dict[str, Callable[[], str]] = {
            "kill the worker": stack.kill_consumer,
            "restart the consumer": stack.restart_consumer,
            "queue unreachable at ingest": lambda: self._sqs_window(SEND_OPERATIONS, "drop"),
            "queue answers lost at ingest": lambda: self._sqs_window(SEND_OPERATIONS, "lost"),
            "batch entries refused at ingest": lambda: self._sqs_window(
                ("SendMessageBatch",), "partial", strikes=2
            ),
        }

    def __enter__(self) -> FaultSchedule:
        self._stack.faults.set_rules(self._steady, seed=self._seed)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finished.set()
        self._thread.join()

    def done(self, logs: int) -> None:
        """Count `logs` planned logs as posted."""
        with self._lock:
            self._done += logs

    @property
    def posted(self) -> int:
        """Planned logs posted so far."""
        with self._lock:
            return self._done

    def _run(self) -> None:
        """Strike each fault at its mark."""
        while not self._finished.wait(0.05):
            with self._lock:
                share = self._done / self._total
            if self._pending and share >= self._pending[0][0]:
                _, name = self._pending.pop(0)
                at = time.monotonic() - self._started
                self.events.append(Event(round(at, 1), name, self._actions[name]()))

    def _sqs_window(self, operations: tuple[str, ...], mode: Mode, strikes: int = 0) -> str:
        """Fail every call of `operations` with `mode` for a moment, then the steady faults.

        The moment is the window's length, or longer if need be (up to four times it) until
        the window has struck `strikes` calls: a short soak's few batches are then sure to meet
        it.
        """
        steady = [rule for rule in self._steady if rule.operation not in operations]
        window = [FaultRule(operation, mode, 1.0) for operation in operations]
        names = [rule.name for rule in window]
        before = self._stack.faults.injected()
        started = time.monotonic()
        self._stack.faults.set_rules([*steady, *window])
        time.sleep(self._window)
        while time.monotonic() - started < 4 * self._window:
            injected = self._stack.faults.injected()
            if sum(injected.get(n, 0) - before.get(n, 0) for n in names) >= strikes:
                break
            time.sleep(0.05)
        self._stack.faults.set_rules(self._steady)
        seconds = time.monotonic() - started
        what = {
            "drop": "connection dropped",
            "lost": "messages queued, answer lost (500)",
            "partial": "one entry refused inside a successful answer, the others queued",
        }
        calls = " and ".join(operations)
        return f"every {calls} call: {what.get(mode, mode)}, for {seconds:.1f} s"


def _post_all(
    client: IngestClient, planned: list[Post], clients: int, schedule: FaultSchedule
) -> tuple[list[Submission], list[BatchSubmission]]:
    """Post every planned log and batch from `clients` threads.

    A log's later text waits for the earlier 202. Returns every log's submissions, batched
    logs' included, and the batches' own.
    """

    def post(planned: Post) -> list[Submission] | BatchSubmission:
        if isinstance(planned, PlannedBatch):
            batch = client.submit_batch(planned)
            schedule.done(len(planned.logs))
            return batch
        submissions = []
        for text in planned.texts:
            submissions.append(client.submit(planned, text))
            if submissions[-1].status != 202:
                break
        schedule.done(1)
        return submissions

    pool = ThreadPoolExecutor(max_workers=clients, thread_name_prefix="client")
    try:
        futures = [pool.submit(post, one) for one in planned]
        submissions: list[Submission] = []
        batches: list[BatchSubmission] = []
        for future in futures:
            result = future.result()
            if isinstance(result, BatchSubmission):
                batches.append(result)
                submissions += result.submissions()
            else:
                submissions += result
        return submissions, batches
    except BaseException:
        client.stop()  # Ctrl-C: the clients stop at once, not after every planned log
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def _drain(stack: ChaosStack, deadline: float) -> bool:
    """Wait until the ingest queue is empty twice in a row; False if the deadline came first."""
    empty_polls = 0
    while time.monotonic() < deadline:
        empty_polls = empty_polls + 1 if stack.queued() == 0 else 0
        if empty_polls == 2:
            return True
        time.sleep(0.5)
    return False


def _accepted_logs(submissions: list[Submission]) -> int:
    """Distinct logs answered 202, as the reconciliation counts them: what the drain must store."""
    return len({(s.log.tenant_id, s.log.log_id) for s in submissions if s.status == 202})


def scan_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of `table`, read consistently, as plain strings and numbers."""
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [
        {name: int(value["N"]) if "N" in value else value["S"] for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """The stored logs, each with its original text (kept in an item of its own)."""
    return with_originals(scan_items(dynamodb, table))


def run(options: Options) -> Report:
    """Run one soak and return what it found."""
    started = time.monotonic()
    with running(options) as stack:
        settings = stack.settings
        planned = plan(settings, options.logs, options.tenants, options.seed)
        poison = poison_bodies(settings, tenant_id="poison")
        for body in poison.values():
            stack.sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody=body)
        deadline = started + options.time_limit_seconds
        client = IngestClient(
            EMULATOR_HOST, stack.api_port, deadline, options.client_timeout_seconds
        )
        load_started = time.time()
        logs = len(planned_logs(planned))
        with (
            FaultSchedule(stack, logs, options) as schedule,
            SoakProgress(stack.depths, options.log_dir, logs, lambda: schedule.posted) as progress,
        ):
            submissions, batches = _post_all(client, planned, options.clients, schedule)
            load_seconds = time.time() - load_started
            progress.draining(_accepted_logs(submissions))
            drained = _drain(stack, deadline)
        drain_seconds = time.time() - load_started - load_seconds
        stack.faults.set_rules([])
        items = _scan(stack.client("dynamodb"), settings.table_name)
        dead_letters = [
            letter.body for letter in inspect(stack.sqs, stack.resources.dead_letter_queue_url)
        ]
        injected, crashes = stack.faults.injected(), stack.crashes()
    figures = reconcile(submissions, items, dead_letters, list(poison.values()))
    last_stored = max(
        (epoch_seconds(str(item["processed_at"])) for item in items), default=load_started
    )
    return Report(
        options=options,
        settings=settings,
        planned=tuple(planned),
        batches=tuple(batches),
        poison_kinds=tuple(poison),
        figures=figures,
        injected=injected,
        crashes=crashes,
        events=tuple(schedule.events),
        load_seconds=load_seconds,
        deepest_queue=progress.deepest_queue,
        drain_seconds=drain_seconds,
        drained=drained,
        last_stored_after_seconds=last_stored - load_started,
    )
