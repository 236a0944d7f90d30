"""What a benchmark reports: figures over repeated runs, rows that compare them, sections.

Every figure is the median of its runs with their minimum and maximum, so a reader sees the
spread a shared machine gives, not one lucky run. A ratio is computed from samples taken in the
same run, interleaved, so both sides saw the same machine.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """A quantity measured `runs` times: its median, lowest and highest value."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, samples: Iterable[float]) -> Figure:
        """Summarize samples; there must be at least one."""
        values = sorted(samples)
        if not values:
            raise ValueError("a figure needs at least one sample")
        return cls(statistics.median(values), values[0], values[-1], len(values))

    def scaled(self, factor: float) -> Figure:
        """The same figure in another unit (`factor` > 0 keeps low below high)."""
        return Figure(self.median * factor, self.low * factor, self.high * factor, self.runs)


def ratios(values: Sequence[float], floors: Sequence[float]) -> Figure:
    """Pairwise ratios of samples taken one after the other, so each pair saw the same load."""
    return Figure.of(value / floor for value, floor in zip(values, floors, strict=True))


def throughput(size: int, seconds: Sequence[float]) -> Figure:
    """`size` bytes processed in each of `seconds`, in MB/s."""
    return Figure.of(size / 1e6 / elapsed for elapsed in seconds)


@dataclass(frozen=True)
class Target:
    """A goal a row is checked against, the median it was checked with, and the verdict."""

    goal: str
    measured: float
    met: bool


@dataclass(frozen=True)
class Row:
    """One measurement, optionally beside the floor it is compared with and their ratio."""

    name: str
    unit: str
    value: Figure
    floor: Figure | None = None
    ratio: Figure | None = None
    target: Target | None = None


@dataclass(frozen=True)
class Section:
    """A table of rows on one subject, with notes that explain what the numbers mean."""

    title: str
    rows: list[Row]
    floor_label: str = "floor"
    ratio_label: str = "ratio"
    notes: list[str] = field(default_factory=list)


def at_most(limit: float, measured: float, unit: str = "x") -> Target:
    """A target met when the measured median is at most `limit`."""
    return Target(f"<= {limit:g}{unit}", measured, measured <= limit)


def at_least(limit: float, measured: float, unit: str) -> Target:
    """A target met when the measured median is at least `limit`."""
    return Target(f">= {limit:g} {unit}", measured, measured >= limit)


def below(limit: float, measured: float) -> Target:
    """A target met when the measured median ratio is strictly under `limit`: ahead, not level."""
    return Target(f"< {limit:g}x", measured, measured < limit)
