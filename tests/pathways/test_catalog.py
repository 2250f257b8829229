"""Each interval of the `cn` catalog, computed by hand from round-minute events."""

from __future__ import annotations

import pytest

from pathways.engine import Engine, Locate
from pathways.events import Event
from pathways.outputs import IntervalRecord
from pathways.rulepack import load_pack
from tests.pathways.factory import at, event, last_records, stemi_incident, unit

CN = load_pack("cn")


def county(lat: float, lon: float) -> tuple[str, str]:
    return ("D7", "county")


def final(events: list[Event], locate: Locate = county) -> dict[str, IntervalRecord]:
    return last_records(Engine(CN, locate=locate), events, at(1000))


STEMI_EXPECTED = {  # interval: (seconds, target_s, met)
    "call_to_departure": (120, 180, True),
    "turnout": (90, 180, True),
    "call_processing": (30, 60, True),
    "response": (720, 600, False),  # county target 10 min
    "travel": (600, None, None),
    "on_scene": (900, 900, True),  # chest pain: 15 min
    "transport": (1080, None, None),
    "fmc_to_ecg": (240, 600, True),
    "ecg_transmission": (180, 600, True),
    "door_to_balloon": (3600, 5400, True),
    "fmc_to_wire": (5640, 5400, False),  # direct: 90 min
    "cathlab_activation": (1500, 1800, True),
}


def test_stemi_ems_incident_gives_every_chest_pain_interval() -> None:
    got = final(stemi_incident())
    assert {k: (r.seconds, r.target_s, r.met) for k, r in got.items()} == STEMI_EXPECTED
    assert got["door_to_balloon"].hospital_id == "H1"
    assert got["response"].district_id == "D7" and got["response"].area_type == "county"
    assert got["response"].unit_id == "A1"
    assert all(r.pathway == "chest_pain" and r.triage_level == 1 for r in got.values())


def test_urban_response_target_is_15_minutes() -> None:
    got = final(stemi_incident(), locate=lambda lat, lon: ("D1", "urban"))
    assert (got["response"].target_s, got["response"].met) == (900, True)


def test_unknown_area_uses_pack_default_and_flags_it() -> None:
    got = final(stemi_incident(), locate=lambda lat, lon: None)
    assert got["response"].target_s == 900
    assert got["response"].area_type is None
    assert "unknown_area" in got["response"].quality_flags
    assert "unknown_area" not in got["travel"].quality_flags


def test_stroke_intervals_from_door() -> None:
    got = final([
        event("call.received", 0, pathway_hint="stroke"),
        unit("on_scene", 10, "A1"),
        unit("left_scene", 20, "A1"),
        unit("at_destination", 39, "A1", hospital_id="H2"),
        event("hospital.arrived", 40, hospital_id="H2"),
        event("ct.started", 55, hospital_id="H2"),
        event("diagnosis.made", 60, diagnosis="ischemic_stroke"),
        event("thrombolysis.started", 80, hospital_id="H2"),
        event("puncture", 120, hospital_id="H2"),
    ])
    assert got["stroke_door_to_ct"].seconds == 900 and got["stroke_door_to_ct"].met
    assert got["stroke_door_to_needle"].seconds == 2400 and got["stroke_door_to_needle"].met
    assert got["stroke_door_to_puncture"].seconds == 4800
    assert got["stroke_door_to_puncture"].met is True  # 80 <= 90 min
    assert got["on_scene"].seconds == 600 and got["on_scene"].target_s == 900
    assert "door_to_balloon" not in got and "stemi_door_to_needle" not in got


def test_trauma_door_is_transporting_units_arrival_without_hospital_event() -> None:
    got = final([
        event("call.received", 0, pathway_hint="trauma"),
        unit("on_scene", 8, "A1"),
        unit("on_scene", 9, "A2"),
        unit("left_scene", 20, "A2", destination_hospital_id="H3"),
        unit("at_destination", 30, "A2", hospital_id="H3"),
        event("trauma_team.arrived", 38, hospital_id="H3"),
        event("ct.started", 50, hospital_id="H3"),
        event("or.entered", 95, hospital_id="H3"),
    ])
    assert got["trauma_door_to_team"].seconds == 480
    assert got["trauma_door_to_ct"].seconds == 1200
    assert got["trauma_door_to_or"].seconds == 3900 and got["trauma_door_to_or"].met is False
    assert got["on_scene"].seconds == 660 and got["on_scene"].unit_id == "A2"
    assert got["on_scene"].target_s is None  # no scene-time target for trauma in cn
    assert got["response"].seconds == 480 and got["response"].unit_id == "A1"


def test_walk_in_stemi_transferred_out() -> None:
    got = final([
        event("hospital.arrived", 0, hospital_id="H1"),
        event("ecg.acquired", 5, hospital_id="H1", setting="hospital", stemi=True),
        event("thrombolysis.started", 25, hospital_id="H1"),
        event("transfer.departed", 35, hospital_id="H1"),
        event("hospital.arrived", 70, hospital_id="H2", event_id="arr-h2"),
        event("wire.crossed", 100, hospital_id="H2"),
    ])
    assert got["fmc_to_ecg"].seconds == 300  # FMC of a walk-in is the door
    assert got["stemi_door_to_needle"].seconds == 1500 and got["stemi_door_to_needle"].met
    assert got["dido"].seconds == 2100 and got["dido"].met is False
    assert (got["fmc_to_wire"].seconds, got["fmc_to_wire"].target_s) == (6000, 7200)
    assert got["fmc_to_wire"].met is True
    assert got["fmc_to_wire"].district_id is None  # a walk-in has no call location


def test_every_catalog_interval_is_exercised() -> None:
    """Guards the tests above against a pack interval nobody checks."""
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    for rule in CN.intervals:
        assert f'"{rule.name}"' in source, rule.name


@pytest.mark.parametrize("pathway", ["other", "maternal", "pediatric"])
def test_pathway_specific_intervals_need_their_pathway(pathway: str) -> None:
    events = [e for e in stemi_incident() if e.TYPE != "ecg.acquired"]
    events[0] = event("call.received", 0, pathway_hint=pathway, triage_level=1)
    got = final(events)
    assert "door_to_balloon" not in got and "fmc_to_ecg" not in got
    assert got["response"].pathway == pathway


def test_clinical_fact_upgrades_pathway_and_latest_triage_wins() -> None:
    got = final([
        event("call.received", 0, pathway_hint="other", triage_level=3),
        event("call.triaged", 1, pathway_hint="stroke", triage_level=2),
        unit("on_scene", 9, "A1"),
        event("diagnosis.made", 20, diagnosis="stemi"),
        event("hospital.arrived", 30),
        event("wire.crossed", 80),
    ])
    assert got["door_to_balloon"].pathway == "chest_pain"
    assert got["door_to_balloon"].triage_level == 2
