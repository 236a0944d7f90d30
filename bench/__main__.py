"""Measure what users pay for and write `docs/benchmarks.md`: `python -m bench` (`make bench`).

Sections, in order: package size (the zip the cold starts then run), cold start, warm ingest,
the peers (cold start and warm ingest beside FastAPI's and Powertools'), batches (the cost of a
log when a request carries many), OTLP decoding, worker, redaction, and the local stack end to
end. `--only` runs the sections named (as `SECTIONS` names them). `--quick` runs each with few
repetitions and small inputs, to check that the whole benchmark works, not to measure; it
measures the peers only where `.venv-peers` exists (`make bench` builds it), and says so where
it does not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench import (
    batches,
    coldstart,
    ingest,
    local,
    otlp_export,
    package,
    peer_comparison,
    redaction,
    worker,
)
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
    peer_rounds: int = 5
    batch_logs: int = 10_000
    batch_pairs: tuple[int, int] = (5, 300)
    otlp_records: int = 1_000
    otlp_repeats: int = 30
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
    peer_rounds=1,
    batch_logs=20,
    batch_pairs=(1, 20),
    otlp_records=1_000,
    otlp_repeats=2,
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

#: The sections by the name `--only` knows them by, in the report's order.
SECTIONS: Final = (
    "package",
    "coldstart",
    "ingest",
    "peers",
    "batches",
    "otlp",
    "worker",
    "redaction",
    "local",
)


def _on_stub(
    endpoint: str, chosen: Sequence[str], plan: Plan, unpacked: Path, scratch: Path
) -> list[Section]:
    """The sections that run the app's code against the stub, those `chosen`, in order."""
    sections: list[Section] = []
    if "coldstart" in chosen:
        sections += coldstart.measure(endpoint, unpacked, plan.cold_pairs, plan.import_runs)
    if "ingest" in chosen:
        sections.append(ingest.measure(endpoint, plan.ingest_requests, plan.large_text))
    if "peers" in chosen:
        sections.append(
            peer_comparison.measure(
                endpoint,
                unpacked,
                scratch,
                plan.cold_pairs,
                plan.peer_rounds,
                plan.ingest_requests,
                plan.large_text,
            )
        )
    if "batches" in chosen:
        sections.append(batches.measure(endpoint, plan.batch_logs, *plan.batch_pairs))
    if "otlp" in chosen:
        sections.append(otlp_export.measure(plan.otlp_records, plan.otlp_repeats))
    if "worker" in chosen:
        sections.append(worker.measure(endpoint, plan.worker_batches))
    return sections


def run(plan: Plan, chosen: Sequence[str] = SECTIONS) -> list[Section]:
    """The `chosen` sections (all by default), measured as `plan` says, in report order."""
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        deployment = package.build(Path(scratch) / "package")
        if "package" in chosen:
            sections.append(package.measure(deployment))
        unpacked = package.unpack(deployment, Path(scratch) / "task")
        # The functions' event lines are written, as on Lambda, but not onto the report.
        with (
            running_stub() as endpoint,
            open(os.devnull, "w") as discard,
            contextlib.redirect_stdout(discard),
        ):
            sections += _on_stub(endpoint, chosen, plan, unpacked, Path(scratch))
    if "redaction" in chosen:
        sections += redaction.measure(
            plan.redaction_size,
            plan.redaction_repeats,
            plan.adversarial_sizes,
            plan.quality_lines,
        )
    if "local" in chosen:
        sections.append(
            local.measure(
                plan.local_rounds, plan.local_seconds, plan.local_clients, plan.local_probes
            )
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
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        help="measure only these sections (report in build/bench/ unless --out)",
    )
    args = parser.parse_args()
    chosen = args.only or SECTIONS
    if not args.quick and "peers" in chosen and peer_comparison.peers_python() is None:
        parser.error(
            f"{peer_comparison.PEERS_VENV} is missing: `make bench` builds it (or use --quick)"
        )
    mode = "quick (`python -m bench --quick`)" if args.quick else "full (`make bench`)"
    out = args.out or PROJECT_DIR / ("build/bench" if args.quick else "docs") / "benchmarks.md"
    if args.only:
        mode += f", only {' '.join(args.only)} (--only)"
        out = args.out or PROJECT_DIR / "build/bench/only.md"
    report = Report(environment(mode), run(QUICK if args.quick else Plan(), chosen))
    print(text_table(report), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(report), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
