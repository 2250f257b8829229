"""Regions: districts (with area type), hospitals (capabilities, door geofence), stations.

A region is a folder of three GeoJSON FeatureCollections a user can edit:

- `districts.geojson`: Polygon/MultiPolygon features with properties
  `district_id`, `name`, `area_type` (`urban` | `county`). Districts must not overlap.
- `hospitals.geojson`: Point features (the door) with `hospital_id`, `name`,
  `capabilities` {pci, thrombolysis, thrombectomy, ct, trauma_level 1-3, chest_pain_center,
  stroke_center, maternal, pediatric} and a door geofence: `door_radius_m` (a number) or
  `door_polygon` (a GeoJSON Polygon geometry).
- `stations.geojson`: Point features with `station_id`, `name`.

    region = load_region()              # the demo region shipped with the package
    region.locate(31.0, 117.0)          # -> ("D01", "urban") or None
    region.locate_many(lats, lons)      # vectorised, see geo.lookup

Every problem found is reported at once in a `RegionError` naming file and feature.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from geo.lookup import DistrictIndex
from pathways.destination import CAPABILITY_FLAGS, CAPABILITY_NAMES, Capabilities

AreaType = Literal["urban", "county"]
AREA_TYPES: frozenset[str] = frozenset(("urban", "county"))
DEMO_REGION = "demo"
REGIONS_DIR = Path(__file__).parent / "regions"
# Rounding coordinates to 1e-6 degrees leaves slivers of a few square metres between
# neighbours; anything larger than this (about 100 m^2) is a real overlap.
OVERLAP_TOLERANCE_DEG2 = 1e-8


class RegionError(ValueError):
    """A region file is invalid; `problems` lists every finding as `file: feature: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid region:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class District:
    district_id: str
    name: str
    area_type: AreaType
    geometry: BaseGeometry  # Polygon or MultiPolygon, lon/lat


@dataclass(frozen=True, slots=True)
class DoorFence:
    """Hospital door geofence: a circle (`radius_m`) or a polygon (lon/lat)."""

    radius_m: float | None = None
    polygon: Polygon | None = None


@dataclass(frozen=True, slots=True)
class Hospital:
    hospital_id: str
    name: str
    lat: float
    lon: float
    capabilities: Capabilities
    door: DoorFence


@dataclass(frozen=True, slots=True)
class Station:
    station_id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    districts: tuple[District, ...]
    hospitals: tuple[Hospital, ...]
    stations: tuple[Station, ...]
    index: DistrictIndex = field(repr=False, compare=False)
    _hospital_by_id: dict[str, Hospital] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # looked up on every GPS fix of a transporting unit
        object.__setattr__(self, "_hospital_by_id", {h.hospital_id: h for h in self.hospitals})

    def locate(self, lat: float, lon: float) -> tuple[str, AreaType] | None:
        """District id and area type of a point, or None outside the region."""
        found = self.index.locate_one(lat, lon)
        if found is None:
            return None
        district = self.districts[found]
        return district.district_id, district.area_type

    def locate_many(
        self, lats: npt.ArrayLike, lons: npt.ArrayLike
    ) -> npt.NDArray[np.intp]:
        """Index into `districts` for each point, -1 outside; see `DistrictIndex.locate_many`."""
        return self.index.locate_many(lats, lons)

    def hospital(self, hospital_id: str) -> Hospital | None:
        return self._hospital_by_id.get(hospital_id)

    def district(self, district_id: str) -> District | None:
        return next((d for d in self.districts if d.district_id == district_id), None)


def region_path(name: str = DEMO_REGION) -> Path:
    """Folder of a region shipped with the package (the demo by default)."""
    return REGIONS_DIR / name


def demo_region_path() -> Path:
    """The one demo region used by the simulator, the worker and the web map."""
    return region_path(DEMO_REGION)


def load_region(path_or_name: str | Path = DEMO_REGION) -> Region:
    """Load and validate a region folder, or a region shipped with the package by name."""
    folder = Path(path_or_name)
    if not folder.is_dir():
        folder = region_path(str(path_or_name))
    if not folder.is_dir():
        raise RegionError([f"{path_or_name}: no such region folder"])
    problems: list[str] = []
    districts = _load_districts(folder / "districts.geojson", problems)
    hospitals = _load_hospitals(folder / "hospitals.geojson", problems)
    stations = _load_stations(folder / "stations.geojson", problems)
    if problems:
        raise RegionError(problems)
    return Region(
        name=_region_name(folder),
        districts=districts,
        hospitals=hospitals,
        stations=stations,
        index=DistrictIndex([d.geometry for d in districts]),
    )


# --- reading --------------------------------------------------------------------------------


def _region_name(folder: Path) -> str:
    obj = json.loads((folder / "districts.geojson").read_text(encoding="utf-8"))
    return str(obj.get("name", folder.name))


def _features(path: Path, problems: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, feature) for each feature; unreadable files become problems."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: cannot read: {exc}")
        return
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        problems.append(f"{path.name}: expected a GeoJSON FeatureCollection")
        return
    for number, feature in enumerate(obj.get("features", []), start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        ident = next(
            (props[k] for k in ("district_id", "hospital_id", "station_id")
             if isinstance(props, dict) and k in props),
            "?",
        )
        label = f"{path.name}: feature {number} ({ident})"
        if not isinstance(props, dict) or not isinstance(feature.get("geometry"), dict):
            problems.append(f"{label}: expected a Feature with geometry and properties")
            continue
        yield label, feature


def _geometry(raw: object, label: str, problems: list[str]) -> BaseGeometry | None:
    try:
        geom = shape(cast(Mapping[str, Any], raw))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        problems.append(f"{label}: bad geometry: {exc}")
        return None
    if geom.is_empty:
        problems.append(f"{label}: empty geometry")
        return None
    if not geom.is_valid:
        problems.append(f"{label}: invalid geometry: {shapely.is_valid_reason(geom)}")
        return None
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problems.append(f"{label}: coordinates outside lon -180..180 / lat -90..90")
        return None
    return geom


def _text(props: Mapping[str, Any], key: str, label: str, problems: list[str]) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{label}: {key} must be a non-empty string")
        return ""
    return value


def _named_features(
    path: Path, id_key: str, problems: list[str]
) -> Iterator[tuple[str, dict[str, Any], str, str]]:
    """(label, feature, id, name) for each feature; a missing or repeated id is a problem."""
    seen: set[str] = set()
    for label, feature in _features(path, problems):
        ident = _text(feature["properties"], id_key, label, problems)
        if ident and ident in seen:
            problems.append(f"{label}: duplicate id {ident!r}")
        seen.add(ident)
        yield label, feature, ident, _text(feature["properties"], "name", label, problems)


def _load_districts(path: Path, problems: list[str]) -> tuple[District, ...]:
    districts: list[District] = []
    for label, feature, ident, name in _named_features(path, "district_id", problems):
        area = feature["properties"].get("area_type")
        if area not in AREA_TYPES:
            problems.append(f"{label}: area_type must be one of {sorted(AREA_TYPES)}")
        geom = _geometry(feature["geometry"], label, problems)
        if geom is not None and geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"{label}: district geometry must be a Polygon or MultiPolygon")
            geom = None
        if geom is not None and area in AREA_TYPES:
            districts.append(District(ident, name, cast(AreaType, area), geom))
    if not districts and not problems:
        problems.append(f"{path.name}: no districts")
    _check_overlaps(districts, path.name, problems)
    return tuple(districts)


def _check_overlaps(districts: list[District], filename: str, problems: list[str]) -> None:
    geoms = [d.geometry for d in districts]
    if len(geoms) < 2:
        return
    tree = shapely.STRtree(geoms)
    for i, j in zip(*tree.query(geoms, predicate="intersects"), strict=True):
        if i < j:
            area = geoms[i].intersection(geoms[j]).area
            if area > OVERLAP_TOLERANCE_DEG2:
                problems.append(
                    f"{filename}: districts {districts[i].district_id!r} and "
                    f"{districts[j].district_id!r} overlap ({area:.2e} deg^2)"
                )


def _capabilities(raw: object, label: str, problems: list[str]) -> Capabilities:
    if not isinstance(raw, dict):
        problems.append(f"{label}: capabilities must be an object")
        return Capabilities()
    for key in sorted(set(raw) - CAPABILITY_NAMES):
        problems.append(f"{label}: unknown capability {key!r} (known: {sorted(CAPABILITY_NAMES)})")
    flags: dict[str, bool] = {}
    for key in CAPABILITY_FLAGS:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            problems.append(f"{label}: capability {key} must be true or false")
        flags[key] = value is True
    level = raw.get("trauma_level")
    if level is not None and (isinstance(level, bool) or level not in (1, 2, 3)):
        problems.append(f"{label}: trauma_level must be 1, 2, 3 or null")
        level = None
    return Capabilities(trauma_level=level, **flags)


def _door(props: Mapping[str, Any], label: str, problems: list[str]) -> DoorFence:
    radius, polygon = props.get("door_radius_m"), props.get("door_polygon")
    if (radius is None) == (polygon is None):
        problems.append(f"{label}: give exactly one of door_radius_m or door_polygon")
        return DoorFence()
    if radius is not None:
        if isinstance(radius, bool) or not isinstance(radius, int | float) or radius <= 0:
            problems.append(f"{label}: door_radius_m must be a number > 0")
            return DoorFence()
        return DoorFence(radius_m=float(radius))
    geom = _geometry(polygon, f"{label} door_polygon", problems)
    if geom is None:
        return DoorFence()
    if not isinstance(geom, Polygon):
        problems.append(f"{label}: door_polygon must be a Polygon")
        return DoorFence()
    return DoorFence(polygon=geom)


def _point(feature: Mapping[str, Any], label: str, problems: list[str]) -> Point | None:
    geom = _geometry(feature["geometry"], label, problems)
    if geom is not None and not isinstance(geom, Point):
        problems.append(f"{label}: geometry must be a Point")
        return None
    return geom


def _load_hospitals(path: Path, problems: list[str]) -> tuple[Hospital, ...]:
    hospitals: list[Hospital] = []
    for label, feature, ident, name in _named_features(path, "hospital_id", problems):
        props = feature["properties"]
        caps = _capabilities(props.get("capabilities"), label, problems)
        door = _door(props, label, problems)
        where = _point(feature, label, problems)
        if where is not None:
            hospitals.append(Hospital(ident, name, where.y, where.x, caps, door))
    return tuple(hospitals)


def _load_stations(path: Path, problems: list[str]) -> tuple[Station, ...]:
    stations: list[Station] = []
    for label, feature, ident, name in _named_features(path, "station_id", problems):
        where = _point(feature, label, problems)
        if where is not None:
            stations.append(Station(ident, name, where.y, where.x))
    return tuple(stations)
