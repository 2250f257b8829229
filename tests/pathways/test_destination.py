"""Destination policy: PCI within 120 min vs drip-and-ship, diversion, LVO margin, trauma."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathways.destination import (
    Candidate,
    Capabilities,
    ClinicalFacts,
    DestinationPolicy,
    HospitalAvailability,
    recommend,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone(timedelta(hours=8)))
PCI = Capabilities(pci=True, thrombolysis=True, ct=True, chest_pain_center=True)
LYSIS = Capabilities(thrombolysis=True, ct=True)
EVT = Capabilities(thrombolysis=True, thrombectomy=True, ct=True, stroke_center=True)


def cand(ident: str, minutes: float, caps: Capabilities, **status: bool) -> Candidate:
    return Candidate(hospital_id=ident, name=f"Hospital {ident}", capabilities=caps,
                     eta_s=minutes * 60, availability=HospitalAvailability(**status))


def stemi(fmc_minutes_ago: float) -> ClinicalFacts:
    return ClinicalFacts(stemi=True, fmc_ts=NOW - timedelta(minutes=fmc_minutes_ago))


def test_stemi_goes_to_pci_center_when_wire_within_120_min_is_reachable() -> None:
    # 10 min since FMC + 30 min travel + 30 min door-to-wire = 70 min <= 120.
    cands = [cand("LYS", 5, LYSIS), cand("PCI", 30, PCI)]
    rec = recommend(cands, pathway="chest_pain", triage_level=1, facts=stemi(10), now=NOW)
    assert rec.hospital_id == "PCI" and rec.strategy == "primary_pci"
    assert rec.ed_bypass and rec.activations == ("cathlab",)
    assert "70 min" in rec.explanation and "Hospital LYS (LYS) ETA 5 min" in rec.explanation


def test_stemi_drip_and_ship_when_pci_too_far() -> None:
    # 20 + 80 + 30 = 130 min > 120: thrombolysis first.
    cands = [cand("PCI", 80, PCI), cand("LYS", 15, LYSIS)]
    rec = recommend(cands, pathway="chest_pain", triage_level=1, facts=stemi(20), now=NOW)
    assert rec.hospital_id == "LYS" and rec.strategy == "drip_and_ship"
    assert not rec.ed_bypass and "cathlab" not in rec.activations
    assert [o.hospital_id for o in rec.options] == ["LYS", "PCI"]
    assert "130 min > 120 min" in rec.options[1].note


def test_stemi_limit_is_inclusive_and_configurable() -> None:
    cands = [cand("PCI", 60, PCI), cand("LYS", 10, LYSIS)]
    assert recommend(cands, pathway="chest_pain", triage_level=1, facts=stemi(30),
                     now=NOW).hospital_id == "PCI"  # exactly 30 + 60 + 30 = 120
    strict = DestinationPolicy(fmc_to_wire_limit_s=90 * 60)
    assert recommend(cands, pathway="chest_pain", triage_level=1, facts=stemi(30), now=NOW,
                     policy=strict).hospital_id == "LYS"


def test_diverted_and_cathlab_down_hospitals_are_excluded_and_said_so() -> None:
    cands = [cand("A", 10, PCI, diversion=True), cand("B", 12, PCI, cathlab_available=False),
             cand("C", 20, PCI)]
    rec = recommend(cands, pathway="chest_pain", triage_level=1, facts=stemi(0), now=NOW)
    assert rec.hospital_id == "C"
    notes = {o.hospital_id: o.note for o in rec.options}
    assert notes == {"A": "on diversion", "B": "cath lab unavailable", "C": "chosen"}
    assert not any(o.eligible for o in rec.options if o.hospital_id != "C")


def test_chest_pain_without_stemi_goes_to_nearest_chest_pain_center() -> None:
    cands = [cand("LYS", 5, LYSIS), cand("PCI", 15, PCI)]
    rec = recommend(cands, pathway="chest_pain", triage_level=2,
                    facts=ClinicalFacts(stemi=False), now=NOW)
    assert rec.hospital_id == "PCI" and not rec.ed_bypass and rec.activations == ()


@pytest.mark.parametrize(("evt_minutes", "margin_minutes", "expected"), [
    (25, 20, "EVT"),   # 15 min extra <= 20
    (35, 20, "LYS"),   # 25 min extra > 20
    (35, 30, "EVT"),   # a wider margin from the policy file
])
def test_lvo_goes_to_thrombectomy_within_margin(
    evt_minutes: float, margin_minutes: float, expected: str
) -> None:
    cands = [cand("LYS", 10, LYSIS), cand("EVT", evt_minutes, EVT)]
    policy = DestinationPolicy.from_json({"lvo_extra_travel_margin_s": margin_minutes * 60})
    rec = recommend(cands, pathway="stroke", triage_level=1,
                    facts=ClinicalFacts(lvo_suspected=True), now=NOW, policy=policy)
    assert rec.hospital_id == expected
    assert rec.activations == ("stroke_team", "ct")


def test_stroke_without_lvo_goes_to_nearest_ct_and_thrombolysis_with_ct_working() -> None:
    cands = [cand("NOCT", 3, LYSIS, ct_available=False), cand("LYS", 10, LYSIS),
             cand("EVT", 12, EVT)]
    rec = recommend(cands, pathway="stroke", triage_level=2,
                    facts=ClinicalFacts(lvo_suspected=False), now=NOW)
    assert rec.hospital_id == "LYS" and rec.strategy == "nearest_thrombolysis"
    assert {o.hospital_id: o.note for o in rec.options}["NOCT"] == "CT unavailable"


@pytest.mark.parametrize(("activation", "expected", "activations"), [
    (1, "L1", ("trauma_team", "ct", "icu")),
    (2, "L2", ("trauma_team",)),
    (3, "L3", ("trauma_team",)),
])
def test_trauma_by_activation_level(
    activation: int, expected: str, activations: tuple[str, ...]
) -> None:
    cands = [cand("L3", 5, Capabilities(ct=True, trauma_level=3)),
             cand("L2", 10, Capabilities(ct=True, trauma_level=2)),
             cand("L1", 20, Capabilities(ct=True, trauma_level=1))]
    rec = recommend(cands, pathway="trauma", triage_level=1,
                    facts=ClinicalFacts(trauma_activation_level=activation), now=NOW)
    assert rec.hospital_id == expected and rec.activations == activations


def test_trauma_falls_back_to_nearest_when_no_capable_center_is_open() -> None:
    cands = [cand("L1", 20, Capabilities(trauma_level=1), diversion=True),
             cand("GEN", 8, Capabilities(ct=True))]
    rec = recommend(cands, pathway="trauma", triage_level=1,
                    facts=ClinicalFacts(trauma_activation_level=1), now=NOW)
    assert rec.hospital_id == "GEN" and "No level-1 trauma center" in rec.explanation


def test_everyone_on_diversion_gives_no_destination_but_an_explanation() -> None:
    cands = [cand("A", 5, PCI, diversion=True)]
    rec = recommend(cands, pathway="other", triage_level=3, facts=ClinicalFacts(), now=NOW)
    assert rec.hospital_id is None and "every hospital is on diversion" in rec.explanation


def test_policy_file_rejects_unknown_or_bad_parameters() -> None:
    with pytest.raises(ValueError, match="unknown destination policy"):
        DestinationPolicy.from_json({"lvo_margin": 600})
    with pytest.raises(ValueError, match="expected a number"):
        DestinationPolicy.from_json({"fmc_to_wire_limit_s": "2h"})


@given(st.permutations([("A", 10.0, PCI), ("B", 40.0, PCI), ("C", 4.0, LYSIS),
                        ("D", 25.0, EVT), ("E", 7.0, Capabilities(trauma_level=2))]),
       st.sampled_from(["chest_pain", "stroke", "trauma", "other"]),
       st.floats(0, 100))
def test_the_order_of_candidates_does_not_matter(
    order: list[tuple[str, float, Capabilities]], pathway: str, fmc_minutes: float
) -> None:
    facts = ClinicalFacts(stemi=True, lvo_suspected=True, trauma_activation_level=2,
                          fmc_ts=NOW - timedelta(minutes=fmc_minutes))
    cands = [cand(i, m, c) for i, m, c in order]
    baseline = sorted(cands, key=lambda c: c.hospital_id)
    assert recommend(cands, pathway=pathway, triage_level=1, facts=facts, now=NOW) == recommend(
        baseline, pathway=pathway, triage_level=1, facts=facts, now=NOW)


def test_lvo_past_the_thrombolysis_window_goes_straight_to_thrombectomy() -> None:
    cands = [cand("LYS", 10, LYSIS), cand("EVT", 60, EVT)]  # 50 min extra: beyond the margin
    late = ClinicalFacts(lvo_suspected=True, last_known_well=NOW - timedelta(hours=6))
    rec = recommend(cands, pathway="stroke", triage_level=1, facts=late, now=NOW)
    assert rec.hospital_id == "EVT" and "past the thrombolysis window" in rec.explanation
    early = ClinicalFacts(lvo_suspected=True, last_known_well=NOW - timedelta(hours=1))
    assert recommend(cands, pathway="stroke", triage_level=1, facts=early,
                     now=NOW).hospital_id == "LYS"
    too_late = ClinicalFacts(lvo_suspected=True, last_known_well=NOW - timedelta(hours=30))
    assert recommend(cands, pathway="stroke", triage_level=1, facts=too_late,
                     now=NOW).hospital_id == "LYS"
