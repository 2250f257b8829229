"""Great-circle distances and a local metric projection, in numpy (and `math` for one pair)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

FloatArray = npt.NDArray[np.float64]


def haversine_m(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in metres; broadcasts like numpy."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def haversine_one(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """`haversine_m` for one pair of points, without numpy's per-call cost (~10x faster)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def to_local_m(
    lats: npt.ArrayLike, lons: npt.ArrayLike, lat0: float, lon0: float
) -> tuple[FloatArray, FloatArray]:
    """Equirectangular metres east/north of (lat0, lon0); accurate to <0.1% within a few km."""
    scale = np.radians(1.0) * EARTH_RADIUS_M
    x = (np.asarray(lons, float) - lon0) * scale * np.cos(np.radians(lat0))
    y = (np.asarray(lats, float) - lat0) * scale
    return np.asarray(x), np.asarray(y)
