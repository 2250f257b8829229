"""The boards' state: a projection of the input events and the engine's outputs.

Fed with parsed events and the output topics' JSON objects, in any partition order; read as
JSON views for the wall display and for one hospital's ED board. No I/O and no wall clock:
"now" is passed in to every view.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pathways import events as ev
from pathways.compliance import BucketStats, Compliance
from pathways.events import format_timestamp
from pathways.outputs import interval_from_json
from pathways.rulepack import RulePack, load_pack
from streams.web.clocks import Clock

DEPARTURE = "call_to_departure"
RESPONSE = "response"
DEFAULT_DEPARTURE_S = 180.0
DEFAULT_RESPONSE_S = {"urban": 900.0, "county": 600.0}
# In-hospital clocks started at the door: (interval, pathway, end milestones, default target).
HOSPITAL_CLOCKS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("door_to_balloon", "chest_pain", ("wire.crossed",), 90 * 60),
    ("stemi_door_to_needle", "chest_pain", ("thrombolysis.started",), 30 * 60),
    ("stroke_door_to_ct", "stroke", ("ct.started",), 25 * 60),
    ("stroke_door_to_needle", "stroke", ("thrombolysis.started",), 60 * 60),
    ("stroke_door_to_puncture", "stroke", ("puncture",), 90 * 60),
    ("trauma_door_to_team", "trauma", ("trauma_team.arrived",), 15 * 60),
    ("trauma_door_to_ct", "trauma", ("ct.started",), 45 * 60),
    ("trauma_door_to_or", "trauma", ("or.entered",), 60 * 60),
)
DIAGNOSIS_PATHWAY = {
    "stemi": "chest_pain",
    "nstemi": "chest_pain",
    "ischemic_stroke": "stroke",
    "hemorrhagic_stroke": "stroke",
    "major_trauma": "trauma",
}
UNIT_STATUS = {
    "unit.assigned": "assigned",
    "unit.enroute": "enroute",
    "unit.on_scene": "on_scene",
    "unit.at_patient": "on_scene",
    "unit.left_scene": "transporting",
    "unit.at_destination": "at_hospital",
    "unit.available": "available",
    "unit.cancelled": "available",
}
KEEP_AFTER_DOOR = timedelta(hours=4)
KEEP_OPEN = timedelta(hours=12)
LATEST_ALERTS = 12
# data_quality alerts are for the data manager and SRE (Grafana), not the dispatch wall
WALL_ALERT_KINDS = frozenset({"approaching", "breach", "predicted_breach", "missing_milestone"})


@dataclass(frozen=True, slots=True)
class BoardTargets:
    departure_s: float = DEFAULT_DEPARTURE_S
    response_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RESPONSE_S))
    hospital_clocks: tuple[tuple[str, str, tuple[str, ...], float], ...] = HOSPITAL_CLOCKS

    @classmethod
    def from_pack(cls, pack: Any) -> BoardTargets:
        """Targets from a `pathways.rulepack.RulePack`; intervals it lacks keep the defaults."""

        def target(name: str, default: float) -> float:
            try:
                value = pack.interval(name).target.default_s
            except KeyError:
                return default
            return default if value is None else float(value)

        try:
            response = dict(pack.interval(RESPONSE).target.values_s) or DEFAULT_RESPONSE_S
        except KeyError:
            response = DEFAULT_RESPONSE_S
        clocks = tuple((n, p, e, target(n, t)) for n, p, e, t in HOSPITAL_CLOCKS)
        return cls(target(DEPARTURE, DEFAULT_DEPARTURE_S), response, clocks)


@dataclass(slots=True)
class UnitState:
    unit_id: str
    status: str = "available"
    incident_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    fix_ts: datetime | None = None
    status_ts: datetime | None = None


@dataclass(slots=True)
class IncidentState:
    incident_id: str
    call_ts: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    district_id: str | None = None
    area_type: str | None = None
    pathway: str = "other"
    triage_level: int | None = None
    first: dict[str, datetime] = field(default_factory=dict)  # first time of each event type
    units: set[str] = field(default_factory=set)
    hospital_id: str | None = None
    door_ts: datetime | None = None


@dataclass(slots=True)
class HospitalState:
    hospital_id: str
    name: str = ""
    lat: float | None = None
    lon: float | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    status: dict[str, bool] = field(default_factory=dict)


Locate = Any  # (lat, lon) -> (district_id, area_type) | None, e.g. geo Region.locate


class Board:
    def __init__(
        self,
        *,
        targets: BoardTargets | None = None,
        locate: Locate | None = None,
        hospitals: Iterable[HospitalState] = (),
        districts: Iterable[tuple[str, str, str]] = (),  # (district_id, name, area_type)
        pack: RulePack | None = None,
    ) -> None:
        self.targets = targets or BoardTargets()
        self.compliance = Compliance(pack or load_pack("cn"))
        self._compliance_now: tuple[int, list[BucketStats]] = (-1, [])
        self._intervals_seen = 0
        self._locate = locate
        self.incidents: dict[str, IncidentState] = {}
        self.units: dict[str, UnitState] = {}
        self.hospitals = {h.hospital_id: h for h in hospitals}
        self.districts = {d[0]: d for d in districts}
        self.prealerts: dict[str, dict[str, Any]] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=LATEST_ALERTS)
        self._alert_ids: set[str] = set()
        self.watermark: datetime | None = None
        self.version = 0

    # --- feeding ------------------------------------------------------------------------------

    def apply_event(self, event: ev.Event) -> None:
        self._advance(event.ts)
        kind = event.type
        if isinstance(event, ev.GpsFix):
            self._gps(event)
        elif isinstance(event, ev.HospitalStatus):
            self._hospital_status(event)
        elif kind in UNIT_STATUS:
            self._unit(event)
        elif isinstance(event, ev.CallCancelled | ev.IncidentClosed):
            self._close(event.incident_id)
        elif event.incident_id:
            self._incident_event(event)
        self.version += 1

    def apply_interval(self, record: Mapping[str, Any]) -> None:
        self.compliance.add(interval_from_json(dict(record)))
        self._intervals_seen += 1
        if self._intervals_seen % 10_000 == 0:
            self.compliance.forget_before_current_month()
        self._context(record)
        self.version += 1

    def current_compliance(self) -> list[BucketStats]:
        """Today's and this month's statistics (cached until the next interval record)."""
        seen, stats = self._compliance_now
        if seen != self._intervals_seen:
            stats = self.compliance.current(("all", "area_type", "district"))
            self._compliance_now = (self._intervals_seen, stats)
        return stats

    def apply_alert(self, alert: Mapping[str, Any]) -> None:
        alert_id = str(alert.get("alert_id", ""))
        if alert_id in self._alert_ids or alert.get("kind") not in WALL_ALERT_KINDS:
            return
        if len(self._alert_ids) > 10_000:
            self._alert_ids = {str(a.get("alert_id")) for a in self.alerts}
        self._alert_ids.add(alert_id)
        self.alerts.appendleft(dict(alert))
        self._context(alert)
        self.version += 1

    def apply_prealert(self, prealert: Mapping[str, Any]) -> None:
        key = str(prealert["prealert_id"])
        earlier = self.prealerts.get(key)
        if earlier is not None and earlier.get("sequence", 0) >= prealert.get("sequence", 0):
            return  # redelivered or out of order: the lifecycle only moves forward
        self.prealerts[key] = dict(prealert)
        self._context(prealert)
        self.version += 1

    def apply_ack(self, ack: Mapping[str, Any]) -> None:
        key = str(ack["prealert_id"])
        if key in self.acks:
            return  # the first acknowledgement is the one that counts
        self.acks[key] = dict(ack)
        self.version += 1

    def _advance(self, ts: datetime) -> None:
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
            if self.version % 500 == 0:
                self._prune(ts)

    def _incident(self, incident_id: str) -> IncidentState:
        found = self.incidents.get(incident_id)
        if found is None:
            found = self.incidents[incident_id] = IncidentState(incident_id)
        return found

    def _incident_event(self, event: ev.Event) -> None:
        incident = self._incident(str(event.incident_id))
        incident.first.setdefault(event.type, event.ts)
        if event.ts < incident.first[event.type]:
            incident.first[event.type] = event.ts
        if isinstance(event, ev.CallReceived):
            self._call(incident, event)
        elif isinstance(event, ev.CallTriaged):
            incident.triage_level = event.triage_level or incident.triage_level
            if event.pathway_hint and incident.pathway == "other":
                incident.pathway = event.pathway_hint
        elif isinstance(event, ev.DiagnosisMade) and incident.pathway == "other":
            incident.pathway = DIAGNOSIS_PATHWAY.get(event.diagnosis, "other")
        elif event.type == "hospital.arrived":
            self._door(incident, event.hospital_id, event.ts)

    def _call(self, incident: IncidentState, call: ev.CallReceived) -> None:
        incident.call_ts = call.ts
        incident.lat, incident.lon = call.location.lat, call.location.lon
        incident.triage_level = incident.triage_level or call.triage_level
        if call.pathway_hint and incident.pathway == "other":
            incident.pathway = call.pathway_hint
        located = self._locate(call.location.lat, call.location.lon) if self._locate else None
        if located is not None:
            incident.district_id, incident.area_type = located

    def _door(self, incident: IncidentState, hospital_id: str | None, ts: datetime) -> None:
        if incident.door_ts is None or ts < incident.door_ts:
            incident.door_ts = ts
            incident.hospital_id = hospital_id or incident.hospital_id

    def _unit(self, event: ev.Event) -> None:
        unit_id = str(event.unit_id)
        unit = self.units.setdefault(unit_id, UnitState(unit_id))
        if unit.status_ts is None or event.ts >= unit.status_ts:
            unit.status = UNIT_STATUS[event.type]
            unit.status_ts = event.ts
            unit.incident_id = None if unit.status == "available" else event.incident_id
        if not event.incident_id:
            return
        self._incident_event(event)
        incident = self.incidents[event.incident_id]
        if event.type != "unit.cancelled":
            incident.units.add(unit_id)
        if isinstance(event, ev.UnitLeftScene) and event.destination_hospital_id:
            incident.hospital_id = event.destination_hospital_id
        if isinstance(event, ev.UnitAtDestination):
            self._door(incident, event.hospital_id or incident.hospital_id, event.ts)

    def _gps(self, fix: ev.GpsFix) -> None:
        unit = self.units.setdefault(str(fix.unit_id), UnitState(str(fix.unit_id)))
        if unit.fix_ts is None or fix.ts >= unit.fix_ts:
            unit.lat, unit.lon, unit.fix_ts = fix.lat, fix.lon, fix.ts

    def _hospital_status(self, status: ev.HospitalStatus) -> None:
        hospital_id = str(status.hospital_id)
        hospital = self.hospitals.setdefault(hospital_id, HospitalState(hospital_id))
        for name in ("diversion", "cathlab_available", "ct_available", "or_available"):
            value = getattr(status, name)
            if value is not None:
                hospital.status[name] = value

    def _close(self, incident_id: str | None) -> None:
        self.incidents.pop(str(incident_id), None)

    def _context(self, output: Mapping[str, Any]) -> None:
        """The engine's view of an incident (pathway, district) wins over the board's guess."""
        incident = self.incidents.get(str(output.get("incident_id")))
        if incident is None:
            return
        pathway = output.get("pathway")
        if pathway and pathway != "other":
            incident.pathway = str(pathway)
        incident.district_id = output.get("district_id") or incident.district_id
        incident.area_type = output.get("area_type") or incident.area_type
        incident.triage_level = output.get("triage_level") or incident.triage_level

    def _prune(self, now: datetime) -> None:
        def stale(i: IncidentState) -> bool:
            if i.door_ts is not None:
                return now - i.door_ts > KEEP_AFTER_DOOR
            return i.call_ts is not None and now - i.call_ts > KEEP_OPEN

        for incident_id in [k for k, i in self.incidents.items() if stale(i)]:
            del self.incidents[incident_id]
        oldest = now - KEEP_OPEN
        for key in [k for k, p in self.prealerts.items() if self._prealert_done(p, oldest)]:
            del self.prealerts[key]
            self.acks.pop(key, None)

    def _prealert_done(self, prealert: Mapping[str, Any], oldest: datetime) -> bool:
        if prealert.get("incident_id") in self.incidents:
            return False
        sent = parse_ts(prealert.get("sent_ts"))
        terminal = prealert.get("state") in ("arrived", "cancelled")
        return terminal or sent is None or sent < oldest

    # --- views --------------------------------------------------------------------------------

    def response_target(self, area_type: str | None) -> float | None:
        return self.targets.response_s.get(area_type or "")

    def incident_clocks(self, incident: IncidentState) -> list[Clock]:
        if incident.call_ts is None:
            return []
        clocks = [
            Clock(
                DEPARTURE,
                incident.call_ts,
                self.targets.departure_s,
                incident.first.get("unit.enroute"),
            )
        ]
        response = self.response_target(incident.area_type)
        if response is not None:
            clocks.append(
                Clock(RESPONSE, incident.call_ts, response, incident.first.get("unit.on_scene"))
            )
        return clocks

    def hospital_clocks(self, incident: IncidentState) -> list[Clock]:
        if incident.door_ts is None:
            return []
        return [
            Clock(name, incident.door_ts, target, _first_of(incident, ends))
            for name, pathway, ends, target in self.targets.hospital_clocks
            if pathway == incident.pathway
        ]


def _first_of(incident: IncidentState, types: tuple[str, ...]) -> datetime | None:
    seen = [incident.first[t] for t in types if t in incident.first]
    return min(seen) if seen else None


def parse_ts(value: object) -> datetime | None:
    """A timestamp of an output record (written by `format_timestamp`), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def ts(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)
