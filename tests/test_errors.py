"""Turning AWS failures into answers: a retry where one can help, the missing setting where not."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from chalice.app import ChaliceViewError

from chalicelib.errors import (
    ConfigurationError,
    ServiceUnavailableError,
    unavailable_on_aws_failure,
)


def answer_to(error: Exception) -> ChaliceViewError:
    with (
        pytest.raises((ConfigurationError, ServiceUnavailableError)) as raised,
        unavailable_on_aws_failure("the queue", "refused: {code}", "unreachable"),
    ):
        raise error
    return raised.value


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (NoRegionError(), "AWS_DEFAULT_REGION"),
        (NoCredentialsError(), "AWS_ACCESS_KEY_ID"),
    ],
)
def test_a_missing_setting_is_a_500_naming_it(error: Exception, named: str) -> None:
    answer = answer_to(error)
    assert isinstance(answer, ConfigurationError)
    assert answer.STATUS_CODE == 500
    assert named in str(answer)


def test_aws_refusing_or_not_answering_is_a_503_to_retry() -> None:
    refused = answer_to(ClientError({"Error": {"Code": "Throttling"}}, "SendMessage"))
    assert (type(refused), str(refused)) == (ServiceUnavailableError, "refused: Throttling")
    gone = answer_to(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert (type(gone), str(gone)) == (ServiceUnavailableError, "unreachable")
