"""Benchmark: the offline engine (`pathwatch replay`) on the city stream, with a stage profile.

    .venv/bin/python bench/bench_replay.py [--events 1000000] [--profile-events 200000] [--no-cli]

1. The stream: the first N events of the seeded city scenario (bench/workload.py), cached.
2. Replay throughput, in this process (`pathways.replay.Replay` over the file's lines, built as
   `pathwatch replay --region demo` builds it), and as that command (a subprocess:
   start-up, file reading and the final report included; its CPU time shows it uses one core).
   The engine's modules run as installed: compiled with mypyc (setup.py) unless the package
   was built with PATHWATCH_PURE_PYTHON=1. Compiled code has no Python frames to time, so
   steps 3 and 5 run on the sources, in a child process with PATHWATCH_PURE_PYTHON=1, which
   also times the replay on them: the gain of the compiled build, measured in the same run.
3. Stage profile of the replay: each stage's function is wrapped with a timer (decode =
   `pathways.events.parse_or_fix_time`, timeline = `build_timeline`, intervals = the rest of
   `Engine.apply`, deadlines = `deadline_alerts`/`next_deadline`/`Engine.sweep`,
   quality = source clock skew, compliance = `Compliance.add`); "replay loop" is the remainder.
4. Geo, per GPS fix, as the worker's unit side does it (the replay does not look at fixes):
   `geo.geofence.step` with the incident's fence plus `Region.locate`, one fix at a time,
   against the same fixes classified in vectorised batches (`outside_distances_m`,
   `locate_many`) — the gain available to a worker that batches fixes with `stream.take`.
5. cProfile of the replay on the first `--profile-events` events: the top functions.

Writes bench/results/replay.json (replay-<N>.json for another --events).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import workload

import pathways
import pathways.engine as engine_module
from geo import geofence
from geo.regions import Region, load_region
from pathways import events as ev
from pathways.compliance import Compliance
from pathways.engine import Engine
from pathways.replay import Replay
from pathways.rulepack import load_pack
from streams.cli import fewer_gc_passes

TARGET_EVENTS_PER_S = 100_000
GEO_BATCH = 512


REGION = "demo"  # the city stream's region: `pathwatch replay --region demo`


def new_engine() -> Engine:
    return Engine(load_pack("cn"), locate=load_region(REGION).locate if REGION else None)


def run_replay(lines: list[bytes], engine: Engine | None = None) -> Replay:
    """One replay as `pathwatch replay --region demo` runs it (watermark clock, compliance)."""
    engine = engine or new_engine()
    replay = Replay(engine, Compliance(engine.pack))
    fewer_gc_passes()  # as `pathwatch replay` does
    for _ in replay.run(lines):
        pass
    return replay


def bench_in_process(lines: list[bytes], repeats: int) -> dict[str, Any]:
    """Wall time and CPU time of the best run: on a shared machine the CPU figure is the
    one-core rate, the wall figure what this run got."""
    best = best_cpu = float("inf")
    replay: Replay | None = None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        replay = run_replay(lines)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    assert replay is not None
    counts = replay.counts
    return {"seconds": best, "events_per_s": len(lines) / best, "cpu_seconds": best_cpu,
            "events_per_cpu_s": len(lines) / best_cpu, "incidents": len(replay.states),
            "interval_revisions": counts.records, "alerts": counts.alerts,
            "malformed": counts.errors, "ignored": counts.ignored}


def bench_cli(path: Path, events: int) -> dict[str, Any]:
    """`pathwatch replay FILE --report` as a user runs it, timed from outside."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    region = ["--region", REGION] if REGION else []
    done = subprocess.run([sys.executable, "-m", "streams.cli", "replay", str(path), "--report",
                           *region], cwd=workload.ROOT, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pathwatch replay failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": wall, "cpu_seconds": cpu, "events_per_s": events / wall,
            "cores_used": cpu / wall, "summary": done.stderr.strip().splitlines()[-1]}


# --- stage profile ----------------------------------------------------------------------------


