from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from streams.web.board_metrics import BoardCollector


def test_units_and_open_incidents_are_read_at_scrape_time(kit: Any) -> None:
    board = kit.board()
    registry = CollectorRegistry()
    registry.register(BoardCollector(board))
    board.apply_event(kit.call("I1", 0))
    board.apply_event(kit.call("I2", 5))
    board.apply_event(kit.unit("unit.assigned", "A01", "I1", 10))
    board.apply_event(kit.unit("unit.enroute", "A01", "I1", 20))
    board.apply_event(kit.unit("unit.available", "A02", None, 0))

    def gauge(name: str, label: str, key: str) -> float | None:
        return registry.get_sample_value(name, {label: key})

    assert gauge("pathwatch_units", "status", "enroute") == 1
    assert gauge("pathwatch_units", "status", "available") == 1
    assert gauge("pathwatch_units", "status", "on_scene") == 0
    assert gauge("pathwatch_open_incidents", "state", "enroute") == 1
    assert gauge("pathwatch_open_incidents", "state", "awaiting_unit") == 1
    board.apply_event(kit.event("incident.closed", 30, incident_id="I2"))
    assert gauge("pathwatch_open_incidents", "state", "awaiting_unit") == 0
