"""Candidates from the demo region feed the destination policy end to end."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from geo import demo_generator
from geo.geofence import destination_target
from geo.nearest import availability_from_status, candidates, hospital_etas
from geo.regions import demo_region_path, load_region
from pathways.destination import ClinicalFacts, recommend
from pathways.events import HospitalStatus

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=timezone(timedelta(hours=8)))


def test_candidates_are_sorted_by_eta_and_carry_status() -> None:
    from geo.eta import new_speed_state

    region = load_region()
    h01 = region.hospital("H01")
    assert h01 is not None
    origin = (h01.lat + 0.01, h01.lon)  # ~1.1 km north of H01, in the urban core
    status = HospitalStatus(event_id="s1", ts=NOW, source="his:H01", hospital_id="H01",
                            diversion=True)
    cands = candidates(region, origin, NOW, new_speed_state(), NOW,
                       {"H01": availability_from_status(status)})
    assert len(cands) == len(region.hospitals)
    assert [c.eta_s for c in cands] == sorted(c.eta_s for c in cands)
    by_id = {c.hospital_id: c for c in cands}
    assert by_id["H01"].availability.diversion
    assert by_id["H01"].eta_s < by_id["H09"].eta_s  # the county hospital is 27 km away
    rec = recommend(cands, pathway="chest_pain", triage_level=1,
                    facts=ClinicalFacts(stemi=True, fmc_ts=NOW), now=NOW)
    assert rec.hospital_id in {"H02", "H03"} and rec.ed_bypass
    assert "H01" in rec.explanation and "on diversion" in rec.explanation


def test_far_county_stemi_is_sent_to_the_local_thrombolysis_site() -> None:
    from geo.eta import new_speed_state

    region = load_region()
    h10 = region.hospital("H10")
    assert h10 is not None
    origin = (h10.lat - 0.05, h10.lon - 0.05)  # deep in Hekou County
    etas = hospital_etas(region, origin, NOW, new_speed_state(), NOW)
    assert etas["H10"].seconds < etas["H01"].seconds
    cands = candidates(region, origin, NOW, new_speed_state(), NOW)
    rec = recommend(cands, pathway="chest_pain", triage_level=1,
                    facts=ClinicalFacts(stemi=True, fmc_ts=NOW - timedelta(minutes=60)), now=NOW)
    assert rec.strategy == "drip_and_ship" and rec.hospital_id == "H10"


def test_every_demo_hospital_door_is_a_usable_target() -> None:
    region = load_region()
    for hospital in region.hospitals:
        target = destination_target("I1", hospital)
        assert target.fence_id == f"dest:I1:{hospital.hospital_id}"
        assert (target.radius_m is None) != (target.ring is None)


def test_committed_demo_files_equal_the_generator_output(tmp_path: Path) -> None:
    demo_generator.write(tmp_path)
    for name in ("districts.geojson", "hospitals.geojson", "stations.geojson"):
        committed = (demo_region_path() / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == committed, name
