"""A stage as Chalice sees it: `.chalice/config.json` scoped to one function, and its settings.

Every renderer of the stack (SAM, Terraform, the emulator) and every tool reads a stage through
here, so they all see the same variables Chalice would deploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.config import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


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


def deployment_target(stage: str) -> tuple[str, str]:
    """The region and account the stage deploys to: its `aws_region` and `aws_account_id`.

    Only the plain `chalice deploy` path needs them (its policy files are static JSON); the
    SAM and Terraform stacks name their own region and account.
    """
    import json

    stages = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]
    return str(stages[stage]["aws_region"]), str(stages[stage]["aws_account_id"])
