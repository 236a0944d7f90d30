"""Show and change tenants' settings (their plan) in a stage's tenants table.

    python -m ops.tenants --stage dev show acme            # `make tenant TENANT=acme`
    python -m ops.tenants --stage dev set acme --plan team
        # `make tenant-plan TENANT=acme PLAN=team`

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
    args = parser.parse_args(argv)
    dynamodb, table = tenants_table(args.stage, args.aws)
    try:
        if args.command == "show":
            settings = stored(dynamodb, table, args.tenant)
        else:
            changes = {"plan": args.plan} if args.plan is not None else {}
            settings = write(dynamodb, table, args.tenant, changes, datetime.now(UTC))
            if args.aws and args.plan is not None:
                bind_usage_plan(args.stage, args.tenant, args.plan)
        print(json.dumps(_shown(settings, default_plan(args.stage))))
    except (InvalidFieldError, InvalidSettingError, LookupError) as error:
        sys.exit(f"ops.tenants: {error}")
    except Exception as error:  # the table or the emulator is out of reach
        where = "AWS" if args.aws else "the local emulator; is `make dev` running?"
        sys.exit(f"ops.tenants: cannot use {table} on {where} ({error})")


if __name__ == "__main__":
    main()
