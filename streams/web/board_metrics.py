"""Gauges read from the board at scrape time: open incidents by state, units by status.

The board sees every partition, so each worker reports the whole region: aggregate these
with `max`, not `sum`, across workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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


def _family(
    name: str, doc: str, label: str, keys: tuple[str, ...], counts: Counter[str]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key in (*keys, *sorted(set(counts) - set(keys))):
        family.add_metric([key], counts.get(key, 0))
    return family
