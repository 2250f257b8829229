"""Benchmark: instructions per event (valgrind callgrind), a cost this machine's noise cannot move.

    .venv/bin/python bench/bench_instructions.py [--events 10000] [--baseline FILE]

On a shared VM the same code times 20-50% apart from one minute to the next; the number of
instructions it executes does not (same interpreter, packages and input; addresses not
randomised, one BLAS thread): three start-ups of the replay child counted the same 1,380,064,322
instructions, with the other core busy. So this is the figure that tells whether a change
made the hot path cheaper, or dearer, by a fraction of a percent.

Five paths, each over the first N events of the city stream (bench/workload.py):
- json: `orjson.loads` of each line and nothing else, the floor (the reference for ratios);
- decode: `pathways.events.parse` of each line (JSON and the contract's checks);
- replay: `pathways.replay.Replay` as `pathwatch replay --region demo` runs it;
- replay_fixes: the same over the gps.fix lines of those N events only (per fix), which
  splits the replay's cost between fixes and the other events (incident side, derived);
- worker: the worker's desks wired in memory (`bench_scaling.MemoryWorker`), one event at a
  time, as paced input brings them (no Kafka, no Faust).

Each path runs twice under callgrind, in a child process (`--child`): over N events and over
none (start-up: imports, the region, the engine, reading the file). The difference over the
lines it read is its cost per event. Printed: each path's instructions per event, its ratio
to json (measured in this run), and its ratio to the baseline (a previous run's result file,
default the one this run replaces), with REGRESSION where a path of ours costs more than
`--tolerance` above it (json, orjson's own cost, is the reference and is not judged).
Then the replay target in these terms: the replay path is timed here, not under valgrind
(CPU time, least of 3), which gives the instructions per CPU-second this machine runs it at
now, and so how many instructions an event 100,000 events per CPU-second allow.
Exits 1 on a regression. Writes bench/results/instructions.json (--out to write elsewhere).
Needs valgrind and setarch (util-linux); ~3 min for 10,000 events on 2 cores.
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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import workload

import pathways

PATHS = ("json", "decode", "replay", "replay_fixes", "worker")
# `json` is the floor, orjson's own cost, not a path of ours: only a reference. It is also the
# smallest (~8,900 instructions a line), and a fresh clone elsewhere counted it 0.9% above the
# same code here; the larger paths moved by 0.2% at most.
GATED = ("decode", "replay", "replay_fixes", "worker")
_FIX = b'"type":"gps.fix"'
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
_PACKAGES = ("orjson", "numpy", "shapely", "faust-streaming")


def _json(lines: list[bytes]) -> None:
    import orjson

    for line in lines:
        orjson.loads(line)


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
    "json": _json, "decode": _decode, "replay": _replay, "replay_fixes": _replay,
    "worker": _worker,
}


def lines_of(path: str, stream: Path, events: int) -> list[bytes]:
    """What `path` reads of the first `events` events."""
    lines = workload.read_lines(stream)[:events]
    return [line for line in lines if _FIX in line] if path == "replay_fixes" else lines


def child(path: str, stream: Path, events: int) -> None:
    """The measured process: the path's start-up, then its first `events` events."""
    _RUNS[path](lines_of(path, stream, events))


def replay_seconds(stream: Path, events: int, repeats: int = 3) -> float:
    """CPU seconds of the replay path over `events` events in this process, not under
    valgrind (least of `repeats`, start-up less): with its instruction count, the rate at
    which this machine runs it now."""
    lines = workload.read_lines(stream)[:events]

    def least(count: int) -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            _replay(lines[:count])
            best = min(best, time.process_time() - started)
        return best

    return least(events) - least(0)


def budget(paths: dict[str, dict[str, Any]], seconds: float, events: int) -> dict[str, float]:
    """The replay target in instructions: at the rate this machine ran the replay, how many
    instructions an event 100,000 events per CPU-second allow."""
    from bench_replay import TARGET_EVENTS_PER_S

    replay = paths["replay"]
    rate = replay["per_event"] * events / seconds
    allowed = rate / TARGET_EVENTS_PER_S
    print(f"replay here, not under valgrind: {events / seconds:,.0f} ev/CPU-s = "
          f"{rate / 1e9:.2f} G instructions per CPU-second; {TARGET_EVENTS_PER_S:,} ev/s would "
          f"allow {allowed:,.0f} instructions an event, the replay costs "
          f"{replay['per_event']:,.0f} (ratio {allowed / replay['per_event']:.2f})")
    return {"replay_events_per_cpu_s": events / seconds, "instructions_per_cpu_s": rate,
            "target_events_per_s": TARGET_EVENTS_PER_S,
            "instructions_per_event_allowed": allowed,
            "ratio_allowed_to_replay": allowed / replay["per_event"]}


