"""HTTP errors Chalice lacks, raised where the problem is found and answered in one place.

Chalice turns any `ChaliceViewError` into `{"Code": <class name>, "Message": <text>}` with the
class's status code, the same shape as its own 400, 404 and 415 answers.
"""

from chalice.app import ChaliceViewError


class PayloadTooLargeError(ChaliceViewError):
    """The log is valid but larger than the pipeline can carry or process."""

    STATUS_CODE = 413


class UnsupportedMediaTypeError(ChaliceViewError):
    """The body's content type or charset is not one the route reads."""

    STATUS_CODE = 415


class ServiceUnavailableError(ChaliceViewError):
    """The queue did not acknowledge the log: the client should retry with the same log_id."""

    STATUS_CODE = 503
