"""Feed the ingest queue to the worker as Lambda's SQS event source mapping would.

Run as `python -m devstack.consume --stage dev` in an environment from
`devstack.stage.local_environment`: batch size, batching window, concurrency and the function's
timeout are the stage's own, and the handler is the very `worker` function that Lambda runs.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType


def main() -> None:
    """Consume until SIGINT or SIGTERM, then let in-flight batches finish."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args()
    import app  # its import makes stdlib logging write event lines (`configure_logging`)
    from chalicelib.clients import client
    from chalicelib.config import get_settings
    from chalicelib.queue import queue_url
    from devstack.consumer import ConsumerSettings, QueueConsumer
    from infra.stage import chalice_config

    settings = get_settings()
    function = chalice_config(args.stage, "worker")
    consumer = QueueConsumer(
        client("sqs"),
        ConsumerSettings(
            queue_url=queue_url(),
            batch_size=settings.worker_batch_size,
            batching_window_seconds=settings.worker_batching_window_seconds,
            concurrency=settings.worker_max_concurrency,
            # The stage's lambda_timeout, which a test holds equal to WORKER_TIMEOUT_SECONDS,
            # unless the shell overrides that: the queue's visibility timeout follows it too.
            function_timeout_seconds=settings.worker_timeout_seconds,
            function_name="worker",
            memory_size_mb=function.lambda_memory_size,
            poll_wait_seconds=0,  # the emulator serves one request at a time: never hold it
        ),
        handler=app.worker,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    consumer.start()
    while not stopping.wait(0.5):
        pass
    consumer.stop()


if __name__ == "__main__":
    main()
