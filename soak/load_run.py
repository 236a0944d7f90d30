"""`make load`: drive the local stack at a steady rate and mix of tenants, with the real work.

Starts the emulator, the API server and the queue consumer (as `make chaos` does, without
faults or crashes), with the worker doing its simulated work (`WORK_SECONDS_PER_CHAR`) at
prod's shape: one log a batch and `--concurrency` workers at once. Then, twice:

1. *baseline*: only the quiet tenants, each at its share of the rate;
2. *flood*: the same, plus the noisy tenants sending `factor` times a quiet tenant's rate,
   which makes up the whole `--rate`.

With `--overload-concurrency`, a third phase, *overload*, repeats the flood with fewer workers
than it needs: the backlog then grows, and only the fair queue keeps it off the quiet tenants.

Each phase posts open-loop (on schedule, whatever the answers) for `--seconds`, then waits for
the queue to drain. Per tenant it counts logs accepted (202), throttled (429) and stored, and
the dwell (ingest to stored, the worker's `lag_ms`) at p50 and p99; every second it samples
the queue's depth and the age of the oldest accepted log not yet stored. It *kept up* when
that age stayed bounded: in the last quarter of the load it never exceeded one log's work
plus `KEPT_UP_SLACK_SECONDS`. The quiet tenants' p99 dwell in the flood, against the baseline,
shows whether the fair queue keeps the noisy tenant's backlog off them.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from devstack.status import parse_event, queue_depth
from infra.stage import PROJECT_DIR
from soak.chaos import ChaosStack, ConsumerLogs, Options
from soak.reconcile import percentile

#: The oldest log may wait one log's work plus this long and the stage still keeps up.
KEPT_UP_SLACK_SECONDS: Final = 10.0
_SAMPLE_SECONDS: Final = 1.0
_WORDS: Final = ("request", "served", "user", "timeout", "cache", "retry", "payment", "ok")


@dataclass(frozen=True)
class LoadOptions:
    """What to send, how fast, and with how many workers."""

    rate_per_second: float = 2500 / 60
    chars: int = 100
    tenants: int = 20
    noisy_tenants: int = 1
    noisy_factor: float = 100
    seconds: float = 120
    concurrency: int = 250
    overload_concurrency: int = 0  # 0: no overload phase
    senders: int = 24
    seed: int = 20261129
    drain_limit_seconds: float = 180
    log_dir: Path = PROJECT_DIR / "build" / "load"


def parse_rate(text: str) -> float:
    """`2500/min`, `40/s` or a bare number a second, as logs a second."""
    number, _, unit = text.partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}.get(unit.strip().lower())
    if per is None:
        raise ValueError(f"RATE={text!r}: the unit must be /s, /min or /h")
    rate = float(number) / per
    if not rate > 0:
        raise ValueError(f"RATE={text!r} must be more than 0")
    return rate


def parse_noisy(text: str) -> tuple[int, float]:
    """`1x100`: one noisy tenant sending 100 times what each quiet one sends; `0x0`: none."""
    count, _, factor = text.lower().partition("x")
    try:
        return int(count), float(factor or 1)
    except ValueError:
        raise ValueError(f"NOISY={text!r} must read <tenants>x<factor>, e.g. 1x100") from None


@dataclass(frozen=True)
class Tenant:
    """One sending tenant and its rate in logs a second."""

    name: str
    rate: float
    noisy: bool


def tenant_mix(options: LoadOptions, with_noisy: bool) -> list[Tenant]:
    """The quiet tenants at their share of the rate, plus the noisy ones when `with_noisy`."""
    quiet_count = options.tenants - options.noisy_tenants
    shares = quiet_count + options.noisy_tenants * options.noisy_factor
    quiet_rate = options.rate_per_second / shares
    tenants = [Tenant(f"quiet-{n:02d}", quiet_rate, False) for n in range(1, quiet_count + 1)]
    if with_noisy:
        noisy_rate = quiet_rate * options.noisy_factor
        tenants += [
            Tenant(f"noisy-{n}", noisy_rate, True) for n in range(1, options.noisy_tenants + 1)
        ]
    return tenants


@dataclass(frozen=True)
class Post:
    """One log to post: when (seconds from the start), for whom, with which id and text."""

    due: float
    tenant: str
    log_id: str
    text: str


def schedule(tenants: Sequence[Tenant], seconds: float, chars: int, seed: int) -> list[Post]:
    """Poisson arrivals per tenant at its rate, merged in time order. Pure."""
    rng = random.Random(seed)
    posts = []
    for tenant in tenants:
        moment, number = rng.expovariate(tenant.rate), 0
        while moment < seconds:
            words = " ".join(rng.choice(_WORDS) for _ in range(chars // 4 + 1))
            posts.append(Post(moment, tenant.name, f"{tenant.name}-{number}", words[:chars]))
            number += 1
            moment += rng.expovariate(tenant.rate)
    return sorted(posts, key=lambda post: post.due)


@dataclass
class TenantFigures:
    """One tenant's counts and dwell times in one phase."""

    sent: int = 0
    accepted: int = 0
    throttled: int = 0
    failed: int = 0
    stored: int = 0
    dwell_ms: list[float] = field(default_factory=list)

    def dwell(self, share: float) -> float:
        """A percentile of the dwell time, in seconds."""
        return percentile(self.dwell_ms, share) / 1000


