"""Engine behaviour: revisions, redelivery, conflicts, state round-trip, quality flags."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pathways.engine import Engine, IncidentState
from pathways.events import Event
from pathways.outputs import Alert, IntervalRecord
from pathways.rulepack import load_pack
from tests.pathways.factory import at, event, stemi_incident, unit

ENGINE = Engine(load_pack("cn"), locate=lambda lat, lon: ("D1", "urban"))
NOW = at(500)


def run(
    events: list[Event], state: IncidentState | None = None, now: datetime = NOW
) -> tuple[IncidentState, list[IntervalRecord | Alert]]:
    outputs: list[IntervalRecord | Alert] = []
    for e in events:
        state, out = ENGINE.apply(state, e, now)
        outputs.extend(out)
    assert state is not None
    return state, outputs


def records(outputs: Sequence[IntervalRecord | Alert], name: str) -> list[IntervalRecord]:
    return [o for o in outputs if isinstance(o, IntervalRecord) and o.interval == name]


def test_late_earlier_milestone_gives_revision_2() -> None:
    state, first = run([event("call.received", 0), unit("on_scene", 12, "A1")])
    assert [(r.revision, r.seconds) for r in records(first, "response")] == [(1, 720)]
    state, late = run([unit("on_scene", 10, "A2")], state)
    assert [(r.revision, r.seconds, r.unit_id) for r in records(late, "response")] == [
        (2, 600, "A2")
    ]


def test_milestone_that_changes_nothing_gives_no_record() -> None:
    state, _ = run([event("call.received", 0), unit("on_scene", 10, "A1")])
    state, out = run([unit("on_scene", 11, "A2")], state)  # not the first: response unchanged
    assert records(out, "response") == []


def test_redelivery_changes_nothing_and_outputs_nothing() -> None:
    events = stemi_incident()
    state, _ = run(events)
    again, out = run(events, state)
    assert out == []
    assert again == state


def test_same_id_with_different_content_is_a_data_quality_alert_and_a_revision() -> None:
    original = unit("on_scene", 12, "A1", event_id="os-1")
    corrected = unit("on_scene", 9, "A1", event_id="os-1")
    state, _ = run([event("call.received", 0), original])
    state, out = run([corrected], state)
    conflicts = [o for o in out if isinstance(o, Alert) and o.kind == "data_quality"]
    assert len(conflicts) == 1 and "os-1" in conflicts[0].detail
    assert [(r.revision, r.seconds) for r in records(out, "response")] == [(2, 540)]
    _, again = run([corrected], state)
    assert again == []


def test_state_round_trips_through_json_and_restart_is_deterministic() -> None:
    events = stemi_incident()
    state, _ = run(events[:6])
    restored = IncidentState.from_json(json.loads(json.dumps(state.to_json())))
    assert restored == state
    _, direct = run(events[6:], state)
    _, after_restart = run(events[6:], restored)
    assert after_restart == direct and direct


def test_events_without_incident_are_ignored() -> None:
    state, _ = run([event("call.received", 0, incident="x")])
    gps = event("gps.fix", 1, unit_id="A1", lat=31.2, lon=121.4, incident="x")
    available = event("unit.available", 2, unit_id="A1", incident="x")
    for e in (gps, available):
        after, out = ENGINE.apply(state, e, NOW)
        assert (after, out) == (state, [])


def test_end_before_start_is_flagged_and_alerted() -> None:
    _, out = run([event("call.received", 10), unit("assigned", 9, "A1")])
    (record,) = records(out, "call_processing")
    assert record.seconds == -60 and "end_before_start" in record.quality_flags
    assert record.met is None
    assert any(
        isinstance(o, Alert) and o.kind == "data_quality" and "end_before_start" in o.detail
        for o in out
    )


def test_implausible_duration_is_flagged() -> None:
    _, out = run([event("call.received", 0), unit("on_scene", 25 * 60, "A1")], now=at(3000))
    (record,) = records(out, "response")
    assert "implausible_duration" in record.quality_flags and record.met is None


def test_future_timestamp_beyond_tolerance_is_flagged() -> None:
    now = at(10)
    _, out = run([event("call.received", 0), unit("on_scene", 13, "A1")], now=now)
    (record,) = records(out, "response")
    assert "future_timestamp" in record.quality_flags
    assert any(isinstance(o, Alert) and "future_timestamp" in o.detail for o in out)
    _, ok = run([event("call.received", 0), unit("on_scene", 11, "A1")], now=now)
    (within,) = records(ok, "response")
    assert "future_timestamp" not in within.quality_flags  # 60 s ahead is within tolerance


def test_pathway_change_withdraws_intervals_that_no_longer_apply() -> None:
    state, out = run([
        event("call.received", 0, pathway_hint="chest_pain"),
        unit("on_scene", 5, "A1"),
        event("ecg.acquired", 8, setting="prehospital"),
    ])
    assert records(out, "fmc_to_ecg")
    _, out = run([event("diagnosis.made", 20, diagnosis="major_trauma")], state)
    (withdrawn,) = records(out, "fmc_to_ecg")
    assert withdrawn.revision == 2 and "withdrawn" in withdrawn.quality_flags


def test_held_deadlines_wait_for_the_sweep() -> None:
    """A worker catching up holds deadlines: the unit event closing the interval may still be
    unread. The sweep afterwards raises only what really was missed."""
    engine = Engine(load_pack("cn"), locate=lambda lat, lon: ("D1", "urban"))
    late = at(60)
    state, outputs = engine.apply(None, event("call.received", 0), late, hold_deadlines=True)
    assert [o for o in outputs if isinstance(o, Alert)] == []
    state, _ = engine.apply(state, unit("assigned", 1, "A1"), late, hold_deadlines=True)
    state, _ = engine.apply(state, unit("enroute", 2, "A1"), late, hold_deadlines=True)
    state, _ = engine.apply(state, unit("on_scene", 20, "A1"), late, hold_deadlines=True)
    _, alerts = engine.sweep(state, late)
    assert {(a.interval, a.kind) for a in alerts} == {("response", "breach")}
