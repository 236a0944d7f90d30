"""The environment a function of a stage sees: `.chalice/config.json`, then the shell on top.

`chalice local` exports the stage's variables over the process environment, which would make
`WORK_SECONDS_PER_CHAR=0 make dev` silently do nothing. Here the shell wins for every variable
it sets, and the emulator's endpoint and fake credentials are added so nothing reaches AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from infra.stage import chalice_config

EMULATOR_HOST = "127.0.0.1"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Variables that could steer boto3 away from the emulator's fake credentials.
_DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def local_environment(
    stage: str, function_name: str, emulator_url: str, shell: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The full environment for running `function_name` of `stage` against the emulator."""
    shell = dict(os.environ if shell is None else shell)
    stage_variables = chalice_config(stage, function_name).environment_variables
    environment = {**shell, **{k: shell.get(k, v) for k, v in stage_variables.items()}}
    for name in _DROPPED:
        environment.pop(name, None)
    environment.update(_FAKE_CREDENTIALS)
    environment.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    environment["AWS_ENDPOINT_URL"] = emulator_url
    return environment


def emulator_client(environment: Mapping[str, str], service_name: str) -> Any:
    """A boto3 client for `service_name` with `environment`'s fake credentials and emulator."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    return session.client(service_name, endpoint_url=environment["AWS_ENDPOINT_URL"])
