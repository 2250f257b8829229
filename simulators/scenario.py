"""The city scenario's knobs: call rates, the day/night profile, the case mix, timings.

Defaults describe a mid-sized Chinese city's 120 center; every field can be overridden
from a JSON file (`pathwatch simulate --scenario FILE.json`), so a center can model its
own traffic without Python. Durations are in seconds; a `Spread` is a log-normal given by
its median and the ratio p90/median (a right tail, like real process times).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Hourly call-volume multipliers (local time, mean 1): the night trough and the
# late-morning / early-evening peaks seen in EMS demand curves.
DEFAULT_HOURLY_PROFILE: tuple[float, ...] = (
    0.62, 0.52, 0.46, 0.42, 0.42, 0.48, 0.66, 0.92, 1.12, 1.26, 1.32, 1.34,
    1.28, 1.22, 1.2, 1.2, 1.22, 1.26, 1.3, 1.28, 1.18, 1.04, 0.9, 0.74,
)


@dataclass(frozen=True, slots=True)
class Spread:
    """Log-normal duration: `median_s`, and `tail` = p90 / median (1 means fixed)."""

    median_s: float
    tail: float = 1.5

    def draw(self, rng: random.Random) -> float:
        sigma = math.log(max(self.tail, 1.0)) / 1.2816  # z of the 90th percentile
        return self.median_s * math.exp(rng.gauss(0.0, sigma))


def _minutes(median: float, tail: float = 1.5) -> Spread:
    return Spread(median * 60.0, tail)


@dataclass(frozen=True, slots=True)
class Timings:
    call_processing: Spread = Spread(55.0, 1.8)
    turnout: Spread = Spread(80.0, 1.6)
    at_patient: Spread = Spread(90.0, 1.6)
    on_scene: Spread = _minutes(16.0, 1.5)
    on_scene_time_critical: Spread = _minutes(12.0, 1.4)
    handover: Spread = _minutes(15.0, 1.6)
    fmc_to_ecg: Spread = _minutes(6.0, 1.6)
    ecg_transmission: Spread = _minutes(3.0, 1.8)
    door_to_balloon: Spread = _minutes(68.0, 1.35)
    cathlab_activation: Spread = _minutes(22.0, 1.4)
    stroke_door_to_ct: Spread = _minutes(18.0, 1.5)
    stroke_door_to_needle: Spread = _minutes(48.0, 1.4)
    stroke_door_to_puncture: Spread = _minutes(85.0, 1.4)
    trauma_door_to_team: Spread = _minutes(8.0, 1.8)
    trauma_door_to_ct: Spread = _minutes(30.0, 1.5)
    trauma_door_to_or: Spread = _minutes(55.0, 1.4)


@dataclass(frozen=True, slots=True)
class Scenario:
    timezone: str = "Asia/Shanghai"
    calls_per_hour: float = 12.0
    hourly_profile: tuple[float, ...] = DEFAULT_HOURLY_PROFILE
    urban_call_share: float = 0.75  # of calls placed in urban districts (by area within)
    walkins_per_hour: float = 0.6  # chest-pain patients who come to a chest-pain center
    # share of calls by pathway_hint (normalised when drawn)
    pathway_mix: dict[str, float] = field(default_factory=lambda: {
        "chest_pain": 0.14, "stroke": 0.09, "trauma": 0.16,
        "maternal": 0.05, "pediatric": 0.06, "other": 0.50,
    })
    # share of calls by triage level 1..4, per pathway (others use "default")
    triage_mix: dict[str, tuple[float, ...]] = field(default_factory=lambda: {
        "chest_pain": (0.25, 0.45, 0.25, 0.05), "stroke": (0.25, 0.5, 0.2, 0.05),
        "trauma": (0.15, 0.35, 0.35, 0.15), "default": (0.05, 0.2, 0.45, 0.3),
    })
    stemi_share: float = 0.3  # of chest-pain calls (and walk-ins)
    stroke_ischemic_share: float = 0.8
    lvo_share: float = 0.3  # of ischemic strokes
    thrombolysis_share: float = 0.55  # of ischemic strokes seen in time
    major_trauma_share: float = 0.3
    transport_share: float = 0.85  # of non-critical calls; critical ones are always transported
    cancel_share: float = 0.02
    retriage_share: float = 0.1  # calls whose triage level the crew changes (call.triaged)
    units_per_station: int = 2
    # the fleet grows with the call rate: units = max(per station, rate x unit-hours per call)
    unit_hours_per_call: float = 1.5
    speed_urban_mps: float = 9.0
    speed_county_mps: float = 15.0
    road_detour: float = 1.3
    gps_interval_s: float = 5.0
    gps_noise_m: float = 8.0
    gps_gap_chance: float = 0.01  # per fix: a tunnel / dead zone starts
    gps_gap: Spread = Spread(45.0, 2.0)
    diversions_per_hospital_day: float = 0.4
    diversion_length: Spread = _minutes(60.0, 1.6)
    timings: Timings = field(default_factory=Timings)

    def rate_multiplier(self, hour: int) -> float:
        profile = self.hourly_profile
        return profile[hour % len(profile)] * len(profile) / sum(profile)


def load_scenario(path: str | Path | None) -> Scenario:
    """The default scenario, with the fields of a JSON file (if given) replacing defaults."""
    if path is None:
        return Scenario()
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return scenario_from(raw)


def scenario_from(raw: dict[str, Any]) -> Scenario:
    known = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"unknown scenario fields {unknown}; known: {sorted(known)}")
    values = dict(raw)
    if "hourly_profile" in values:
        values["hourly_profile"] = tuple(values["hourly_profile"])
    if "triage_mix" in values:
        values["triage_mix"] = {k: tuple(v) for k, v in values["triage_mix"].items()}
    for name in ("gps_gap", "diversion_length"):
        if name in values:
            values[name] = Spread(**values[name])
    if "timings" in values:
        values["timings"] = Timings(**{k: Spread(**v) for k, v in values["timings"].items()})
    return Scenario(**values)
