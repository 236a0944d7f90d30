"""What the local stack is doing, in one line: `make dev`'s status line and `make chaos`'s bar.

The pipeline's processes write one JSON line per event (`chalicelib.telemetry`). `PipelineStatus`
counts the ones a person watching a flood cares about (logs accepted and rejected at ingest,
stored, duplicates, failures and simulated crashes, and the recent lag from ingest to the table),
holds the queues' depths beside them, and renders it all as one line. It is pure: feed it lines
and depths, read a string. `StatusLine` keeps that line below the rest of a stream's output:
redrawn in place on a terminal, printed now and then as a plain line anywhere else (a pipe, a CI
log), so no control character ever lands in a file. `PipelineWatch` is `make dev`'s thin I/O
around both: it relays the children's output, polls the queues once a second, and refreshes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Final, TextIO

#: Erases the terminal's current line and puts the cursor at its start.
ERASE: Final = "\r\x1b[K"
#: Off a terminal, a status line is printed at most this often, and only when it changed.
PLAIN_SECONDS: Final = 5.0
#: The emulator serves one request at a time: the queues are read this often, no more.
POLL_SECONDS: Final = 1.0
#: The lag shown is the median of this many most recently stored logs.
LAG_WINDOW: Final = 25
BAR_WIDTH: Final = 24
_JOIN_SECONDS = 2.0  # how long closing waits for a stopped child's last lines


def parse_event(line: str) -> dict[str, Any] | None:
    """`line` as an event (a JSON object with an `event` name), or None for any other output.

    A process also prints tracebacks, request lines and the odd half-written line; those are
    not events, and they must never stop the counting.
    """
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("event"), str):
        return value
    return None


@dataclass(frozen=True)
class QueueDepths:
    """The ingest queue's messages (waiting, and received but not yet deleted) and the DLQ's."""

    waiting: int
    in_flight: int
    dead_letter: int

    @property
    def queued(self) -> int:
        """Messages still on the ingest queue, waiting or in flight."""
        return self.waiting + self.in_flight


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """A queue's (waiting, in flight) messages, from one GetQueueAttributes call."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def read_depths(sqs: Any, queue_url: str, dead_letter_queue_url: str) -> QueueDepths:
    """The depths of the ingest queue and of its dead-letter queue: two calls to the emulator."""
    waiting, in_flight = queue_depth(sqs, queue_url)
    return QueueDepths(waiting, in_flight, sum(queue_depth(sqs, dead_letter_queue_url)))


@dataclass
class PipelineStatus:
    """What the event lines seen so far add up to, and the queues' depths last read.

    `stored` counts distinct logs (tenant and log id) that a worker wrote or found already
    written: a `duplicate` for a log never seen `stored` means its write happened and the
    answer was lost (the chaos soak does that on purpose), so the log is in the table all the
    same, while a log stored and then reposted counts once. Either way it is what the table holds.
    """

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    failed: int = 0
    crashes: int = 0
    depths: QueueDepths | None = None
    stored_logs: set[tuple[str, str]] = field(default_factory=set)
    recent_lags_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LAG_WINDOW))

    @property
    def stored(self) -> int:
        """Logs in the table, as far as the workers' lines tell."""
        return len(self.stored_logs)

    @property
    def lag_seconds(self) -> float | None:
        """The median time from ingest to the table of the last few stored logs, or None."""
        if not self.recent_lags_ms:
            return None
        return statistics.median(self.recent_lags_ms) / 1000

    def observe(self, line: str) -> None:
        """Count one line of a process's output; anything but an event line is skipped."""
        event = parse_event(line)
        if event is None:
            return
        if event["event"] == "ingest":
            self._ingest(event)
        elif event["event"] == "record":
            self._record(event)

    def _ingest(self, event: dict[str, Any]) -> None:
        if "logs" in event:  # a batch's line: it counts its logs
            self.accepted += int(event.get("accepted") or 0)
            self.rejected += int(event.get("rejected") or 0)
        elif event.get("outcome") == "accepted":
            self.accepted += 1
        elif event.get("outcome") == "rejected":
            self.rejected += 1

    def _record(self, event: dict[str, Any]) -> None:
        outcome = event.get("outcome")
        if outcome in ("stored", "duplicate"):
            self.stored_logs.add((str(event.get("tenant_id")), str(event.get("log_id"))))
        if outcome == "duplicate":
            self.duplicates += 1
        elif outcome == "stored" and isinstance(event.get("lag_ms"), int | float):
            self.recent_lags_ms.append(float(event["lag_ms"]))
        elif outcome == "failed":
            self.failed += 1
            if event.get("reason") == "simulated_crash":
                self.crashes += 1

    def render(self) -> str:
        """The status as `make dev` shows it, most telling figures first."""
        depths = self.depths
        waiting, in_flight, dead = (
            (_count(depths.waiting), _count(depths.in_flight), _count(depths.dead_letter))
            if depths
            else ("?", "?", "?")
        )
        lag = "-" if self.lag_seconds is None else f"{self.lag_seconds:.1f} s"
        return (
            f"pipeline: queue {waiting} waiting, {in_flight} in flight | dead-letter {dead}"
            f" | stored {_count(self.stored)} | lag {lag}"
            f" | accepted {_count(self.accepted)}, rejected {_count(self.rejected)}"
            f" | failed {_count(self.failed)} (crashed {_count(self.crashes)}),"
            f" duplicates {_count(self.duplicates)}"
        )


def tally(lines: Iterable[str]) -> PipelineStatus:
    """The status that `lines` of output add up to, e.g. a consumer's whole log file."""
    status = PipelineStatus()
    for line in lines:
        status.observe(line)
    return status


