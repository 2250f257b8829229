"""Region files: loading, hand-computed lookups, and validation errors users can act on."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from geo.lookup import DistrictIndex
from geo.regions import RegionError, demo_region_path, load_region


def test_point_lookup_matches_hand_drawn_squares(kit: Any) -> None:
    region = load_region(kit.write())
    assert region.locate(0.5, 0.5) == ("A", "urban")
    assert region.locate(0.5, 1.5) == ("B", "county")
    assert region.locate(0.5, 2.5) is None
    assert region.locate(1.5, 0.5) is None  # north of both squares


def test_shared_boundary_belongs_to_the_district_listed_first(kit: Any) -> None:
    region = load_region(kit.write())
    assert region.locate(0.5, 1.0) == ("A", "urban")
    b_first = [kit.district("B", "county", kit.square(1, 0, 1)),
               kit.district("A", "urban", kit.square(0, 0, 1))]
    swapped = load_region(kit.write(districts=b_first))
    assert swapped.locate(0.5, 1.0) == ("B", "county")


def test_hole_of_a_district_is_not_part_of_it(kit: Any) -> None:
    outer = kit.square(0, 0, 4)["coordinates"][0]
    hole = kit.square(1, 1, 2)["coordinates"][0]
    ring = {"type": "Polygon", "coordinates": [outer, hole]}
    core = kit.district("CORE", "urban", kit.square(1, 1, 2))
    region = load_region(kit.write(districts=[kit.district("RING", "county", ring), core]))
    assert region.locate(0.5, 0.5) == ("RING", "county")
    assert region.locate(2.0, 2.0) == ("CORE", "urban")


def test_batch_lookup_equals_one_by_one(kit: Any) -> None:
    region = load_region(kit.write())
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(-0.5, 1.5, 500), rng.uniform(-0.5, 2.5, 500)
    lats[:3], lons[:3] = 0.5, 1.0  # boundary points too
    found = region.locate_many(lats, lons)
    for lat, lon, index in zip(lats, lons, found, strict=True):
        single = region.locate(lat, lon)
        assert (single[0] if single else None) == (
            region.districts[index].district_id if index >= 0 else None
        )


def test_batch_lookup_keeps_the_input_shape(kit: Any) -> None:
    region = load_region(kit.write())
    found = region.locate_many(np.full((2, 3), 0.5), np.full((2, 3), 1.5))
    assert found.shape == (2, 3)
    assert (found == 1).all()
    with pytest.raises(ValueError, match="differ in shape"):
        region.locate_many([0.5, 0.5], [0.5])


def problems_of(kit: Any, **parts: object) -> list[str]:
    with pytest.raises(RegionError) as caught:
        load_region(kit.write(**parts))
    return caught.value.problems


def test_invalid_polygon_is_named(kit: Any) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    problems = problems_of(kit, districts=[kit.district("BAD", "urban", bowtie)])
    assert len(problems) == 1
    assert "districts.geojson: feature 1 (BAD): invalid geometry: Self-intersection" in problems[0]


def test_unknown_capability_is_named(kit: Any) -> None:
    bad = kit.hospital("H9", 0.5, 0.5, capabilities={"pci": True, "ecmo": True})
    problems = problems_of(kit, hospitals=[bad])
    assert problems == [
        "hospitals.geojson: feature 1 (H9): unknown capability 'ecmo' (known: "
        "['chest_pain_center', 'ct', 'maternal', 'pci', 'pediatric', 'stroke_center', "
        "'thrombectomy', 'thrombolysis', 'trauma_level'])"
    ]


def test_duplicate_ids_are_named_in_every_file(kit: Any) -> None:
    problems = problems_of(
        kit,
        districts=[kit.district("A", "urban", kit.square(0, 0, 1)),
                   kit.district("A", "urban", kit.square(5, 5, 1))],
        hospitals=[kit.hospital("H1", 0.5, 0.5), kit.hospital("H1", 0.6, 0.6)],
        stations=[kit.station("S1", 0, 0), kit.station("S1", 1, 1)],
    )
    assert problems == [
        "districts.geojson: feature 2 (A): duplicate id 'A'",
        "hospitals.geojson: feature 2 (H1): duplicate id 'H1'",
        "stations.geojson: feature 2 (S1): duplicate id 'S1'",
    ]


def test_overlapping_districts_are_rejected(kit: Any) -> None:
    problems = problems_of(kit, districts=[
        kit.district("A", "urban", kit.square(0, 0, 1)),
        kit.district("B", "county", kit.square(0.5, 0, 1)),
    ])
    assert len(problems) == 1
    assert "districts 'A' and 'B' overlap" in problems[0]


def test_every_problem_is_reported_at_once(kit: Any) -> None:
    problems = problems_of(
        kit,
        districts=[kit.district("A", "suburb", kit.square(0, 0, 1))],
        hospitals=[kit.hospital("H1", 0.5, 0.5, capabilities={"trauma_level": 4},
                            door_polygon=kit.square(0, 0, 0.01))],
    )
    assert any("area_type must be one of ['county', 'urban']" in p for p in problems)
    assert any("trauma_level must be 1, 2, 3 or null" in p for p in problems)
    assert any("exactly one of door_radius_m or door_polygon" in p for p in problems)


def test_demo_region_is_shipped_and_plausible() -> None:
    region = load_region()
    assert region.name == "Demo City 示范市"
    assert demo_region_path().joinpath("README.md").is_file()
    areas = [d.area_type for d in region.districts]
    assert areas.count("urban") >= 4 and areas.count("county") >= 2
    assert 10 <= len(region.hospitals) <= 14 and 35 <= len(region.stations) <= 45
    caps = [h.capabilities for h in region.hospitals]
    assert 2 <= sum(c.pci and c.chest_pain_center for c in caps) <= 3
    assert 1 <= sum(c.thrombectomy and c.stroke_center for c in caps) <= 2
    assert {c.trauma_level for c in caps} >= {1, 2, 3}
    for a, b in itertools.combinations(region.districts, 2):
        assert a.geometry.intersection(b.geometry).area < 1e-8
    urban_area = np.mean([d.geometry.area for d in region.districts if d.area_type == "urban"])
    county_area = np.mean([d.geometry.area for d in region.districts if d.area_type == "county"])
    assert county_area > 10 * urban_area


def test_every_demo_hospital_and_station_lies_in_a_district() -> None:
    region = load_region("demo")
    points = [(h.lat, h.lon) for h in region.hospitals] + [(s.lat, s.lon) for s in region.stations]
    lats, lons = np.array(points).T
    assert (region.locate_many(lats, lons) >= 0).all()


@pytest.mark.parametrize("sweep_max_districts", [0, 64])  # STRtree query vs district sweep
def test_both_lookup_methods_agree_with_the_tree(sweep_max_districts: int) -> None:
    region = load_region()
    index = DistrictIndex([d.geometry for d in region.districts], sweep_max_districts)
    tree = DistrictIndex([d.geometry for d in region.districts], sweep_max_districts=0)
    rng = np.random.default_rng(5)
    lats, lons = rng.uniform(30.55, 31.3, 3000), rng.uniform(116.65, 117.55, 3000)
    # Vertices of district boundaries are shared by two districts: the first listed wins.
    shared = np.concatenate([d.geometry.exterior.coords for d in region.districts[:5]])
    lats[:len(shared)], lons[:len(shared)] = shared[:, 1], shared[:, 0]
    expected = [tree.locate_one(a, o) for a, o in zip(lats, lons, strict=True)]
    assert [index.locate_one(a, o) for a, o in zip(lats, lons, strict=True)] == expected
    found = index.locate_many(lats, lons)
    assert [None if i < 0 else int(i) for i in found] == expected
    assert (found >= 0).sum() > 1500 and (found < 0).sum() > 50
    assert (found[: len(shared)] >= 0).all()


def test_the_grid_never_changes_an_answer() -> None:
    """`locate_one` asks a grid of cells first; points near cell edges, on district vertices
    and at random must get what the polygons alone say."""
    region = load_region()
    geometries = [d.geometry for d in region.districts]
    exact = DistrictIndex(geometries, grid_deg=None)
    for grid_deg in (0.005, 0.05):
        index = DistrictIndex(geometries, grid_deg=grid_deg)
        rng = np.random.default_rng(11)
        lats, lons = rng.uniform(30.55, 31.3, 4000), rng.uniform(116.65, 117.55, 4000)
        on_edges = np.round(lats[:1000] / grid_deg) * grid_deg  # on a cell's south edge
        vertices = np.concatenate([d.geometry.exterior.coords for d in region.districts])
        points = [*zip(lats, lons, strict=True), *zip(on_edges, lons[:1000], strict=True),
                  *((lat, lon) for lon, lat in vertices)]
        for _ in range(2):  # cells classified on first use, then answered from the grid
            assert [index.locate_one(a, o) for a, o in points] == [
                exact.locate_one(a, o) for a, o in points]