@dataclass(frozen=True)
class Sample:
    """The queue at one moment of a phase."""

    seconds: float
    waiting: int
    in_flight: int
    oldest_age: float


@dataclass
class Phase:
    """What one phase sent and found."""

    name: str
    tenants: list[Tenant]
    figures: dict[str, TenantFigures]
    samples: list[Sample]
    load_seconds: float = 0.0
    drain_seconds: float = 0.0
    drained: bool = False
    send_lag_p99: float = 0.0  # how late the senders were against the schedule, seconds
    age_bound: float = 0.0  # the oldest log's age that still counts as keeping up, seconds

    @property
    def kept_up(self) -> bool:
        """Whether the oldest waiting log's age stayed bounded in the last quarter of the load."""
        late = [
            s for s in self.samples if 0.75 * self.load_seconds <= s.seconds <= self.load_seconds
        ]
        return bool(late) and max(s.oldest_age for s in late) <= self.age_bound

    def quiet(self) -> TenantFigures:
        """Every quiet tenant's figures together."""
        quiet = TenantFigures()
        for tenant in self.tenants:
            if not tenant.noisy:
                figures = self.figures[tenant.name]
                quiet.sent += figures.sent
                quiet.accepted += figures.accepted
                quiet.throttled += figures.throttled
                quiet.stored += figures.stored
                quiet.dwell_ms += figures.dwell_ms
        return quiet


class _Ledger:
    """Thread-safe record of what was posted, answered and stored, by log."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent_at: dict[str, float] = {}
        self.pending: dict[str, float] = {}  # accepted, not yet stored: log id -> sent time
        self.statuses: dict[str, int] = {}
        self.late: list[float] = []

    def oldest_age(self, now: float) -> float:
        with self.lock:
            return now - min(self.pending.values()) if self.pending else 0.0


def _post(host: str, port: int, post: Post) -> int:
    """POST one log as text; the status, or 0 when the connection failed."""
    connection = http.client.HTTPConnection(host, port, timeout=15)
    headers = {"Content-Type": "text/plain", "X-Tenant-ID": post.tenant, "X-Log-ID": post.log_id}
    try:
        connection.request("POST", "/ingest", body=post.text.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def _send_all(stack: ChaosStack, posts: list[Post], ledger: _Ledger, senders: int) -> float:
    """Post every log on its schedule from `senders` threads; return the load's duration."""
    start = time.monotonic()
    cursor = iter(posts)
    take = threading.Lock()

    def sender() -> None:
        while True:
            with take:
                post = next(cursor, None)
            if post is None:
                return
            wait = start + post.due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.time()
            with ledger.lock:
                ledger.late.append(max(0.0, -wait))
                ledger.sent_at[post.log_id] = sent
                ledger.pending[post.log_id] = sent
            status = _post("127.0.0.1", stack.api_port, post)
            with ledger.lock:
                ledger.statuses[post.log_id] = status
                if status != 202:
                    ledger.pending.pop(post.log_id, None)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start


def _follow_stored(logs: ConsumerLogs, ledger: _Ledger, lags: dict[str, float]) -> None:
    """Read the workers' new `record` lines: each stored log leaves the pending set."""
    for line in logs.new_lines():
        event = parse_event(line)
        if not event or event.get("event") != "record" or event.get("outcome") != "stored":
            continue
        log_id = str(event.get("log_id"))
        lags[log_id] = float(event.get("lag_ms") or 0)
        with ledger.lock:
            ledger.pending.pop(log_id, None)


@contextmanager
def _sampling(
    stack: ChaosStack, logs: ConsumerLogs, ledger: _Ledger, lags: dict[str, float]
) -> Iterator[list[Sample]]:
    """Sample the queue and follow stored logs every second until the block ends."""
    samples: list[Sample] = []
    stopping = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stopping.wait(_SAMPLE_SECONDS):
            _follow_stored(logs, ledger, lags)
            waiting, in_flight = queue_depth(stack.sqs, stack.resources.queue_url)
            now = time.monotonic() - start
            samples.append(Sample(now, waiting, in_flight, ledger.oldest_age(time.time())))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stopping.set()
        thread.join()
        _follow_stored(logs, ledger, lags)


