"""GPS geofences: infer `unit.on_scene` / `unit.at_destination` when crews forget the button.

Per unit, a JSON value (stored in a table keyed by unit_id) holds one small state machine per
fence; `step(state, fix, targets)` advances it with one GPS fix and returns the inferred events:

    state, events = step(state, fix, [scene_target(...), destination_target(...)])

Noise handling, per fence:
- hysteresis: a fix counts as *in* inside the fence, as *out* only beyond `hysteresis_m`
  outside it; the band between changes nothing, so jitter on the boundary cannot flap;
- dwell: an arrival is confirmed only when a later fix, `dwell_s` after the first *in* fix
  of the run, is still *in*; the event's time is that first *in* fix (the real arrival);
- exit needs `exit_dwell_s` of *out* fixes, so a single outlier does not end a visit;
- fixes with `accuracy_m` worse than `max_accuracy_m`, duplicates and fixes older than the
  last one used are ignored; gaps are fine (the unit is assumed to have stayed put);
- at most one arrival per fence: fence ids carry the incident id, and `arrived` sticks.

Inferred events have `source="avl"` and a deterministic `event_id`
`avl:{unit_id}:{fence_id}:{entry ts}`, so a replay after a crash repeats the same ids.
Explicit CAD / hospital times take precedence: an explicit status of the same unit supersedes
the inferred one in the incident's timeline (`pathways.timeline`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from geo.distance import EARTH_RADIUS_M, haversine_m, haversine_one, to_local_m
from geo.regions import Hospital
from pathways.events import (
    INFERRED_SOURCE,
    Event,
    GpsFix,
    UnitAtDestination,
    UnitOnScene,
    format_timestamp,
    seconds_between,
)

FenceKind = Literal["scene", "destination"]
Zone = Literal["in", "band", "out"]
Ring = tuple[tuple[float, float], ...]  # (lon, lat) vertices of a polygon's exterior
STATE_VERSION = 1
DEFAULT_SCENE_RADIUS_M = 100.0
_M_PER_DEG = math.radians(1.0) * EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class FenceTarget:
    """A fence a unit is heading to: its scene, or its destination hospital's door."""

    fence_id: str
    kind: FenceKind
    incident_id: str
    lat: float
    lon: float
    radius_m: float | None = None
    ring: Ring | None = None  # polygon fence; when set, radius_m is ignored
    hospital_id: str | None = None


@dataclass(frozen=True, slots=True)
class GeofenceParams:
    hysteresis_m: float = 50.0
    dwell_s: float = 20.0
    exit_dwell_s: float = 30.0
    max_accuracy_m: float = 100.0


DEFAULT_PARAMS = GeofenceParams()


def scene_target(
    incident_id: str, lat: float, lon: float, radius_m: float = DEFAULT_SCENE_RADIUS_M
) -> FenceTarget:
    return FenceTarget(f"scene:{incident_id}", "scene", incident_id, lat, lon, radius_m=radius_m)


def destination_target(incident_id: str, hospital: Hospital) -> FenceTarget:
    """The hospital's door geofence as a target for this incident."""
    polygon = hospital.door.polygon
    ring = None if polygon is None else tuple((x, y) for x, y, *_ in polygon.exterior.coords)
    return FenceTarget(
        f"dest:{incident_id}:{hospital.hospital_id}",
        "destination",
        incident_id,
        hospital.lat,
        hospital.lon,
        radius_m=hospital.door.radius_m,
        ring=ring,
        hospital_id=hospital.hospital_id,
    )


def new_state(unit_id: str) -> dict[str, Any]:
    """Empty per-unit state; JSON-round-trippable like every state `step` returns."""
    return {"v": STATE_VERSION, "unit_id": unit_id, "last_ts": None, "fences": {}}


def step(
    state: dict[str, Any] | None,
    fix: GpsFix,
    targets: Sequence[FenceTarget],
    params: GeofenceParams = DEFAULT_PARAMS,
) -> tuple[dict[str, Any], list[Event]]:
    """Advance the unit's fence states by one fix; returns the new state and inferred events.

    The input state is not modified. Fences no longer among `targets` are forgotten.
    """
    unit_id = fix.unit_id or ""
    current = state if state and state.get("v") == STATE_VERSION else new_state(unit_id)
    last = current["last_ts"]
    if last is not None and seconds_between(datetime.fromisoformat(last), fix.ts) <= 0:
        return current, []
    if fix.accuracy_m is not None and fix.accuracy_m > params.max_accuracy_m:
        return current, []
    fences: dict[str, Any] = {}
    events: list[Event] = []
    for target in targets:
        before = current["fences"].get(target.fence_id, _new_fence())
        zone = classify(target, fix.lat, fix.lon, params.hysteresis_m)
        fences[target.fence_id], arrival = _advance(before, zone, fix.ts, params)
        if arrival is not None:
            events.append(_arrival_event(target, unit_id, arrival))
    ts_text = format_timestamp(fix.ts)
    return {"v": STATE_VERSION, "unit_id": unit_id, "last_ts": ts_text, "fences": fences}, events


def outside_distance_m(target: FenceTarget, lat: float, lon: float) -> float:
    """Metres from the point to the fence; 0 inside it."""
    if target.ring is not None:
        x, y = to_local_m(lat, lon, target.lat, target.lon)
        return float(_local_polygon(target.ring, target.lat, target.lon).distance(
            shapely.Point(float(x), float(y))
        ))
    radius = target.radius_m or 0.0
    return max(0.0, haversine_one(target.lat, target.lon, lat, lon) - radius)


