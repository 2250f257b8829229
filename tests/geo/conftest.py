"""Tiny hand-made regions for geometry tests (coordinates chosen to compute by hand).

Test modules cannot import from this folder (pytest's import mode), so the helpers come
as one fixture: `kit.square`, `kit.district`, `kit.hospital`, `kit.station`, `kit.write`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


class RegionKit:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def square(lon0: float, lat0: float, size: float) -> dict[str, Any]:
        ring = [[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size],
                [lon0, lat0 + size]]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    @staticmethod
    def district(ident: str, area: str, geometry: dict[str, Any]) -> dict[str, Any]:
        props = {"district_id": ident, "name": f"District {ident}", "area_type": area}
        return {"type": "Feature", "properties": props, "geometry": geometry}

    @staticmethod
    def hospital(ident: str, lon: float, lat: float, **props: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"hospital_id": ident, "name": f"Hospital {ident}",
                                "capabilities": {"ct": True}, "door_radius_m": 80}
        return {"type": "Feature", "properties": {**base, **props},
                "geometry": {"type": "Point", "coordinates": [lon, lat]}}

    @staticmethod
    def station(ident: str, lon: float, lat: float) -> dict[str, Any]:
        return {"type": "Feature", "properties": {"station_id": ident, "name": f"S {ident}"},
                "geometry": {"type": "Point", "coordinates": [lon, lat]}}

    def write(
        self,
        districts: list[dict[str, Any]] | None = None,
        hospitals: list[dict[str, Any]] | None = None,
        stations: list[dict[str, Any]] | None = None,
    ) -> Path:
        """Write a region folder; by default two unit squares side by side:
        A (urban) lon 0..1 and B (county) lon 1..2, both lat 0..1."""
        parts = {
            "districts": districts if districts is not None else [
                self.district("A", "urban", self.square(0, 0, 1)),
                self.district("B", "county", self.square(1, 0, 1)),
            ],
            "hospitals": hospitals if hospitals is not None else [
                self.hospital("H1", 0.5, 0.5), self.hospital("H2", 1.5, 0.5),
            ],
            "stations": stations if stations is not None else [self.station("S1", 0.2, 0.2)],
        }
        for name, features in parts.items():
            obj = {"type": "FeatureCollection", "name": "Test", "features": features}
            (self.folder / f"{name}.geojson").write_text(json.dumps(obj), encoding="utf-8")
        return self.folder


@pytest.fixture
def kit(tmp_path: Path) -> RegionKit:
    return RegionKit(tmp_path)