def run_phase(
    stack: ChaosStack, options: LoadOptions, name: str, with_noisy: bool, logs: ConsumerLogs
) -> Phase:
    """Post one phase's schedule, wait for the drain, and tally per tenant."""
    tenants = tenant_mix(options, with_noisy)
    seed = options.seed + (1 if with_noisy else 0)
    posts = [
        replace(p, log_id=f"{name}-{p.log_id}")
        for p in schedule(tenants, options.seconds, options.chars, seed)
    ]
    ledger, lags = _Ledger(), dict[str, float]()
    work = options.chars * stack.settings.work_seconds_per_char
    phase = Phase(
        name,
        tenants,
        {t.name: TenantFigures() for t in tenants},
        [],
        age_bound=work + KEPT_UP_SLACK_SECONDS,
    )
    with _sampling(stack, logs, ledger, lags) as samples:
        phase.load_seconds = _send_all(stack, posts, ledger, options.senders)
        drain_started = time.monotonic()
        deadline = drain_started + options.drain_limit_seconds
        while time.monotonic() < deadline and (
            ledger.pending or sum(queue_depth(stack.sqs, stack.resources.queue_url))
        ):
            time.sleep(0.5)
            _follow_stored(logs, ledger, lags)
        phase.drained = not ledger.pending
        phase.drain_seconds = time.monotonic() - drain_started
    phase.samples = samples
    phase.send_lag_p99 = percentile(ledger.late, 0.99)
    for post in posts:
        figures = phase.figures[post.tenant]
        figures.sent += 1
        status = ledger.statuses.get(post.log_id, 0)
        figures.accepted += status == 202
        figures.throttled += status == 429
        figures.failed += status not in (202, 429)
        if post.log_id in lags:
            figures.stored += 1
            figures.dwell_ms.append(lags[post.log_id])
    return phase


@dataclass(frozen=True)
class LoadReport:
    """Both phases, and what the run was."""

    options: LoadOptions
    baseline: Phase
    flood: Phase
    work_seconds_per_char: float
    overload: Phase | None = None

    @property
    def phases(self) -> list[Phase]:
        """Every phase that ran, in order."""
        return [self.baseline, self.flood, *([self.overload] if self.overload else [])]


def environment(options: LoadOptions) -> dict[str, str]:
    """The stack's settings for a load run: prod's shape, the real work, no crashes."""
    return {
        "WORK_SECONDS_PER_CHAR": "0.05",
        "CRASH_PROBABILITY": "0",
        "WORKER_BATCH_SIZE": "1",
        "WORKER_BATCHING_WINDOW_SECONDS": "0",
        "WORKER_MAX_CONCURRENCY": str(options.concurrency),
        "INGEST_AUTH": "open",
        "METRICS_BY_TENANT": "false",
    }


def run(options: LoadOptions) -> LoadReport:
    """Start the stack, run the baseline and the flood, stop the stack."""
    chaos_options = Options(environment=environment(options), log_dir=options.log_dir)
    stack = ChaosStack(chaos_options)
    try:
        stack.start()
        logs = ConsumerLogs(options.log_dir)
        baseline = run_phase(stack, options, "baseline", False, logs)
        flood = run_phase(stack, options, "flood", True, logs)
        overload = None
        if options.overload_concurrency:
            stack.worker_env["WORKER_MAX_CONCURRENCY"] = str(options.overload_concurrency)
            stack.restart_consumer()  # a fleet capped lower, as a smaller MaximumConcurrency
            overload = run_phase(stack, options, "overload", True, logs)
    finally:
        stack.stop()
    work = stack.settings.work_seconds_per_char
    return LoadReport(options, baseline, flood, work, overload)


def by_tenant_lines(phase: Phase) -> Iterator[str]:
    """One line a tenant: sent, accepted, throttled, stored, dwell p50 and p99."""
    for tenant in phase.tenants:
        f = phase.figures[tenant.name]
        yield (
            f"{tenant.name:10} sent {f.sent:5} accepted {f.accepted:5} throttled {f.throttled:4} "
            f"stored {f.stored:5} dwell p50 {f.dwell(0.5):6.1f} s p99 {f.dwell(0.99):6.1f} s"
        )


def json_figures(report: LoadReport) -> str:
    """The figures as JSON, for build/load/figures.json."""
    phases = {}
    for phase in report.phases:
        phases[phase.name] = {
            "kept_up": phase.kept_up,
            "drained": phase.drained,
            "tenants": {
                name: {
                    "sent": f.sent,
                    "accepted": f.accepted,
                    "throttled": f.throttled,
                    "stored": f.stored,
                    "dwell_p50_s": f.dwell(0.5),
                    "dwell_p99_s": f.dwell(0.99),
                }
                for name, f in phase.figures.items()
            },
            "samples": [vars(s) for s in phase.samples],
        }
    return json.dumps(phases, indent=1, default=str)
