"""The erasure soak, `make erasure-soak`: erase a tenant in the middle of a flood of its logs.

Runs the chaos soak's stack and faults (`soak.chaos`: the emulator with steady faults on the
worker's writes and the queue, the worker killed and restarted, the queue unreachable or losing
answers at ingest, simulated crashes and redeliveries) while two tenants post their planned
logs. When half of them are posted, the operator's erasure (`ops.erase.erase_tenant`) erases
the first tenant, retried until it completes, as an operator would rerun it. After the queue
drains, the table must hold none of the erased tenant's logs or originals received before the
erasure (nothing resurrected), every log of it accepted after the erasure (nothing erased that
was not meant to be), and every accepted log of the other tenant (stored, or dead-lettered).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.message import utc_timestamp
from chalicelib.partitions import original_partition, with_originals
from ops.erase import Erased, Stores, erase_tenant
from ops.redrive import inspect
from soak.chaos import FaultSchedule, Options, _drain, _post_all, running, scan_items
from soak.load import IngestClient, PlannedLog, Post, Submission, plan

#: The share of planned logs posted when the erasure starts.
ERASE_AT = 0.5
DEFAULTS = Options(logs=600, tenants=2, time_limit_seconds=600)


@dataclass(frozen=True)
class ErasureFigures:
    """What the soak found; `passed` says whether erasure held under the faults."""

    erased_tenant: str
    erased_at: str
    erase_attempts: int
    erased: dict[str, int]
    accepted_before: int
    accepted_after: int
    resurrected: int
    originals_resurrected: int
    after_missing: int
    other_tenant_accepted: int
    other_tenant_missing: int
    drained: bool

    @property
    def passed(self) -> bool:
        """Nothing erased came back, and nothing was erased or lost that should not have been."""
        return self.drained and not (
            self.resurrected
            or self.originals_resurrected
            or self.after_missing
            or self.other_tenant_missing
        )


class Eraser:
    """Erases a tenant once the load passes its mark, retrying until the erasure completes."""

    def __init__(
        self, stores: Stores, tenant_id: str, schedule: FaultSchedule, total: int, deadline: float
    ) -> None:
        """Erase `tenant_id` when `schedule` has posted `ERASE_AT` of `total` logs.

        Retries stop at `deadline` (`time.monotonic()`), leaving `erased_at` None.
        """
        self._stores, self._tenant, self._schedule, self._total = stores, tenant_id, schedule, total
        self._deadline = deadline
        self.attempts = 0
        self.erased_at: datetime | None = None
        self.erased = Erased(tenant_id)
        self._thread = threading.Thread(target=self._run, name="eraser", daemon=True)

    def __enter__(self) -> Eraser:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join()

    def _run(self) -> None:
        while self._schedule.posted < ERASE_AT * self._total:
            time.sleep(0.05)
        while time.monotonic() < self._deadline:
            self.attempts += 1
            now = datetime.now(UTC)
            try:
                run = erase_tenant(self._stores, self._tenant, keys=False, now=now)
            except Exception:  # a fault: the operator runs it again
                time.sleep(0.2)
                continue
            self.erased_at = now  # the last run's marker is the one that stands
            for kind in ("logs", "originals", "archive_objects"):
                setattr(self.erased, kind, getattr(self.erased, kind) + getattr(run, kind))
            return


def _keys(submissions: list[Submission], tenant_id: str, after: float | None) -> set[str]:
    """Log ids of `tenant_id` answered 202; with `after`, only those first posted after it."""
    return {
        s.log.log_id
        for s in submissions
        if s.log.tenant_id == tenant_id and s.status == 202 and (after is None or s.started > after)
    }


def figures(
    submissions: list[Submission],
    items: list[dict[str, Any]],
    dead_letters: list[str],
    eraser: Eraser,
    tenants: tuple[str, str],
    drained: bool,
) -> ErasureFigures:
    """Reconcile the table with what was posted and when the tenant was erased."""
    victim, other = tenants
    if eraser.erased_at is None:
        raise RuntimeError(f"the erasure of {victim!r} never completed before the time limit")
    erased_at = utc_timestamp(eraser.erased_at)
    logs = with_originals(items)
    stored = {(str(i["tenant_id"]), str(i["log_id"])) for i in logs}
    dead = {(json.loads(body)["tenant_id"], json.loads(body)["log_id"]) for body in dead_letters}
    before = [i for i in logs if i["tenant_id"] == victim and str(i["received_at"]) < erased_at]
    originals = [
        i
        for i in items
        if i["tenant_id"] == original_partition(victim) and str(i["received_at"]) < erased_at
    ]
    # Posted after the marker: the API stamps received_at later still, so these must stay.
    after = _keys(submissions, victim, eraser.erased_at.timestamp())
    others = _keys(submissions, other, None)
    return ErasureFigures(
        erased_tenant=victim,
        erased_at=erased_at,
        erase_attempts=eraser.attempts,
        erased=asdict(eraser.erased),
        accepted_before=len(_keys(submissions, victim, None) - after),
        accepted_after=len(after),
        resurrected=len(before),
        originals_resurrected=len(originals),
        after_missing=len({(victim, k) for k in after} - stored - dead),
        other_tenant_accepted=len(others),
        other_tenant_missing=len({(other, k) for k in others} - stored - dead),
        drained=drained,
    )


def run(options: Options) -> ErasureFigures:
    """Run one erasure soak and return what it found."""
    started = time.monotonic()
    with running(options) as stack:
        settings = stack.settings
        everything = plan(settings, options.logs, 2, options.seed)
        # Single logs only, each expected stored: batches and 413s are the chaos soak's business.
        planned: list[Post] = [
            log for log in everything if isinstance(log, PlannedLog) and log.expect == 202
        ]
        victim, other = sorted({log.tenant_id for log in planned if isinstance(log, PlannedLog)})
        deadline = started + options.time_limit_seconds
        client = IngestClient("127.0.0.1", stack.api_port, deadline)
        stores = Stores(stack.client("dynamodb"), stack.client("s3"), settings)
        with FaultSchedule(stack, len(planned), options) as schedule:
            with Eraser(stores, victim, schedule, len(planned), deadline) as eraser:
                submissions, _ = _post_all(client, planned, options.clients, schedule)
            drained = _drain(stack, deadline)
        stack.faults.set_rules([])
        items = scan_items(stack.client("dynamodb"), settings.table_name)
        dead_letters = [
            letter.body for letter in inspect(stack.sqs, stack.resources.dead_letter_queue_url)
        ]
    return figures(submissions, items, dead_letters, eraser, (victim, other), drained)


def main() -> None:
    """Run the soak from the command line; exit 1 unless erasure held."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logs", type=int, default=DEFAULTS.logs)
    parser.add_argument("--clients", type=int, default=DEFAULTS.clients)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--time-limit", type=float, default=DEFAULTS.time_limit_seconds)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the children too
    options = replace(
        DEFAULTS,
        logs=args.logs,
        clients=args.clients,
        seed=args.seed,
        time_limit_seconds=args.time_limit,
        log_dir=DEFAULTS.log_dir.parent / "erasure",
    )
    found = run(options)
    print(json.dumps({**asdict(found), "passed": found.passed}, indent=2))
    if not found.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
