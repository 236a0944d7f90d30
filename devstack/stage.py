"""The environment a function of a stage sees: `.chalice/config.json`, then the shell on top.

`chalice local` exports the stage's variables over the process environment, which would make
`WORK_SECONDS_PER_CHAR=0 make dev` silently do nothing. Here the shell wins for every variable
it sets, and the emulator's endpoint and fake credentials are added so nothing reaches AWS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.config import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
EMULATOR_HOST = "127.0.0.1"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Variables that could steer boto3 away from the emulator's fake credentials.
_DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def deployed_stages() -> list[str]:
    """The stages of `.chalice/config.json` that deploy to AWS: not those aimed at an emulator.

    The `local` stage is `chalice local`'s view of `make dev`'s emulator: it has no functions,
    roles or templates of its own.
    """
    stages = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]
    return sorted(
        name
        for name, stage in stages.items()
        if "AWS_ENDPOINT_URL" not in stage.get("environment_variables", {})
    )


def chalice_config(stage: str, function_name: str) -> Any:
    """Chalice's own view of `function_name` in `stage`, scoped as it would be deployed."""
    from chalice.cli.factory import CLIFactory

    # A private dict for Chalice to write the stage's variables into, not os.environ.
    factory = CLIFactory(str(PROJECT_DIR), environ={})
    return factory.create_config_obj(chalice_stage_name=stage).scope(stage, function_name)


def stage_settings(stage: str, function_name: str) -> Settings:
    """The settings `function_name` of `stage` runs with, from Chalice's scoped configuration."""
    from chalicelib.config import load_settings

    return load_settings(chalice_config(stage, function_name).environment_variables)


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
