from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from pathways.outputs import Alert, IntervalRecord, PreAlert
from streams.metrics import Metrics, interval_buckets

CST = timezone(timedelta(hours=8))
DAY1 = datetime(2026, 11, 24, 10, 0, tzinfo=CST)
_ids = itertools.count()


def record(
    seconds: float,
    *,
    interval: str = "call_to_departure",
    target: float | None = 180,
    end: datetime = DAY1,
    incident: str | None = None,
    revision: int = 1,
    area: str = "urban",
    flags: tuple[str, ...] = (),
) -> IntervalRecord:
    return IntervalRecord(
        incident_id=incident or f"INC-SECRET-{next(_ids)}",
        interval=interval,
        start_ts=end - timedelta(seconds=seconds),
        end_ts=end,
        seconds=seconds,
        target_s=target,
        met=None if target is None else seconds <= target,
        pathway="chest_pain",
        triage_level=2,
        district_id="D01",
        area_type=area,  # type: ignore[arg-type]
        hospital_id="H01",
        unit_id="UNIT-SECRET-7",
        revision=revision,
        quality_flags=flags,
    )


def fresh(**kwargs: object) -> tuple[Metrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return Metrics(registry, targets_s=(180, 900, 600, 5400), **kwargs), registry  # type: ignore[arg-type]


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_buckets_surround_each_target() -> None:
    buckets = interval_buckets([180, 5400])
    for target in (180, 5400):
        assert target in buckets
        assert any(b < target for b in buckets) and any(b > target for b in buckets)
    assert list(buckets) == sorted(set(buckets))


def test_interval_histogram_by_low_cardinality_labels() -> None:
    metrics, registry = fresh()
    metrics.observe_interval(record(150))
    metrics.observe_interval(record(240))
    labels = dict(
        interval="call_to_departure",
        pathway="chest_pain",
        area_type="urban",
        district="D01",
        hospital="H01",
        triage_level="2",
    )
    assert value(registry, "pathwatch_interval_seconds_count", **labels) == 2
    assert value(registry, "pathwatch_interval_seconds_sum", **labels) == 390
    assert value(registry, "pathwatch_interval_seconds_bucket", le="180.0", **labels) == 1


def test_no_identifiers_in_exposition() -> None:
    metrics, registry = fresh()
    metrics.observe_interval(record(150, flags=("clock_skew",)))
    metrics.count_alert(
        Alert(
            alert_id="a1",
            kind="breach",
            incident_id="INC-SECRET-X",
            at_ts=DAY1,
            interval="call_to_departure",
            unit_id="UNIT-SECRET-7",
            district_id="D01",
        )
    )
    metrics.count_prealert(
        PreAlert(
            prealert_id="INC-SECRET-Y:H01",
            state="new",
            sequence=1,
            hospital_id="H01",
            incident_id="INC-SECRET-Y",
            unit_id="UNIT-SECRET-7",
            sent_ts=DAY1,
            eta_ts=None,
        )
    )
    text = generate_latest(registry).decode()
    assert "SECRET" not in text
    assert 'pathwatch_alerts_total{area_type="",district="D01"' in text


def test_counters_by_kind_state_reason() -> None:
    metrics, registry = fresh()
    for kind in ("breach", "breach", "approaching", "missing_milestone"):
        metrics.count_alert(Alert(alert_id="x", kind=kind, incident_id="i", at_ts=DAY1))  # type: ignore[arg-type]
    for state in ("new", "update", "update", "arrived"):
        metrics.count_prealert(
            PreAlert(
                prealert_id="p",
                state=state,
                sequence=1,
                hospital_id="H02",  # type: ignore[arg-type]
                incident_id="i",
                unit_id=None,
                sent_ts=DAY1,
                eta_ts=None,
                pathway="stroke",
            )
        )
    metrics.count_deadletter("invalid_json", "dispatch.calls")
    metrics.count_deadletter("invalid_json", "dispatch.calls")
    metrics.observe_interval(record(30, flags=("clock_skew",)))
    common = dict(interval="", pathway="other", area_type="", district="", hospital="")
    assert value(registry, "pathwatch_alerts_total", kind="breach", **common) == 2
    assert value(registry, "pathwatch_alerts_total", kind="approaching", **common) == 1
    assert (
        value(
            registry, "pathwatch_prealerts_total", state="update", pathway="stroke", hospital="H02"
        )
        == 2
    )
    assert (
        value(
            registry, "pathwatch_deadletters_total", reason="invalid_json", topic="dispatch.calls"
        )
        == 2
    )
    assert (
        value(
            registry,
            "pathwatch_data_quality_flags_total",
            flag="clock_skew",
            interval="call_to_departure",
        )
        == 1
    )


def test_event_lag_and_throughput_by_topic() -> None:
    metrics, registry = fresh()
    metrics.observe_event_lag("dispatch.gps", 1.5)
    metrics.observe_event_lag("dispatch.gps", 0.5)
    metrics.count_event("dispatch.gps")
    assert value(registry, "pathwatch_event_lag_seconds", topic="dispatch.gps") == 0.5
    assert value(registry, "pathwatch_events_total", topic="dispatch.gps") == 1


def compliance(
    registry: CollectorRegistry, period: str, area: str = ""
) -> tuple[float | None, ...]:
    labels = dict(interval="call_to_departure", area_type=area, period=period)
    return (
        value(registry, "pathwatch_compliance_mean_seconds", **labels),
        value(registry, "pathwatch_compliance_within_target_ratio", **labels),
        value(registry, "pathwatch_compliance_intervals", **labels),
    )


def test_compliance_mean_and_share_for_day_and_month() -> None:
    metrics, registry = fresh(interval_targets_s={("call_to_departure", ""): 180})
    for seconds in (120, 150, 240, 170):
        metrics.observe_interval(record(seconds))
    assert compliance(registry, "day") == (170.0, 0.75, 4)
    assert compliance(registry, "day", "urban") == (170.0, 0.75, 4)
    metrics.observe_interval(record(100, end=DAY1 + timedelta(days=1)))
    assert compliance(registry, "day") == (100.0, 1.0, 1)
    assert compliance(registry, "month") == (156.0, 0.8, 5)
    target = value(
        registry, "pathwatch_interval_target_seconds", interval="call_to_departure", area_type=""
    )
    assert target == 180


def test_a_revision_replaces_and_a_redelivery_changes_nothing() -> None:
    metrics, registry = fresh()
    metrics.observe_interval(record(400, incident="I1"))
    metrics.observe_interval(record(400, incident="I1"))
    metrics.observe_interval(record(100, incident="I2"))
    metrics.observe_interval(record(160, incident="I1", revision=2))
    metrics.observe_interval(record(400, incident="I1"))  # a late copy of revision 1
    assert compliance(registry, "day") == (130.0, 1.0, 2)


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(6)), st.lists(st.integers(1, 900), min_size=6, max_size=6))
def test_compliance_does_not_depend_on_arrival_order(order: list[int], secs: list[int]) -> None:
    # incidents 0..2 each with two revisions; the highest revision must win whatever the order
    records = [record(secs[i], incident=f"I{i % 3}", revision=1 + i // 3) for i in range(6)]
    metrics, registry = fresh()
    for i in order:
        metrics.observe_interval(records[i])
    final = secs[3:]
    mean, share, count = compliance(registry, "day")
    assert count == 3
    assert mean is not None and abs(mean - sum(final) / 3) < 1e-9
    assert share == sum(s <= 180 for s in final) / 3


def test_default_buckets_and_targets_come_from_the_cn_pack() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    d2b = value(
        registry, "pathwatch_interval_target_seconds", interval="door_to_balloon", area_type=""
    )
    county = value(
        registry, "pathwatch_interval_target_seconds", interval="response", area_type="county"
    )
    assert (d2b, county) == (5400, 600)
