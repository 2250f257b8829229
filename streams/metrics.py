"""Prometheus metrics of a worker, over a registry passed in (a fresh one in every test).

Names follow the Prometheus conventions: base units (`_seconds`), `_total` on counters.
Labels are low-cardinality dimensions only (interval, pathway, area type, district, hospital,
kind, state, reason, topic): never an incident, unit or patient identifier. The interval
histogram (31 buckets) is labelled by interval, pathway and area type only; means by district
and hospital come from a sum and a count (`pathwatch_interval_place_seconds`). With district,
hospital and triage level on the histogram the 100,000-event bench city made 3,173 label sets,
~105,000 series, and creating them cost the worker ~8% of its CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary

from pathways.outputs import Alert, IntervalRecord, PreAlert
from pathways.rulepack import RulePack, load_pack

PREFIX = "pathwatch"
INTERVAL_LABELS = ("interval", "pathway", "area_type")
PLACE_LABELS = ("interval", "area_type", "district", "hospital")
# Around each target: where "just missed" and "well within" are told apart.
_TARGET_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)
_FALLBACK_BUCKETS_S = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
PERIODS = ("day", "month")
DEFAULT_PACK = "cn"


def interval_buckets(targets_s: Iterable[float]) -> tuple[float, ...]:
    """Bucket upper bounds around every target (seconds), sorted, without duplicates."""
    bounds = {round(t * f, 1) for t in targets_s if t > 0 for f in _TARGET_FACTORS}
    bounds.update(_FALLBACK_BUCKETS_S)
    return tuple(sorted(bounds))


def _label(value: object) -> str:
    return "" if value is None else str(value)


def interval_labels(record: IntervalRecord) -> tuple[str, str, str]:
    """Values of INTERVAL_LABELS."""
    return record.interval, record.pathway, _label(record.area_type)


def place_labels(record: IntervalRecord) -> tuple[str, str, str, str]:
    """Values of PLACE_LABELS."""
    return (record.interval, _label(record.area_type), _label(record.district_id),
            _label(record.hospital_id))


class Metrics:
    """The worker's metrics; the agents call these methods, the web server exports the registry."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        targets_s: Iterable[float] | None = None,
        interval_targets_s: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        """`targets_s`: the rule pack's targets, for the buckets (None: the default pack's);
        `interval_targets_s`: (interval, area type or "") -> target, exported as a gauge so a
        dashboard can show pass/fail."""
        if targets_s is None:
            targets_s, defaults = pack_targets(load_pack(DEFAULT_PACK))
            interval_targets_s = defaults if interval_targets_s is None else interval_targets_s
        self.registry = registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._define(registry, interval_buckets(targets_s))
        for (interval, area), target in (interval_targets_s or {}).items():
            self.interval_target.labels(interval=interval, area_type=area).set(target)

    def _define(self, registry: CollectorRegistry, buckets: tuple[float, ...]) -> None:
        p = PREFIX
        self.interval_seconds = Histogram(
            f"{p}_interval_seconds",
            "Measured pathway intervals (event time)",
            INTERVAL_LABELS,
            buckets=buckets,
            registry=registry,
        )
        self.interval_place = Summary(
            f"{p}_interval_place_seconds",
            "Measured pathway intervals by district and hospital (sum and count, for means)",
            PLACE_LABELS,
            registry=registry,
        )
        self.interval_target = Gauge(
            f"{p}_interval_target_seconds",
            "Target of an interval in the rule pack",
            ["interval", "area_type"],
            registry=registry,
        )
        self.alerts = Counter(
            f"{p}_alerts_total",
            "Alerts raised, by kind",
            ["kind", "interval", "pathway", "area_type", "district", "hospital"],
            registry=registry,
        )
        self.prealerts = Counter(
            f"{p}_prealerts_total",
            "Pre-alert lifecycle steps, by state",
            ["state", "pathway", "hospital"],
            registry=registry,
        )
        self.deadletters = Counter(
            f"{p}_deadletters_total",
            "Messages dead-lettered, by reason and source topic",
            ["reason", "topic"],
            registry=registry,
        )
        self.quality_flags = Counter(
            f"{p}_data_quality_flags_total",
            "Data-quality flags on interval records",
            ["flag", "interval"],
            registry=registry,
        )
        self.events = Counter(
            f"{p}_events_total",
            "Input events processed, by topic",
            ["topic"],
            registry=registry,
        )
        self.sent = Counter(
            f"{p}_messages_sent_total",
            "Messages the worker sent, by topic (outputs, internal feeds, table changelogs)",
            ["topic"],
            registry=registry,
        )
        self.event_lag = Gauge(
            f"{p}_event_lag_seconds",
            "Processing time minus event time of the latest event",
            ["topic"],
            registry=registry,
        )

    # --- called by the agents -----------------------------------------------------------------

    def observe_interval(self, record: IntervalRecord) -> None:
        """A revision > 1 corrects an earlier value: the histogram keeps the first observation
        (counters cannot be undone); the compliance gauges (`streams.web.board_metrics`) are
        exact."""
        if record.revision <= 1:
            self._child(self.interval_seconds, interval_labels(record)).observe(record.seconds)
            self._child(self.interval_place, place_labels(record)).observe(record.seconds)
        for flag in record.quality_flags:
            self._child(self.quality_flags, (flag, record.interval)).inc()

    def count_alert(self, alert: Alert) -> None:
        labels = (alert.kind, _label(alert.interval), alert.pathway, _label(alert.area_type),
                  _label(alert.district_id), _label(alert.hospital_id))
        self._child(self.alerts, labels).inc()

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        """`metric.labels(*labels)`, kept: `labels()` checks and locks on every call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def count_prealert(self, prealert: PreAlert) -> None:
        self._child(self.prealerts,
                    (prealert.state, prealert.pathway, prealert.hospital_id)).inc()

    def count_deadletter(self, reason: str, topic: str = "") -> None:
        # str() of a `pathways.events.Reason` (a StrEnum) is its code, e.g. "invalid_json"
        self._child(self.deadletters, (str(reason), topic)).inc()

    def count_event(self, topic: str) -> None:
        self._child(self.events, (topic,)).inc()

    def observe_event_lag(self, topic: str, seconds: float) -> None:
        self._child(self.event_lag, (topic,)).set(seconds)

    def count_sent(self, topic: str) -> None:
        self._child(self.sent, (topic,)).inc()


def pack_targets(pack: RulePack) -> tuple[list[float], dict[tuple[str, str], float]]:
    """(every target for the buckets, (interval, area type or "") -> target for the gauges)."""
    every: list[float] = []
    by_interval: dict[tuple[str, str], float] = {}
    for rule in pack.intervals:
        target = rule.target
        if target.default_s is not None:
            every.append(target.default_s)
            by_interval[(rule.name, "")] = target.default_s
        for key, seconds in target.values_s:
            every.append(seconds)
            if target.by == "area_type":
                by_interval[(rule.name, key)] = seconds
        every.extend(s.within_s for s in rule.statistics if s.within_s is not None)
    return every, by_interval


def metrics_for_pack(registry: CollectorRegistry, pack: RulePack) -> Metrics:
    targets, by_interval = pack_targets(pack)
    return Metrics(registry, targets_s=targets, interval_targets_s=by_interval)


def install_faust_sensors(app: Any, registry: CollectorRegistry, prefix: str = "faust") -> None:
    """Faust's own sensor metrics (messages, commits, rebalances...) on the same registry.

    Faust's `setup_prometheus_sensors` also mounts a page on Faust's legacy web server, which
    pathwatch does not run (`streams.web` serves `/metrics`); so only the monitor is installed.
    """
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    class Monitor(PrometheusMonitor):
        """Faust calls this for every message fetched: the gauge child is kept, not looked
        up by `labels()` each time."""

        def track_tp_end_offset(self, tp: Any, offset: int) -> None:
            self.tp_end_offsets[tp] = offset
            gauge = end_offsets.get(tp)
            if gauge is None:
                gauge = end_offsets[tp] = self._metrics.topic_partition_end_offset.labels(
                    topic=tp.topic, partition=tp.partition)
            gauge.set(offset)

    end_offsets: dict[Any, Any] = {}
    app.monitor = Monitor(metrics=FaustMetrics.create(registry, prefix))
