"""The AWS emulator: moto's server app, answering one request at a time.

moto's SQS backend is not thread-safe: `delete_message` rebuilds a queue's message list without
the lock `add_message` takes, so under moto's threaded server a `SendMessage` racing a delete can
vanish, and two concurrent receives can return the same message. A local stack that loses a log
proves nothing, so every request here holds one lock; the consumer short-polls, so no request
holds it for long. Run as `python -m devstack.emulator --port 5000`.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app so that it handles one request at a time, start to finish."""
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return one_at_a_time


def main() -> None:
    """Serve the emulator on the loopback address until interrupted."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    with contextlib.suppress(KeyboardInterrupt):
        run_simple(
            args.host,
            args.port,
            serialized(app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )


if __name__ == "__main__":
    main()
