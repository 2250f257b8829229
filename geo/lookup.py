"""Point -> district lookup, one point or a whole batch at once.

A point on the shared boundary of two districts belongs to the one listed first in the
file, so the answer never depends on floating-point luck, on batch size or on the method.

Two methods, chosen by region size. For a region of a few dozen districts, a sweep over
districts in file order (bounding-box filter, then `shapely.intersects_xy` on the prepared
polygon; numpy-vectorised for batches) is about 10x faster than querying an STRtree with
point objects (bench/bench_geo.py). Beyond `sweep_max_districts` the STRtree query is used,
because the sweep costs points x districts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


class DistrictIndex:
    """Spatial index of district polygons (lon/lat), answering with district positions."""

    def __init__(
        self, geometries: Sequence[BaseGeometry], sweep_max_districts: int = 64
    ) -> None:
        self._geoms = list(geometries)
        for geom in self._geoms:
            shapely.prepare(geom)
        self._tree = shapely.STRtree(self._geoms)
        self._bounds = np.array([g.bounds for g in self._geoms], dtype=np.float64).reshape(-1, 4)
        self._sweep = len(self._geoms) <= sweep_max_districts

    def __len__(self) -> int:
        return len(self._geoms)

    def locate_one(self, lat: float, lon: float) -> int | None:
        """Position of the district covering (lat, lon), or None outside every district."""
        if self._sweep:
            return next(
                (
                    position
                    for position, (minx, miny, maxx, maxy) in enumerate(self._bounds.tolist())
                    if minx <= lon <= maxx and miny <= lat <= maxy
                    and shapely.intersects_xy(self._geoms[position], lon, lat)
                ),
                None,
            )
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(hits.min()) if hits.size else None

    def locate_many(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> IntArray:
        """Position of the covering district for each point, -1 where none; vectorised."""
        lat_arr = np.asarray(lats, dtype=np.float64)
        lon_arr = np.asarray(lons, dtype=np.float64)
        if lat_arr.shape != lon_arr.shape:
            raise ValueError(f"lats {lat_arr.shape} and lons {lon_arr.shape} differ in shape")
        flat_lat, flat_lon = lat_arr.ravel(), lon_arr.ravel()
        if not (flat_lat.size and self._geoms):
            return np.full(lat_arr.shape, -1, dtype=np.intp)
        found = (self._by_sweep if self._sweep else self._by_tree)(flat_lat, flat_lon)
        return found.reshape(lat_arr.shape)

    def _by_sweep(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        result = np.full(lats.shape, -1, dtype=np.intp)
        for position, geom in enumerate(self._geoms):  # in file order: the first one wins
            minx, miny, maxx, maxy = self._bounds[position]
            candidates = np.flatnonzero(
                (result < 0) & (lons >= minx) & (lons <= maxx) & (lats >= miny) & (lats <= maxy)
            )
            hit = shapely.intersects_xy(geom, lons[candidates], lats[candidates])
            result[candidates[hit]] = position
        return result

    def _by_tree(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        result = np.full(lats.shape, -1, dtype=np.intp)
        point_idx, geom_idx = self._tree.query(shapely.points(lons, lats), predicate="intersects")
        order = np.lexsort((geom_idx, point_idx))
        point_idx, geom_idx = point_idx[order], geom_idx[order]
        first = np.ones(point_idx.shape, dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = geom_idx[first]
        return result
