"""The synthetic city on the demo region: deterministic, ordered, valid, and realistic enough."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from geo.distance import haversine_one
from geo.regions import Region, load_region
from pathways.events import CallReceived, Event, HospitalStatus, ParseError, dumps, parse
from simulators.city import CityRun, generate
from simulators.city_fleet import destination_for
from simulators.clinical import Patient, in_hospital
from simulators.scenario import Scenario, Timings

START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)
BUSY = Scenario(calls_per_hour=40, walkins_per_hour=2, diversions_per_hospital_day=2)

E = TypeVar("E", bound=Event)


def of_type(events: list[Event], kind: str, cls: type[E]) -> list[E]:
    """The events of type `kind` (each one checked to be a `cls`, for the type checker)."""
    found = [e for e in events if e.type == kind]
    assert all(isinstance(e, cls) for e in found), kind
    return [e for e in found if isinstance(e, cls)]


@pytest.fixture(scope="module")
def region() -> Region:
    return load_region()


@pytest.fixture(scope="module")
def city(region: Region) -> list[Event]:
    return list(generate(region, BUSY, 11, START, SIX_HOURS))


def test_same_seed_same_stream_other_seed_other_stream(region: Region) -> None:
    def run(seed: int) -> list[bytes]:
        return [dumps(e) for e in generate(region, Scenario(), seed, START, timedelta(hours=2))]

    first = run(5)
    assert first == run(5)
    assert first != run(6)


def test_events_in_event_time_order_and_inside_the_window(city: list[Event]) -> None:
    instants = [e.ts for e in city]
    assert instants == sorted(instants)
    assert instants[0] >= START and instants[-1] < START + SIX_HOURS


def test_every_event_parses_back_and_ids_are_unique(city: list[Event]) -> None:
    for event in city:
        parsed = parse(dumps(event))
        assert not isinstance(parsed, ParseError), (event, parsed)
        assert parsed == event
    assert len({e.event_id for e in city}) == len(city)


def test_the_whole_contract_appears(city: list[Event]) -> None:
    kinds = Counter(e.type for e in city)
    for kind in ("call.received", "unit.assigned", "unit.enroute", "unit.on_scene",
                 "unit.left_scene", "unit.at_destination", "unit.available", "gps.fix",
                 "ecg.acquired", "ecg.transmitted", "diagnosis.made", "stroke.screen",
                 "trauma.assessment", "hospital.arrived", "wire.crossed", "ct.started",
                 "trauma_team.arrived", "hospital.status", "call.triaged",
                 "call.cancelled", "unit.cancelled", "incident.closed"):
        assert kinds[kind] > 0, kind
    pathways = Counter(e.pathway_hint for e in of_type(city, "call.received", CallReceived))
    assert {"chest_pain", "stroke", "trauma"} <= set(pathways)
    assert any(e.diversion for e in of_type(city, "hospital.status", HospitalStatus))


def test_walk_ins_arrive_without_a_call(city: list[Event]) -> None:
    by_incident: dict[str, set[str]] = defaultdict(set)
    for event in city:
        if event.incident_id:
            by_incident[event.incident_id].add(event.type)
    walk_ins = [k for k in by_incident.values() if "hospital.arrived" in k
                and "call.received" not in k and not any(t.startswith("unit.") for t in k)]
    assert walk_ins


def test_units_follow_the_status_sequence(city: list[Event]) -> None:
    order = ["unit.assigned", "unit.enroute", "unit.on_scene", "unit.at_patient",
             "unit.left_scene", "unit.at_destination", "unit.available"]
    per_unit_call: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in city:
        if event.type in order:
            per_unit_call[(event.incident_id or "", event.unit_id or "")].append(event.type)
    assert per_unit_call
    for sequence in per_unit_call.values():
        ranks = [order.index(t) for t in sequence]
        assert ranks == sorted(ranks)


def test_gps_fixes_come_every_few_seconds_with_gaps(city: list[Event]) -> None:
    fixes: dict[str, list[datetime]] = defaultdict(list)
    for event in city:
        if event.type == "gps.fix":
            fixes[event.unit_id or ""].append(event.ts)
    steps = [(b - a).total_seconds() for times in fixes.values()
             for a, b in zip(times, times[1:], strict=False)]
    assert 3.0 <= statistics.median(steps) <= 7.0
    assert any(15 < s < 300 for s in steps)  # a gap inside a trip


def test_first_call_gets_the_unit_of_the_nearest_station(region: Region,
                                                         city: list[Event]) -> None:
    call = next(e for e in city if e.type == "call.received")
    assigned = next(e for e in city if e.type == "unit.assigned"
                    and e.incident_id == call.incident_id)
    nearest = min(region.stations, key=lambda s: haversine_one(
        call.location.lat, call.location.lon, s.lat, s.lon))  # type: ignore[attr-defined]
    assert (assigned.unit_id or "").startswith(f"{nearest.station_id}-")


def test_calls_follow_the_day_night_profile(region: Region) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    run = CityRun(region, Scenario(calls_per_hour=30, walkins_per_hour=0), 3, START,
                  timedelta(days=14))
    hours = Counter(t.astimezone(zone).hour for t, kind in run.arrivals() if kind == "call")
    night = sum(hours[h] for h in (2, 3, 4, 5))
    day = sum(hours[h] for h in (9, 10, 11, 12))
    total = sum(hours.values())
    assert 0.8 * 30 * 24 * 14 < total < 1.2 * 30 * 24 * 14
    assert night < 0.5 * day


def test_door_to_balloon_is_around_an_hour_with_a_tail() -> None:
    rng = random.Random(1)
    patient = Patient("chest_pain", 1, stemi=True)
    minutes = []
    for _ in range(2000):
        steps = {s.type: s.ts for s in in_hospital(patient, START, rng, Timings())}
        minutes.append((steps["wire.crossed"] - START).total_seconds() / 60)
        assert steps["cathlab.activated"] <= steps["cathlab.team_ready"] \
            <= steps["cathlab.arrived"] < steps["wire.crossed"] < steps["device.deployed"]
    deciles = statistics.quantiles(minutes, n=10)
    assert 60 <= statistics.median(minutes) <= 80
    assert deciles[-1] > 85  # one in ten well past the 90-minute target's neighbourhood


def test_destination_skips_a_diverted_center(region: Region) -> None:
    stemi = Patient("chest_pain", 1, stemi=True)
    scene = (region.hospitals[0].lat, region.hospitals[0].lon)
    first = destination_for(stemi, scene, region.hospitals, set())
    assert first.capabilities.pci
    second = destination_for(stemi, scene, region.hospitals, {first.hospital_id})
    assert second.hospital_id != first.hospital_id and second.capabilities.pci


def test_scenario_file_overrides_defaults_and_rejects_unknown_fields(tmp_path: Path) -> None:
    import json

    from simulators.scenario import load_scenario

    path = tmp_path / "night_shift.json"
    path.write_text(json.dumps({
        "calls_per_hour": 3, "pathway_mix": {"stroke": 1.0},
        "timings": {"door_to_balloon": {"median_s": 3600, "tail": 1.2}},
        "gps_gap": {"median_s": 10},
    }), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.calls_per_hour == 3 and scenario.pathway_mix == {"stroke": 1.0}
    assert scenario.timings.door_to_balloon.median_s == 3600
    assert scenario.timings.turnout == Timings().turnout  # untouched fields keep defaults
    path.write_text(json.dumps({"calls_per_hour": 3, "ambulances": 9}), encoding="utf-8")
    with pytest.raises(ValueError, match="ambulances"):
        load_scenario(path)
