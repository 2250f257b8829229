"""Ambulance movement: a plausible road-like path between two points, and its GPS fixes.

The path is the straight line bent through a few jittered waypoints (no road network);
fixes come every few seconds with position noise, and occasionally a gap (tunnel, dead
zone) in which the device reports nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.distance import EARTH_RADIUS_M, haversine_one

_M_PER_DEG = math.radians(1.0) * EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class Fix:
    ts: datetime
    lat: float
    lon: float
    speed_mps: float
    heading_deg: float
    accuracy_m: float


@dataclass(frozen=True, slots=True)
class Path:
    points: tuple[tuple[float, float], ...]  # (lat, lon)
    lengths_m: tuple[float, ...]  # per segment

    @property
    def length_m(self) -> float:
        return sum(self.lengths_m)

    def at(self, fraction: float) -> tuple[float, float, float]:
        """(lat, lon, heading_deg) at a fraction 0..1 of the path's length."""
        remaining = max(0.0, min(1.0, fraction)) * self.length_m
        segments = list(zip(self.points, self.points[1:], strict=False))
        for (a, b), seg in zip(segments, self.lengths_m, strict=True):
            if remaining <= seg and seg > 0:
                share = remaining / seg
                lat = a[0] + (b[0] - a[0]) * share
                lon = a[1] + (b[1] - a[1]) * share
                return lat, lon, _heading(a, b)
            remaining -= seg
        a, b = segments[-1]
        return b[0], b[1], _heading(a, b)


def _heading(a: tuple[float, float], b: tuple[float, float]) -> float:
    east = (b[1] - a[1]) * math.cos(math.radians(a[0]))
    north = b[0] - a[0]
    return math.degrees(math.atan2(east, north)) % 360.0


def plan_path(
    start: tuple[float, float], end: tuple[float, float], rng: random.Random, detour: float
) -> Path:
    """A path through 2-3 waypoints offset sideways so its length is about `detour` x direct."""
    direct = haversine_one(start[0], start[1], end[0], end[1])
    waypoints = rng.randint(2, 3)
    side = direct * math.sqrt(max(detour**2 - 1.0, 0.0)) / (waypoints + 1) * 1.2
    scale = math.cos(math.radians(start[0]))
    points = [start]
    for k in range(1, waypoints + 1):
        f = k / (waypoints + 1)
        lat = start[0] + (end[0] - start[0]) * f
        lon = start[1] + (end[1] - start[1]) * f
        offset = rng.uniform(-side, side)
        # perpendicular to the direct line, in degrees
        dn, de = end[0] - start[0], (end[1] - start[1]) * scale
        norm = math.hypot(dn, de) or 1.0
        lat += -de / norm * offset / _M_PER_DEG
        lon += dn / norm * offset / _M_PER_DEG / (scale or 1.0)
        points.append((lat, lon))
    points.append(end)
    lengths = tuple(
        haversine_one(a[0], a[1], b[0], b[1]) for a, b in zip(points, points[1:], strict=False)
    )
    return Path(tuple(points), lengths)


def fixes(
    path: Path, depart: datetime, arrive: datetime, rng: random.Random,
    interval_s: float, noise_m: float, gap_chance: float, gap_s: float,
) -> Iterator[Fix]:
    """Fixes from departure to arrival, every `interval_s` (jittered), with noise and gaps."""
    total = (arrive - depart).total_seconds()
    if total <= 0:
        return
    speed = path.length_m / total
    t = rng.uniform(0.0, interval_s)
    while t < total:
        if rng.random() < gap_chance:
            t += gap_s * rng.uniform(0.5, 1.5)
            continue
        lat, lon, heading = path.at(t / total)
        accuracy = max(3.0, rng.gauss(noise_m, noise_m / 3))
        lat += rng.gauss(0.0, accuracy / 2) / _M_PER_DEG
        lon += rng.gauss(0.0, accuracy / 2) / (_M_PER_DEG * math.cos(math.radians(lat)))
        yield Fix(
            ts=depart + timedelta(seconds=round(t, 3)),
            lat=round(lat, 6), lon=round(lon, 6),
            speed_mps=round(max(0.0, speed * rng.uniform(0.7, 1.3)), 1),
            heading_deg=round(heading, 1), accuracy_m=round(accuracy, 1),
        )
        t += interval_s * rng.uniform(0.8, 1.2)
