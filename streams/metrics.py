"""Prometheus metrics of a worker, over a registry passed in (a fresh one in every test).

Names follow the Prometheus conventions: base units (`_seconds`), `_total` on counters.
Labels are low-cardinality dimensions only (interval, pathway, area type, district, hospital,
triage level, kind, state, reason, topic): never an incident, unit or patient identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pathways.outputs import Alert, IntervalRecord, PreAlert
from pathways.rulepack import RulePack, load_pack

PREFIX = "pathwatch"
INTERVAL_LABELS = ("interval", "pathway", "area_type", "district", "hospital", "triage_level")
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


def interval_labels(record: IntervalRecord) -> dict[str, str]:
    return {
        "interval": record.interval,
        "pathway": record.pathway,
        "area_type": _label(record.area_type),
        "district": _label(record.district_id),
        "hospital": _label(record.hospital_id),
        "triage_level": _label(record.triage_level),
    }


@dataclass(slots=True)
class _Tally:
    count: int = 0
    total_s: float = 0.0
    within: int = 0  # records with met=True
    judged: int = 0  # records with met not None

    def add(self, seconds: float, met: bool | None, sign: int) -> None:
        self.count += sign
        self.total_s += sign * seconds
        if met is not None:
            self.judged += sign
            self.within += sign if met else 0


def period_keys(end_ts: datetime) -> dict[str, str]:
    """Day and month of an interval, in the local time of its own timestamp (event time)."""
    return {"day": end_ts.strftime("%Y-%m-%d"), "month": end_ts.strftime("%Y-%m")}


class Compliance:
    """Exact running sums per (interval, area type, period); a revision replaces its earlier one.

    Only the latest day and month seen (in event time) are exported; older periods are dropped.
    """

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, str, str], _Tally] = {}
        self._contributed: dict[tuple[str, str], tuple[IntervalRecord, dict[str, str]]] = {}
        self.current: dict[str, str] = {}

    def add(self, record: IntervalRecord) -> None:
        key = (record.incident_id, record.interval)
        earlier = self._contributed.get(key)
        if earlier is not None and earlier[0].revision >= record.revision:
            return  # a redelivery or an older revision changes nothing
        if earlier is not None:
            self._apply(earlier[0], earlier[1], -1)
        periods = period_keys(record.end_ts)
        self._contributed[key] = (record, periods)
        self._apply(record, periods, +1)
        for period, value in periods.items():
            if value > self.current.get(period, ""):
                self.current[period] = value
                self._forget_before(period, value)

    def _apply(self, record: IntervalRecord, periods: Mapping[str, str], sign: int) -> None:
        for period, value in periods.items():
            if value < self.current.get(period, ""):
                continue  # a period no longer exported: its tallies are gone
            for area in ("", _label(record.area_type)):
                tally_key = (record.interval, area, period, value)
                self._tallies.setdefault(tally_key, _Tally()).add(record.seconds, record.met, sign)

    def _forget_before(self, period: str, value: str) -> None:
        stale = [k for k in self._tallies if k[2] == period and k[3] < value]
        for key in stale:
            del self._tallies[key]
        # a record older than the current month can no longer change an exported tally
        month = self.current.get("month", "")
        self._contributed = {k: v for k, v in self._contributed.items() if v[1]["month"] >= month}

    def current_tallies(self) -> Iterable[tuple[str, str, str, _Tally]]:
        """(interval, area type or "" for all, period, tally) of the current day and month."""
        for (interval, area, period, value), tally in self._tallies.items():
            if self.current.get(period) == value and tally.count > 0:
                yield interval, area, period, tally


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
        self.compliance = Compliance()
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
        self.event_lag = Gauge(
            f"{p}_event_lag_seconds",
            "Processing time minus event time of the latest event",
            ["topic"],
            registry=registry,
        )
        self.compliance_mean = Gauge(
            f"{p}_compliance_mean_seconds",
            "Mean of an interval over the current period",
            ["interval", "area_type", "period"],
            registry=registry,
        )
        self.compliance_within = Gauge(
            f"{p}_compliance_within_target_ratio",
            "Share of the current period's intervals within target (0..1)",
            ["interval", "area_type", "period"],
            registry=registry,
        )
        self.compliance_count = Gauge(
            f"{p}_compliance_intervals",
            "Intervals counted in the current period",
            ["interval", "area_type", "period"],
            registry=registry,
        )

    # --- called by the agents -----------------------------------------------------------------

    def observe_interval(self, record: IntervalRecord) -> None:
        """A revision > 1 corrects an earlier value: the histogram keeps the first observation
        (counters cannot be undone); the compliance gauges are exact."""
        if record.revision <= 1:
            self.interval_seconds.labels(**interval_labels(record)).observe(record.seconds)
        for flag in record.quality_flags:
            self.quality_flags.labels(flag=flag, interval=record.interval).inc()
        self.compliance.add(record)
        self._export_compliance()

    def count_alert(self, alert: Alert) -> None:
        self.alerts.labels(
            kind=alert.kind,
            interval=_label(alert.interval),
            pathway=alert.pathway,
            area_type=_label(alert.area_type),
            district=_label(alert.district_id),
            hospital=_label(alert.hospital_id),
        ).inc()

    def count_prealert(self, prealert: PreAlert) -> None:
        self.prealerts.labels(
            state=prealert.state, pathway=prealert.pathway, hospital=prealert.hospital_id
        ).inc()

    def count_deadletter(self, reason: str, topic: str = "") -> None:
        # str() of a `pathways.events.Reason` (a StrEnum) is its code, e.g. "invalid_json"
        self.deadletters.labels(reason=str(reason), topic=topic).inc()

    def count_event(self, topic: str) -> None:
        self.events.labels(topic=topic).inc()

    def observe_event_lag(self, topic: str, seconds: float) -> None:
        self.event_lag.labels(topic=topic).set(seconds)

    def _export_compliance(self) -> None:
        for gauge in (self.compliance_mean, self.compliance_within, self.compliance_count):
            gauge.clear()  # the previous day's series must not linger after midnight
        for interval, area, period, tally in self.compliance.current_tallies():
            labels = {"interval": interval, "area_type": area, "period": period}
            self.compliance_count.labels(**labels).set(tally.count)
            self.compliance_mean.labels(**labels).set(tally.total_s / tally.count)
            if tally.judged:
                self.compliance_within.labels(**labels).set(tally.within / tally.judged)


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

    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, prefix))