class StageTimer:
    """Wraps functions with timers; nested wrapped calls are charged to the innermost stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []  # time of nested stages, per open frame

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                nested = self._stack.pop()
                self.seconds[stage] += spent - nested
                self.calls[stage] += 1
                if self._stack:
                    self._stack[-1] += spent

        return timed


def bench_stages(lines: list[bytes], plain_seconds: float) -> dict[str, Any]:
    timer = StageTimer()
    engine = new_engine()
    replay = Replay(engine, Compliance(engine.pack))
    stage_of = {"build_timeline": "timeline", "extend_timeline": "timeline",
                "deadline_alerts": "deadlines", "next_deadline": "deadlines"}
    saved = {name: getattr(engine_module, name) for name in stage_of}
    saved_parse = ev.parse_or_fix_time
    try:
        ev.parse_or_fix_time = timer.wrap("decode", ev.parse_or_fix_time)
        for name, stage in stage_of.items():  # by the names `Engine` calls them by
            vars(engine_module)[name] = timer.wrap(stage, saved[name])
        engine.apply = timer.wrap("intervals", engine.apply)  # type: ignore[method-assign]
        engine.sweep = timer.wrap("deadlines", engine.sweep)  # type: ignore[method-assign]
        replay.compliance.add = timer.wrap("compliance",  # type: ignore[method-assign]
                                           replay.compliance.add)
        assert replay._skew is not None
        replay._skew.observe_lag = timer.wrap(  # type: ignore[method-assign]
            "quality", replay._skew.observe_lag)
        started = time.perf_counter()
        for _ in replay.run(lines):
            pass
        total = time.perf_counter() - started
    finally:
        ev.parse_or_fix_time = saved_parse
        vars(engine_module).update(saved)
    staged = sum(timer.seconds.values())
    timer.seconds["replay loop"] = max(0.0, total - staged)
    stages = {name: {"seconds": s, "share": s / total, "calls": timer.calls.get(name, 0),
                     "us_per_event": s / len(lines) * 1e6}
              for name, s in sorted(timer.seconds.items(), key=lambda kv: -kv[1])}
    return {"instrumented_seconds": total, "plain_seconds": plain_seconds,
            "timer_overhead_share": max(0.0, total - plain_seconds) / total, "stages": stages}


def _decode_all(lines: list[bytes]) -> list[object]:
    return [ev.parse_or_fix_time(line) for line in lines]


def bench_decode_split(lines: list[bytes]) -> dict[str, Any]:
    gps = [line for line in lines if b'"type":"gps.fix"' in line]
    other = [line for line in lines if b'"type":"gps.fix"' not in line]
    out: dict[str, Any] = {}
    for name, subset in (("gps.fix", gps), ("other", other)):
        seconds = workload.best_seconds(partial(_decode_all, subset), 1)
        out[name] = {"events": len(subset), "us_per_event": seconds / max(1, len(subset)) * 1e6,
                     "events_per_s": len(subset) / seconds}
    return out


# --- geo, per fix as the worker does it, and batched ------------------------------------------


def _fence_of(region: Region, fix: ev.GpsFix) -> geofence.FenceTarget | None:
    """A stand-in for the unit's current fence: its incident's nearest hospital's door."""
    if fix.incident_id is None:
        return None
    hospital = region.hospitals[hash(fix.incident_id) % len(region.hospitals)]
    return geofence.destination_target(fix.incident_id, hospital)