def _count(number: int) -> str:
    return f"{number:,}"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[######------]`: the share of `total` that is `done`; full only when all of it is."""
    share = min(1.0, done / total) if total > 0 else 1.0
    filled = int(share * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {share:4.0%}"


def posting_progress(posted: int, planned: int, status: PipelineStatus, seconds: float) -> str:
    """The soak's line while its clients post: posted of planned, the queue and the table."""
    queued = _count(status.depths.queued) if status.depths else "?"
    return (
        f"posting  {progress_bar(posted, planned)} {_count(posted)}/{_count(planned)} logs"
        f" | queue {queued} | stored {_count(status.stored)} | {seconds:.0f} s"
    )


def draining_progress(status: PipelineStatus, accepted: int, seconds: float) -> str:
    """The soak's line while the queue drains: stored of accepted, the queues, time since."""
    depths = status.depths
    queue = f"{_count(depths.waiting)} ({_count(depths.in_flight)} in flight)" if depths else "?"
    dead = _count(depths.dead_letter) if depths else "?"
    return (
        f"draining {progress_bar(status.stored, accepted)}"
        f" stored {_count(status.stored)}/{_count(accepted)}"
        f" | queue {queue} | dead-letter {dead} | {seconds:.0f} s"
    )


def _terminal_columns() -> int:
    return shutil.get_terminal_size().columns


class StatusLine:
    """One status line kept below a stream's other output.

    On a terminal (`live`) it is redrawn in place: erased before each line of other output and
    drawn again after it, and cut to the terminal's width so it never wraps. Anywhere else it
    is printed as a line of its own, only when it changed and at most every `plain_seconds`.
    Thread-safe: the lines of several children and the refreshes interleave whole.
    """

    def __init__(
        self,
        stream: TextIO,
        live: bool,
        plain_seconds: float = PLAIN_SECONDS,
        columns: Callable[[], int] = _terminal_columns,
    ) -> None:
        self._stream = stream
        self._live = live
        self._plain_seconds = plain_seconds
        self._columns = columns
        self._lock = threading.Lock()
        self._drawn = ""  # live: the line under the output now
        self._latest = ""  # plain: the last status shown, printed or not
        self._printed = ""
        self._printed_at = float("-inf")

    def write(self, text: str) -> None:
        """Write other output (a line, or several), keeping the status line below it."""
        with self._lock:
            if self._drawn:
                self._stream.write(ERASE)
            self._stream.write(text if text.endswith("\n") else text + "\n")
            self._stream.write(self._drawn)
            self._stream.flush()

    def show(self, status: str, now: float) -> None:
        """Make `status` the status line: redraw it, or print it if it changed and is due."""
        with self._lock:
            if self._live:
                fitted = status[: max(1, self._columns() - 1)]
                if fitted == self._drawn:
                    return
                self._drawn = fitted
                self._stream.write(ERASE + fitted)
            else:
                self._latest = status
                if status == self._printed or now - self._printed_at < self._plain_seconds:
                    return
                self._print_latest(now)
            self._stream.flush()

    def close(self) -> None:
        """Leave the last status as an ordinary line, and draw no more."""
        with self._lock:
            if self._drawn:
                self._stream.write(f"{ERASE}{self._drawn}\n")
                self._drawn = ""
            elif self._latest != self._printed:
                self._print_latest(time.monotonic())
            self._stream.flush()

    def _print_latest(self, now: float) -> None:
        self._stream.write(self._latest + "\n")
        self._printed, self._printed_at = self._latest, now


class PipelineWatch:
    """`make dev`'s view of the pipeline: relays, counts, polls and refreshes its status line.

    Each child's output is read by a thread of its own, counted, and written through the
    status line; another thread reads the queues' depths once a second. All are daemons and
    stop with the stream or at `close`, so none keeps the process alive after Ctrl-C.
    """

    def __init__(self, line: StatusLine) -> None:
        self._line = line
        self._status = PipelineStatus()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._relays: list[threading.Thread] = []
        self._refreshed = False

    def __enter__(self) -> PipelineWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def relay(self, stream: IO[bytes]) -> None:
        """Relay and count a child's output (`stream`, its stdout pipe) until it ends."""
        thread = threading.Thread(target=self._relay, args=(stream,), name="relay", daemon=True)
        self._relays.append(thread)
        thread.start()

    def write(self, text: str) -> None:
        """Print text of our own (the banner) above the status line."""
        self._line.write(text)

    def poll_depths(self, read: Callable[[], QueueDepths]) -> None:
        """Read the queues' depths with `read` now, then every `POLL_SECONDS` until `close`."""
        self._read_depths(read)
        threading.Thread(target=self._poll, args=(read,), name="depths", daemon=True).start()

    def refresh(self) -> None:
        """Show the status as it is now."""
        with self._lock:
            text = self._status.render()
        self._refreshed = True
        self._line.show(text, time.monotonic())

    def close(self) -> None:
        """Stop polling, relay what the stopped children still said, leave the last status."""
        self._stopping.set()
        for thread in self._relays:
            thread.join(_JOIN_SECONDS)
        if self._refreshed:  # a stack that never got ready has no status worth leaving
            self.refresh()
        self._line.close()

    def _relay(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._lock:
                self._status.observe(line)
            self._line.write(line)

    def _poll(self, read: Callable[[], QueueDepths]) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            self._read_depths(read)

    def _read_depths(self, read: Callable[[], QueueDepths]) -> None:
        # The emulator stopping, or too busy to answer: the status keeps the last depths read.
        with contextlib.suppress(Exception):
            depths = read()
            with self._lock:
                self._status.depths = depths
