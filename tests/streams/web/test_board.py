from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.outputs import ClinicalSummary
from streams.web.screens import hospital_view, wall_view


def clocks_of(view: dict[str, Any], incident: str) -> dict[str, dict[str, Any]]:
    row = next(i for i in view["incidents"] if i["incident_id"] == incident)
    return {c["name"]: c for c in row["clocks"]}


def test_departure_clock_turns_amber_then_red_and_stops_at_enroute(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("I1", 0))
    states = [
        clocks_of(wall_view(board, kit.at(s)), "I1")["call_to_departure"]["state"]
        for s in (60, 130, 181)
    ]
    assert states == ["ok", "amber", "red"]
    board.apply_event(kit.unit("unit.enroute", "A01", "I1", 150))
    stopped = clocks_of(wall_view(board, kit.at(400)), "I1")["call_to_departure"]
    assert stopped["state"] == "met" and stopped["seconds"] == 150


def kit_points() -> dict[str, tuple[float, float]]:
    return {"urban": (30.9517, 117.0495), "county": (31.0877, 117.0500)}


def test_response_target_follows_the_district_area_type(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("URB", 0, where=kit_points()["urban"]))
    board.apply_event(kit.call("CTY", 0, where=kit_points()["county"]))
    view = wall_view(board, kit.at(610))
    assert clocks_of(view, "URB")["response"]["target_s"] == 900
    assert clocks_of(view, "URB")["response"]["state"] == "amber"
    assert clocks_of(view, "CTY")["response"]["target_s"] == 600
    assert clocks_of(view, "CTY")["response"]["state"] == "red"


def test_units_move_and_change_status(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("I1", 0))
    board.apply_event(kit.unit("unit.assigned", "A01", "I1", 20))
    board.apply_event(kit.gps("A01", 30, 30.95, 117.04))
    board.apply_event(kit.unit("unit.enroute", "A01", "I1", 40))
    board.apply_event(kit.gps("A01", 50, 30.951, 117.045))
    unit = wall_view(board, kit.at(60))["units"][0]
    assert (unit["status"], unit["lat"], unit["lon"]) == ("enroute", 30.951, 117.045)
    board.apply_event(kit.gps("A01", 45, 30.0, 117.0))  # a late fix must not move it back
    assert wall_view(board, kit.at(60))["units"][0]["lat"] == 30.951


def test_closed_incidents_leave_the_wall(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("I1", 0))
    board.apply_event(kit.call("I2", 5))
    board.apply_event(kit.event("call.cancelled", 10, incident_id="I1"))
    assert [i["incident_id"] for i in wall_view(board, kit.at(20))["incidents"]] == ["I2"]


def test_kpis_of_today_with_revisions(kit: Any) -> None:
    board = kit.board()
    board.apply_interval(kit.interval("I1", "call_to_departure", 300, target=180))
    board.apply_interval(kit.interval("I2", "call_to_departure", 100, target=180))
    board.apply_interval(kit.interval("I1", "call_to_departure", 140, target=180, revision=2))
    board.apply_interval(kit.interval("I3", "response", 700, target=900))
    kpis = wall_view(board, kit.at(0))["kpis"]
    assert kpis["call_to_departure"]["mean_s"] == 120
    assert kpis["call_to_departure"]["within_share"] == 1.0
    assert kpis["response"]["urban"]["count"] == 1
    assert kpis["response"]["county"]["count"] == 0
    d01 = next(d for d in wall_view(board, kit.at(0))["districts"] if d["district_id"] == "D01")
    assert d01["response"]["within_share"] == 1.0


def test_hospital_sees_only_its_own_prealerts_sorted_by_eta(kit: Any) -> None:
    board = kit.board()
    board.apply_prealert(kit.prealert("I1", "H01", eta_s=900))
    board.apply_prealert(kit.prealert("I2", "H01", eta_s=300))
    board.apply_prealert(kit.prealert("I3", "H02", eta_s=100))
    h01 = hospital_view(board, "H01", kit.at(0))
    assert [p["prealert_id"] for p in h01["incoming"]] == ["I2:H01", "I1:H01"]
    assert "I3" not in str(h01)