def outside_distances_m(
    targets: Sequence[FenceTarget], lats: npt.ArrayLike, lons: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Vectorised `outside_distance_m`: shape (len(lats), len(targets))."""
    lat_arr = np.asarray(lats, dtype=np.float64)
    lon_arr = np.asarray(lons, dtype=np.float64)
    out = np.empty((lat_arr.size, len(targets)), dtype=np.float64)
    for j, target in enumerate(targets):
        if target.ring is not None:
            x, y = to_local_m(lat_arr, lon_arr, target.lat, target.lon)
            poly = _local_polygon(target.ring, target.lat, target.lon)
            out[:, j] = shapely.distance(poly, shapely.points(x, y))
        else:
            d = haversine_m(target.lat, target.lon, lat_arr, lon_arr)
            out[:, j] = np.maximum(0.0, d - (target.radius_m or 0.0))
    return out


def classify(target: FenceTarget, lat: float, lon: float, hysteresis_m: float) -> Zone:
    if target.ring is not None and _beyond_reach(target.ring, target.lat, target.lon, lat, lon,
                                                 hysteresis_m):
        return "out"
    distance = outside_distance_m(target, lat, lon)
    if distance <= 0.0:
        return "in"
    return "band" if distance <= hysteresis_m else "out"


@dataclass(frozen=True, slots=True)
class MilestoneChoice:
    ts: datetime
    source: str
    discrepancy_s: float | None  # explicit minus AVL time, when both exist


def prefer_explicit(
    explicit_ts: datetime | None, explicit_source: str, avl_ts: datetime | None
) -> MilestoneChoice | None:
    """The milestone time to use: explicit CAD/hospital time wins; the gap is a quality signal."""
    if explicit_ts is None:
        return None if avl_ts is None else MilestoneChoice(avl_ts, INFERRED_SOURCE, None)
    gap = None if avl_ts is None else seconds_between(avl_ts, explicit_ts)
    return MilestoneChoice(explicit_ts, explicit_source, gap)


# --- internals ------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _local_polygon(ring: Ring, lat0: float, lon0: float) -> Polygon:
    lons, lats = zip(*ring, strict=True)
    x, y = to_local_m(lats, lons, lat0, lon0)
    polygon = Polygon(np.column_stack((x, y)))
    shapely.prepare(polygon)
    return polygon


def _beyond_reach(ring: Ring, lat0: float, lon0: float, lat: float, lon: float,
                  limit_m: float) -> bool:
    """Whether the point is certainly more than `limit_m` from the polygon: its distance from
    the fence's centre less the polygon's farthest vertex from there is a lower bound of the
    distance. Most fixes of a transport are far from the door; this spares them the polygon
    (a metre of margin covers rounding between this and `to_local_m`)."""
    x = (lon - lon0) * _M_PER_DEG * math.cos(math.radians(lat0))
    y = (lat - lat0) * _M_PER_DEG
    return math.hypot(x, y) - _reach_m(ring, lat0, lon0) > limit_m + 1.0


@lru_cache(maxsize=1024)
def _reach_m(ring: Ring, lat0: float, lon0: float) -> float:
    """Distance in the local projection from (lat0, lon0) to the ring's farthest vertex."""
    minx, miny, maxx, maxy = _local_polygon(ring, lat0, lon0).bounds
    return math.hypot(max(abs(minx), abs(maxx)), max(abs(miny), abs(maxy)))


def _new_fence() -> dict[str, Any]:
    return {"phase": "outside", "since": None, "entries": 0, "arrived": False}


def _advance(
    fence: dict[str, Any], zone: Zone, ts: datetime, params: GeofenceParams
) -> tuple[dict[str, Any], datetime | None]:
    """Next fence state, and the arrival time when this fix confirms a new arrival."""
    phase, since = fence["phase"], fence["since"]
    held = 0.0 if since is None else seconds_between(datetime.fromisoformat(since), ts)
    if phase == "outside":
        if zone != "in":
            return fence, None
        return {**fence, "phase": "entering", "since": format_timestamp(ts)}, None
    if phase == "entering":
        if zone == "out":
            return {**fence, "phase": "outside", "since": None}, None
        if zone == "band" or held < params.dwell_s:
            return fence, None
        confirmed = {**fence, "phase": "inside", "entries": fence["entries"] + 1, "arrived": True}
        return confirmed, None if fence["arrived"] else datetime.fromisoformat(since)
    if phase == "inside":
        if zone != "out":
            return fence, None
        return {**fence, "phase": "exiting", "since": format_timestamp(ts)}, None
    # exiting
    if zone != "out":
        return {**fence, "phase": "inside"}, None
    if held >= params.exit_dwell_s:
        return {**fence, "phase": "outside", "since": None}, None
    return fence, None


def _arrival_event(target: FenceTarget, unit_id: str, entered: datetime) -> Event:
    event_id = f"avl:{unit_id}:{target.fence_id}:{format_timestamp(entered)}"
    common: dict[str, Any] = {
        "event_id": event_id,
        "ts": entered,
        "source": INFERRED_SOURCE,
        "incident_id": target.incident_id,
        "unit_id": unit_id,
    }
    if target.kind == "scene":
        return UnitOnScene(**common)
    return UnitAtDestination(hospital_id=target.hospital_id, **common)
