"""Benchmark: batch district lookup and geofence checks vs a naive per-point loop.

    .venv/bin/python bench/bench_geo.py [--fixes 200000] [--naive 20000] [--out PATH]

Prints fixes/s of each variant and the ratios measured in this run, and writes them as JSON
(default bench/results/geo.json). The naive loops run on a subset (`--naive`) because they
are slow; the rates are per fix, so they compare directly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.geofence import (
    destination_target,
    outside_distance_m,
    outside_distances_m,
    scene_target,
    step,
)
from geo.regions import Region, load_region
from pathways.events import GpsFix


def best_rate(count: int, run: Callable[[], object], repeats: int = 3) -> float:
    """Fixes per second of the fastest of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def random_fixes(region: Region, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points spread like ambulance traffic: half in the urban core, half anywhere."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.union_all([d.geometry for d in region.districts]).bounds
    core = region.hospitals[0]
    half = count // 2
    lats = np.concatenate([rng.normal(core.lat, 0.04, half), rng.uniform(miny, maxy, count - half)])
    lons = np.concatenate([rng.normal(core.lon, 0.04, half), rng.uniform(minx, maxx, count - half)])
    return lats, lons


def naive_locate(region: Region, lats: np.ndarray, lons: np.ndarray) -> list[str | None]:
    """What one would write without an index: test every district for every point.

    The polygons are the region's, already prepared by the index, so this baseline is a
    generous one (unprepared polygons are several times slower still)."""
    found: list[str | None] = []
    for lat, lon in zip(lats, lons, strict=True):
        point = shapely.Point(lon, lat)
        found.append(next(
            (d.district_id for d in region.districts if d.geometry.covers(point)), None
        ))
    return found


def bench_lookup(region: Region, lats: np.ndarray, lons: np.ndarray, naive: int) -> dict[str, Any]:
    batch = best_rate(lats.size, lambda: region.locate_many(lats, lons))
    one_by_one = best_rate(naive, lambda: [region.locate(a, o) for a, o in
                                           zip(lats[:naive], lons[:naive], strict=True)], 1)
    loop = best_rate(naive, lambda: naive_locate(region, lats[:naive], lons[:naive]), 1)
    ids = [d.district_id for d in region.districts]
    batch_ids = [ids[i] if i >= 0 else None for i in region.locate_many(lats[:naive], lons[:naive])]
    assert batch_ids == naive_locate(region, lats[:naive], lons[:naive]), "batch != naive"
    return {"districts": len(region.districts), "batch_fixes_per_s": batch,
            "locate_per_point_fixes_per_s": one_by_one, "naive_loop_fixes_per_s": loop,
            "ratio_batch_vs_naive": batch / loop, "ratio_batch_vs_per_point": batch / one_by_one}


def bench_geofence(
    region: Region, lats: np.ndarray, lons: np.ndarray, naive: int
) -> dict[str, Any]:
    targets = [destination_target("I1", h) for h in region.hospitals]
    targets.append(scene_target("I1", float(lats[0]), float(lons[0])))
    batch = best_rate(lats.size, lambda: outside_distances_m(targets, lats, lons))

    def loop() -> list[list[float]]:
        return [[outside_distance_m(t, a, o) for t in targets]
                for a, o in zip(lats[:naive], lons[:naive], strict=True)]

    naive_rate = best_rate(naive, loop, 1)
    check = outside_distances_m(targets, lats[:500], lons[:500])
    assert np.allclose(check, np.array(loop()[:500]), atol=1e-6), "batch != naive"
    return {"fences": len(targets), "batch_fixes_per_s": batch,
            "naive_loop_fixes_per_s": naive_rate, "ratio_batch_vs_naive": batch / naive_rate}


def bench_step(region: Region, lats: np.ndarray, lons: np.ndarray, count: int) -> dict[str, Any]:
    """The per-fix state machine as the worker runs it (2 fences, JSON state round trip)."""
    hospital = region.hospitals[0]
    targets = [scene_target("I1", float(lats[0]), float(lons[0])),
               destination_target("I1", hospital)]
    t0 = datetime(2026, 11, 24, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    fixes = [GpsFix(event_id=str(i), ts=t0 + timedelta(seconds=i), source="sim", unit_id="U1",
                    lat=float(lats[i]), lon=float(lons[i])) for i in range(count)]

    def run() -> None:
        state: dict[str, Any] | None = None
        for fix in fixes:
            state, _ = step(state, fix, targets)
            state = json.loads(json.dumps(state))

    return {"fences": len(targets), "fixes_per_s": best_rate(count, run, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=200_000)
    parser.add_argument("--naive", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "geo.json")
    args = parser.parse_args()
    region = load_region()
    lats, lons = random_fixes(region, args.fixes, seed=42)
    result = {
        "region": region.name,
        "fixes": args.fixes,
        "naive_fixes": args.naive,
        "naive_baseline": "per-point Python loop over the same prepared polygons / fences",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "shapely": shapely.__version__, "numpy": np.__version__},
        "district_lookup": bench_lookup(region, lats, lons, args.naive),
        "geofence_check": bench_geofence(region, lats, lons, args.naive),
        "geofence_step": bench_step(region, lats, lons, min(args.naive, 20_000)),
    }
    for name in ("district_lookup", "geofence_check"):
        part = result[name]
        print(f"{name:16s} batch {part['batch_fixes_per_s']:>12,.0f} fixes/s   "
              f"naive loop {part['naive_loop_fixes_per_s']:>10,.0f} fixes/s   "
              f"ratio {part['ratio_batch_vs_naive']:.1f}x")
    lookup = result["district_lookup"]
    per_point = lookup["locate_per_point_fixes_per_s"]
    ratio = lookup["ratio_batch_vs_per_point"]
    print(f"{'':16s} Region.locate one point at a time {per_point:,.0f} fixes/s "
          f"(batch is {ratio:.1f}x)")
    print(f"geofence_step    {result['geofence_step']['fixes_per_s']:,.0f} fixes/s per worker "
          "(state machine, 2 fences, JSON state round trip)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
