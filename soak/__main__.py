"""`make chaos`: soak the local stack (`soak.chaos`), print the verdict, write the report.

`python -m soak --report docs/reliability.md`; exits 1 unless nothing was lost, doubled,
misplaced or misredacted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from pathlib import Path

from soak import chaos
from soak.reliability import summary, write_report


def main() -> None:
    """Run the soak from the command line; exit 1 unless it meets the bar."""
    parser = argparse.ArgumentParser(
        description=chaos.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = chaos.Options()
    parser.add_argument("--logs", type=int, default=defaults.logs)
    parser.add_argument("--tenants", type=int, default=defaults.tenants)
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--time-limit", type=float, default=defaults.time_limit_seconds)
    parser.add_argument("--report", type=Path, help="write the figures to this Markdown file")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the children too
    options = replace(
        defaults,
        logs=args.logs,
        tenants=args.tenants,
        clients=args.clients,
        seed=args.seed,
        time_limit_seconds=args.time_limit,
    )
    report = chaos.run(options)
    print(summary(report))
    if args.report:
        write_report(report, args.report)
        print(f"wrote {args.report}")
    if not report.figures.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
