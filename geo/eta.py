"""ETA without a routing engine: straight line x detour factor / speed, with a band.

Road speed is a table by area type and local hour of day, refined online from GPS speeds
(an exponentially weighted mean and variance of log speed per cell). The band is the
central 80% of the log-normal speed spread. When the unit's last fix is older than
`stale_after_s` the ETA is marked stale and keeps counting down from the last fix, with a
band that widens with the fix's age, instead of freezing silently.

    speeds = new_speed_state()
    speeds = observe_speed(speeds, "urban", hour=8, speed_mps=9.5)
    eta = estimate_eta((lat, lon), (h.lat, h.lon), "urban", now, speeds, last_fix_ts)
    eta.seconds, eta.low_s, eta.high_s, eta.stale
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from geo.distance import haversine_m, haversine_one
from geo.regions import AreaType

AREA_ROWS: dict[str, int] = {"urban": 0, "county": 1}
HOURS = 24
Z80 = 1.2816  # standard normal quantile of 90%: the central 80% band
# Prior road speeds (m/s) of an ambulance under lights, by local hour; urban rush hours slower.
_URBAN = [11.0] * 6 + [9.5, 7.0, 6.5, 8.0] + [8.5] * 6 + [8.0, 6.5, 6.5, 8.0] + [9.5] * 4
_COUNTY = [17.0] * 6 + [15.5, 14.0, 14.0, 15.0] + [15.5] * 6 + [15.0, 14.0, 14.0, 15.0] + [16] * 4


@dataclass(frozen=True, slots=True)
class SpeedModel:
    """Fixed parameters of the ETA model (the learned part is the speed state)."""

    detour_urban: float = 1.35
    detour_county: float = 1.25
    utc_offset_hours: float = 8.0  # local time of the region, for the hour of day
    prior_log_sigma: float = 0.30
    min_log_sigma: float = 0.10  # roads are never that predictable; keeps the band honest
    prior_weight: float = 5.0  # the prior counts as this many observations
    alpha_max: float = 0.2  # weight of one observation once the cell has history
    min_speed_mps: float = 1.0  # slower samples are a parked unit, not traffic
    max_speed_mps: float = 45.0
    stale_after_s: float = 60.0
    stale_widen_per_s: float = 0.5  # extra seconds of band per second of missing fixes


DEFAULT_MODEL = SpeedModel()


@dataclass(frozen=True, slots=True)
class Eta:
    seconds: float
    low_s: float
    high_s: float
    stale: bool
    distance_m: float = 0.0


def new_speed_state(model: SpeedModel = DEFAULT_MODEL) -> dict[str, Any]:
    """Speed state at the prior; a JSON value (lists of floats), one cell per area x hour."""
    mean = np.log(np.array([_URBAN, _COUNTY], dtype=np.float64))
    var = np.full_like(mean, model.prior_log_sigma**2)
    weight = np.full_like(mean, model.prior_weight)
    return {"v": 1, "mean_log": mean.tolist(), "var_log": var.tolist(), "n": weight.tolist()}


def local_hour(now: datetime, model: SpeedModel = DEFAULT_MODEL) -> int:
    return now.astimezone(_zone(model.utc_offset_hours)).hour


@lru_cache(maxsize=16)
def _zone(utc_offset_hours: float) -> timezone:
    return timezone(timedelta(hours=utc_offset_hours))


def speed_mps(state: dict[str, Any], area_type: AreaType, hour: int) -> float:
    """Current median road speed of a cell."""
    return math.exp(state["mean_log"][AREA_ROWS[area_type]][hour])


def observe_speed(
    state: dict[str, Any],
    area_type: AreaType,
    hour: int,
    speed_mps: float,
    model: SpeedModel = DEFAULT_MODEL,
) -> dict[str, Any]:
    """State after one observed road speed (e.g. `gps.fix.speed_mps` of a moving unit)."""
    return observe_speeds(state, [area_type], [hour], [speed_mps], model)


def observe_speeds(
    state: dict[str, Any],
    area_types: list[AreaType] | tuple[AreaType, ...],
    hours: npt.ArrayLike,
    speeds_mps: npt.ArrayLike,
    model: SpeedModel = DEFAULT_MODEL,
) -> dict[str, Any]:
    """State after a batch of observations, applied in order; implausible speeds are skipped."""
    mean = np.array(state["mean_log"], dtype=np.float64)
    var = np.array(state["var_log"], dtype=np.float64)
    weight = np.array(state["n"], dtype=np.float64)
    rows = np.array([AREA_ROWS[a] for a in area_types], dtype=np.intp)
    cols = np.asarray(hours, dtype=np.intp) % HOURS
    speeds = np.asarray(speeds_mps, dtype=np.float64)
    usable = (speeds >= model.min_speed_mps) & (speeds <= model.max_speed_mps)
    for r, c, s in zip(rows[usable], cols[usable], np.log(speeds[usable]), strict=True):
        # 1/n weighting until the cell has history, then a fixed rate so it keeps adapting.
        alpha = max(1.0 / (weight[r, c] + 1.0), model.alpha_max)
        delta = s - mean[r, c]
        mean[r, c] += alpha * delta
        var[r, c] = (1.0 - alpha) * (var[r, c] + alpha * delta * delta)
        weight[r, c] += 1.0
    return {"v": 1, "mean_log": mean.tolist(), "var_log": var.tolist(), "n": weight.tolist()}


def estimate_eta(
    origin: tuple[float, float],
    destination: tuple[float, float],
    area_type: AreaType,
    now: datetime,
    speed_state: dict[str, Any],
    last_fix_ts: datetime | None,
    model: SpeedModel = DEFAULT_MODEL,
) -> Eta:
    """ETA from `origin` (the last fix, lat/lon) to `destination` at event time `now`."""
    distance = haversine_one(origin[0], origin[1], destination[0], destination[1])
    seconds, low, high = _travel_s(distance, area_type, now, speed_state, model)
    age = 0.0 if last_fix_ts is None else max(0.0, (now - last_fix_ts).total_seconds())
    stale = last_fix_ts is None or age > model.stale_after_s
    return _aged(seconds, low, high, age, stale, distance, model)


def estimate_etas(
    origin: tuple[float, float],
    lats: npt.ArrayLike,
    lons: npt.ArrayLike,
    area_type: AreaType,
    now: datetime,
    speed_state: dict[str, Any],
    last_fix_ts: datetime | None,
    model: SpeedModel = DEFAULT_MODEL,
) -> list[Eta]:
    """`estimate_eta` from one origin to many destinations at once."""
    distances = haversine_m(origin[0], origin[1], lats, lons).ravel()
    seconds, low, high = _travel_s(distances, area_type, now, speed_state, model)
    age = 0.0 if last_fix_ts is None else max(0.0, (now - last_fix_ts).total_seconds())
    stale = last_fix_ts is None or age > model.stale_after_s
    return [
        _aged(float(s), float(lo), float(hi), age, stale, float(d), model)
        for s, lo, hi, d in zip(seconds, low, high, distances, strict=True)
    ]


Distances = TypeVar("Distances", float, npt.NDArray[np.float64])


def _travel_s(
    distances: Distances,
    area_type: AreaType,
    now: datetime,
    speed_state: dict[str, Any],
    model: SpeedModel,
) -> tuple[Distances, Distances, Distances]:
    row, hour = AREA_ROWS[area_type], local_hour(now, model)
    mean_log = speed_state["mean_log"][row][hour]
    sigma = max(math.sqrt(max(speed_state["var_log"][row][hour], 0.0)), model.min_log_sigma)
    detour = model.detour_urban if area_type == "urban" else model.detour_county
    road = distances * detour
    seconds = road / math.exp(mean_log)
    return seconds, road / math.exp(mean_log + Z80 * sigma), road / math.exp(mean_log - Z80 * sigma)


def _aged(
    seconds: float, low: float, high: float, age: float, stale: bool, distance: float,
    model: SpeedModel,
) -> Eta:
    """Count down from the last fix; a stale one also widens the band by its age."""
    widen = age * model.stale_widen_per_s if stale else 0.0
    return Eta(
        seconds=max(0.0, seconds - age),
        low_s=max(0.0, low - age - widen),
        high_s=max(0.0, high - age) + widen,
        stale=stale,
        distance_m=distance,
    )


def observed_speed_mps(
    prev_lat: float | None,
    prev_lon: float | None,
    prev_ts: datetime | None,
    lat: float,
    lon: float,
    ts: datetime,
    reported_mps: float | None = None,
) -> float | None:
    """Road speed from a fix: the device's speed if reported, else distance over time."""
    if reported_mps is not None:
        return reported_mps
    if prev_lat is None or prev_lon is None or prev_ts is None:
        return None
    dt = (ts - prev_ts).total_seconds()
    if dt <= 0 or dt > 120:  # across a long gap the straight line says little about speed
        return None
    return float(haversine_m(prev_lat, prev_lon, lat, lon)) / dt
