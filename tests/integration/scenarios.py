"""Scripted incidents of each pathway, as contract events, with what a user expects of them.

Times are minutes after an arbitrary base; the worker runs on the event-time clock, so the
wall clock of the test machine plays no part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pathways import events as ev

CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 24, 8, 0, tzinfo=CST)
# Demo region (geo/regions/demo): a scene in urban district D01, about 1 km from H01.
SCENE = (30.9450, 117.0600)
H01_DOOR = (30.952698, 117.054195)


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def event(kind: str, minutes: float, incident: str | None, **fields: Any) -> ev.Event:
    """A contract event through the real parser (so the scenario is valid by construction)."""
    suffix = fields.pop("id_suffix", "")
    obj: dict[str, Any] = {
        "event_id": f"{incident}:{kind}:{fields.get('unit_id', '')}:{minutes}{suffix}",
        "type": kind,
        "ts": ev.format_timestamp(at(minutes)),
        "source": fields.pop("source", "cad"),
        "incident_id": incident,
        **fields,
    }
    parsed = ev.parse_object(obj)
    assert not isinstance(parsed, ev.ParseError), parsed
    return parsed


def gps_path(
    unit: str, start: tuple[float, float], end: tuple[float, float], t0: float, t1: float,
    dwell_fixes: int = 4, every_s: float = 20.0,
) -> list[ev.GpsFix]:
    """Fixes every `every_s` moving in a straight line from start to end, then dwelling at
    end."""
    fixes: list[ev.GpsFix] = []
    per_minute = 60.0 / every_s
    steps = max(1, int((t1 - t0) * per_minute))
    for i in range(steps + 1 + dwell_fixes):
        share = min(1.0, i / steps)
        lat = start[0] + (end[0] - start[0]) * share
        lon = start[1] + (end[1] - start[1]) * share
        minutes = t0 + i / per_minute
        obj = {"event_id": f"gps:{unit}:{minutes:.3f}", "type": "gps.fix",
               "ts": ev.format_timestamp(at(minutes)), "source": "avl", "unit_id": unit,
               "lat": round(lat, 6), "lon": round(lon, 6), "speed_mps": 9.0, "accuracy_m": 8.0}
        parsed = ev.parse_object(obj)
        assert not isinstance(parsed, ev.ParseError), parsed
        assert isinstance(parsed, ev.GpsFix), parsed
        fixes.append(parsed)
    return fixes


@dataclass
class Scenario:
    incident_id: str
    events: list[ev.Event]
    intervals: dict[str, float]  # interval -> expected minutes
    # first and last pre-alert (state, hospital); any steps between must be `update`s
    prealerts: list[tuple[str, str]] = field(default_factory=list)
    alerts: set[str] = field(default_factory=set)  # expected alert ids (kind:interval)


def stemi_bypass() -> Scenario:
    """EMS STEMI, prehospital ECG, no destination from dispatch: geo picks the nearest PCI
    center (H01), the cath lab is activated from the field and the ED is bypassed; the door
    is inferred from GPS (no CAD arrival button)."""
    i, loc = "stemi-1", {"lat": SCENE[0], "lon": SCENE[1]}
    events = [
        event("call.received", 0, i, location=loc, pathway_hint="chest_pain", triage_level=1),
        event("unit.assigned", 0.5, i, unit_id="A1"),
        event("unit.enroute", 2, i, unit_id="A1"),
        event("unit.on_scene", 12, i, unit_id="A1"),
        event("unit.at_patient", 13, i, unit_id="A1"),
        event("ecg.acquired", 16, i, setting="prehospital", stemi=True),
        event("ecg.transmitted", 19, i),
        event("cathlab.activated", 22, i, hospital_id="H01"),
        event("unit.left_scene", 27, i, unit_id="A1"),
        *gps_path("A1", SCENE, H01_DOOR, 27, 36),
        event("cathlab.team_ready", 34, i, hospital_id="H01"),
        event("cathlab.arrived", 37.5, i, hospital_id="H01"),
        event("wire.crossed", 62, i, hospital_id="H01"),
        event("device.deployed", 65, i, hospital_id="H01"),
    ]
    # The door is the first fix inside H01's door polygon: 35 min 40 s (the fix 37 m short of
    # the door point), so transport is 8.67 min and door-to-balloon 26.33 min.
    intervals = {
        "call_to_departure": 2, "turnout": 1.5, "call_processing": 0.5, "response": 12,
        "travel": 10, "on_scene": 15, "transport": 8.67, "fmc_to_ecg": 4, "ecg_transmission": 3,
        "door_to_balloon": 26.33, "fmc_to_wire": 50, "cathlab_activation": 12,
    }
    # No alert: every interval is within target. (on_scene, 15 of 15 min, cannot warn while
    # open: the pack starts it at the *transporting* unit's arrival, known only at departure.)
    return Scenario(i, sorted(events, key=lambda e: e.ts), intervals,
                    prealerts=[("new", "H01"), ("arrived", "H01")])


def stroke_thrombolysis() -> Scenario:
    i, loc = "stroke-1", {"lat": 30.9200, "lon": 117.0400}
    events = [
        event("call.received", 0, i, location=loc, pathway_hint="stroke", triage_level=1,
              last_known_well=ev.format_timestamp(at(-40))),
        event("unit.assigned", 0.75, i, unit_id="B1"),  # before call_processing's 80% (48 s)
        event("unit.enroute", 2, i, unit_id="B1"),
        event("unit.on_scene", 11, i, unit_id="B1"),
        event("stroke.screen", 14, i, scale="FAST", score=4, lvo_suspected=False),
        event("unit.left_scene", 20, i, unit_id="B1", destination_hospital_id="H02"),
        event("unit.at_destination", 35, i, unit_id="B1", hospital_id="H02"),
        event("hospital.arrived", 35.5, i, hospital_id="H02"),
        event("ct.started", 50, i, hospital_id="H02"),
        event("ct.read", 55, i, hospital_id="H02"),
        event("thrombolysis.started", 75, i, hospital_id="H02"),
        event("incident.closed", 120, i),
    ]
    intervals = {
        "call_to_departure": 2, "call_processing": 0.75, "turnout": 1.25, "response": 11,
        "travel": 9, "on_scene": 9,
        "transport": 15, "stroke_door_to_ct": 14.5, "stroke_door_to_needle": 39.5,
    }
    return Scenario(i, events, intervals, prealerts=[("new", "H02"), ("arrived", "H02")])


def trauma_to_or() -> Scenario:
    i, loc = "trauma-1", {"lat": 30.9600, "lon": 117.0500}
    events = [
        event("call.received", 0, i, location=loc, pathway_hint="trauma", triage_level=1),
        event("unit.assigned", 0.5, i, unit_id="C1"),
        event("unit.enroute", 1.5, i, unit_id="C1"),
        event("unit.on_scene", 9, i, unit_id="C1"),
        event("trauma.assessment", 11, i, gcs=9, mechanism="motor_vehicle", activation_level=1),
        event("unit.left_scene", 18, i, unit_id="C1"),
        event("trauma_team.activated", 20, i, hospital_id="H01"),
        event("unit.at_destination", 30, i, unit_id="C1", hospital_id="H01"),
        event("hospital.arrived", 30, i, hospital_id="H01"),
        event("trauma_team.arrived", 38, i, hospital_id="H01"),
        event("ct.started", 50, i, hospital_id="H01"),
        event("or.entered", 80, i, hospital_id="H01"),
    ]
    intervals = {
        "call_to_departure": 1.5, "call_processing": 0.5, "turnout": 1, "response": 9,
        "travel": 7.5, "on_scene": 9, "transport": 12,
        "trauma_door_to_team": 8, "trauma_door_to_ct": 20, "trauma_door_to_or": 50,
    }
    return Scenario(i, events, intervals, prealerts=[("new", "H01"), ("arrived", "H01")])


def walk_in_stemi() -> Scenario:
    """Walk-in STEMI with a late ECG and a late wire: approaching and breach alerts.

    Until the ECG shows STEMI the walk-in has no pathway, so the late ECG is a breach of
    fmc_to_ecg when it comes (not a missing-milestone alert before it)."""
    i = "walkin-1"
    events = [
        event("hospital.arrived", 0, i, hospital_id="H02"),
        event("ecg.acquired", 14, i, setting="hospital", stemi=True, hospital_id="H02"),
        event("cathlab.activated", 20, i, hospital_id="H02"),
        event("cathlab.team_ready", 40, i, hospital_id="H02"),
        event("cathlab.arrived", 80, i, hospital_id="H02"),
        event("wire.crossed", 100, i, hospital_id="H02"),
    ]
    intervals: dict[str, float] = {"fmc_to_ecg": 14, "door_to_balloon": 100, "fmc_to_wire": 100,
                                   "cathlab_activation": 20}
    alerts = {
        "breach:fmc_to_ecg",
        "approaching:door_to_balloon", "breach:door_to_balloon",
        "approaching:fmc_to_wire", "breach:fmc_to_wire",
    }
    return Scenario(i, events, intervals, alerts=alerts)


def all_scenarios() -> list[Scenario]:
    return [stemi_bypass(), stroke_thrombolysis(), trauma_to_or(), walk_in_stemi()]
