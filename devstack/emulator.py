"""The AWS emulator: moto's server app, answering one request at a time.

moto's SQS backend is not thread-safe: `delete_message` rebuilds a queue's message list without
the lock `add_message` takes, so under moto's threaded server a `SendMessage` racing a delete can
vanish, and two concurrent receives can return the same message. A local stack that loses a log
proves nothing, so every request here holds one lock; the consumer short-polls, so no request
holds it for long. Standard queues deliver fairly between message groups (tenants), as SQS
fair queues do (`deliver_fairly`). Run as `python -m devstack.emulator --port 5000`;
`--faults` adds the fault injection of `devstack.faults`, for chaos runs only.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app so that it handles one request at a time, start to finish."""
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return one_at_a_time


def use_a_cheap_sqs_clock() -> None:
    """Give moto's SQS a clock that costs nanoseconds instead of microseconds.

    moto decides whether a message is visible by reading the clock once per message in the
    queue, on every receive and every attribute read, through a helper that builds three
    datetimes. With a thousand logs waiting, one receive took seconds under that lock, and the
    emulator fell ever further behind a flood of logs. `time.time()` tells the same time.
    """
    import time

    from moto.sqs import models

    vars(models).update(unix_time=time.time, unix_time_millis=lambda: time.time() * 1000)


def fair_order(
    visible: Sequence[T], group_of: Callable[[T], object], in_flight: Counter[object]
) -> list[T]:
    """Visible messages in the order a fair queue would deliver them. Pure.

    A group (a tenant) with many messages in flight is the noisy neighbour: each message is
    ranked by its group's in-flight count plus the messages of its group ahead of it, so the
    queue takes turns between groups, quiet ones first, and keeps each group's own order.
    """
    ahead: Counter[object] = Counter()
    ranked = []
    for position, message in enumerate(visible):
        group = group_of(message)
        ranked.append((in_flight[group] + ahead[group], position))
        ahead[group] += 1
    return [visible[position] for _, position in sorted(ranked)]


def _tenant(message: Any) -> object:
    """A message's tenant for fairness: its group, else itself (as SQS counts it)."""
    return message.group_id if message.group_id is not None else message.id


def deliver_fairly() -> None:
    """Make moto's standard queues fair queues: receives take turns between message groups.

    SQS (2025) turns a standard queue into a fair queue when messages carry a `MessageGroupId`:
    a group holding a large share of the in-flight messages no longer delays the others. moto
    5.2 keeps the group id on standard queues but delivers in arrival order; every receive reads
    the visible messages from `Queue.messages`, so ordering them here is the whole change.
    FIFO queues keep their own rules.
    """
    from moto.sqs import models

    arrival = models.Queue.messages

    def fair(queue: Any) -> list[Any]:
        visible = arrival.fget(queue)  # type: ignore[attr-defined]
        if queue.fifo_queue:
            return list(visible)
        in_flight = Counter(_tenant(m) for m in queue.pending_messages if not m.visible)
        return fair_order(visible, _tenant, in_flight)

    models.Queue.messages = property(fair)  # type: ignore[method-assign,assignment]


def use_cheap_dynamodb_transactions() -> None:
    """Undo a failed DynamoDB transaction by what it wrote, not by a copy of every table it names.

    Before each `TransactWriteItems`, moto deep-copies each table the transaction names, every
    item and every stream record ever written, to put back if the transaction fails. The worker
    stores each log in a transaction: with a few thousand logs stored, each write held the
    emulator's one lock for a third of a second, and reads queued behind a flood timed out.
    A transaction of puts, deletes and condition checks replaces or removes whole items, so the
    tables' item maps copied one level deep, and their streams' lengths, undo it just as well.
    One that updates items in place still gets moto's copy.
    """
    import copy
    import types
    from collections import defaultdict

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    no_table_copies = types.SimpleNamespace(deepcopy=deepcopy_but_tables, copy=copy.copy)
    moto_transaction = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if any("Update" in entry for entry in transact_items):
            return moto_transaction(self, transact_items)
        names = {op.get("TableName") for entry in transact_items for op in entry.values()}
        saved = [
            (
                table,
                defaultdict(dict, {key: dict(items) for key, items in table.items.items()})
                if table.range_key_attr
                else dict(table.items),
                len(table.stream_shard.items) if table.stream_shard else 0,
            )
            for table in (self.tables[name] for name in names if name in self.tables)
        ]
        vars(models)["copy"] = no_table_copies  # requests run one at a time (`serialized`)
        try:
            return moto_transaction(self, transact_items)
        except Exception:
            for table, items, streamed in saved:
                table.items = items
                if table.stream_shard:
                    del table.stream_shard.items[streamed:]
            raise
        finally:
            vars(models)["copy"] = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def main() -> None:
    """Serve the emulator on the loopback address until interrupted."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from devstack.faults import FaultInjector

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--faults", action="store_true", help="answer the fault control endpoint of devstack.faults"
    )
    args = parser.parse_args()
    use_a_cheap_sqs_clock()
    deliver_fairly()
    use_cheap_dynamodb_transactions()
    app = serialized(DomainDispatcherApplication(create_backend_app))
    if args.faults:
        app = FaultInjector(app)
    with contextlib.suppress(KeyboardInterrupt):
        run_simple(
            args.host,
            args.port,
            app,
            threaded=True,
            request_handler=MotoRequestHandler,
        )


if __name__ == "__main__":
    main()
