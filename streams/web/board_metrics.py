"""Gauges read from the board at scrape time: open incidents by state, units by status, and
the compliance of the current day and month (mean and share within target, per interval and
area type; area_type="" is all areas), so Grafana shows a rule's pass/fail without PromQL.

The board sees every partition, so each worker reports the whole region: aggregate these
with `max`, not `sum`, across workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pathways.compliance import BucketStats
from streams.web.board import Board
from streams.web.screens import STAGES, incident_status

UNIT_STATUSES = ("available", "assigned", "enroute", "on_scene", "transporting", "at_hospital")
INCIDENT_STATES = STAGES


class BoardCollector(Collector):
    def __init__(self, board: Board) -> None:
        self.board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        units = Counter(u.status for u in self.board.units.values())
        incidents = Counter(
            incident_status(i)
            for i in self.board.incidents.values()
            if i.call_ts is not None and i.door_ts is None
        )
        yield _family("pathwatch_units", "Units by status", "status", UNIT_STATUSES, units)
        yield _family(
            "pathwatch_open_incidents",
            "Open incidents by state (before the hospital door)",
            "state",
            INCIDENT_STATES,
            incidents,
        )
        yield from compliance_families(self.board.current_compliance())


def compliance_families(stats: Iterable[BucketStats]) -> Iterator[GaugeMetricFamily]:
    labels = ["interval", "area_type", "period"]
    count = GaugeMetricFamily(
        "pathwatch_compliance_intervals", "Intervals counted in the current period", labels=labels
    )
    mean = GaugeMetricFamily(
        "pathwatch_compliance_mean_seconds", "Mean of an interval over the current period",
        labels=labels,
    )
    within = GaugeMetricFamily(
        "pathwatch_compliance_within_target_ratio",
        "Share of the current period's intervals within target (0..1)", labels=labels,
    )
    for s in stats:
        if s.dimension not in ("all", "area_type") or s.count == 0:
            continue
        key = [s.interval, "" if s.dimension == "all" else s.value, s.period]
        count.add_metric(key, s.count)
        if s.mean_s is not None:
            mean.add_metric(key, s.mean_s)
        if s.share_met is not None:
            within.add_metric(key, s.share_met)
    yield from (count, mean, within)


def _family(
    name: str, doc: str, label: str, keys: tuple[str, ...], counts: Counter[str]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key in (*keys, *sorted(set(counts) - set(keys))):
        family.add_metric([key], counts.get(key, 0))
    return family
