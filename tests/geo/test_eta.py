"""ETA: hand-computed travel times, online refinement, uncertainty band and stale GPS."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from geo.distance import EARTH_RADIUS_M, haversine_m, haversine_one
from geo.eta import (
    DEFAULT_MODEL,
    Eta,
    estimate_eta,
    estimate_etas,
    local_hour,
    new_speed_state,
    observe_speed,
    observe_speeds,
    observed_speed_mps,
    speed_mps,
)

CST = timezone(timedelta(hours=8))
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=CST)
KM_PER_DEG_LAT = math.radians(1.0) * EARTH_RADIUS_M / 1000  # 111.195 km


def test_haversine_of_one_degree_of_latitude() -> None:
    one_degree = haversine_one(30.0, 117.0, 31.0, 117.0)
    assert math.isclose(one_degree, KM_PER_DEG_LAT * 1000, rel_tol=1e-9)
    # Along a parallel at 60 degrees, a short hop is half as long as at the equator.
    east = haversine_one(60.0, 10.0, 60.0, 10.01)
    assert math.isclose(east, 0.5 * KM_PER_DEG_LAT * 10, rel_tol=1e-4)


LATS, LONS = st.floats(-89.0, 89.0), st.floats(-179.0, 179.0)


@given(LATS, LONS, LATS, LONS)
def test_one_pair_distance_agrees_with_the_vectorised_one(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    one = haversine_one(lat1, lon1, lat2, lon2)
    assert math.isclose(one, float(haversine_m(lat1, lon1, lat2, lon2)), rel_tol=1e-9,
                        abs_tol=1e-6)


@given(st.floats(30.5, 31.5), st.floats(116.5, 117.5), st.integers(0, 23))
def test_one_eta_agrees_with_the_vectorised_ones(lat: float, lon: float, hour: int) -> None:
    speeds, now = new_speed_state(), NOON.replace(hour=hour)
    origin, lats, lons = (31.0, 117.0), [lat, 31.2], [lon, 117.3]
    many = estimate_etas(origin, lats, lons, "county", now, speeds, now - timedelta(minutes=5))
    one = estimate_eta(origin, (lat, lon), "county", now, speeds, now - timedelta(minutes=5))
    assert math.isclose(one.seconds, many[0].seconds, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(one.high_s, many[0].high_s, rel_tol=1e-9, abs_tol=1e-6)
    assert one.stale == many[0].stale


def test_eta_is_distance_times_detour_over_cell_speed() -> None:
    speeds = new_speed_state()
    origin, dest = (31.0, 117.0), (31.0 + 9 / KM_PER_DEG_LAT, 117.0)  # 9 km due north
    eta = estimate_eta(origin, dest, "urban", NOON, speeds, NOON)
    expected = 9000 * DEFAULT_MODEL.detour_urban / speed_mps(speeds, "urban", 12)
    assert math.isclose(eta.seconds, expected, rel_tol=1e-6)
    assert eta.low_s < eta.seconds < eta.high_s and not eta.stale
    county = estimate_eta(origin, dest, "county", NOON, speeds, NOON)
    assert county.seconds < eta.seconds


def test_rush_hour_is_slower_in_local_time() -> None:
    speeds = new_speed_state()
    rush = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # 08:30 in China
    assert local_hour(rush) == 8
    origin, dest = (31.0, 117.0), (31.05, 117.0)
    at_rush = estimate_eta(origin, dest, "urban", rush, speeds, rush)
    at_night = estimate_eta(origin, dest, "urban", rush + timedelta(hours=16), speeds,
                            rush + timedelta(hours=16))
    assert at_rush.seconds > at_night.seconds


def test_refinement_moves_towards_observed_speeds_and_narrows_the_band() -> None:
    speeds = new_speed_state()
    prior = speed_mps(speeds, "urban", 12)
    observed = 5.0  # much slower than the prior: congestion
    history = [prior]
    state = speeds
    for _ in range(30):
        state = observe_speed(state, "urban", 12, observed)
        history.append(speed_mps(state, "urban", 12))
    assert all(a > b for a, b in zip(history, history[1:], strict=False))
    assert abs(history[-1] - observed) < 0.05 * observed
    assert speed_mps(state, "urban", 13) == speed_mps(speeds, "urban", 13)  # other cells alone
    origin, dest = (31.0, 117.0), (31.05, 117.0)
    before = estimate_eta(origin, dest, "urban", NOON, speeds, NOON)
    after = estimate_eta(origin, dest, "urban", NOON, state, NOON)
    assert after.seconds > before.seconds
    def spread(eta: Eta) -> float:
        return (eta.high_s - eta.low_s) / eta.seconds

    assert spread(after) < spread(before)
    assert spread(after) > 0  # the band never collapses to a false certainty
    assert json.loads(json.dumps(state)) == state


def test_parked_and_implausible_speeds_are_not_learned() -> None:
    speeds = new_speed_state()
    after = observe_speeds(speeds, ["urban"] * 3, [12, 12, 12], [0.0, 0.4, 90.0])
    assert after == speeds


def test_batch_observations_equal_one_at_a_time() -> None:
    speeds = new_speed_state()
    batch = observe_speeds(speeds, ["urban", "county", "urban"], [8, 8, 9], [6.0, 20.0, 7.5])
    one = observe_speed(observe_speed(observe_speed(speeds, "urban", 8, 6.0), "county", 8, 20.0),
                        "urban", 9, 7.5)
    assert batch == one


def test_stale_gps_is_flagged_counts_down_and_widens() -> None:
    speeds = new_speed_state()
    origin, dest = (31.0, 117.0), (31.1, 117.0)
    fresh = estimate_eta(origin, dest, "urban", NOON, speeds, NOON)
    later = NOON + timedelta(seconds=DEFAULT_MODEL.stale_after_s + 120)
    stale = estimate_eta(origin, dest, "urban", later, speeds, NOON)
    assert not fresh.stale and stale.stale
    assert math.isclose(stale.seconds, fresh.seconds - (later - NOON).total_seconds())
    assert stale.high_s - stale.low_s > fresh.high_s - fresh.low_s
    just_in_time = NOON + timedelta(seconds=DEFAULT_MODEL.stale_after_s)
    assert not estimate_eta(origin, dest, "urban", just_in_time, speeds, NOON).stale
    assert estimate_eta(origin, dest, "urban", NOON, speeds, None).stale


def test_many_destinations_equal_one_by_one() -> None:
    speeds = new_speed_state()
    origin = (31.0, 117.0)
    lats, lons = [31.01, 31.2, 30.9], [117.0, 117.3, 116.8]
    many = estimate_etas(origin, lats, lons, "county", NOON, speeds, NOON)
    for lat, lon, eta in zip(lats, lons, many, strict=True):
        assert eta == estimate_eta(origin, (lat, lon), "county", NOON, speeds, NOON)


def test_observed_speed_from_fixes() -> None:
    t1 = NOON + timedelta(seconds=10)
    north_100m = 31.0 + 0.1 / KM_PER_DEG_LAT
    assert math.isclose(observed_speed_mps(31.0, 117.0, NOON, north_100m, 117.0, t1) or 0, 10.0,
                        rel_tol=1e-6)
    assert observed_speed_mps(31.0, 117.0, NOON, north_100m, 117.0, t1, reported_mps=7.0) == 7.0
    assert observed_speed_mps(None, None, None, 31.0, 117.0, t1) is None
    assert observed_speed_mps(31.0, 117.0, t1, 31.0, 117.0, NOON) is None  # out of order
