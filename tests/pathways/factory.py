"""Hand-built contract events for the pathway tests: minutes after an arbitrary base time;
and what an engine makes of one incident's events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pathways import events as ev
from pathways.outputs import IntervalRecord

if TYPE_CHECKING:
    from pathways.engine import Engine, IncidentState

BASE = datetime(2026, 3, 14, 9, 0, 0, tzinfo=timezone(timedelta(hours=8)))


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def event(
    kind: str, minutes: float, incident: str = "inc-1", event_id: str | None = None, **fields: Any
) -> ev.Event:
    """A validated contract event `kind` at BASE + minutes (through the real parser)."""
    obj: dict[str, Any] = {
        "event_id": event_id or f"{incident}:{kind}:{fields.get('unit_id', '')}:{minutes}",
        "type": kind,
        "ts": ev.format_timestamp(at(minutes)),
        "source": fields.pop("source", "test"),
        "incident_id": incident,
        **fields,
    }
    if kind == "call.received":
        obj.setdefault("location", {"lat": 31.23, "lon": 121.47})
    if kind in ev.HOSPITAL_MILESTONES:
        obj.setdefault("hospital_id", "H1")
    parsed = ev.parse_object(obj)
    assert not isinstance(parsed, ev.ParseError), parsed
    return parsed


def unit(kind: str, minutes: float, unit_id: str, incident: str = "inc-1", **f: Any) -> ev.Event:
    return event(f"unit.{kind}", minutes, incident, unit_id=unit_id, **f)


def stemi_incident(incident: str = "inc-1") -> list[ev.Event]:
    """An EMS STEMI: every chest-pain milestone at a round minute (offsets in the comments)."""
    return [
        event("call.received", 0, incident, pathway_hint="chest_pain", triage_level=1),
        unit("assigned", 0.5, "A1", incident),
        unit("enroute", 2, "A1", incident),
        unit("on_scene", 12, "A1", incident),
        event("ecg.acquired", 16, incident, setting="prehospital", stemi=True),
        event("ecg.transmitted", 19, incident),
        unit("left_scene", 27, "A1", incident, destination_hospital_id="H1"),
        event("cathlab.activated", 30, incident),
        unit("at_destination", 45, "A1", incident, hospital_id="H1"),
        event("hospital.arrived", 46, incident),
        event("cathlab.team_ready", 55, incident),
        event("wire.crossed", 106, incident),
        event("device.deployed", 110, incident),
    ]


def last_records(
    engine: Engine, events: list[ev.Event], now: datetime
) -> dict[str, IntervalRecord]:
    """The events applied in order to one incident: the last record of each interval."""
    state: IncidentState | None = None
    latest: dict[str, IntervalRecord] = {}
    for e in events:
        state, outputs = engine.apply(state, e, now)
        latest.update({o.interval: o for o in outputs if isinstance(o, IntervalRecord)})
    return latest
