"""The engine's caches (timelines per incident, answers inherited from the incident's previous
timeline, records not rebuilt) never change what it says: a long-lived engine and a fresh engine
per call give the same outputs, states and deadlines for any delivery of an incident."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways import engine as engine_module
from pathways import events as ev
from pathways.engine import Engine, IncidentState, _fingerprint
from pathways.outputs import IntervalRecord, to_json
from pathways.rulepack import load_pack
from tests.pathways.factory import at, event, stemi_incident, unit
from tests.pathways.test_multi_unit import sf_call
from tests.pathways.test_order_independence import stroke_call

PACK = load_pack("cn")


def locate(lat: float, lon: float) -> tuple[str, str]:
    return ("D1", "urban") if lat > 31 else ("D2", "county")


def extras() -> list[ev.Event]:
    """Events that change pathway, facts, roles, attributes or end the incident."""
    return [
        event("diagnosis.made", 20, diagnosis="ischemic_stroke"),
        event("diagnosis.made", 25, diagnosis="major_trauma"),
        event("call.triaged", 3, triage_level=2, pathway_hint="trauma"),
        event("ecg.acquired", 14, setting="hospital", stemi=True),
        unit("left_scene", 20, "B7", destination_hospital_id="H2"),
        unit("assigned", 0.2, "B7"),
        event("transfer.departed", 80, hospital_id="H2"),
        event("incident.closed", 120),
        event("call.cancelled", 40),
        # A conflicting duplicate: an id seen above with other content.
        unit("on_scene", 7, "A1", event_id="inc-1:unit.on_scene:A1:12"),
        event(
            "call.received",
            1,
            event_id="inc-1:call.received::0",
            location={"lat": 30.1, "lon": 120.0},
        ),
        # Same ids, another type: the corrected event moves to another milestone.
        event("hospital.arrived", 30, event_id="inc-1:unit.on_scene:A1:12"),
        event("hospital.arrived", 30, event_id="inc-1:unit.on_scene:A1:9"),
    ]


@st.composite
def deliveries(draw: st.DrawFn) -> list[tuple[ev.Event, float]]:
    base = draw(st.sampled_from([stemi_incident(), sf_call(), stroke_call()]))
    more = draw(st.lists(st.sampled_from(extras()), max_size=4))
    again = draw(st.lists(st.sampled_from(base), max_size=3))
    order = draw(st.permutations(base + more + again))
    nows = draw(st.lists(st.floats(0, 300), min_size=len(order), max_size=len(order)))
    return list(zip(order, sorted(nows), strict=True))


def _same(a: list[Any], b: list[Any]) -> None:
    assert [type(x).__name__ for x in a] == [type(x).__name__ for x in b]
    assert [to_json(x) for x in a] == [to_json(x) for x in b]


@settings(max_examples=60, deadline=None)
@given(deliveries(), st.booleans())
def test_a_warm_engine_says_what_a_fresh_engine_says(
    delivery: list[tuple[ev.Event, float]], hold: bool
) -> None:
    warm = Engine(PACK, locate=locate)
    warm_state: IncidentState | None = None
    cold_state: IncidentState | None = None
    for e, minutes in delivery:
        now = at(minutes)
        warm_state, warm_out = warm.apply(warm_state, e, now, hold_deadlines=hold)
        cold_state, cold_out = Engine(PACK, locate=locate).apply(
            cold_state, e, now, hold_deadlines=hold
        )
        _same(warm_out, cold_out)
        assert warm_state.to_json() == cold_state.to_json()
        later = now + timedelta(minutes=7)
        assert warm.next_deadline(warm_state, now) == Engine(PACK, locate).next_deadline(
            cold_state, now
        )
        warm_state, warm_alerts = warm.sweep(warm_state, later)
        cold_state, cold_alerts = Engine(PACK, locate=locate).sweep(cold_state, later)
        _same(warm_alerts, cold_alerts)
        assert warm_state == cold_state


@settings(max_examples=30, deadline=None)
@given(deliveries())
def test_a_stored_state_lists_each_event_as_the_contract_writes_it(
    delivery: list[tuple[ev.Event, float]],
) -> None:
    """Events are formatted once per object (a worker stores an incident after each event);
    with the memo far smaller than an incident, so that entries are dropped and made again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "_EVENT_JSON_KEPT", 3)
        engine, state = Engine(PACK, locate=locate), None
        for e, minutes in delivery:
            state, _ = engine.apply(state, e, at(minutes))
            stored = state.to_json()["events"]
            assert stored == [ev.to_json(x) for x in state.events.values()]
            assert IncidentState.from_json(state.to_json()).events == state.events


def test_the_fingerprint_is_the_record_json_without_its_revision() -> None:
    engine = Engine(PACK, locate=locate)
    state: IncidentState | None = None
    seen: list[IntervalRecord] = []
    for e in [*stemi_incident(), event("diagnosis.made", 20, diagnosis="ischemic_stroke")]:
        state, out = engine.apply(state, e, at(500))
        seen += [o for o in out if isinstance(o, IntervalRecord)]
    assert seen
    for record in seen:
        expected = to_json(record)
        expected.pop("revision")
        expected["quality_flags"] = list(record.quality_flags)
        body = _fingerprint(record)
        assert body == expected
        assert list(body) == list(expected)  # same key order: the state's JSON bytes
