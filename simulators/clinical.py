"""Clinical course of one simulated patient: prehospital findings and hospital milestones.

Pure functions of (patient, anchor times, rng, timings) returning `Step`s; the city
generator turns steps into contract events with ids, sources and hospital ids.
Door-to-X intervals are drawn from the scenario's distributions, then clamped so the
milestones stay in a clinically possible order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulators.scenario import Scenario, Timings

MECHANISMS = ("road_traffic", "fall", "assault", "crush", "penetrating")


@dataclass(frozen=True, slots=True)
class Step:
    type: str
    ts: datetime
    fields: dict[str, Any]
    in_hospital: bool = False  # carries the hospital_id, source his:<hospital>


@dataclass(frozen=True, slots=True)
class Patient:
    pathway: str
    triage_level: int
    stemi: bool = False
    stroke_kind: str | None = None  # "ischemic" | "hemorrhagic"
    lvo: bool = False
    thrombolysis: bool = False
    major_trauma: bool = False

    @property
    def time_critical(self) -> bool:
        return self.stemi or self.stroke_kind is not None or self.major_trauma


def draw_patient(pathway: str, scenario: Scenario, rng: random.Random) -> Patient:
    weights = scenario.triage_mix.get(pathway, scenario.triage_mix["default"])
    triage = rng.choices((1, 2, 3, 4), weights=weights)[0]
    if pathway == "chest_pain":
        return Patient(pathway, triage, stemi=rng.random() < scenario.stemi_share)
    if pathway == "stroke":
        ischemic = rng.random() < scenario.stroke_ischemic_share
        return Patient(
            pathway, triage, stroke_kind="ischemic" if ischemic else "hemorrhagic",
            lvo=ischemic and rng.random() < scenario.lvo_share,
            thrombolysis=ischemic and rng.random() < scenario.thrombolysis_share,
        )
    if pathway == "trauma":
        return Patient(pathway, triage, major_trauma=rng.random() < scenario.major_trauma_share)
    return Patient(pathway, triage)


def _after(moment: datetime, low_min: float, high_min: float, rng: random.Random) -> datetime:
    return moment + timedelta(seconds=round(rng.uniform(low_min, high_min) * 60.0))


def _later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=round(seconds))


def prehospital(patient: Patient, on_scene: datetime, rng: random.Random,
                timings: Timings) -> list[Step]:
    """ECG, transmission and remote diagnosis for chest pain; stroke and trauma scores."""
    if patient.pathway == "chest_pain":
        ecg = _later(on_scene, timings.fmc_to_ecg.draw(rng))
        sent = _later(ecg, timings.ecg_transmission.draw(rng))
        steps = [Step("ecg.acquired", ecg, {"setting": "prehospital", "stemi": patient.stemi}),
                 Step("ecg.transmitted", sent, {})]
        if patient.stemi:
            steps.append(Step("diagnosis.made", _after(sent, 1, 4, rng), {"diagnosis": "stemi"}))
        return steps
    if patient.pathway == "stroke":
        score = rng.randint(4, 5) if patient.lvo else rng.randint(1, 3)
        fields = {"scale": "LAMS", "score": score, "lvo_suspected": score >= 4}
        return [Step("stroke.screen", _after(on_scene, 3, 8, rng), fields)]
    if patient.pathway == "trauma":
        major = patient.major_trauma
        fields = {
            "gcs": rng.randint(3, 12) if major else rng.randint(13, 15),
            "mechanism": rng.choice(MECHANISMS),
            "activation_level": rng.choice((1, 2)) if major else 3,
        }
        return [Step("trauma.assessment", _after(on_scene, 2, 6, rng), fields)]
    return []


def in_hospital(patient: Patient, door: datetime, rng: random.Random, timings: Timings,
                prehospital_dx: datetime | None = None) -> list[Step]:
    """Hospital milestones after the door (a STEMI lab may be activated before it)."""
    steps = [Step("hospital.arrived", door, {}, in_hospital=True)]
    if patient.stemi:
        steps += _stemi(door, rng, timings, prehospital_dx)
    elif patient.pathway == "chest_pain":
        ecg = _later(door, timings.fmc_to_ecg.draw(rng))
        steps.append(Step("ecg.acquired", ecg, {"setting": "hospital", "stemi": False}, True))
    elif patient.stroke_kind is not None:
        steps += _stroke(patient, door, rng, timings)
    elif patient.major_trauma:
        steps += _trauma(door, rng, timings)
    return steps


def _stemi(door: datetime, rng: random.Random, timings: Timings,
           prehospital_dx: datetime | None) -> list[Step]:
    steps: list[Step] = []
    if prehospital_dx is None:
        ecg = _later(door, rng.uniform(3, 10) * 60)
        prehospital_dx = _after(ecg, 1, 4, rng)
        steps += [Step("ecg.acquired", ecg, {"setting": "hospital", "stemi": True}, True),
                  Step("diagnosis.made", prehospital_dx, {"diagnosis": "stemi"}, True)]
    wire = _later(door, timings.door_to_balloon.draw(rng))
    lab_in = max(_after(wire, -25, -10, rng), _later(door, 180))
    ready = _after(lab_in, -8, 0, rng)
    activated = max(_later(ready, -timings.cathlab_activation.draw(rng)),
                    _later(prehospital_dx, 60))
    ready = max(ready, _later(activated, 60))
    lab_in = max(lab_in, ready)
    wire = max(wire, _later(lab_in, 300))
    return steps + [
        Step("cathlab.activated", activated, {}, True),
        Step("cathlab.team_ready", ready, {}, True),
        Step("cathlab.arrived", lab_in, {}, True),
        Step("wire.crossed", wire, {}, True),
        Step("device.deployed", _after(wire, 2, 8, rng), {}, True),
    ]


def _stroke(patient: Patient, door: datetime, rng: random.Random,
            timings: Timings) -> list[Step]:
    ct = _later(door, timings.stroke_door_to_ct.draw(rng))
    read = _after(ct, 4, 12, rng)
    steps = [Step("ct.started", ct, {}, True), Step("ct.read", read, {}, True),
             Step("diagnosis.made", read, {"diagnosis": f"{patient.stroke_kind}_stroke"}, True)]
    if patient.thrombolysis:
        needle = max(_later(door, timings.stroke_door_to_needle.draw(rng)), _later(read, 180))
        steps.append(Step("thrombolysis.started", needle, {}, True))
    if patient.lvo:
        puncture = max(_later(door, timings.stroke_door_to_puncture.draw(rng)),
                       _later(read, 900))
        steps += [Step("puncture", puncture, {}, True),
                  Step("recanalization", _after(puncture, 20, 60, rng), {}, True)]
    return steps


def _trauma(door: datetime, rng: random.Random, timings: Timings) -> list[Step]:
    activated = _after(door, -10, -2, rng)
    team = _later(door, timings.trauma_door_to_team.draw(rng))
    ct = _later(door, timings.trauma_door_to_ct.draw(rng))
    steps = [
        Step("trauma_team.activated", activated, {}, True),
        Step("trauma_team.arrived", team, {}, True),
        Step("ct.started", ct, {}, True),
        Step("diagnosis.made", _after(ct, 5, 15, rng), {"diagnosis": "major_trauma"}, True),
    ]
    if rng.random() < 0.5:
        theatre = max(_later(door, timings.trauma_door_to_or.draw(rng)), _later(ct, 600))
        steps.append(Step("or.entered", theatre, {}, True))
    return steps
