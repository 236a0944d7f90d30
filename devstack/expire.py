"""Expire and archive locally: DynamoDB's TTL process and the archiver's stream trigger.

Run as `python -m devstack.expire --stage dev` in an environment from
`devstack.stage.local_environment` (`make dev` starts it). Every `--sweep-seconds` it deletes
the logs table's expired items (`devstack.ttl`); meanwhile it reads the table's stream and feeds
it to the very `archiver` function Lambda runs (`devstack.stream_consumer`), which archives the
TTL removals to the emulator's S3.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from types import FrameType

#: How often the stream is read when it had nothing new.
IDLE_SECONDS = 0.5


def main() -> None:
    """Sweep and consume until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--sweep-seconds", type=float, default=5.0)
    args = parser.parse_args()
    import app  # its import makes stdlib logging write event lines (`configure_logging`)
    from chalicelib.archive import BATCH_SIZE
    from chalicelib.clients import client
    from chalicelib.config import get_settings
    from chalicelib.telemetry import describe_error, emit
    from devstack.stream_consumer import StreamConsumer
    from devstack.ttl import SweptKeys, TtlSweeper

    settings = get_settings()
    dynamodb = client("dynamodb")
    swept = SweptKeys()
    sweeper = TtlSweeper(dynamodb, settings.table_name, swept)
    streams = client("dynamodbstreams")
    consumer = StreamConsumer(streams, settings.table_name, app.archiver, swept, BATCH_SIZE)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    next_sweep = 0.0
    while not stopping.is_set():
        try:
            if time.monotonic() >= next_sweep:
                expired = sweeper.sweep(int(time.time()))
                if expired:
                    emit("ttl_sweep", {"outcome": "deleted", "items": expired})
                next_sweep = time.monotonic() + args.sweep_seconds
            handed = consumer.run_once()
        except Exception as error:  # the emulator is restarting, or the archiver failed
            emit("stream_batch", {"outcome": "failed", **describe_error(error)}, "WARNING")
            handed = 0
        if not handed:
            stopping.wait(IDLE_SECONDS)


if __name__ == "__main__":
    main()