def bench_geo(lines: list[bytes]) -> dict[str, Any]:
    region = load_region()
    fixes = [e for e in (ev.parse(x) for x in lines if b'"type":"gps.fix"' in x)
             if isinstance(e, ev.GpsFix)]
    fences: dict[str, geofence.FenceTarget] = {}  # by incident, then by fence id
    targets = []
    for fix in fixes:
        fence = fences.get(fix.incident_id or "") or _fence_of(region, fix)
        if fence is not None:
            fences[fence.incident_id] = fences[fence.fence_id] = fence
        targets.append([fence] if fence is not None else [])

    def per_fix() -> None:
        states: dict[str, Any] = {}
        for fix, fence in zip(fixes, targets, strict=True):
            unit = fix.unit_id or ""
            states[unit], _ = geofence.step(states.get(unit), fix, fence)
            if fence:
                region.locate(fix.lat, fix.lon)

    lats = np.array([f.lat for f in fixes])
    lons = np.array([f.lon for f in fixes])
    fence_ids = [t[0].fence_id if t else "" for t in targets]

    def batched() -> None:
        for start in range(0, len(fixes), GEO_BATCH):
            stop = start + GEO_BATCH
            region.locate_many(lats[start:stop], lons[start:stop])
            by_fence: dict[str, list[int]] = defaultdict(list)
            for index in range(start, min(stop, len(fixes))):
                if fence_ids[index]:
                    by_fence[fence_ids[index]].append(index)
            for fence_id, rows in by_fence.items():
                geofence.outside_distances_m([fences[fence_id]], lats[rows],
                                             lons[rows])

    step_s = workload.best_seconds(per_fix, 1)
    batch_s = workload.best_seconds(batched, 1)
    return {"fixes": len(fixes), "per_fix_step_fixes_per_s": len(fixes) / step_s,
            "per_fix_us": step_s / len(fixes) * 1e6,
            "batched_classify_fixes_per_s": len(fixes) / batch_s,
            "batch_size": GEO_BATCH, "ratio_batched_vs_per_fix": step_s / batch_s,
            "note": "per fix: geofence.step (dwell/hysteresis state, JSON-able) + Region.locate; "
                    "batched: only the vectorisable part (district lookup + fence distances)"}


def bench_cprofile(lines: list[bytes], top: int = 15) -> list[dict[str, Any]]:
    profiler = cProfile.Profile()
    profiler.enable()
    run_replay(lines)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    return [{"function": f"{Path(file).name}:{line}({name})", "calls": calls,
             "self_share": self_s / total, "cumulative_share": cum_s / total}
            for (file, line, name), (_, calls, self_s, cum_s, _) in rows]


# --- output -----------------------------------------------------------------------------------


def on_sources(events: int, repeats: int, profile_events: int) -> dict[str, Any]:
    """The replay timed, staged and profiled on the sources (`PATHWATCH_PURE_PYTHON=1`), in
    a child process: what this run's compiled modules are compared with."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "sources.json"
        subprocess.run(
            [sys.executable, __file__, "--events", str(events), "--repeats", str(repeats),
             "--profile-events", str(profile_events), "--region", REGION, "--sources-part",
             "--out", str(out)],
            env={**os.environ, "PATHWATCH_PURE_PYTHON": "1"}, check=True)
        part: dict[str, Any] = json.loads(out.read_text())
    return part


def sources_part(lines: list[bytes], repeats: int, profile_events: int,
                 in_process: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run on the sources adds: its replay time (unless timed), the stages, cProfile."""
    assert not pathways.COMPILED, pathways.BUILD
    in_process = in_process or bench_in_process(lines, repeats)
    return {"replay_in_process": in_process,
            "stages": bench_stages(lines, in_process["seconds"]),
            "cprofile_top": bench_cprofile(lines[:profile_events])}


