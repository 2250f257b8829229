"""Per-source clock skew: a small estimator over (event ts, observed-at) pairs."""

from __future__ import annotations

from datetime import timedelta

from pathways.quality import SourceClocks
from tests.pathways.factory import at, event


def feed(clocks: SourceClocks, source: str, lag_s: list[float], start: float = 0):
    alerts = []
    for i, lag in enumerate(lag_s):
        e = event("call.received", start + i, incident=f"{source}-{i}", source=source)
        alert = clocks.observe(e, e.ts + timedelta(seconds=lag))
        if alert is not None:
            alerts.append(alert)
    return alerts


def test_source_running_ahead_is_flagged_once() -> None:
    clocks = SourceClocks(tolerance_s=120, min_samples=10)
    alerts = feed(clocks, "his:H1", [-300.0 + (i % 3) for i in range(30)])
    assert len(alerts) == 1 and "his:H1" in alerts[0].detail
    estimate = clocks.estimate("his:H1")
    assert estimate is not None and 297 <= estimate.skew_s <= 300


def test_normal_delivery_delay_is_not_skew() -> None:
    clocks = SourceClocks(tolerance_s=120, min_samples=10)
    lags = [0.5, 2, 1, 30, 0.2, 600, 1, 1, 3, 0.1, 2, 1]  # one very late straggler
    assert feed(clocks, "cad", lags) == []
    estimate = clocks.estimate("cad")
    assert estimate is not None and abs(estimate.skew_s) < 1


def test_too_few_samples_give_no_estimate() -> None:
    clocks = SourceClocks(tolerance_s=120, min_samples=10)
    assert feed(clocks, "avl", [-900.0] * 9) == []
    assert clocks.estimate("avl") is None


def test_sources_are_independent() -> None:
    clocks = SourceClocks(tolerance_s=60, min_samples=5)
    feed(clocks, "ecg", [0.0] * 10)
    alerts = feed(clocks, "his:H2", [-200.0] * 10, start=at(0).minute)
    assert [a.detail.split()[2] for a in alerts] == ["his:H2"]
