from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from pathways.outputs import Alert, IntervalRecord, PreAlert
from streams.metrics import Metrics, install_faust_sensors, interval_buckets

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
    labels = dict(interval="call_to_departure", pathway="chest_pain", area_type="urban")
    assert value(registry, "pathwatch_interval_seconds_count", **labels) == 2
    assert value(registry, "pathwatch_interval_seconds_sum", **labels) == 390
    assert value(registry, "pathwatch_interval_seconds_bucket", le="180.0", **labels) == 1


def test_means_by_district_and_hospital_without_buckets() -> None:
    metrics, registry = fresh()
    metrics.observe_interval(record(150))
    metrics.observe_interval(record(240))
    place = dict(interval="call_to_departure", area_type="urban", district="D01", hospital="H01")
    assert value(registry, "pathwatch_interval_place_seconds_count", **place) == 2
    assert value(registry, "pathwatch_interval_place_seconds_sum", **place) == 390
    exposition = generate_latest(registry).decode()
    assert "pathwatch_interval_place_seconds_bucket" not in exposition
    assert 'district="D01"' not in "\n".join(
        line for line in exposition.splitlines()
        if line.startswith("pathwatch_interval_seconds_bucket"))


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
        metrics.count_alert(Alert(alert_id="x", kind=kind, incident_id="i", at_ts=DAY1))
    for state in ("new", "update", "update", "arrived"):
        metrics.count_prealert(
            PreAlert(
                prealert_id="p",
                state=state,
                sequence=1,
                hospital_id="H02",
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


def test_interval_target_gauge() -> None:
    metrics, registry = fresh(interval_targets_s={("call_to_departure", ""): 180})
    target = value(
        registry, "pathwatch_interval_target_seconds", interval="call_to_departure", area_type=""
    )
    assert target == 180


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


def test_faust_end_offsets_reach_the_registry_on_every_fetch() -> None:
    registry = CollectorRegistry()
    app = faust.App("metrics-test")
    install_faust_sensors(app, registry)
    for offset in (41, 42):
        app.monitor.track_tp_end_offset(TP("dispatch.gps", 3), offset)
    assert registry.get_sample_value(
        "faust_topic_partition_end_offset", {"topic": "dispatch.gps", "partition": "3"}) == 42
    assert app.monitor.tp_end_offsets[TP("dispatch.gps", 3)] == 42