def report(result: dict[str, Any]) -> None:
    mix = result["stream"]
    print(f"stream: {mix['events']:,} events, {mix['gps_share']:.1%} gps.fix, "
          f"{mix['incidents']:,} incidents  ({mix['file']})")
    print(f"engine: {result['pathways']}")
    replay = result["replay_in_process"]
    print(workload.ratio_line("replay, in process, one core (events/cpu-s)",
                              replay["events_per_cpu_s"], TARGET_EVENTS_PER_S, "ev/s"))
    print(workload.ratio_line("replay, in process, wall (events/s)", replay["events_per_s"],
                              TARGET_EVENTS_PER_S, "ev/s"))
    sources = result.get("replay_on_sources")
    if sources:
        print(workload.ratio_line("the same on the sources (events/cpu-s)",
                                  sources["events_per_cpu_s"], TARGET_EVENTS_PER_S, "ev/s"))
        print(f"{'':44s} compiled / sources: {result['ratio_compiled_to_sources']:.2f}x "
              "(CPU per event, same run)")
    cli = result.get("replay_cli")
    if cli:
        print(workload.ratio_line("pathwatch replay FILE --report --region (ev/s)",
                                  cli["events_per_s"], TARGET_EVENTS_PER_S, "ev/s"))
        print(f"{'':44s} cpu {cli['cpu_seconds']:.1f} s over {cli['wall_seconds']:.1f} s wall "
              f"= {cli['cores_used']:.2f} cores")
    on = " (on the sources)" if sources else ""
    print(f"stage profile{on} (share of replay time, us per event of the stream):")
    for name, stage in result["stages"]["stages"].items():
        print(f"  {name:<12s} {stage['share']:>6.1%}  {stage['us_per_event']:>7.2f} us/event  "
              f"({stage['calls']:,} calls)")
    print(f"  (timers add {result['stages']['timer_overhead_share']:.0%} to the run)")
    split = result["decode_split"]
    print(f"decode: gps.fix {split['gps.fix']['us_per_event']:.2f} us/event, "
          f"other {split['other']['us_per_event']:.2f} us/event")
    geo = result["geo_worker_side"]
    print(f"geo (worker unit side, not in replay): per fix {geo['per_fix_step_fixes_per_s']:,.0f} "
          f"fixes/s; batched classify {geo['batched_classify_fixes_per_s']:,.0f} fixes/s "
          f"(ratio {geo['ratio_batched_vs_per_fix']:.1f}x)")
    print(f"cProfile{on}, top self time:")
    for row in result["cprofile_top"][:10]:
        print(f"  {row['self_share']:>6.1%} self {row['cumulative_share']:>6.1%} cum  "
              f"{row['calls']:>9,}  {row['function']}")


def main() -> None:
    global REGION
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1, help="in-process runs; best is kept")
    parser.add_argument("--profile-events", type=int, default=200_000)
    parser.add_argument("--no-cli", action="store_true", help="skip the `pathwatch replay` run")
    parser.add_argument("--region", default=REGION,
                        help="region for district/area type ('' for none, as without --region)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--sources-part", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    REGION = args.region
    path = workload.city_stream(args.events)
    lines = workload.read_lines(path)
    if args.sources_part:  # the child of `on_sources`
        args.out.write_text(json.dumps(sources_part(lines, args.repeats, args.profile_events)))
        return
    mix = workload.type_mix(lines)
    in_process = bench_in_process(lines, args.repeats)
    result: dict[str, Any] = {
        "stream": {"file": str(path.relative_to(workload.ROOT)), "events": len(lines),
                   "gps_share": mix["gps.fix"] / len(lines), "incidents": in_process["incidents"],
                   "types": dict(mix.most_common())},
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "region": REGION or None,
        "pathways": pathways.BUILD,
        "replay_in_process": in_process,
        "ratio_to_target_one_core": in_process["events_per_cpu_s"] / TARGET_EVENTS_PER_S,
        "ratio_to_target_wall": in_process["events_per_s"] / TARGET_EVENTS_PER_S,
    }
    if not args.no_cli:
        result["replay_cli"] = bench_cli(path, len(lines))
    if pathways.COMPILED:
        sources = on_sources(args.events, args.repeats, args.profile_events)
        result["replay_on_sources"] = sources["replay_in_process"]
        result["ratio_compiled_to_sources"] = (
            in_process["events_per_cpu_s"] / sources["replay_in_process"]["events_per_cpu_s"])
    else:
        sources = sources_part(lines, args.repeats, args.profile_events, in_process)
    result["stages"] = sources["stages"]
    result["cprofile_top"] = sources["cprofile_top"]
    result["decode_split"] = bench_decode_split(lines)
    result["geo_worker_side"] = bench_geo(lines)
    report(result)
    name = "replay" if args.events == 1_000_000 else f"replay-{args.events}"
    workload.write_result(name, result, args.out)


if __name__ == "__main__":
    main()
