"""`make load`: `python -m soak.load_main --rate 2500/min --chars 100 --tenants 20 --noisy 1x100`.

Runs `soak.load_run`, prints the per-tenant figures, writes `--report` (docs/load.md and its
plot) and build/load/figures.json. Exits 1 if the baseline or the flood did not keep up, or any
phase did not store every accepted log (the overload phase is not meant to keep up).
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace
from pathlib import Path

from soak.load_report import write_report
from soak.load_run import LoadOptions, by_tenant_lines, json_figures, parse_noisy, parse_rate, run


def main() -> None:
    """Run the load from the command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = LoadOptions()
    parser.add_argument("--rate", default="2500/min", help="logs per /s, /min or /h")
    parser.add_argument("--chars", type=int, default=defaults.chars)
    parser.add_argument("--tenants", type=int, default=defaults.tenants)
    parser.add_argument("--noisy", default="1x100", help="<noisy tenants>x<factor>")
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument(
        "--overload-concurrency",
        type=int,
        default=0,
        help="also run the flood with this many workers, fewer than it needs",
    )
    parser.add_argument("--report", type=Path, help="write the figures to this Markdown file")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the children too
    noisy_tenants, noisy_factor = parse_noisy(args.noisy)
    if not 0 <= noisy_tenants < args.tenants:
        parser.error("--noisy must leave at least one quiet tenant")
    options = replace(
        defaults,
        rate_per_second=parse_rate(args.rate),
        chars=args.chars,
        tenants=args.tenants,
        noisy_tenants=noisy_tenants,
        noisy_factor=noisy_factor,
        seconds=args.seconds,
        concurrency=args.concurrency,
        overload_concurrency=args.overload_concurrency,
    )
    report = run(options)
    for phase in report.phases:
        print(f"{phase.name}: kept up {phase.kept_up}, all stored {phase.drained}")
        print("\n".join(by_tenant_lines(phase)))
    (options.log_dir / "figures.json").write_text(json_figures(report))
    if args.report:
        write_report(report, args.report)
        print(f"wrote {args.report} and {args.report.with_suffix('.svg')}")
    kept_up = report.baseline.kept_up and report.flood.kept_up
    if not (kept_up and all(phase.drained for phase in report.phases)):
        sys.exit(1)


if __name__ == "__main__":
    main()
