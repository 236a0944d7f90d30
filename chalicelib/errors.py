"""HTTP errors Chalice lacks, raised where the problem is found and answered in one place.

Chalice turns any `ChaliceViewError` into `{"Code": <class name>, "Message": <text>}` with the
class's status code, the same shape as its own 400, 404 and 415 answers. API Gateway's own
refusals (no route, no key, a key the authorizer denied) never reach a view: `GATEWAY_REFUSALS`
declares them in the same shape, for the gateway responses of the deployed API and for the
local server to answer alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from chalice.app import ChaliceViewError, Response

logger = logging.getLogger(__name__)


class PayloadTooLargeError(ChaliceViewError):
    """The log is valid but larger than the pipeline can carry or process."""

    STATUS_CODE = 413


class UnsupportedMediaTypeError(ChaliceViewError):
    """The body's content type or charset is not one the route reads."""

    STATUS_CODE = 415


class ServiceUnavailableError(ChaliceViewError):
    """The queue did not acknowledge the log: the client should retry with the same log_id."""

    STATUS_CODE = 503


class ConfigurationError(ChaliceViewError):
    """The server lacks a setting it needs: no retry can succeed until an operator sets it."""

    STATUS_CODE = 500


@dataclass(frozen=True)
class GatewayRefusal:
    """An answer API Gateway gives before any view runs, in our `{"Code", "Message"}` shape.

    `message` may name `{method}`, `{path}` and `{reason}`: the request's method, its path and
    the authorizer's reason for refusing the key (`REASON_KEY` in the authorizer's context).
    """

    response_type: str  # API Gateway's name for the gateway response
    status_code: int
    code: str
    message: str

    def body(self, values: Mapping[str, str]) -> str:
        """The JSON body with `values` in the message's placeholders."""
        return json.dumps({"Code": self.code, "Message": self.message.format_map(values)})


#: Where the authorizer's context carries why it refused a key.
REASON_KEY: Final = "rejection"
KEY_REQUIRED: Final = "an API key is required: send Authorization: Bearer <key>"
NO_ROUTE: Final = "no route matches {method} {path}: check the method and the path"
KEY_NOT_CHECKED: Final = "the API key could not be checked: retry later"
#: By API Gateway's response type. A method the API lacks on a path it serves is no route
#: too: API Gateway answers both as a missing token, which reads like a bad key.
GATEWAY_REFUSALS: Final = {
    refusal.response_type: refusal
    for refusal in (
        GatewayRefusal("UNAUTHORIZED", 401, "UnauthorizedError", KEY_REQUIRED),
        GatewayRefusal("ACCESS_DENIED", 401, "UnauthorizedError", "{reason}"),
        GatewayRefusal("MISSING_AUTHENTICATION_TOKEN", 404, "NotFoundError", NO_ROUTE),
        # With an `Authorization` header, API Gateway reads a request for no route as a badly
        # signed IAM call; no route of this API uses IAM, so only a missing route gets here.
        GatewayRefusal("INVALID_SIGNATURE", 404, "NotFoundError", NO_ROUTE),
        # An authorizer that raises: API Gateway names it one or the other, by how it failed.
        GatewayRefusal("AUTHORIZER_FAILURE", 503, "ServiceUnavailableError", KEY_NOT_CHECKED),
        GatewayRefusal(
            "AUTHORIZER_CONFIGURATION_ERROR", 503, "ServiceUnavailableError", KEY_NOT_CHECKED
        ),
    )
}
#: What each placeholder is in an API Gateway response template.
GATEWAY_VARIABLES: Final = {
    "method": "$context.httpMethod",
    "path": "$context.path",
    "reason": f"$context.authorizer.{REASON_KEY}",
}

# botocore's errors for a process that could never reach AWS, whatever it retried.
_MISSING_SETTING: Final = {
    "NoRegionError": "no AWS region is configured: set AWS_DEFAULT_REGION",
    "NoCredentialsError": "no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
}


class TooManyLogsError(ChaliceViewError):
    """The tenant is over a limit of its plan; `Retry-After` says when it resets.

    Chalice answers view errors without headers, so the route answers this one itself with
    `response()`.
    """

    STATUS_CODE = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def response(self) -> Response:
        """The 429 answer: the usual error body, and `Retry-After` in seconds."""
        body = {"Code": type(self).__name__, "Message": str(self)}
        headers: dict[str, str | list[str]] = {"Retry-After": str(self.retry_after_seconds)}
        return Response(body=body, status_code=self.STATUS_CODE, headers=headers)


@contextlib.contextmanager
def unavailable_on_aws_failure(what: str, refused: str, unreachable: str) -> Iterator[None]:
    """Answer any AWS failure inside the block with a 503 the client can retry.

    `refused` is the message when AWS answered with an error (`{code}` stands for its code),
    `unreachable` when it did not answer at all; `what` names the resource in the log line.
    A process without a region or credentials gets a 500 naming the missing setting instead:
    retrying could never help.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        logger.error("%s refused the call: %s", what, code)
        raise ServiceUnavailableError(refused.format(code=code)) from None
    except BotoCoreError as error:
        missing = _MISSING_SETTING.get(type(error).__name__)
        if missing is not None:
            logger.error("%s cannot be called: %s", what, missing)
            raise ConfigurationError(f"the server is misconfigured: {missing}") from None
        logger.error("%s unreachable: %s", what, type(error).__name__)
        raise ServiceUnavailableError(unreachable) from None
