"""The synthetic city: a deterministic stream of contract events for a region.

    events = generate(load_region(), Scenario(), seed=7, start=start, duration=timedelta(hours=2))

Calls arrive as a Poisson process whose rate follows the scenario's hourly profile; each
call gets the nearest available unit, which drives a GPS-tracked path to the scene and,
if it transports, to the nearest capable hospital not on diversion. Walk-in chest-pain
patients and hospital status changes are mixed in. The result is a pure iterator in event
time order: no clock, no I/O; the same (region, scenario, seed, start) gives the same events.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import shapely

from geo.regions import Hospital, Region
from pathways.events import (
    EVENT_TYPES,
    CallCancelled,
    CallReceived,
    CallTriaged,
    Event,
    GpsFix,
    HospitalStatus,
    IncidentClosed,
    Location,
)
from simulators.city_fleet import Fleet, Unit, destination_for
from simulators.clinical import Patient, Step, draw_patient, in_hospital, prehospital
from simulators.motion import fixes, plan_path
from simulators.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Diversion:
    hospital_id: str
    start: datetime
    end: datetime


class CityRun:
    """One run's mutable state: the fleet, the pending-event heap, counters."""

    def __init__(self, region: Region, scenario: Scenario, seed: int, start: datetime,
                 duration: timedelta) -> None:
        if not region.stations or not region.hospitals or not region.districts:
            raise ValueError(f"region {region.name!r} needs districts, hospitals and stations")
        self.region, self.scenario = region, scenario
        self.rng = random.Random(seed)
        self.zone = ZoneInfo(scenario.timezone)
        self.start = start.astimezone(self.zone)
        self.end = self.start + duration
        self.tag = f"{self.start:%m%d%H%M}s{seed}"
        self.until: datetime | None = self.end
        per_station = max(scenario.units_per_station, math.ceil(
            scenario.calls_per_hour * scenario.unit_hours_per_call / len(region.stations)))
        self.fleet = Fleet(region, per_station, self.start)
        self.pending: list[tuple[float, int, Event]] = []
        self.seq = count()
        self.gps_seq = count()
        self.diversions = self._plan_diversions()
        self._district_weights = _district_weights(region, scenario.urban_call_share)

    # --- the event stream -------------------------------------------------------------------

    def events(self, finish_incidents: bool = False) -> Iterator[Event]:
        self.until = None if finish_incidents else self.end
        self._push_initial_status()
        calls = walkins = 0
        for moment, kind in self.arrivals():
            yield from self._release(moment)
            if kind == "call":
                calls += 1
                self._call(f"{self.tag}-{calls:05d}", moment)
            else:
                walkins += 1
                self._walkin(f"{self.tag}-W{walkins:04d}", moment)
        while self.pending:
            yield heapq.heappop(self.pending)[2]

    def _release(self, moment: datetime) -> Iterator[Event]:
        """Every pending event up to `moment`: later arrivals cannot produce earlier events."""
        key = moment.timestamp()
        while self.pending and self.pending[0][0] <= key:
            yield heapq.heappop(self.pending)[2]

    def _push(self, event: Event) -> None:
        if self.until is not None and event.ts >= self.until:
            return  # beyond the window: the run is cut at its end
        heapq.heappush(self.pending, (event.ts.timestamp(), next(self.seq), event))

    def arrivals(self) -> Iterator[tuple[datetime, str]]:
        """Calls and walk-ins: a thinned Poisson process with the hourly profile."""
        peak = max(self.scenario.rate_multiplier(h) for h in range(24))
        call_rate = self.scenario.calls_per_hour * peak / 3600.0
        walkin_rate = self.scenario.walkins_per_hour / 3600.0
        total = call_rate + walkin_rate
        if total <= 0:
            return
        moment = self.start
        while True:
            moment += timedelta(seconds=round(self.rng.expovariate(total), 3))
            if moment >= self.end:
                return
            if self.rng.random() * total < walkin_rate:
                yield moment, "walkin"
            elif self.rng.random() < self.scenario.rate_multiplier(moment.hour) / peak:
                yield moment, "call"

    # --- one EMS call -------------------------------------------------------------------------

    def _call(self, incident_id: str, received: datetime) -> None:
        rng, sc, t = self.rng, self.scenario, self.scenario.timings
        lat, lon, area = self._scene()
        pathway = rng.choices(list(sc.pathway_mix), weights=list(sc.pathway_mix.values()))[0]
        patient = draw_patient(pathway, sc, rng)
        self._push(self._call_received(incident_id, received, lat, lon, patient))
        assigned = self._at(received, t.call_processing.draw(rng))
        unit, assigned = self.fleet.nearest_available(lat, lon, assigned)
        if rng.random() < sc.cancel_share:
            self._cancelled(incident_id, unit, assigned, rng)
            return
        speed = sc.speed_urban_mps if area == "urban" else sc.speed_county_mps
        enroute = self._at(assigned, t.turnout.draw(rng))
        on_scene = self._drive(unit, incident_id, enroute, (lat, lon), speed)
        for kind, ts in (("unit.assigned", assigned), ("unit.enroute", enroute),
                         ("unit.on_scene", on_scene),
                         ("unit.at_patient", self._at(on_scene, t.at_patient.draw(rng)))):
            self._push(self._unit_event(kind, ts, incident_id, unit))
        if rng.random() < sc.retriage_share:
            self._retriage(incident_id, patient, on_scene)
        steps = prehospital(patient, on_scene, rng, t)
        clear = self._transport(incident_id, unit, patient, on_scene, (lat, lon), speed, steps)
        self._push(self._unit_event("unit.available", clear, incident_id, unit))
        self._drive_home(unit, clear, speed)
        self._push(IncidentClosed(event_id=f"{incident_id}:incident.closed",
                                  ts=self._at(clear, 60), source="cad", incident_id=incident_id))

    def _transport(self, incident_id: str, unit: Unit, patient: Patient, on_scene: datetime,
                   scene: tuple[float, float], speed: float, steps: list[Step]) -> datetime:
        """Scene time, the drive to hospital and the hospital course; returns the clear time."""
        rng, sc, t = self.rng, self.scenario, self.scenario.timings
        spread = t.on_scene_time_critical if patient.time_critical else t.on_scene
        left = self._at(on_scene, spread.draw(rng))
        if not patient.time_critical and rng.random() > sc.transport_share:
            self._push_steps(steps, incident_id, None, on_scene)
            return left  # treated and left at home, or refused transport
        hospital = destination_for(patient, scene, self.region.hospitals,
                                   self._diverted(on_scene))
        door = self._drive(unit, incident_id, left, (hospital.lat, hospital.lon), speed)
        self._push(self._unit_event("unit.left_scene", left, incident_id, unit,
                                    destination_hospital_id=hospital.hospital_id))
        self._push(self._unit_event("unit.at_destination", door, incident_id, unit))
        diagnosis = next((s.ts for s in steps if s.type == "diagnosis.made"), None)
        steps = steps + in_hospital(patient, self._at(door, 20), rng, t, diagnosis)
        self._push_steps(steps, incident_id, hospital.hospital_id, on_scene)
        return self._at(door, t.handover.draw(rng))

    def _retriage(self, incident_id: str, patient: Patient, on_scene: datetime) -> None:
        """The crew's assessment moves the dispatcher's triage level by one."""
        level = min(4, max(1, patient.triage_level + self.rng.choice((-1, 1))))
        self._push(CallTriaged(event_id=f"{incident_id}:call.triaged", source="cad",
                               ts=self._at(on_scene, self.rng.uniform(120, 480)),
                               incident_id=incident_id, triage_level=level))

    def _cancelled(self, incident_id: str, unit: Unit, assigned: datetime,
                   rng: random.Random) -> None:
        cancel = self._at(assigned, rng.uniform(30, 240))
        self._push(self._unit_event("unit.assigned", assigned, incident_id, unit))
        self._push(CallCancelled(event_id=f"{incident_id}:call.cancelled", ts=cancel,
                                 source="cad", incident_id=incident_id))
        self._push(self._unit_event("unit.cancelled", cancel, incident_id, unit))
        self._push(self._unit_event("unit.available", self._at(cancel, 5), incident_id, unit))
        self.fleet.release(unit, self._at(cancel, 5))

    # --- walk-ins and hospital status ----------------------------------------------------------

    def _walkin(self, incident_id: str, door: datetime) -> None:
        centers = [h for h in self.region.hospitals if h.capabilities.chest_pain_center]
        hospital = self.rng.choice(centers or list(self.region.hospitals))
        patient = Patient("chest_pain", 2, stemi=self.rng.random() < self.scenario.stemi_share)
        steps = in_hospital(patient, door, self.rng, self.scenario.timings)
        self._push_steps(steps, incident_id, hospital.hospital_id, door)

    def _plan_diversions(self) -> list[Diversion]:
        days = (self.end - self.start).total_seconds() / 86400.0
        planned = []
        for hospital in self.region.hospitals:
            for _ in range(_poisson(self.rng, self.scenario.diversions_per_hospital_day * days)):
                begin = self.start + (self.end - self.start) * self.rng.random()
                length = self.scenario.diversion_length.draw(self.rng)
                planned.append(Diversion(hospital.hospital_id, begin, self._at(begin, length)))
        return planned

    def _diverted(self, moment: datetime) -> set[str]:
        return {d.hospital_id for d in self.diversions if d.start <= moment < d.end}

    def _push_initial_status(self) -> None:
        for hospital in self.region.hospitals:
            self._push(self._status(hospital, self.start, False, "open"))
        by_id = {h.hospital_id: h for h in self.region.hospitals}
        for number, d in enumerate(self.diversions, start=1):
            self._push(self._status(by_id[d.hospital_id], d.start, True, f"div{number}"))
            self._push(self._status(by_id[d.hospital_id], d.end, False, f"div{number}-end"))

    def _status(self, hospital: Hospital, ts: datetime, diversion: bool,
                label: str) -> HospitalStatus:
        caps = hospital.capabilities
        return HospitalStatus(
            event_id=f"{self.tag}:{hospital.hospital_id}:status:{label}", ts=ts,
            source=f"his:{hospital.hospital_id}", hospital_id=hospital.hospital_id,
            diversion=diversion, cathlab_available=caps.pci or None,
            ct_available=caps.ct or None,
        )

    # --- movement -----------------------------------------------------------------------------

    def _drive(self, unit: Unit, incident_id: str | None, depart: datetime,
               goal: tuple[float, float], speed: float) -> datetime:
        """GPS fixes from the unit's position to `goal`; returns the arrival time."""
        sc = self.scenario
        path = plan_path((unit.lat, unit.lon), goal, self.rng, sc.road_detour)
        travel = max(30.0, path.length_m / speed * self.rng.lognormvariate(0.0, 0.15))
        arrive = self._at(depart, travel)
        gap = sc.gps_gap.draw(self.rng)
        for fix in fixes(path, depart, arrive, self.rng, sc.gps_interval_s, sc.gps_noise_m,
                         sc.gps_gap_chance, gap):
            if self.until is not None and fix.ts >= self.until:
                break
            self._push(GpsFix(
                event_id=f"{unit.unit_id}:{self.tag}:gps:{next(self.gps_seq)}", ts=fix.ts,
                source="avl", unit_id=unit.unit_id, incident_id=incident_id,
                lat=fix.lat, lon=fix.lon, speed_mps=fix.speed_mps,
                heading_deg=fix.heading_deg, accuracy_m=fix.accuracy_m,
            ))
        unit.lat, unit.lon = goal
        return arrive

    def _drive_home(self, unit: Unit, clear: datetime, speed: float) -> None:
        home = (unit.station.lat, unit.station.lon)
        back = self._drive(unit, None, clear, home, speed) if (unit.lat, unit.lon) != home \
            else clear
        self.fleet.release(unit, back)

    # --- event construction -------------------------------------------------------------------

    def _scene(self) -> tuple[float, float, str]:
        district = self.rng.choices(self.region.districts, weights=self._district_weights)[0]
        minx, miny, maxx, maxy = district.geometry.bounds
        for _ in range(1000):
            lon, lat = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shapely.contains_xy(district.geometry, lon, lat):
                return round(lat, 6), round(lon, 6), district.area_type
        point = district.geometry.representative_point()
        return point.y, point.x, district.area_type

    def _call_received(self, incident_id: str, received: datetime, lat: float, lon: float,
                       patient: Patient) -> CallReceived:
        onset = None
        if patient.pathway in ("chest_pain", "stroke"):
            onset = self._at(received, -self.rng.uniform(10, 240) * 60)
        return CallReceived(
            event_id=f"{incident_id}:call.received", ts=received, source="cad",
            incident_id=incident_id, location=Location(lat, lon, 50.0),
            triage_level=patient.triage_level, pathway_hint=patient.pathway,  # type: ignore[arg-type]
            symptom_onset=onset if patient.pathway == "chest_pain" else None,
            last_known_well=onset if patient.pathway == "stroke" else None,
        )

    def _unit_event(self, kind: str, ts: datetime, incident_id: str, unit: Unit,
                    **fields: Any) -> Event:
        return EVENT_TYPES[kind](event_id=f"{incident_id}:{unit.unit_id}:{kind}", ts=ts,
                                 source="cad", incident_id=incident_id, unit_id=unit.unit_id,
                                 **fields)

    def _push_steps(self, steps: list[Step], incident_id: str, hospital_id: str | None,
                    floor: datetime) -> None:
        """Clinical steps as events; none is placed before `floor` (the incident's start)."""
        for number, step in enumerate(steps):
            if step.in_hospital and hospital_id is None:
                continue
            self._push(EVENT_TYPES[step.type](
                event_id=f"{incident_id}:{step.type}:{number}", ts=max(step.ts, floor),
                source=f"his:{hospital_id}" if step.in_hospital else _prehospital_source(step.type),
                incident_id=incident_id, hospital_id=hospital_id if step.in_hospital else None,
                **step.fields,
            ))

    def _at(self, moment: datetime, seconds: float) -> datetime:
        return moment + timedelta(seconds=round(seconds))


def _district_weights(region: Region, urban_share: float) -> list[float]:
    """Calls split by area type as the scenario says, then by area within each type."""
    area = {kind: sum(d.geometry.area for d in region.districts if d.area_type == kind)
            for kind in ("urban", "county")}
    share = {"urban": urban_share if area["county"] else 1.0,
             "county": 1.0 - urban_share if area["urban"] else 1.0}
    return [share[d.area_type] * d.geometry.area / area[d.area_type] for d in region.districts]


def _prehospital_source(kind: str) -> str:
    return "ecg" if kind.startswith("ecg.") else "epcr"


def _poisson(rng: random.Random, mean: float) -> int:
    total, moment = 0, rng.expovariate(1.0) if mean > 0 else float("inf")
    while moment < mean:
        total += 1
        moment += rng.expovariate(1.0)
    return total


def generate(region: Region, scenario: Scenario, seed: int, start: datetime,
             duration: timedelta, finish_incidents: bool = False) -> Iterator[Event]:
    """The city's events in event-time order; `finish_incidents` runs calls to completion."""
    return CityRun(region, scenario, seed, start, duration).events(finish_incidents)
