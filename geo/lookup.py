"""Point -> district lookup, one point or a whole batch at once.

A point on the shared boundary of two districts belongs to the one listed first in the
file, so the answer never depends on floating-point luck, on batch size or on the method.

Two methods, chosen by region size. For a region of a few dozen districts, a sweep over
districts in file order (bounding-box filter, then `shapely.intersects_xy` on the prepared
polygon; numpy-vectorised for batches) is about 10x faster than querying an STRtree with
point objects (bench/bench_geo.py). Beyond `sweep_max_districts` the STRtree query is used,
because the sweep costs points x districts.

One point at a time (a worker locates every fix of a transporting unit), a grid of cells of
`GRID_DEG` answers first: a cell is classified once, when a point first falls in it, as
inside one district (no boundary crosses it), outside all, or mixed; only points of mixed
cells are tested against polygons. The cells are classified conservatively (a slightly
enlarged box), so the grid never changes an answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
GRID_DEG = 0.005  # ~500 m: a city's roads fall in a few thousand cells
_CELL_MARGIN_DEG = 1e-9  # a cell's box is enlarged by this, against rounding in floor()
_MIXED = -2  # a cell some boundary crosses: its points are tested one by one
MAX_CELLS = 250_000


class DistrictIndex:
    """Spatial index of district polygons (lon/lat), answering with district positions."""

    def __init__(
        self, geometries: Sequence[BaseGeometry], sweep_max_districts: int = 64,
        grid_deg: float | None = GRID_DEG,
    ) -> None:
        """`grid_deg`: cell size of the grid `locate_one` asks first; None: no grid."""
        self._geoms = list(geometries)
        for geom in self._geoms:
            shapely.prepare(geom)
        self._tree = shapely.STRtree(self._geoms)
        self._bounds = np.array([g.bounds for g in self._geoms], dtype=np.float64).reshape(-1, 4)
        self._bound_rows = self._bounds.tolist()
        self._sweep = len(self._geoms) <= sweep_max_districts
        self._grid = grid_deg
        self._cells: dict[tuple[int, int], int | None] = {}  # see the module docstring

    def __len__(self) -> int:
        return len(self._geoms)

    def locate_one(self, lat: float, lon: float) -> int | None:
        """Position of the district covering (lat, lon), or None outside every district."""
        size = self._grid
        if size is None:
            return self._exact(lat, lon)
        cell = (math.floor(lon / size), math.floor(lat / size))
        found = self._cells.get(cell, _MIXED)
        if found == _MIXED and cell not in self._cells:
            if len(self._cells) >= MAX_CELLS:  # points strewn far and wide: start afresh
                self._cells.clear()
            found = self._cells[cell] = self._classify(cell, size)
        return self._exact(lat, lon) if found == _MIXED else found

    def _classify(self, cell: tuple[int, int], size: float) -> int | None:
        """The district covering the whole cell, None when no district touches it, else
        _MIXED. The first district in file order touching the cell decides, as for points."""
        margin = _CELL_MARGIN_DEG
        box = shapely.box(cell[0] * size - margin, cell[1] * size - margin,
                          (cell[0] + 1) * size + margin, (cell[1] + 1) * size + margin)
        touching = self._tree.query(box, predicate="intersects")
        if not touching.size:
            return None
        first = int(touching.min())
        return first if shapely.contains_properly(self._geoms[first], box) else _MIXED

    def _exact(self, lat: float, lon: float) -> int | None:
        if self._sweep:
            return next(
                (
                    position
                    for position, (minx, miny, maxx, maxy) in enumerate(self._bound_rows)
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