def instructions(path: str, stream: Path, events: int) -> int:
    """Instructions a child process executes for `path` over `events` events (callgrind)."""
    command = ["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, str(Path(__file__).resolve()), "--child", path,
               "--stream", str(stream), "--events", str(events)]
    # numpy's BLAS starts a thread per core at import, whose spinning varies from run to run
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
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
    paths = {}
    for path in PATHS:
        read = len(lines_of(path, stream, events))
        paths[path] = {"lines": read, "instructions": counts[(path, events)],
                       "startup_instructions": counts[(path, 0)],
                       "per_event": (counts[(path, events)] - counts[(path, 0)]) / read}
    return paths


def replay_split(paths: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The replay's instructions per fix and, derived, per other event (its incident side)."""
    replay, fixes = paths["replay"], paths["replay_fixes"]
    others = replay["lines"] - fixes["lines"]
    spent = (replay["instructions"] - replay["startup_instructions"]
             - (fixes["instructions"] - fixes["startup_instructions"]))
    split = {"per_fix": fixes["per_event"], "per_other_event": spent / others,
             "fix_share_of_events": fixes["lines"] / replay["lines"]}
    split["fix_share_of_instructions"] = (fixes["per_event"] * fixes["lines"]
                                          / (replay["per_event"] * replay["lines"]))
    print(f"replay split: {split['per_fix']:,.0f} instructions a gps.fix "
          f"({split['fix_share_of_events']:.1%} of events, "
          f"{split['fix_share_of_instructions']:.1%} of the instructions), "
          f"{split['per_other_event']:,.0f} an other event")
    return split


def environment() -> dict[str, str]:
    """What the counts depend on besides the code: they compare only within one environment."""
    found = {"python": sys.version.split()[0], "executable": sys.executable,
             "pathways": pathways.BUILD}  # compiled with mypyc, or the sources
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
                                "streams", "bench/*.py"], cwd=root, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def compare(paths: dict[str, dict[str, Any]], baseline: dict[str, Any], tolerance: float
            ) -> tuple[dict[str, float], list[str]]:
    """Per path, new / baseline instructions per event, and the gated paths that cost more
    than `tolerance` above it."""
    ratios = {path: paths[path]["per_event"] / baseline["paths"][path]["per_event"]
              for path in PATHS if path in baseline.get("paths", {})}
    regressions = [path for path, ratio in ratios.items()
                   if path in GATED and ratio > 1 + tolerance]
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
    floor = paths["json"]["per_event"]
    print(f"instructions per event read, first {events:,} city events (start-up subtracted; "
          "replay_fixes reads their gps.fix lines only):")
    ratios: dict[str, float] = {}
    regressions: list[str] = []
    if baseline is not None:
        ratios, regressions = compare(paths, baseline, tolerance)
    for path in PATHS:
        per_event = paths[path]["per_event"]
        line = f"  {path:<12s} {per_event:>12,.0f}   {per_event / floor:5.2f}x json"
        if path in ratios:
            verdict = ("REGRESSION" if path in regressions else
                       "ok" if path in GATED else "(reference, not gated)")
            line += f"   {ratios[path]:.3f}x baseline  {verdict}"
        print(line)
    result: dict[str, Any] = {"ratio_to_json": {p: paths[p]["per_event"] / floor
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
                             "regression")
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
    if args.baseline and not baseline_file.is_file():  # a gate with nothing to compare to
        raise SystemExit(f"--baseline {baseline_file}: no such file")
    baseline = (json.loads(baseline_file.read_text(encoding="utf-8"))
                if baseline_file.is_file() else None)
    stream = workload.city_stream(args.events)
    paths = measure(stream, args.events)
    seconds = replay_seconds(stream, args.events)
    compared, regressions = report(paths, baseline, args.events, args.tolerance)
    workload.write_result("instructions", {
        "events": args.events, "code": code_version(), "environment": environment(),
        "paths": paths, **compared, "replay_split": replay_split(paths),
        "replay_target": budget(paths, seconds, args.events),
        "method": "valgrind --tool=callgrind under setarch -R, PYTHONHASHSEED=0, one BLAS "
                  "thread; "
                  "(instructions over N events - over none) / N",
    }, out)
    if regressions:
        raise SystemExit(f"REGRESSION: {', '.join(regressions)} above the baseline by more "
                         f"than {args.tolerance:.1%}")


if __name__ == "__main__":
    main()
