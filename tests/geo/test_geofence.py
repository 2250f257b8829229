"""Geofence arrivals from noisy GPS: exactly one per fence, no flapping, crash-safe state."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import EARTH_RADIUS_M
from geo.geofence import (
    DEFAULT_PARAMS,
    FenceTarget,
    classify,
    destination_target,
    outside_distance_m,
    outside_distances_m,
    prefer_explicit,
    scene_target,
    step,
)
from geo.regions import load_region
from pathways.events import Event, GpsFix, UnitAtDestination, UnitOnScene, dumps, parse

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=timezone(timedelta(hours=8)))
SCENE = (30.95, 117.05)
M_PER_DEG = math.radians(1.0) * EARTH_RADIUS_M


def offset(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    lat0, lon0 = origin
    return (lat0 + north_m / M_PER_DEG,
            lon0 + east_m / (M_PER_DEG * math.cos(math.radians(lat0))))


def fix(seconds: float, where: tuple[float, float], accuracy_m: float | None = 10.0) -> GpsFix:
    ts = T0 + timedelta(seconds=seconds)
    return GpsFix(event_id=f"g{seconds}", ts=ts, source="sim", unit_id="U1",
                  lat=where[0], lon=where[1], accuracy_m=accuracy_m)


def run(fixes: list[GpsFix], targets: list[FenceTarget], via_json: bool = True,
        state: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Event]]:
    events: list[Event] = []
    for f in fixes:
        state, new = step(state, f, targets)
        if via_json:  # what the table stores and a restarted worker reads back
            state = json.loads(json.dumps(state))
        events += new
    assert state is not None
    return state, events


def test_hand_computed_distances_to_circle_and_polygon() -> None:
    circle = scene_target("I1", *SCENE, radius_m=100)
    assert math.isclose(outside_distance_m(circle, *offset(SCENE, 0, 150)), 50, abs_tol=0.05)
    assert outside_distance_m(circle, *offset(SCENE, 60, -60)) == 0.0
    corners = [offset(SCENE, x, y) for x, y in [(-100, -100), (100, -100), (100, 100), (-100, 100)]]
    square = FenceTarget("dest:I1:H", "destination", "I1", *SCENE,
                         ring=tuple((lon, lat) for lat, lon in corners), hospital_id="H")
    assert math.isclose(outside_distance_m(square, *offset(SCENE, 130, 0)), 30, abs_tol=0.05)
    assert math.isclose(outside_distance_m(square, *offset(SCENE, 130, 140)), 50, abs_tol=0.05)
    assert outside_distance_m(square, *offset(SCENE, 99, 99)) == 0.0
    assert classify(square, *offset(SCENE, 130, 0), hysteresis_m=50) == "band"
    assert classify(square, *offset(SCENE, 160, 0), hysteresis_m=50) == "out"


def _zone_of(distance: float, hysteresis_m: float) -> str:
    return "in" if distance <= 0.0 else "band" if distance <= hysteresis_m else "out"


@settings(max_examples=300, deadline=None)
@given(east=st.floats(-400, 400), north=st.floats(-400, 400),
       hysteresis=st.sampled_from([0.0, 50.0]))
def test_a_polygon_zone_is_what_its_distance_says(east: float, north: float,
                                                  hysteresis: float) -> None:
    """`classify` answers far points without the polygon; it must agree with the distance."""
    corners = [offset(SCENE, x, y) for x, y in [(-100, -60), (140, -100), (90, 120), (-80, 70)]]
    door = FenceTarget("dest:I1:H", "destination", "I1", *SCENE,
                       ring=tuple((lon, lat) for lat, lon in corners), hospital_id="H")
    where = offset(SCENE, east, north)
    assert classify(door, *where, hysteresis_m=hysteresis) == _zone_of(
        outside_distance_m(door, *where), hysteresis)


def test_batch_distances_equal_one_by_one() -> None:
    region = load_region()
    targets = [destination_target("I1", h) for h in region.hospitals] + [
        scene_target("I1", *SCENE)]
    rng = np.random.default_rng(3)
    lats, lons = rng.uniform(30.9, 31.0, 200), rng.uniform(117.0, 117.1, 200)
    batch = outside_distances_m(targets, lats, lons)
    for i in range(0, 200, 17):
        for j, target in enumerate(targets):
            assert math.isclose(batch[i, j], outside_distance_m(target, lats[i], lons[i]),
                                abs_tol=1e-6)


def noisy_trip(seed: int) -> tuple[list[GpsFix], list[FenceTarget], float, float]:
    """Approach the scene, stay 6 min, drive to the hospital, stay 10 min: noise, gaps, outliers.

    Returns the fixes, the targets and the true seconds at which each fence was entered.
    """
    region = load_region()
    hospital = next(h for h in region.hospitals if h.door.radius_m is not None)
    targets = [scene_target("I1", *SCENE, radius_m=100), destination_target("I1", hospital)]
    rng = np.random.default_rng(seed)
    fixes: list[GpsFix] = []

    def jittered(t: float, where: tuple[float, float]) -> None:
        e, n = rng.normal(0, 15, 2)
        fixes.append(fix(t, offset(where, e, n)))

    t = 0.0
    for north in np.arange(-1500, 0, 50.0):  # 10 m/s from the south, fix every 5 s
        if not 60 < t < 120:  # a 60 s gap in coverage just before the scene
            jittered(t, offset(SCENE, 0, north))
        t += 5
    scene_entry = 140.0  # 100 m south of the scene at 10 m/s
    for _ in range(72):  # 6 minutes on scene with jitter, a gap and two outliers
        if not 200 < t < 290:
            jittered(t, SCENE)
        t += 5
    fixes.append(fix(t - 12, offset(SCENE, 400, 0)))  # one far outlier, accurate-looking
    fixes.append(fix(t - 11, offset(SCENE, 0, 2000), accuracy_m=800))  # inaccurate fix
    door = (hospital.lat, hospital.lon)
    start = offset(SCENE, 0, 0)
    legs = 60
    for k in range(1, legs + 1):  # straight line to the door, 5 s per fix
        frac = k / legs
        lat = start[0] + (door[0] - start[0]) * frac
        jittered(t, (lat, start[1] + (door[1] - start[1]) * frac))
        t += 5
    at_door = t - 5
    dest_entry = at_door - 5 * legs * (hospital.door.radius_m or 0) / _dist(start, door)
    for _ in range(120):
        if rng.random() > 0.3:  # patchy coverage at the ambulance bay
            jittered(t, door)
        t += 5
    fixes.sort(key=lambda f: f.ts)
    return fixes, targets, scene_entry, dest_entry


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    from geo.distance import haversine_one

    return haversine_one(a[0], a[1], b[0], b[1])


def test_noisy_trace_gives_exactly_one_arrival_per_fence() -> None:
    for seed in range(5):
        fixes, targets, scene_entry, dest_entry = noisy_trip(seed)
        state, events = run(fixes, targets)
        kinds = [type(e) for e in events]
        assert kinds == [UnitOnScene, UnitAtDestination], f"seed {seed}: {events}"
        scene, dest = events
        assert abs((scene.ts - T0).total_seconds() - scene_entry) <= 30
        assert abs((dest.ts - T0).total_seconds() - dest_entry) <= 40
        assert all(f["entries"] == 1 for f in state["fences"].values())


def test_inferred_events_follow_the_contract() -> None:
    fixes, targets, _, _ = noisy_trip(0)
    _, (scene, dest) = run(fixes, targets)
    assert scene.source == dest.source == "avl"
    assert scene.incident_id == dest.incident_id == "I1"
    assert scene.unit_id == "U1" and dest.hospital_id == targets[1].hospital_id
    assert scene.event_id.startswith("avl:U1:scene:I1:")
    for event in (scene, dest):
        assert parse(dumps(event)) == event


def test_replay_duplicates_and_restart_give_the_same_event_ids() -> None:
    fixes, targets, _, _ = noisy_trip(1)
    _, once = run(fixes, targets)
    # Redelivered fixes (every fix twice) and a crash halfway, resumed from the stored state.
    doubled = [f for f in fixes for _ in (0, 1)]
    half = len(doubled) // 2
    saved, first = run(doubled[:half], targets)
    _, second = run(doubled[half - 10:], targets, state=saved)
    assert [e.event_id for e in first + second] == [e.event_id for e in once]


def test_late_fix_is_ignored_not_rewinding_the_state() -> None:
    target = scene_target("I1", *SCENE)
    state, _ = run([fix(0, SCENE), fix(30, SCENE)], [target])
    late, events = step(state, fix(10, offset(SCENE, 0, 5000)), [target])
    assert late == state and events == []


def test_driving_through_without_stopping_is_not_an_arrival() -> None:
    target = scene_target("I1", *SCENE, radius_m=100)
    drive = [fix(t, offset(SCENE, 0, -600 + 15 * t)) for t in range(0, 80, 4)]  # 15 m/s
    state, events = run(drive, [target])
    assert events == []
    assert state["fences"][target.fence_id]["entries"] == 0


def test_parked_on_the_fence_edge_does_not_flap() -> None:
    target = scene_target("I1", *SCENE, radius_m=100)
    rng = np.random.default_rng(11)
    parked = []
    for t in range(0, 900, 5):  # 15 minutes parked 95 m from the centre, jitter 15 m
        e, n = rng.normal(0, 15, 2)
        parked.append(fix(t, offset(SCENE, e, -95 + n)))
    state, events = run(parked, [target])
    assert len(events) == 1
    assert state["fences"][target.fence_id]["entries"] == 1


def test_a_new_incident_gets_its_own_arrival_at_the_same_place() -> None:
    first, second = scene_target("I1", *SCENE), scene_target("I2", *SCENE)
    fixes = [fix(t, SCENE) for t in range(0, 60, 5)]
    state, events1 = run(fixes, [first])
    _, events2 = run([fix(t, SCENE) for t in range(100, 160, 5)], [second], state=state)
    assert [e.incident_id for e in events1 + events2] == ["I1", "I2"]


@settings(max_examples=60, deadline=None)
@given(
    depth_frac=st.floats(0.0, 1.0),
    jitter=st.lists(st.tuples(st.floats(0, 2 * math.pi), st.floats(0.0, 0.99)),
                    min_size=40, max_size=120),
    dropped=st.lists(st.booleans(), min_size=120, max_size=120),
)
def test_jitter_below_hysteresis_never_adds_arrivals(
    depth_frac: float, jitter: list[tuple[float, float]], dropped: list[bool]
) -> None:
    radius, band = 100.0, DEFAULT_PARAMS.hysteresis_m
    target = scene_target("I1", *SCENE, radius_m=radius)
    depth = radius * depth_frac  # parked this far inside the edge
    amplitude = band * 0.99
    fixes = [fix(t, offset(SCENE, 0, -400 + 10 * t)) for t in range(0, 30, 5)]  # approach
    t = 30.0
    for k, (angle, frac) in enumerate(jitter):
        t += 5
        if dropped[k] and k not in (0, len(jitter) - 1):
            continue
        r = amplitude * frac
        north = -(radius - depth) + r * math.sin(angle)
        fixes.append(fix(t, offset(SCENE, r * math.cos(angle), north)))
    state, events = run(fixes, [target])
    entries = state["fences"][target.fence_id]["entries"]
    assert len(events) <= 1 and entries <= 1
    stayed = (t - 35) >= DEFAULT_PARAMS.dwell_s
    if depth > amplitude and stayed:  # every parked fix is inside: the arrival must be seen
        assert len(events) == 1 and entries == 1


def test_explicit_time_wins_and_the_gap_is_reported() -> None:
    explicit, avl = T0 + timedelta(seconds=95), T0 + timedelta(seconds=20)
    choice = prefer_explicit(explicit, "cad", avl)
    assert choice is not None
    assert (choice.ts, choice.source, choice.discrepancy_s) == (explicit, "cad", 75.0)
    fallback = prefer_explicit(None, "cad", avl)
    assert fallback is not None and (fallback.ts, fallback.source) == (avl, "avl")
    assert prefer_explicit(None, "cad", None) is None
