"""`make load`, in small: the schedule, the tenant mix, and a short run against the local stack."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from soak.load_report import write_report
from soak.load_run import LoadOptions, parse_noisy, parse_rate, run, schedule, tenant_mix


def test_rates_and_noisy_mixes_parse_or_say_why() -> None:
    assert parse_rate("2500/min") == pytest.approx(41.667, rel=1e-3)
    assert parse_rate("40/s") == 40
    assert parse_noisy("1x100") == (1, 100.0)
    with pytest.raises(ValueError, match="unit must be"):
        parse_rate("5/day")
    with pytest.raises(ValueError, match="<tenants>x<factor>"):
        parse_noisy("lots")


def test_the_noisy_tenant_sends_its_factor_and_all_add_up_to_the_rate() -> None:
    options = LoadOptions(rate_per_second=119, tenants=20, noisy_tenants=1, noisy_factor=100)
    flood = tenant_mix(options, with_noisy=True)
    assert [t.rate for t in flood if t.noisy] == [pytest.approx(100)]
    assert sum(t.rate for t in flood) == pytest.approx(119)
    assert [t.name for t in tenant_mix(options, with_noisy=False)] == [
        t.name for t in flood if not t.noisy
    ]
    posts = schedule(flood, seconds=60, chars=100, seed=1)
    assert len(posts) == pytest.approx(119 * 60, rel=0.05)
    assert {len(post.text) for post in posts} == {100}
    assert [post.due for post in posts] == sorted(post.due for post in posts)


@pytest.mark.e2e
def test_a_short_load_keeps_up_stores_every_log_and_reports(tmp_path: Path) -> None:
    options = replace(
        LoadOptions(),
        rate_per_second=10,
        chars=20,  # 1 s of work a log
        tenants=5,
        noisy_factor=10,
        seconds=8,
        concurrency=20,
        overload_concurrency=4,  # the flood needs 10 workers
        drain_limit_seconds=60,
        log_dir=tmp_path / "load",
    )
    report = run(options)
    for phase in (report.baseline, report.flood):
        assert phase.drained
        assert phase.kept_up
        for figures in phase.figures.values():
            assert figures.accepted == figures.stored == figures.sent
            assert 1.0 <= figures.dwell(0.5) < 1.0 + 5  # the work, plus the queue's share
    assert "noisy-1" in report.flood.figures
    assert "noisy-1" not in report.baseline.figures
    overload = report.overload
    assert overload is not None
    assert overload.drained
    # Short of workers, the noisy tenant's backlog waits; the fair queue serves the quiet first.
    assert overload.quiet().dwell(0.99) < 0.5 * overload.figures["noisy-1"].dwell(0.99)
    write_report(report, tmp_path / "load.md")
    text = (tmp_path / "load.md").read_text()
    assert "## Per tenant, flood" in text
    assert "| noisy-1 |" in text
    assert "## Per tenant, overload" in text
    assert "## The queue over time" in text
    assert "| overload | 1 |" in text  # the first sample, a second in
    assert (tmp_path / "load.svg").read_text().count("<polyline") == 9


@pytest.mark.e2e
def test_the_emulators_cost_per_log_is_measured_call_by_call() -> None:
    from soak.emulator_cost import measure

    costs = measure(backlog=10, calls=5)
    assert set(costs) == {"SendMessage", "ReceiveMessage", "DeleteMessageBatch", "PutItem"}
    assert all(ms > 0 for ms in costs.values())
