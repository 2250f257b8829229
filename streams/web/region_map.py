"""The region as the wall display's map needs it: district outlines and hospitals, as GeoJSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shapely.geometry import mapping

from streams.web.board import HospitalState

# about 10 m: plenty for a wall map, and it keeps the page light
SIMPLIFY_DEG = 1e-4


def region_geojson(region: Any) -> dict[str, Any]:
    """`region` is a `geo.regions.Region`."""
    features = [
        {
            "type": "Feature",
            "properties": {
                "district_id": d.district_id,
                "name": d.name,
                "area_type": d.area_type,
            },
            "geometry": mapping(d.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)),
        }
        for d in region.districts
    ]
    minx, miny, maxx, maxy = _bounds(region)
    return {
        "type": "FeatureCollection",
        "name": region.name,
        "bbox": [minx, miny, maxx, maxy],
        "features": features,
    }


def _bounds(region: Any) -> tuple[float, float, float, float]:
    boxes = [d.geometry.bounds for d in region.districts]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def region_hospitals(region: Any) -> list[HospitalState]:
    return [
        HospitalState(
            h.hospital_id, h.name, h.lat, h.lon, capabilities=asdict(h.capabilities)
        )
        for h in region.hospitals
    ]


def region_districts(region: Any) -> list[tuple[str, str, str]]:
    return [(d.district_id, d.name, d.area_type) for d in region.districts]
