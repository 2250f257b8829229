"""Multi-unit calls shaped like SFFD rows: first-unit semantics, the transporting unit, gaps."""

from __future__ import annotations

from pathways.engine import Engine
from pathways.events import Event
from pathways.outputs import IntervalRecord
from pathways.rulepack import load_pack
from tests.pathways.factory import at, event, last_records, unit


def s(seconds: int) -> float:
    return seconds / 60


def sf_call() -> list[Event]:
    """Received 0 s; three unit rows, one transporting, one with most timestamps empty."""
    return [
        event("call.received", 0, pathway_hint="other"),
        # row E02: dispatch, response, on scene; no transport
        unit("assigned", s(29), "E02"),
        unit("enroute", s(70), "E02"),
        unit("on_scene", s(300), "E02"),
        # row KM03 (ambulance): transports
        unit("assigned", s(29), "KM03"),
        unit("enroute", s(50), "KM03"),
        unit("on_scene", s(390), "KM03"),
        unit("left_scene", s(1200), "KM03"),
        unit("at_destination", s(1875), "KM03"),
        # row B01: dispatched, then nothing recorded
        unit("assigned", s(61), "B01"),
    ]


def intervals(events: list[Event]) -> dict[str, IntervalRecord]:
    return last_records(Engine(load_pack("cn")), events, at(600))


def test_first_unit_semantics_to_the_second() -> None:
    got = {k: (r.seconds, r.unit_id) for k, r in intervals(sf_call()).items()}
    assert got == {
        "call_processing": (29, "E02"),  # tie at 29 s broken by event id, same value
        "call_to_departure": (50, "KM03"),
        "turnout": (21, "KM03"),  # the first unit en route: its own dispatch -> response
        "response": (300, "E02"),
        "travel": (230, "E02"),  # the first unit on scene: its own response -> on scene
        "on_scene": (810, "KM03"),  # the transporting unit
        "transport": (675, "KM03"),
    }


def test_first_on_scene_unit_without_enroute_time_has_no_travel() -> None:
    events = [e for e in sf_call() if not (e.unit_id == "E02" and e.TYPE == "unit.enroute")]
    got = intervals(events)
    assert "travel" not in got
    assert got["response"].seconds == 300
    assert got["call_to_departure"].seconds == 50


def test_no_transport_means_no_transport_intervals() -> None:
    events = [e for e in sf_call() if e.TYPE not in ("unit.left_scene", "unit.at_destination")]
    got = intervals(events)
    assert "on_scene" not in got and "transport" not in got
    assert got["response"].seconds == 300
