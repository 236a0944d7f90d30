"""AWS clients, created once per process on first use.

boto3 is imported here and only when a client is first needed, so a function that never
touches a service never pays for it at cold start. The endpoint comes from the standard
`AWS_ENDPOINT_URL` variable: the local stack points it at the emulator, AWS leaves it unset.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from chalicelib.process_state import kept

# Two attempts of at most 1 s to connect and 2 s to read, plus backoff, end well inside the
# ingest function's 10 s timeout: a sick endpoint becomes our 503, never API Gateway's 504.
# The worker's caller retries anyway: SQS redelivers a record whose write failed.
_TIMEOUTS = {"connect_timeout": 1, "read_timeout": 2}
_RETRIES = {"total_max_attempts": 2, "mode": "standard"}  # botocore's max_attempts counts retries
# Our SQS calls carry only what our code built (bodies, their tenants, entry ids), and SQS checks
# every parameter itself; botocore's own check walks each entry of a SendMessageBatch again,
# about 8% of the call's time, and a batch of 100 logs makes ten calls.
_UNCHECKED_SERVICES = frozenset({"sqs"})
# A boto3 session is not safe to make clients from in two threads at once (the local API
# server and consumer are threaded); the clients it makes are.
_making = threading.Lock()


@kept
def _session() -> Any:
    """One boto3 session a process: it loads each service's model once for all its clients."""
    import boto3

    return boto3.session.Session()


def _client_config(service_name: str) -> Any:
    from botocore.config import Config

    checked = service_name not in _UNCHECKED_SERVICES
    return Config(retries=_RETRIES, parameter_validation=checked, **_TIMEOUTS)


@kept
def client(service_name: str) -> Any:
    """Return this process's client for `service_name`, creating it on first use."""
    with _making:
        return _session().client(service_name, config=_client_config(service_name))


def client_with(service_name: str, credentials: Mapping[str, str]) -> Any:
    """A client acting with temporary credentials (STS's shape); the caller keeps it."""
    with _making:
        return _session().client(
            service_name,
            config=_client_config(service_name),
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
