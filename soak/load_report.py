"""`make load`'s report: docs/load.md with the figures, and docs/load.svg with the queue over time.

The plot is SVG written here (a few polylines need no plotting library in the dev tools).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from soak.load_run import LoadReport, Phase, Sample

_WIDTH, _HEIGHT, _MARGIN = 720, 220, 48
_SERIES: Final[tuple[tuple[str, str, Callable[[Sample], float]], ...]] = (
    ("in flight (workers busy)", "#1f77b4", lambda s: s.in_flight),
    ("waiting", "#ff7f0e", lambda s: s.waiting),
    ("oldest unstored log's age, s", "#2ca02c", lambda s: s.oldest_age),
)


def _panel(phase: Phase, top: int) -> list[str]:
    """One phase's samples: depth on the left scale, age on the right one."""
    samples = phase.samples or [Sample(0, 0, 0, 0)]
    span = max(s.seconds for s in samples) or 1
    depth_top = max(1, max(max(s.in_flight, s.waiting) for s in samples))
    age_top = max(1.0, max(s.oldest_age for s in samples))
    inner_w, inner_h = _WIDTH - 2 * _MARGIN, _HEIGHT - 2 * _MARGIN
    parts = [
        f'<text x="{_MARGIN}" y="{top + 20}" font-weight="bold">{phase.name}: '
        f"{'kept up' if phase.kept_up else 'did NOT keep up'}</text>",
        f'<rect x="{_MARGIN}" y="{top + _MARGIN}" width="{inner_w}" height="{inner_h}" '
        'fill="none" stroke="#999"/>',
        f'<text x="4" y="{top + _MARGIN + 10}" font-size="10">{depth_top}</text>',
        f'<text x="{_WIDTH - _MARGIN + 4}" y="{top + _MARGIN + 10}" font-size="10">'
        f"{age_top:.0f} s</text>",
        f'<text x="{_WIDTH / 2}" y="{top + _HEIGHT - 8}" font-size="10">'
        f"seconds (0 to {span:.0f})</text>",
    ]
    for index, (label, colour, value) in enumerate(_SERIES):
        scale = age_top if index == 2 else depth_top
        points = " ".join(
            f"{_MARGIN + inner_w * s.seconds / span:.1f},"
            f"{top + _MARGIN + inner_h * (1 - value(s) / scale):.1f}"
            for s in samples
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" points="{points}"/>')
        parts.append(
            f'<text x="{_MARGIN + 10 + 220 * index}" y="{top + _MARGIN - 6}" font-size="11" '
            f'fill="{colour}">{label}</text>'
        )
    return parts


def svg(phases: Sequence[Phase]) -> str:
    """The queue of each phase over time, one panel a phase."""
    height = _HEIGHT * len(phases)
    body = [line for n, phase in enumerate(phases) for line in _panel(phase, n * _HEIGHT)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="12">\n' + "\n".join(body) + "\n</svg>\n"
    )


def _seconds(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _tenant_table(phase: Phase) -> list[str]:
    header = (
        "| tenant | sent | accepted | throttled | failed | stored | dwell p50 (s) | dwell p99 (s) |"
    )
    rows = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for tenant in phase.tenants:
        f = phase.figures[tenant.name]
        rows.append(
            f"| {tenant.name} | {f.sent} | {f.accepted} | {f.throttled} | {f.failed} | "
            f"{f.stored} | {_seconds(f.dwell(0.5))} | {_seconds(f.dwell(0.99))} |"
        )
    return rows


def _queue_over_time(phases: Sequence[Phase], every_seconds: float = 10) -> list[str]:
    """The queue every `every_seconds` of each phase: waiting, in flight, oldest log's age."""
    rows = ["| phase | second | waiting | in flight | oldest unstored log (s) |"]
    rows.append("| --- | ---: | ---: | ---: | ---: |")
    for phase in phases:
        next_at = 0.0
        for sample in phase.samples:
            if sample.seconds >= next_at:
                rows.append(
                    f"| {phase.name} | {sample.seconds:.0f} | {sample.waiting} | "
                    f"{sample.in_flight} | {sample.oldest_age:.1f} |"
                )
                next_at = sample.seconds + every_seconds
    return rows


def _queue_summary(phase: Phase) -> str:
    samples = phase.samples
    deepest = max((s.waiting for s in samples), default=0)
    busiest = max((s.in_flight for s in samples), default=0)
    oldest = max((s.oldest_age for s in samples), default=0.0)
    return (
        f"{phase.name}: load {phase.load_seconds:.0f} s, then drained in "
        f"{phase.drain_seconds:.1f} s ({'all stored' if phase.drained else 'NOT all stored'}); "
        f"at most {deepest} waiting and {busiest} in flight; oldest unstored log "
        f"{oldest:.1f} s (bound {phase.age_bound:.0f} s): "
        f"**{'kept up' if phase.kept_up else 'did not keep up'}**; senders p99 "
        f"{phase.send_lag_p99:.2f} s behind schedule."
    )


def markdown(report: LoadReport, plot_name: str) -> str:
    """docs/load.md's text."""
    options = report.options
    base, flood = report.baseline.quiet(), report.flood.quiet()
    ratio = flood.dwell(0.99) / base.dwell(0.99) if base.dwell_ms and flood.dwell_ms else math.nan
    quiet_rate = report.flood.tenants[0].rate * 60
    work = options.chars * report.work_seconds_per_char
    lines = [
        "# Load: the local stack at the design point",
        "",
        f"Generated by `make load` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): "
        f"{options.rate_per_second * 60:.0f} logs a minute of {options.chars} characters, "
        f"{options.tenants} tenants of which {options.noisy_tenants} noisy at "
        f"{options.noisy_factor:g}x a quiet tenant ({quiet_rate:.1f} logs a minute each), "
        f"{options.seconds:.0f} s a phase, the real simulated work "
        f"({report.work_seconds_per_char} s a character, {work:.1f} s a log), "
        f"one log a batch and {options.concurrency} concurrent workers (prod's shape, "
        "[capacity.md](capacity.md)). The baseline phase sends only the quiet tenants; the "
        "flood phase adds the noisy one. Dwell is ingest to stored (the worker's `lag_ms`). "
        "What caps the local stack above this rate (the emulator, not our code) is in "
        "[capacity.md](capacity.md#the-local-stacks-ceiling).",
        "",
        "## Verdict",
        "",
        f"- {_queue_summary(report.baseline)}",
        f"- {_queue_summary(report.flood)}",
        f"- Quiet tenants' p99 dwell: {_seconds(base.dwell(0.99))} s without the flood, "
        f"{_seconds(flood.dwell(0.99))} s with it: **{ratio:.2f}x** (target: within 2x).",
        *_overload_lines(report),
        "",
        f"![queue depth and oldest log's age over time]({plot_name})",
        "",
        "## The queue over time",
        "",
        *_queue_over_time(report.phases),
        "",
        "## Per tenant, baseline",
        "",
        *_tenant_table(report.baseline),
        "",
        "## Per tenant, flood",
        "",
        *_tenant_table(report.flood),
        "",
        *(
            ["## Per tenant, overload", "", *_tenant_table(report.overload), ""]
            if report.overload
            else []
        ),
    ]
    return "\n".join(lines)


def _overload_lines(report: LoadReport) -> list[str]:
    """The overload phase's verdict: the noisy tenant's backlog, and the quiet tenants' dwell."""
    overload = report.overload
    if overload is None:
        return []
    quiet, base = overload.quiet(), report.baseline.quiet()
    noisy = [overload.figures[t.name] for t in overload.tenants if t.noisy]
    noisy_p99 = max(f.dwell(0.99) for f in noisy)
    ratio = quiet.dwell(0.99) / base.dwell(0.99) if quiet.dwell_ms and base.dwell_ms else math.nan
    rate = sum(t.rate for t in overload.tenants)
    needed = rate * report.options.chars * report.work_seconds_per_char
    return [
        f"- {_queue_summary(overload)}",
        f"- Overload, {report.options.overload_concurrency} workers for a flood that needs "
        f"{needed:.0f}: "
        f"the noisy tenant's p99 dwell grows to {_seconds(noisy_p99)} s while the quiet "
        f"tenants' stays {_seconds(quiet.dwell(0.99))} s, **{ratio:.2f}x** their baseline: the "
        "fair queue hands their logs out ahead of the backlog.",
    ]


def write_report(report: LoadReport, path: Path) -> None:
    """Write the Markdown report and its SVG plot beside it."""
    plot = path.with_suffix(".svg")
    plot.write_text(svg(report.phases))
    path.write_text(markdown(report, plot.name))
