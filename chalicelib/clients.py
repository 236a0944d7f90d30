"""AWS clients, created once per process on first use.

boto3 is imported here and only when a client is first needed, so a function that never
touches a service never pays for it at cold start. The endpoint comes from the standard
`AWS_ENDPOINT_URL` variable: the local stack points it at the emulator, AWS leaves it unset.
"""

from __future__ import annotations

import functools
from typing import Any

# Ingest answers within API Gateway's limits and the worker's margin: fail fast and let the
# caller (a client retry, or SQS redelivery) try again, rather than hang on a sick endpoint.
_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5}
_RETRIES = {"max_attempts": 3, "mode": "standard"}


@functools.cache
def client(service_name: str) -> Any:
    """Return this process's client for `service_name`, creating it on first use."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service_name, config=Config(retries=_RETRIES, **_TIMEOUTS)
    )
