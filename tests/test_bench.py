"""`make bench` in its quick mode: every section is measured and the report is well formed.

Nothing here judges a timing: the machine running the tests is not the one that matters.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.peer_comparison import PEERS_VENV, peers_python
from infra.stage import PROJECT_DIR

pytestmark = pytest.mark.e2e  # the last section starts the local stack

SECTIONS = [
    "Package size",
    "Cold start",
    "Cold start: import time the app adds (python -X importtime)",
    "Warm ingest",
    "Peers: cold start and warm ingest",
    "Batches: cost per log",
    "OTLP decoding",
    "Worker",
    "Redaction: realistic log lines",
    "Redaction: adversarial inputs",
    "Redaction: quality per class",
    "Local end to end (chalice local + emulator)",
]
#: The quick run measures the peers where `.venv-peers` exists (`make bench` builds it).
PEERS_BUILT = peers_python() is not None
TARGETED = {"Cold start", "Warm ingest", "Batches: cost per log", "Worker"}
TARGETED |= {"Redaction: realistic log lines"}
TARGETED |= {"Peers: cold start and warm ingest"} if PEERS_BUILT else set()
IMPORTS = "Cold start: import time the app adds (python -X importtime)"
PEERS = ("ours (Chalice)", "FastAPI + Mangum + pydantic", "Powertools resolver + Logger + Metrics")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench", "--quick", "--out", str(out / "benchmarks.md")]
    command += ["--json", str(out / "benchmarks.json")]
    subprocess.run(command, cwd=PROJECT_DIR, check=True, timeout=600, capture_output=True)
    data = json.loads((out / "benchmarks.json").read_text())
    return data, (out / "benchmarks.md").read_text()


def check_figure(figure: dict[str, Any], may_be_negative: bool = False) -> None:
    values = (figure["low"], figure["median"], figure["high"])
    assert all(math.isfinite(value) for value in values)
    assert figure["low"] <= figure["median"] <= figure["high"]
    assert figure["runs"] >= 1
    assert may_be_negative or figure["low"] > 0


def test_every_section_is_there_with_rows(report: tuple[dict[str, Any], str]) -> None:
    data, _ = report
    assert [section["title"] for section in data["sections"]] == SECTIONS
    assert all(section["rows"] for section in data["sections"])


def test_every_figure_is_finite_and_positive(report: tuple[dict[str, Any], str]) -> None:
    data, _ = report
    for section in data["sections"]:
        for row in section["rows"]:
            # The worker's own overhead is a difference of two timings.
            check_figure(row["value"], may_be_negative="overhead" in row["name"])
            for compared in ("floor", "ratio"):
                if row[compared] is not None:
                    check_figure(row[compared])


def test_every_floor_comes_with_its_ratio(report: tuple[dict[str, Any], str]) -> None:
    data, _ = report
    rows = [row for section in data["sections"] for row in section["rows"]]
    assert all(row["ratio"] is not None for row in rows if row["floor"] is not None)
    cold = data["sections"][SECTIONS.index("Cold start")]["rows"][0]
    assert cold["floor"] is not None


def test_the_peers_are_measured_beside_ours_or_said_to_be_missing(
    report: tuple[dict[str, Any], str],
) -> None:
    data, _ = report
    section = data["sections"][SECTIONS.index("Peers: cold start and warm ingest")]
    names = [row["name"] for row in section["rows"]]
    measured = PEERS if PEERS_BUILT else PEERS[:1]
    for stage in ("cold start", "warm, small", "warm, large"):
        found = [name for name in names if name.startswith(stage) and " / " not in name]
        assert [name.rsplit(": ", 1)[1] for name in found] == list(measured), stage
        compared = [name for name in names if name.startswith(stage) and "ours / " in name]
        assert len(compared) == len(measured) - 1, stage
    missing = [note for note in section["notes"] if "were not measured" in note]
    assert bool(missing) != PEERS_BUILT
    assert all(PEERS_VENV.name in note and "make bench" in note for note in missing)


def test_batches_cost_every_size_on_both_routes_and_target_a_hundred(
    report: tuple[dict[str, Any], str],
) -> None:
    data, _ = report
    section = data["sections"][SECTIONS.index("Batches: cost per log")]
    rows = {row["name"]: row for row in section["rows"]}
    measures = ("ingest time per log", "SQS requests per log", "bytes per log")
    for route in ("/ingest NDJSON", "/v1/logs protobuf+gzip"):
        for count in ("1", "10", "100", "1,000"):
            for measure in (*measures, "bytes per log, gzip"):
                assert f"{route}, {count} a request: {measure}" in rows
            requests = rows[f"{route}, {count} a request: SQS requests per log"]["value"]
            # The stub counted the calls: one SendMessage alone, else one batch call per 10.
            assert requests["median"] == (1.0 if count == "1" else 0.1), (route, count)
    targeted = [name for name, row in rows.items() if row["target"] is not None]
    assert targeted == [
        "/ingest NDJSON, 100 a request: ingest time per log",
        "/ingest NDJSON, 100 a request: SQS requests per log",
    ]
    assert [rows[name]["target"]["goal"] for name in targeted] == ["<= 0.05x", "<= 0.11"]


def test_otlp_decoding_is_measured_in_both_encodings(
    report: tuple[dict[str, Any], str],
) -> None:
    data, _ = report
    section = data["sections"][SECTIONS.index("OTLP decoding")]
    names = [row["name"] for row in section["rows"]]
    assert [name.split(",")[0] for name in names] == ["protobuf", "OTLP/JSON"]
    assert all("1,000 records" in name for name in names)
    assert {row["unit"] for row in section["rows"]} == {"MB/s"}


def test_the_cold_start_says_it_imports_no_otlp_decoding(
    report: tuple[dict[str, Any], str],
) -> None:
    data, _ = report
    section = data["sections"][SECTIONS.index(IMPORTS)]
    assert not any(
        "google" in row["name"] or "opentelemetry" in row["name"] for row in section["rows"]
    )
    assert any("stays off `/ingest`'s cold start" in note for note in section["notes"])


def test_each_target_is_checked_where_the_issue_sets_one(
    report: tuple[dict[str, Any], str],
) -> None:
    data, _ = report
    for section in data["sections"]:
        targets = [row["target"] for row in section["rows"] if row["target"] is not None]
        assert bool(targets) == (section["title"] in TARGETED), section["title"]
        for target in targets:
            assert target["goal"]
            assert math.isfinite(target["measured"])
            assert isinstance(target["met"], bool)


def test_markdown_says_how_it_was_made_and_shows_every_section(
    report: tuple[dict[str, Any], str],
) -> None:
    data, markdown = report
    assert markdown.startswith("# Benchmarks\n")
    assert "Generated by `make bench`" in markdown
    assert "do not edit by hand" in markdown
    for name in ("date", "machine", "Python", "packages", "mode"):
        assert data["environment"][name]
        assert f"| {name} |" in markdown
    for title in ["Targets", *SECTIONS]:
        assert f"\n## {title}\n" in markdown
    assert "nan" not in markdown.lower().split()


def test_the_generated_document_is_a_full_run(report: tuple[dict[str, Any], str]) -> None:
    generated = Path(PROJECT_DIR / "docs" / "benchmarks.md")
    assert generated.exists(), "docs/benchmarks.md is kept in the repository: run `make bench`"
    text = generated.read_text()
    assert "Generated by `make bench`" in text
    assert "| mode | full (`make bench`) |" in text
    for title in ["Targets", *SECTIONS]:
        assert f"\n## {title}\n" in text
