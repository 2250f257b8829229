"""Benchmark: instructions per event (valgrind callgrind), a cost this machine's noise cannot move.

    .venv/bin/python bench/bench_instructions.py [--events 10000] [--baseline FILE]

On a shared VM the same code times 20-50% apart from one minute to the next; the number of
instructions it executes barely moves (same interpreter, packages and input, addresses not
randomised, whatever else the machine runs): two runs of the same tree differed by at most
0.2% per event. So this is the figure that tells whether a change made the hot path cheaper,
or dearer, by a few percent.

Three paths, each over the first N events of the city stream (bench/workload.py):
- decode: `pathways.events.parse` of each line, the reference (reading the input);
- replay: `pathways.replay.Replay` as `pathwatch replay --region demo` runs it;
- worker: the worker's desks wired in memory (`bench_scaling.MemoryWorker`), one event at a
  time, as paced input brings them (no Kafka, no Faust).

Each path runs twice under callgrind, in a child process (`--child`): over N events and over
none (start-up: imports, the region, the engine, reading the file). The difference over N is
its cost per event. Printed: each path's instructions per event, its ratio to decode (measured
in this run), and its ratio to the baseline (a previous run's result file, default the one
this run replaces), with REGRESSION where a path costs more than `--tolerance` above it.
Exits 1 on a regression. Writes bench/results/instructions.json (--out to write elsewhere).
Needs valgrind and setarch (util-linux); ~2 min for 10,000 events on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import workload

PATHS = ("decode", "replay", "worker")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
_PACKAGES = ("orjson", "numpy", "shapely", "faust-streaming")


def _decode(lines: list[bytes]) -> None:
    from pathways import events as ev

    for line in lines:
        ev.parse(line)


def _replay(lines: list[bytes]) -> None:
    from bench_replay import run_replay

    run_replay(lines)


def _worker(lines: list[bytes]) -> None:
    from bench_scaling import MemoryWorker

    from streams.cli import fewer_gc_passes

    async def run() -> None:
        worker = MemoryWorker()
        for line in lines:
            await worker.send(line)

    fewer_gc_passes()  # as `pathwatch worker` runs
    asyncio.run(run())


_RUNS: dict[str, Callable[[list[bytes]], None]] = {
    "decode": _decode, "replay": _replay, "worker": _worker,
}


def child(path: str, stream: Path, events: int) -> None:
    """The measured process: the path's start-up, then its first `events` events."""
    _RUNS[path](workload.read_lines(stream)[:events])


def instructions(path: str, stream: Path, events: int) -> int:
    """Instructions a child process executes for `path` over `events` events (callgrind)."""
    command = ["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, str(Path(__file__).resolve()), "--child", path,
               "--stream", str(stream), "--events", str(events)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{path} over {events} events failed (exit {done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(stream: Path, events: int) -> dict[str, dict[str, Any]]:
    """Per path: instructions with N events and with none, and per event."""
    jobs = [(path, n) for path in PATHS for n in (events, 0)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: instructions(job[0], stream, job[1]), jobs),
                          strict=True))
    return {
        path: {"instructions": counts[(path, events)], "startup_instructions": counts[(path, 0)],
               "per_event": (counts[(path, events)] - counts[(path, 0)]) / events}
        for path in PATHS
    }


def environment() -> dict[str, str]:
    """What the counts depend on besides the code: they compare only within one environment."""
    found = {"python": sys.version.split()[0], "executable": sys.executable}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def code_version() -> str:
    """The commit measured, `+changes` when the tree differs from it."""
    root = workload.ROOT
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pathways", "geo",
                                "streams", "bench"], cwd=root, text=True, capture_output=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def compare(paths: dict[str, dict[str, Any]], baseline: dict[str, Any], tolerance: float
            ) -> tuple[dict[str, float], list[str]]:
    """Per path, new / baseline instructions per event, and the paths that cost more than
    `tolerance` above it."""
    ratios = {path: paths[path]["per_event"] / baseline["paths"][path]["per_event"]
              for path in PATHS if path in baseline.get("paths", {})}
    regressions = [path for path, ratio in ratios.items() if ratio > 1 + tolerance]
    return ratios, regressions


def caveats(baseline: dict[str, Any], events: int) -> list[str]:
    """Why a comparison with `baseline` may not be like with like."""
    found = []
    if baseline.get("events") != events:
        found.append(f"the baseline measured {baseline.get('events')} events, this run {events}")
    theirs, ours = baseline.get("environment", {}), environment()
    for key in ours:
        if key != "executable" and theirs.get(key) != ours[key]:
            found.append(f"{key}: baseline {theirs.get(key)}, now {ours[key]}")
    return found


def report(paths: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, events: int,
           tolerance: float) -> tuple[dict[str, Any], list[str]]:
    decode = paths["decode"]["per_event"]
    print(f"instructions per event, first {events:,} city events (start-up subtracted):")
    ratios: dict[str, float] = {}
    regressions: list[str] = []
    if baseline is not None:
        ratios, regressions = compare(paths, baseline, tolerance)
    for path in PATHS:
        per_event = paths[path]["per_event"]
        line = f"  {path:<7s} {per_event:>12,.0f}   {per_event / decode:5.2f}x decode"
        if path in ratios:
            verdict = "REGRESSION" if path in regressions else "ok"
            line += f"   {ratios[path]:.3f}x baseline  {verdict}"
        print(line)
    result: dict[str, Any] = {"ratio_to_decode": {p: paths[p]["per_event"] / decode
                                                  for p in PATHS}}
    if baseline is not None:
        print(f"baseline: {baseline.get('code', 'unknown')} measured "
              f"{baseline.get('measured_at', '?')}; tolerance {tolerance:.1%}")
        notes = caveats(baseline, events)
        for note in notes:
            print(f"  not like with like: {note}")
        result["baseline"] = {"code": baseline.get("code"),
                              "measured_at": baseline.get("measured_at"), "ratios": ratios,
                              "regressions": regressions, "caveats": notes}
    return result, regressions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--baseline", default=None,
                        help="a result file to compare with (default: the --out file, if any)")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="a path costing more than this share above the baseline is a "
                             "regression (two runs of one tree differ by up to 0.2%%)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--stream", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.stream), args.events)
        return
    for tool in ("valgrind", "setarch"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH (Debian: apt-get install valgrind "
                             "util-linux)")
    out = Path(args.out) if args.out else workload.RESULTS / "instructions.json"
    baseline_file = Path(args.baseline) if args.baseline else out
    baseline = (json.loads(baseline_file.read_text(encoding="utf-8"))
                if baseline_file.is_file() else None)
    stream = workload.city_stream(args.events)
    paths = measure(stream, args.events)
    compared, regressions = report(paths, baseline, args.events, args.tolerance)
    workload.write_result("instructions", {
        "events": args.events, "code": code_version(), "environment": environment(),
        "paths": paths, **compared,
        "method": "valgrind --tool=callgrind under setarch -R, PYTHONHASHSEED=0; "
                  "(instructions over N events - over none) / N",
    }, out)
    if regressions:
        raise SystemExit(f"REGRESSION: {', '.join(regressions)} above the baseline by more "
                         f"than {args.tolerance:.1%}")


if __name__ == "__main__":
    main()
