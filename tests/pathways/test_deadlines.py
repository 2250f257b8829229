"""Deadlines with `now` passed in: approaching, breach, missing_milestone, once each."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources

from pathways.deadlines import next_deadline
from pathways.engine import Engine, IncidentState
from pathways.events import Event
from pathways.outputs import Alert
from pathways.rulepack import load_pack, parse_pack
from tests.pathways.factory import at, event, unit

CN = load_pack("cn")
URBAN = Engine(CN, locate=lambda lat, lon: ("D1", "urban"))


def state_of(events: list[Event], engine: Engine = URBAN) -> IncidentState:
    state: IncidentState | None = None
    for e in events:
        state, _ = engine.apply(state, e, e.ts)
    assert state is not None
    return state


def kinds(alerts: list[Alert], interval: str) -> list[str]:
    return [a.kind for a in alerts if a.interval == interval]


def sweep(
    state: IncidentState, now: datetime, engine: Engine = URBAN
) -> tuple[IncidentState, list[Alert]]:
    return engine.sweep(state, now)


def test_response_approaching_at_80_percent_then_breach_once() -> None:
    state = state_of([event("call.received", 0)])
    state, alerts = sweep(state, at(11.9))
    assert kinds(alerts, "response") == []
    state, alerts = sweep(state, at(12))
    assert kinds(alerts, "response") == ["approaching"]
    (alert,) = [a for a in alerts if a.interval == "response"]
    assert alert.deadline_ts == at(15) and alert.target_s == 900 and alert.area_type == "urban"
    state, alerts = sweep(state, at(13))
    assert kinds(alerts, "response") == []
    state, alerts = sweep(state, at(15))
    assert kinds(alerts, "response") == ["breach"]
    _, alerts = sweep(state, at(40))
    assert alerts == []


def test_county_target_moves_the_deadline() -> None:
    county = Engine(CN, locate=lambda lat, lon: ("D9", "county"))
    state = state_of([event("call.received", 0)], county)
    _, alerts = sweep(state, at(10), county)
    assert kinds(alerts, "response") == ["breach"]


def test_milestone_in_time_means_no_alert() -> None:
    state = state_of([event("call.received", 0), unit("on_scene", 11, "A1")])
    _, alerts = sweep(state, at(30))
    assert kinds(alerts, "response") == []


def test_interval_that_closed_late_is_a_breach_even_without_a_sweep() -> None:
    state = state_of([event("call.received", 0)])
    _, outputs = URBAN.apply(state, unit("on_scene", 20, "A1"), at(20))
    alerts = [o for o in outputs if isinstance(o, Alert)]
    assert kinds(alerts, "response") == ["breach"]


def test_missing_ecg_ten_minutes_after_door() -> None:
    door = [event("call.received", 0, pathway_hint="chest_pain"), event("hospital.arrived", 30)]
    state = state_of(door)
    _, early = sweep(state, at(39))
    assert [a for a in early if a.kind == "missing_milestone"] == []
    _, alerts = sweep(state, at(40))
    (missing,) = [a for a in alerts if a.kind == "missing_milestone"]
    assert missing.interval == "door_to_ecg" and missing.deadline_ts == at(40)
    with_ecg = state_of([*door, event("ecg.acquired", 35, setting="hospital")])
    _, alerts = sweep(with_ecg, at(60))
    assert [a for a in alerts if a.kind == "missing_milestone"] == []


def test_door_to_balloon_deadline_only_for_a_confirmed_stemi() -> None:
    chest = [event("call.received", 0, pathway_hint="chest_pain"), event("hospital.arrived", 30)]
    _, alerts = sweep(state_of(chest), at(30 + 72))
    assert kinds(alerts, "door_to_balloon") == []
    stemi = [*chest, event("ecg.acquired", 33, setting="hospital", stemi=True)]
    _, alerts = sweep(state_of(stemi), at(30 + 72))
    assert kinds(alerts, "door_to_balloon") == ["approaching"]


def test_closed_incident_stops_open_deadlines() -> None:
    state = state_of([event("call.received", 0), event("incident.closed", 2)])
    _, alerts = sweep(state, at(60))
    assert alerts == []


def test_a_deadline_missed_before_the_end_is_still_a_breach_when_seen_later() -> None:
    def seen_late(events: list[Event]) -> IncidentState:  # as by a worker catching up
        state: IncidentState | None = None
        for e in events:
            state, _ = URBAN.apply(state, e, at(60), hold_deadlines=True)
        assert state is not None
        return state

    for end in ("incident.closed", "call.cancelled"):
        _, alerts = sweep(seen_late([event("call.received", 0), event(end, 20)]), at(60))
        assert kinds(alerts, "response") == ["breach"]  # due at 15, ended at 20
        _, alerts = sweep(seen_late([event("call.received", 0), event(end, 14)]), at(60))
        assert kinds(alerts, "response") == []  # ended before it was due


def test_approaching_share_is_configurable() -> None:
    text = (resources.files("pathways") / "packs" / "cn.json").read_text(encoding="utf-8")
    obj = json.loads(text)
    obj["approaching_share"] = 0.5
    engine = Engine(parse_pack(json.dumps(obj)), locate=lambda lat, lon: ("D1", "urban"))
    state = state_of([event("call.received", 0)], engine)
    _, alerts = sweep(state, at(7.5), engine)
    assert kinds(alerts, "response") == ["approaching"]


def test_next_deadline_is_the_next_moment_an_alert_can_fire() -> None:
    state = state_of([event("call.received", 0), unit("enroute", 1, "A1")])
    timeline = URBAN.timeline(state)
    assert next_deadline(timeline, CN, at(1)) == at(12)  # response approaching (0.8 x 15)
    assert next_deadline(timeline, CN, at(12)) == at(15)
    assert next_deadline(timeline, CN, at(15)) is None


def test_open_deadlines_list_the_running_clocks() -> None:
    from pathways.deadlines import open_deadlines

    state = state_of([
        event("call.received", 0, pathway_hint="chest_pain"),
        unit("assigned", 0.5, "A1"),
        event("hospital.arrived", 30),
    ])
    running = {(d.subject, d.kind, d.due_ts) for d in open_deadlines(URBAN.timeline(state), CN)}
    assert running == {
        ("call_to_departure", "interval", at(3)),
        ("response", "interval", at(15)),
        ("door_to_ecg", "missing", at(40)),
    }
