"""AWS clients, created once per process on first use.

boto3 is imported here and only when a client is first needed, so a function that never
touches a service never pays for it at cold start. The endpoint comes from the standard
`AWS_ENDPOINT_URL` variable: the local stack points it at the emulator, AWS leaves it unset.
"""

from __future__ import annotations

import functools
from typing import Any

# Two attempts of at most 1 s to connect and 2 s to read, plus backoff, end well inside the
# ingest function's 10 s timeout: a sick endpoint becomes our 503, never API Gateway's 504.
# The worker's caller retries anyway: SQS redelivers a record whose write failed.
_TIMEOUTS = {"connect_timeout": 1, "read_timeout": 2}
_RETRIES = {"max_attempts": 2, "mode": "standard"}


@functools.cache
def client(service_name: str) -> Any:
    """Return this process's client for `service_name`, creating it on first use."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service_name, config=Config(retries=_RETRIES, **_TIMEOUTS)
    )
