"""Serve the app's HTTP API as the deployed API Gateway answers it, with the stage's environment.

Chalice's local server plays API Gateway without the gateway responses the deployed API has:
it answers an unknown route with `403 {"message": "Missing Authentication Token"}`, a missing
key with `401 {"message": "Unauthorized"}`, a key the authorizer denied with a bare 403, and
writes a plain access line per request. Here the same server answers those as the deployed
API's gateway responses do (`chalicelib.errors.GATEWAY_REFUSALS`), refuses a malformed
`Content-Length` with a JSON 400 instead of dropping the connection, and writes one `http`
event line per request. An authorizer that fails answers its own error, where API Gateway
would answer the `AUTHORIZER_FAILURE` response: locally the cause (a missing region, say) is
what a developer needs to see.

Run as `python -m devstack.api --stage dev --port 8000`; the caller (the orchestrator in
`devstack.__main__`) has already set the environment from `devstack.stage.local_environment`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Chalice, ChaliceViewError
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaContext,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
    RouteMatcher,
    ThreadedHTTPServer,
)

from chalicelib.errors import GATEWAY_REFUSALS, REASON_KEY
from chalicelib.telemetry import elapsed_ms, emit

EventType = dict[str, Any]
logger = logging.getLogger(__name__)


class Refusal(LocalGatewayException):
    """An answer the gateway gives without running a view: a status and a JSON body."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__({"Content-Type": "application/json"}, body.encode())
        self.CODE = status_code


def gateway_refusal(response_type: str, **values: str) -> Refusal:
    """The deployed API's gateway response of `response_type`, for this request's `values`."""
    refusal = GATEWAY_REFUSALS[response_type]
    return Refusal(refusal.status_code, refusal.body(values))


def _view_error(error: ChaliceViewError) -> Refusal:
    body = json.dumps({"Code": type(error).__name__, "Message": str(error)})
    return Refusal(error.STATUS_CODE, body)


class Authorizer(LocalGatewayAuthorizer):
    """Chalice's local authorizer, answering a missing or denied key as the deployed API does."""

    def authorize(
        self, raw_path: str, lambda_event: EventType, lambda_context: LambdaContext
    ) -> tuple[EventType, LambdaContext]:
        """The event with the authorizer's context, or the refusal the deployed API answers."""
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except NotAuthorizedError:
            raise gateway_refusal("UNAUTHORIZED") from None
        except ChaliceViewError as error:
            raise _view_error(error) from None

    def _check_can_invoke_view_function(self, arn: str, auth_result: dict[str, Any]) -> bool:
        if super()._check_can_invoke_view_function(arn, auth_result):
            return True
        reason = (auth_result.get("context") or {}).get(REASON_KEY, "")
        raise gateway_refusal("ACCESS_DENIED", reason=reason)


class Gateway(LocalGateway):
    """Chalice's local API Gateway with the deployed API's gateway responses."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._app = app_object
        self._routes = RouteMatcher(list(app_object.routes))
        self._authorizer = Authorizer(app_object)

    def route_of(self, method: str, path: str) -> str | None:
        """The route template serving `method` on `path`, or None where API Gateway has none."""
        try:
            route = str(self._routes.match_route(path).route)
        except ValueError:
            return None
        return route if method in self._app.routes[route] else None

    def handle_request(
        self, method: str, path: str, headers: dict[str, Any], body: bytes | None
    ) -> dict[str, Any]:
        """The app's answer, or the gateway's own where no route serves the method and path."""
        if self.route_of(method, path) is None:
            raise gateway_refusal(
                "MISSING_AUTHENTICATION_TOKEN", method=method, path=urlsplit(path).path
            )
        return dict(super().handle_request(method, path, headers, body))


class RequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with our gateway and one event line per request."""

    local_gateway: Gateway

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config
    ) -> None:
        self.local_gateway = Gateway(app_object, config)
        self._started = time.perf_counter()
        self._status = 0
        # Chalice's own __init__ would make its plain gateway; the base class serves the request.
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        raw = self.headers.get("content-length", "0").strip()
        if not (raw.isascii() and raw.isdigit()):
            body = json.dumps(
                {
                    "Code": "BadRequestError",
                    "Message": f"Content-Length must be a whole number of bytes, got {raw[:40]!r}",
                }
            )
            self.close_connection = True  # the body's end is unknown: nothing after it can be read
            raise Refusal(400, body)
        headers, payload = super()._parse_payload()
        return dict(headers), payload

    def _generic_handle(self) -> None:
        self._started, self._status = time.perf_counter(), 0
        try:
            super()._generic_handle()
        except Refusal as refusal:  # raised before Chalice's handling began
            self._send_error_response(refusal)
        self._write_event()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _write_event(self) -> None:
        route = self.local_gateway.route_of(self.command, self.path)
        where = {"route": route} if route else {"path": urlsplit(self.path).path}
        status = self._status
        line = {"method": self.command, **where, "status": status}
        line["duration_ms"] = elapsed_ms(self._started)
        emit("http", line, "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO")

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Keep the status for the event line instead of writing an access line."""
        self._status = int(code)

    def log_message(self, format: str, *args: Any) -> None:
        """A protocol error before any route (a malformed request line) as an event line."""
        emit("http", {"outcome": "malformed", "message": format % args}, "WARNING")


class Server(ThreadedHTTPServer):
    """Chalice's threaded local server; a request that breaks the handler is one event line."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log the failure (traceback included) through the event-line formatter."""
        logger.exception("the local API server failed a request")


def serve(app_object: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """A server for the app on `host:port`, bound and ready for `serve_forever`."""
    # As `chalice local` does: the app keeps its current request per thread of the server.
    if not isinstance(app_object, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, type(app_object))
        app_object.__class__ = CustomLocalChalice
    return LocalDevServer(
        app_object, config, host, port, handler_cls=RequestHandler, server_cls=Server
    )


def main() -> None:
    """Start the local API server and serve until interrupted."""
    from chalice.deploy.validate import validate_routes

    from infra.stage import PROJECT_DIR, chalice_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    os.chdir(PROJECT_DIR)
    config = chalice_config(args.stage, "api_handler")
    app = config.chalice_app
    validate_routes(app.routes)
    server = serve(app, config, args.host, args.port)
    try:
        server.server.serve_forever()  # not `server.serve_forever()`: it prints a plain line
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()


if __name__ == "__main__":
    main()
