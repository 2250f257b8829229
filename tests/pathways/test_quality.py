"""Per-device clock skew: a small estimator over (event ts, observed-at) pairs."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pathways import events as ev
from pathways.outputs import Alert
from pathways.quality import SourceClocks, device_key
from tests.pathways.factory import at, event


def feed(
    clocks: SourceClocks, source: str, lag_s: list[float], start: float = 0
) -> list[Alert]:
    alerts: list[Alert] = []
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


# --- per device: units share the source `avl`, each has its own clock ----------------------


def fix(unit: str, minutes: float, source: str = "avl") -> ev.Event:
    return event("unit.enroute", minutes, incident=f"inc-{unit}", unit_id=unit, source=source)


def test_one_units_skew_is_flagged_and_names_the_unit() -> None:
    clocks = SourceClocks(tolerance_s=120, min_samples=10)
    alerts = []
    for i in range(40):  # 19 good units and one 10 min ahead, all on `avl`
        for n in range(20):
            e = fix(f"A{n}", i)
            lag = -600.0 if n == 7 else float(i % 4)
            alert = clocks.observe(e, e.ts + timedelta(seconds=lag))
            if alert is not None:
                alerts.append(alert)
    assert [a.unit_id for a in alerts] == ["A7"]
    assert "clock_skew" in alerts[0].detail and "unit A7" in alerts[0].detail
    assert alerts[0].kind == "data_quality"
    skewed, good = clocks.estimate("avl:A7"), clocks.estimate("avl:A3")
    assert skewed is not None and skewed.skew_s == 600.0
    assert good is not None and abs(good.skew_s) <= 3


def test_an_event_without_a_unit_is_its_sources_clock() -> None:
    assert device_key(event("call.received", 0, source="cad")) == "cad"
    assert device_key(fix("A1", 0)) == "avl:A1"
    assert device_key(fix("A1", 0, source="cad")) == "cad:A1"


def test_clocks_kept_are_bounded_least_recently_heard_dropped() -> None:
    clocks = SourceClocks(tolerance_s=120, min_samples=1, max_clocks=3)
    for unit in ("A1", "A2", "A3", "A1", "A4"):
        e = fix(unit, 0)
        clocks.observe(e, e.ts)
    assert [u for u in ("A1", "A2", "A3", "A4") if clocks.estimate(f"avl:{u}")] == [
        "A1", "A3", "A4"]


# --- the sorted window is the same estimator as sorting on every sample ---------------------


class SortingClocks:
    """The straightforward estimator: the last `window` lags per clock, sorted at each sample."""

    def __init__(self, tolerance_s: float, window: int, min_samples: int) -> None:
        self.tolerance_s, self.window, self.min_samples = tolerance_s, window, min_samples
        self.lags: dict[str, deque[float]] = {}
        self.flagged: set[str] = set()

    def estimate(self, key: str) -> float | None:
        lags = sorted(self.lags.get(key, ()))
        if len(lags) < self.min_samples:
            return None
        return -lags[max(0, int(0.1 * len(lags)) - 1)]

    def observe(self, key: str, lag: float) -> bool:
        self.lags.setdefault(key, deque(maxlen=self.window)).append(lag)
        skew = self.estimate(key)
        if skew is None:
            return False
        if abs(skew) <= self.tolerance_s:
            self.flagged.discard(key)
            return False
        fresh = key not in self.flagged
        self.flagged.add(key)
        return fresh


DEVICES = [fix("A1", 0), fix("A2", 0), fix("B1", 0, source="cad"),
           event("call.received", 0, source="cad")]


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(1, 30),
    min_samples=st.integers(1, 12),
    samples=st.lists(st.tuples(st.integers(0, len(DEVICES) - 1),
                               st.integers(-400, 400).map(float)), max_size=200),
)
def test_sorted_window_gives_the_same_estimates_and_alerts(
    window: int, min_samples: int, samples: list[tuple[int, float]]
) -> None:
    clocks = SourceClocks(tolerance_s=120, window=window, min_samples=min_samples)
    reference = SortingClocks(120, window, min_samples)
    for which, lag in samples:
        e = DEVICES[which]
        alert = clocks.observe(e, e.ts + timedelta(seconds=lag))
        assert (alert is not None) == reference.observe(device_key(e), lag)
        for device in DEVICES:
            got = clocks.estimate(device_key(device))
            want = reference.estimate(device_key(device))
            assert (None if got is None else got.skew_s) == want
