"""Measure what users pay for and write `docs/benchmarks.md`: `python -m bench` (`make bench`).

Sections, in order: package size (the zip the cold starts then run), cold start, warm ingest,
worker, redaction, and the local stack end to end. `--quick` runs each with few repetitions
and small inputs, to check that the whole benchmark works, not to measure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import coldstart, ingest, local, package, redaction, worker
from bench.figures import Section
from bench.report import Report, environment, markdown, text_table
from bench.stub import running_stub
from infra.stage import PROJECT_DIR


@dataclass(frozen=True)
class Plan:
    """How much of everything to run."""

    cold_pairs: int = 15
    import_runs: int = 5
    ingest_requests: int = 300
    large_text: int = 150_000
    worker_batches: int = 60
    redaction_size: int = 1_000_000
    redaction_repeats: int = 5
    adversarial_sizes: tuple[int, ...] = (16_384, 65_536, 262_144)
    quality_lines: int = 4_000
    local_rounds: int = 3
    local_seconds: float = 5.0
    local_clients: int = 4
    local_probes: int = 10


QUICK = Plan(
    cold_pairs=2,
    import_runs=1,
    ingest_requests=10,
    large_text=50_000,
    worker_batches=5,
    redaction_size=50_000,
    redaction_repeats=2,
    adversarial_sizes=(2_048, 8_192),
    quality_lines=300,
    local_rounds=1,
    local_seconds=1.0,
    local_clients=2,
    local_probes=2,
)


def run(plan: Plan) -> list[Section]:
    """Every section, measured as `plan` says."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        deployment = package.build(Path(scratch) / "package")
        sections = [package.measure(deployment)]
        unpacked = package.unpack(deployment, Path(scratch) / "task")
        # The functions' event lines are written, as on Lambda, but not onto the report.
        with (
            running_stub() as endpoint,
            open(os.devnull, "w") as discard,
            contextlib.redirect_stdout(discard),
        ):
            sections += coldstart.measure(endpoint, unpacked, plan.cold_pairs, plan.import_runs)
            sections.append(ingest.measure(endpoint, plan.ingest_requests, plan.large_text))
            sections.append(worker.measure(endpoint, plan.worker_batches))
    sections += redaction.measure(
        plan.redaction_size, plan.redaction_repeats, plan.adversarial_sizes, plan.quality_lines
    )
    sections.append(
        local.measure(plan.local_rounds, plan.local_seconds, plan.local_clients, plan.local_probes)
    )
    return sections


def main() -> None:
    """Run the benchmark, print its tables, and write the Markdown (and JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions, small inputs")
    parser.add_argument(
        "--out", type=Path, help="the Markdown report (docs/benchmarks.md; build/bench/ if quick)"
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args()
    mode = "quick (`python -m bench --quick`)" if args.quick else "full (`make bench`)"
    out = args.out or PROJECT_DIR / ("build/bench" if args.quick else "docs") / "benchmarks.md"
    report = Report(environment(mode), run(QUICK if args.quick else Plan()))
    print(text_table(report), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(report), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
