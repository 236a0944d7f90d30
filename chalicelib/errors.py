"""HTTP errors Chalice lacks, raised where the problem is found and answered in one place.

Chalice turns any `ChaliceViewError` into `{"Code": <class name>, "Message": <text>}` with the
class's status code, the same shape as its own 400, 404 and 415 answers.
"""

import contextlib
import logging
from collections.abc import Iterator

from chalice.app import ChaliceViewError

logger = logging.getLogger(__name__)

#: What a request without an API key is told, by API Gateway on AWS and by the local server.
MISSING_KEY_MESSAGE = "an API key is required: send Authorization: Bearer <key>"
#: What a request for a path or method the API does not have is told, on AWS and locally.
NO_ROUTE_MESSAGE = "no route matches this method and path"


class PayloadTooLargeError(ChaliceViewError):
    """The log is valid but larger than the pipeline can carry or process."""

    STATUS_CODE = 413


class UnsupportedMediaTypeError(ChaliceViewError):
    """The body's content type or charset is not one the route reads."""

    STATUS_CODE = 415


class ServiceUnavailableError(ChaliceViewError):
    """The queue did not acknowledge the log: the client should retry with the same log_id."""

    STATUS_CODE = 503


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
