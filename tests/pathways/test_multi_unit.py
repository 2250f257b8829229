"""Multi-unit calls shaped like SFFD rows: first-unit semantics, the transporting unit, gaps."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _gps(kind: str, minutes: float, unit_id: str) -> Event:
    return unit(kind, minutes, unit_id, source="avl", event_id=f"avl:{unit_id}:{kind}:{minutes}")


def test_an_explicit_status_supersedes_the_one_inferred_from_gps() -> None:
    """The button wins over the geofence for the same unit; GPS counts where there is none.
    Whether the arrival was inferred depends on the read order of fixes and statuses, so this
    is also what keeps the intervals the same in every order."""
    call = [event("call.received", 0), unit("assigned", 1, "A1"), unit("enroute", 2, "A1")]
    button = unit("on_scene", 9, "A1")
    inferred = _gps("on_scene", 8.5, "A1")
    other_unit = [unit("assigned", 1, "B1"), _gps("on_scene", 9.5, "B1")]
    with_both = intervals(call + [inferred, button] + other_unit)
    assert (with_both["response"].seconds, with_both["response"].unit_id) == (9 * 60, "A1")
    assert with_both["travel"].seconds == 7 * 60
    forgotten = intervals(call + [inferred])
    assert forgotten["response"].seconds == 8.5 * 60


@settings(max_examples=60, deadline=None)  # no per-example deadline: CI machines are slow
@given(order=st.permutations(range(6)))
def test_the_precedence_does_not_depend_on_the_order(order: list[int]) -> None:
    events = [event("call.received", 0), unit("assigned", 1, "A1"), unit("enroute", 2, "A1"),
              _gps("on_scene", 8.5, "A1"), unit("on_scene", 9, "A1"), _gps("on_scene", 9.5, "A1")]
    reordered = [events[i] for i in order]
    assert _values(intervals(reordered)) == _values(intervals(events))


def _values(records: dict[str, IntervalRecord]) -> dict[str, IntervalRecord]:
    return {k: replace(r, revision=0) for k, r in records.items()}  # revisions count history