def test_prealert_lifecycle_only_moves_forward(kit: Any) -> None:
    board = kit.board()
    board.apply_prealert(kit.prealert("I1", "H01", state="update", sequence=2, eta_s=200))
    board.apply_prealert(kit.prealert("I1", "H01", state="new", sequence=1, eta_s=900))
    assert hospital_view(board, "H01", kit.at(0))["incoming"][0]["eta_ts"].endswith(
        kit.at(200).isoformat()[-6:]
    )
    board.apply_prealert(kit.prealert("I1", "H01", state="cancelled", sequence=3))
    assert hospital_view(board, "H01", kit.at(0))["incoming"] == []


def test_acknowledgement_is_visible_to_dispatch(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("I1", 0))
    board.apply_prealert(kit.prealert("I1", "H01"))
    board.apply_ack({"prealert_id": "I1:H01", "hospital_id": "H01", "ack_ts": "x"})
    assert wall_view(board, kit.at(10))["incidents"][0]["acknowledged_by"] == ["H01"]
    assert hospital_view(board, "H01", kit.at(10))["incoming"][0]["acknowledged_ts"] == "x"


def test_in_hospital_clocks_start_at_the_door(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.call("I1", 0, pathway_hint="stroke"))
    board.apply_prealert(
        kit.prealert(
            "I1",
            "H01",
            pathway="stroke",
            summary=ClinicalSummary(stroke_scale="NIHSS", stroke_score=14),
        )
    )
    board.apply_event(kit.event("hospital.arrived", 1000, incident_id="I1", hospital_id="H01"))
    board.apply_event(kit.event("ct.started", 1000 + 20 * 60, incident_id="I1", hospital_id="H01"))
    view = hospital_view(board, "H01", kit.at(1000 + 50 * 60))
    assert view["incoming"] == []
    clocks = {c["name"]: c for c in view["in_hospital"][0]["clocks"]}
    assert clocks["stroke_door_to_ct"]["state"] == "met"
    assert clocks["stroke_door_to_needle"]["state"] == "amber"
    assert clocks["stroke_door_to_puncture"]["state"] == "ok"
    assert view["in_hospital"][0]["summary"]["stroke_score"] == 14
    assert hospital_view(board, "H02", kit.at(0))["in_hospital"] == []


def test_walk_in_appears_after_the_door(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.event("hospital.arrived", 0, incident_id="W1", hospital_id="H02"))
    board.apply_event(kit.event("diagnosis.made", 60, incident_id="W1", diagnosis="stemi"))
    patient = hospital_view(board, "H02", kit.at(120))["in_hospital"][0]
    assert patient["arrived_by"] == "walk-in"
    assert {c["name"] for c in patient["clocks"]} == {"door_to_balloon", "stemi_door_to_needle"}


def test_diversion_shown_on_the_wall(kit: Any) -> None:
    board = kit.board()
    board.apply_event(kit.event("hospital.status", 0, hospital_id="H03", diversion=True))
    h03 = next(h for h in wall_view(board, kit.at(0))["hospitals"] if h["hospital_id"] == "H03")
    assert h03["diversion"] is True and h03["capabilities"]["pci"] is True


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_wall(rnd: random.Random) -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("kit2", Path(__file__).with_name("board_kit.py"))
    module: Any = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    kit = module.BoardKit()
    events = [
        kit.call("I1", 0),
        kit.unit("unit.assigned", "A01", "I1", 20),
        kit.unit("unit.enroute", "A01", "I1", 60),
        kit.gps("A01", 70, 30.95, 117.04),
        kit.gps("A01", 80, 30.96, 117.05),
        kit.unit("unit.on_scene", "A01", "I1", 500),
        kit.call("I2", 30),
        kit.unit("unit.assigned", "A02", "I2", 90),
    ]
    events += events[:3]  # redelivered duplicates
    shuffled = events[:]
    rnd.shuffle(shuffled)
    ordered, scrambled = kit.board(), kit.board()
    for event in events:
        ordered.apply_event(event)
    for event in shuffled:
        scrambled.apply_event(event)
    now = kit.at(600)
    assert wall_view(scrambled, now) == wall_view(ordered, now)


def test_wall_alerts_are_the_dispatchers_not_data_quality(kit: Any) -> None:
    board = kit.board()
    for n, kind in enumerate(("breach", "data_quality", "approaching", "breach")):
        board.apply_alert({"alert_id": f"a{n % 3}", "kind": kind, "incident_id": "I1"})
    kinds = [a["kind"] for a in wall_view(board, kit.at(0))["alerts"]]
    assert kinds == ["approaching", "breach"]  # newest first; the redelivered a0 once
