"""Show and change tenants' settings (plan, redaction) in a stage's tenants table.

    python -m ops.tenants --stage dev show acme            # `make tenant TENANT=acme`
    python -m ops.tenants --stage dev set acme --plan team
        # `make tenant-plan TENANT=acme PLAN=team`
    python -m ops.tenants --stage dev set acme --redaction-classes +ip,-phone \
        --placeholder typed --term 'Project Falcon' --pattern 'EMP-[0-9]{6}'
        # `make tenant-redaction TENANT=acme CLASSES=+ip PLACEHOLDER=typed`

The redaction options together replace the tenant's whole `redaction` setting (what they leave
out is the stage's default; `--redaction-json '{}'` goes back to it). A rule that is not a
linear-time RE2 pattern is refused, naming it, before anything is written.

Against the local emulator by default (`EMULATOR_PORT`, as `make dev` runs it); with `--aws`,
against AWS with the usual credential chain, where `set --plan` also binds the tenant's API
Gateway key (its `usageIdentifierKey`) to the plan's usage plan and to no other. Values outside
their bounds are refused before anything is written, with a message naming the bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.message import InvalidFieldError
from chalicelib.plans import PLANS
from chalicelib.redaction_policy import (
    PLACEHOLDER_STYLES,
    RedactionPolicy,
    RuleError,
    class_switches,
    policy_from_settings,
    settings_of,
)
from chalicelib.tenant_settings import InvalidSettingError, TenantSettings, stored, write
from ops.keys import default_plan, tenants_table
from ops.usage_plans import bind_usage_plan


def _shown(settings: TenantSettings, default_plan: str) -> dict[str, Any]:
    """What `show` and `set` print: the stored values and the plan in effect, in words."""
    plan = PLANS[settings.plan(default_plan)]
    return {
        "tenant_id": settings.tenant_id,
        "stored": dict(settings.values),
        "plan": plan.name,
        "limits": plan.describe(),
    }


def _redaction_in_effect(settings: TenantSettings, stage: str) -> dict[str, Any]:
    """The policy the stage's worker applies to the tenant's logs, as settings."""
    from infra.stage import stage_settings

    default = stage_settings(stage, "worker")
    base = RedactionPolicy(default.redaction_classes, default.redaction_placeholder)
    return settings_of(policy_from_settings(settings.values.get("redaction", {}), base=base))


def _check_retention(stage: str, current: TenantSettings, changes: dict[str, Any]) -> None:
    """Refuse retention settings that, with the tenant's others and the stage's, contradict.

    An original may not outlive its log: the worker would refuse every record of the tenant.
    """
    from chalicelib.retention import RetentionError, expiries
    from infra.stage import stage_settings

    try:
        expiries({**current.values, **changes}, stage_settings(stage, "worker"), 0)
    except RetentionError as error:
        raise InvalidSettingError(str(error)) from None


def _retention(args: argparse.Namespace) -> dict[str, Any]:
    """The retention changes the options ask for (checked by the settings' own fields)."""
    changes: dict[str, Any] = {}
    for name in ("retention_days", "original_retention_days"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    for name in ("keep_original", "archive_original"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name) == "true"
    return changes


def _redaction(args: argparse.Namespace) -> dict[str, Any]:
    """The `redaction` change the options ask for: none, or the tenant's whole setting."""
    options = (args.redaction_classes, args.placeholder, args.term, args.pattern)
    if args.redaction_json is not None:
        if any(options):
            raise RuleError("--redaction-json replaces the other redaction options; give one")
        try:
            return {"redaction": json.loads(args.redaction_json)}
        except ValueError as error:
            raise RuleError(f"--redaction-json is not JSON: {error}") from None
    if not any(options):
        return {}
    value: dict[str, Any] = {}
    if args.redaction_classes is not None:
        value["classes"] = class_switches(args.redaction_classes)
    if args.placeholder is not None:
        value["placeholder"] = args.placeholder
    if args.term or args.pattern:
        value["rules"] = {"terms": args.term or [], "patterns": args.pattern or []}
    return {"redaction": value}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: show or set a tenant's settings; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.tenants", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--aws", action="store_true", help="use AWS, not the local emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="a tenant's settings and limits").add_argument("tenant")
    setting = commands.add_parser("set", help="change a tenant's settings")
    setting.add_argument("tenant")
    setting.add_argument("--plan", help=f"one of {', '.join(PLANS)}")
    setting.add_argument(
        "--redaction-classes", help="email,phone (only those), or +ip,-phone (changes to default)"
    )
    setting.add_argument("--placeholder", choices=PLACEHOLDER_STYLES)
    setting.add_argument("--term", action="append", help="a literal term to redact; repeatable")
    setting.add_argument("--pattern", action="append", help="an RE2 pattern to redact; repeatable")
    setting.add_argument("--redaction-json", help="the whole redaction setting as JSON")
    setting.add_argument("--retention-days", type=int, help="days its logs are kept")
    setting.add_argument(
        "--original-retention-days", type=int, help="days its original texts are kept"
    )
    for name, meaning in (("keep-original", "store"), ("archive-original", "archive")):
        setting.add_argument(
            f"--{name}",
            choices=("true", "false"),
            help=f"whether its original texts are {meaning}d",
        )
    args = parser.parse_args(argv)
    dynamodb, table = tenants_table(args.stage, args.aws)
    try:
        if args.command == "show":
            settings = stored(dynamodb, table, args.tenant)
        else:
            changes = {"plan": args.plan} if args.plan is not None else {}
            changes |= _redaction(args) | _retention(args)
            _check_retention(args.stage, stored(dynamodb, table, args.tenant), changes)
            settings = write(dynamodb, table, args.tenant, changes, datetime.now(UTC))
            if args.aws and args.plan is not None:
                bind_usage_plan(args.stage, args.tenant, args.plan)
        shown = _shown(settings, default_plan(args.stage))
        print(json.dumps(shown | {"redaction": _redaction_in_effect(settings, args.stage)}))
    except (InvalidFieldError, InvalidSettingError, LookupError, RuleError) as error:
        sys.exit(f"ops.tenants: {error}")
    except Exception as error:  # the table or the emulator is out of reach
        where = "AWS" if args.aws else "the local emulator; is `make dev` running?"
        sys.exit(f"ops.tenants: cannot use {table} on {where} ({error})")


if __name__ == "__main__":
    main()
