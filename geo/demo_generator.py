"""Generate the synthetic demo region "Demo City 示范市" (deterministic; output is committed).

    python -m geo.demo_generator [out_dir]     # default: geo/regions/demo

Districts are Voronoi cells of hand-placed seeds: five small urban districts clipped to an
irregular urban core, three large counties filling the rest of an irregular city outline.
Hospitals are placed by hand; ambulance stations are sampled in each district.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from geo.distance import EARTH_RADIUS_M

CENTER = (30.95, 117.05)  # lat, lon: a plausible mid-China prefecture-level city location
SEED = 20261124
GRID = 1e-6  # coordinates are snap-rounded to this grid in every overlay
# (district_id, name, area_type, seed x km east, y km north)
DISTRICTS = [
    ("D01", "Zhongxin District 中心区", "urban", 0.0, 0.0),
    ("D02", "Chengdong District 城东区", "urban", 4.5, 1.0),
    ("D03", "Chengxi District 城西区", "urban", -4.5, 1.5),
    ("D04", "Chengnan District 城南区", "urban", 0.5, -4.5),
    ("D05", "Gaoxin District 高新区", "urban", 0.5, 5.0),
    ("C01", "Qingshan County 青山县", "county", 0.0, 26.0),
    ("C02", "Hekou County 河口县", "county", -22.0, -13.0),
    ("C03", "Nanhu County 南湖县", "county", 22.0, -13.0),
]
CAPS_TERTIARY = {
    "pci": True, "thrombolysis": True, "ct": True, "chest_pain_center": True,
}
# (id, name, x km, y km, door: radius m or None for a polygon, capabilities)
HOSPITALS: list[tuple[str, str, float, float, float | None, dict[str, Any]]] = [
    ("H01", "Demo City First People's Hospital 示范市第一人民医院", 0.4, 0.3, None,
     {**CAPS_TERTIARY, "thrombectomy": True, "stroke_center": True, "trauma_level": 1,
      "maternal": True, "pediatric": True}),
    ("H02", "Demo City Central Hospital 示范市中心医院", 4.8, 0.6, 90.0,
     {**CAPS_TERTIARY, "thrombectomy": True, "stroke_center": True, "trauma_level": 2}),
    ("H03", "Demo Medical University Affiliated Hospital 示范医科大学附属医院", -4.2, 2.2, None,
     {**CAPS_TERTIARY, "trauma_level": 2}),
    ("H04", "Demo City Hospital of TCM 示范市中医院", -1.5, -3.6, 80.0,
     {"thrombolysis": True, "ct": True, "stroke_center": True, "trauma_level": 3}),
    ("H05", "Demo City Maternal and Child Health Hospital 示范市妇幼保健院", 1.8, -1.2, 70.0,
     {"ct": True, "maternal": True, "pediatric": True}),
    ("H06", "Demo City Children's Hospital 示范市儿童医院", -2.0, 0.9, 70.0,
     {"ct": True, "pediatric": True}),
    ("H07", "Gaoxin District People's Hospital 高新区人民医院", 1.0, 6.2, 80.0,
     {"thrombolysis": True, "ct": True, "trauma_level": 3}),
    ("H08", "Chengnan District Hospital 城南区医院", 1.5, -6.0, 80.0,
     {"thrombolysis": True, "ct": True}),
    ("H09", "Qingshan County People's Hospital 青山县人民医院", 1.5, 27.0, None,
     {"thrombolysis": True, "ct": True, "chest_pain_center": True, "stroke_center": True,
      "trauma_level": 3, "maternal": True}),
    ("H10", "Hekou County People's Hospital 河口县人民医院", -24.0, -14.0, 100.0,
     {"thrombolysis": True, "ct": True, "trauma_level": 3, "maternal": True}),
    ("H11", "Hekou County Hospital of TCM 河口县中医院", -21.0, -11.5, 80.0, {"ct": True}),
    ("H12", "Nanhu County People's Hospital 南湖县人民医院", 23.0, -14.5, 100.0,
     {"thrombolysis": True, "ct": True, "chest_pain_center": True, "trauma_level": 2,
      "maternal": True, "pediatric": True}),
]
STATIONS_PER_DISTRICT = {"D01": 5, "D02": 5, "D03": 5, "D04": 5, "D05": 4,
                         "C01": 6, "C02": 5, "C03": 5}


def _lonlat(x_km: float, y_km: float) -> tuple[float, float]:
    lat0, lon0 = CENTER
    deg = math.degrees(1000.0 / EARTH_RADIUS_M)
    return lon0 + x_km * deg / math.cos(math.radians(lat0)), lat0 + y_km * deg


def _blob(radius_km: float, wobble: list[tuple[float, int, float]], vertices: int) -> Polygon:
    """An irregular closed outline: radius modulated by a few sines."""
    ring = []
    for i in range(vertices):
        theta = 2 * math.pi * i / vertices
        r = radius_km * (1 + sum(a * math.sin(k * theta + p) for a, k, p in wobble))
        ring.append(_lonlat(r * math.cos(theta), r * math.sin(theta)))
    return Polygon(ring)


def _cells(seeds: list[tuple[float, float]], clip: BaseGeometry) -> list[BaseGeometry]:
    points = MultiPoint([_lonlat(x, y) for x, y in seeds])
    cells = shapely.voronoi_polygons(points, extend_to=clip.buffer(1.0), ordered=True)
    return [cell.intersection(clip, grid_size=GRID) for cell in cells.geoms]


def build_districts() -> list[dict[str, Any]]:
    outline = _blob(38.0, [(0.12, 3, 1.0), (0.06, 5, 2.0), (0.03, 9, 0.5)], 96)
    core = _blob(8.5, [(0.10, 4, 0.3), (0.05, 7, 1.1)], 64)
    urban = [d for d in DISTRICTS if d[2] == "urban"]
    county = [d for d in DISTRICTS if d[2] == "county"]
    geoms = _cells([(d[3], d[4]) for d in urban], core)
    # Counties fill what the (already rounded) urban districts leave, so no gap opens between.
    rest = outline.difference(shapely.union_all(geoms, grid_size=GRID), grid_size=GRID)
    counties = _cells([(d[3], d[4]) for d in county], rest)[:-1]
    last = rest.difference(shapely.union_all(counties, grid_size=GRID), grid_size=GRID)
    geoms += [*counties, last]
    return [
        _feature(mapping(g), {"district_id": d[0], "name": d[1], "area_type": d[2]})
        for d, g in zip(urban + county, geoms, strict=True)
    ]


def _door_polygon(lon: float, lat: float) -> dict[str, Any]:
    """A 160 m x 100 m rectangle around the door, as a GeoJSON Polygon."""
    dx = math.degrees(80.0 / EARTH_RADIUS_M) / math.cos(math.radians(lat))
    dy = math.degrees(50.0 / EARTH_RADIUS_M)
    box = shapely.box(lon - dx, lat - dy, lon + dx, lat + dy)
    return dict(mapping(shapely.set_precision(box, 1e-6)))


def build_hospitals() -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    for ident, name, x, y, radius, caps in HOSPITALS:
        lon, lat = (round(v, 6) for v in _lonlat(x, y))
        props: dict[str, Any] = {"hospital_id": ident, "name": name, "capabilities": caps}
        if radius is None:
            props["door_polygon"] = _door_polygon(lon, lat)
        else:
            props["door_radius_m"] = radius
        features.append(_feature(mapping(Point(lon, lat)), props))
    return features


def build_stations(districts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(SEED)
    features: list[dict[str, Any]] = []
    for district in districts:
        geom = shapely.geometry.shape(district["geometry"])
        ident = district["properties"]["district_id"]
        placed: list[Point] = []
        minx, miny, maxx, maxy = geom.bounds
        spacing = 0.012 if district["properties"]["area_type"] == "urban" else 0.06
        while len(placed) < STATIONS_PER_DISTRICT[ident]:
            p = Point(round(rng.uniform(minx, maxx), 6), round(rng.uniform(miny, maxy), 6))
            if geom.buffer(-0.003).contains(p) and all(p.distance(q) > spacing for q in placed):
                placed.append(p)
        for p in placed:
            number = len(features) + 1
            props = {"station_id": f"S{number:02d}", "name": f"{ident} station {number:02d}",
                     "district_id": ident}
            features.append(_feature(mapping(p), props))
    return features


def _feature(geometry: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _collection(name: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": name, "features": features}


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    districts = build_districts()
    files = {
        "districts.geojson": _collection("Demo City 示范市", districts),
        "hospitals.geojson": _collection("Demo City 示范市 hospitals", build_hospitals()),
        "stations.geojson": _collection("Demo City 示范市 stations", build_stations(districts)),
    }
    for filename, obj in files.items():
        text = json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
        (out_dir / filename).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "regions" / "demo")
