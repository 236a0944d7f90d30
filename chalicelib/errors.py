"""HTTP errors Chalice lacks, raised where the problem is found and answered in one place.

Chalice turns any `ChaliceViewError` into `{"Code": <class name>, "Message": <text>}` with the
class's status code, the same shape as its own 400, 404 and 415 answers.
"""

import contextlib
import logging
from collections.abc import Iterator

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
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        logger.error("%s refused the call: %s", what, code)
        raise ServiceUnavailableError(refused.format(code=code)) from None
    except BotoCoreError as error:
        logger.error("%s unreachable: %s", what, type(error).__name__)
        raise ServiceUnavailableError(unreachable) from None
