"""What the benchmarks share: the cached city stream, the machine description, the JSON result.

The city stream is the simulator's own generator (`simulators.city.generate`) with a fixed
seed and start, cut at N events and cached as `.jsonl` under `.cache/bench/` (git-ignored),
so every benchmark and every run reads the same bytes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
CACHE = ROOT / ".cache" / "bench"
START = datetime(2026, 11, 24, 0, 0, tzinfo=timezone(timedelta(hours=8)))
SEED = 7
# A large city's 120 center (Shanghai-sized: ~5,800 calls a day); GPS every 13 s per moving
# unit. With the default 5 s the generator gives ~95% GPS; 13 s gives the ~90% of the brief.
CALLS_PER_HOUR = 240.0
GPS_INTERVAL_S = 13.0
# The scenario's default 1.5 unit-hours per call saturates the fleet at 240 calls/h (units are
# dispatchable only back at their station): after ~1 day calls wait ~30 min for a unit and the
# GPS share drifts to 96%. 3.0 keeps the fleet ahead of demand over the whole stream.
UNIT_HOURS_PER_CALL = 3.0
LONG_ENOUGH = timedelta(days=365)  # the stream is cut at N events, not by time


def city_events(count: int, seed: int = SEED, calls_per_hour: float = CALLS_PER_HOUR,
                gps_interval_s: float = GPS_INTERVAL_S) -> Iterator[Any]:
    """The first `count` events of the city scenario, in event-time order."""
    from geo.regions import load_region
    from simulators.city import generate
    from simulators.scenario import Scenario

    scenario = replace(Scenario(), calls_per_hour=calls_per_hour, gps_interval_s=gps_interval_s,
                       unit_hours_per_call=UNIT_HOURS_PER_CALL)
    return islice(generate(load_region(), scenario, seed, START, LONG_ENOUGH), count)


def city_stream(count: int, seed: int = SEED) -> Path:
    """Path of the cached `.jsonl` of the first `count` city events (generated on first use)."""
    from pathways.events import dumps

    knobs = f"c{CALLS_PER_HOUR:g}-g{GPS_INTERVAL_S:g}-u{UNIT_HOURS_PER_CALL:g}"
    path = CACHE / f"city-s{seed}-{knobs}-n{count}.jsonl"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    print(f"generating {count:,} city events (seed {seed}) -> {path} ...", file=sys.stderr,
          flush=True)
    with partial.open("wb") as out:
        for event in city_events(count, seed):
            out.write(dumps(event) + b"\n")
    partial.rename(path)
    print(f"  generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def read_lines(path: Path) -> list[bytes]:
    with path.open("rb") as handle:
        return handle.read().splitlines()


def type_mix(lines: list[bytes]) -> Counter[str]:
    """Event types of a stream, without parsing (the simulator writes `"type":"..."` once)."""
    counts: Counter[str] = Counter()
    for line in lines:
        start = line.index(b'"type":"') + 8
        counts[line[start:line.index(b'"', start)].decode()] += 1
    return counts


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, stolen, total) jiffies of all cores so far (/proc/stat; zeros where there is
    none): stolen is the time the hypervisor gave the machine's vCPUs to others."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0, 0
    idle, steal, total = fields[3] + fields[4], fields[7], sum(fields[:8])  # idle + iowait
    return total - idle - steal, steal, total


_TICKS_AT_START = cpu_ticks()
_LOAD_AT_START = list(os.getloadavg())


def machine() -> dict[str, Any]:
    """What the figures were measured on; `stolen_share_so_far`: the share of the machine's
    CPU time the hypervisor gave to others since this benchmark started (on a shared host the
    same code measured +-30% from run to run)."""
    _, stolen, total = (now - start for now, start in zip(cpu_ticks(), _TICKS_AT_START,
                                                             strict=True))
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pathways

    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "pathways": pathways.BUILD,
            "load_avg_at_start": _LOAD_AT_START,
            "stolen_share_so_far": stolen / total if total else None}


def idle_penalty(lines: list[bytes], gap_s: float = 0.001) -> dict[str, float]:
    """CPU per decode (`pathways.events.parse`) of the same events, back to back and with this
    thread asleep `gap_s` before each. On a VM a thread that wakes from idle runs the same code
    several times slower (cold caches and predictors, the vCPU descheduled): input that comes
    at a rate wakes the worker for every few events, a backlog keeps it running."""
    from pathways import events as ev

    def per_event_us(gap: float) -> float:
        spent = 0
        for line in lines:
            if gap:
                time.sleep(gap)
            started = time.thread_time_ns()
            ev.parse(line)
            spent += time.thread_time_ns() - started
        return spent / len(lines) / 1000

    hot = min(per_event_us(0.0) for _ in range(2))
    after_idle = min(per_event_us(gap_s) for _ in range(2))
    return {"events": len(lines), "gap_ms": gap_s * 1000, "hot_us": hot,
            "after_idle_us": after_idle, "ratio": after_idle / hot}


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of `repeats` runs (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def write_result(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "measured_at": datetime.now(UTC).isoformat(
        timespec="seconds"), "machine": machine(), **result}
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path


def ratio_line(label: str, value: float, target: float, unit: str, higher_is_better: bool = True
               ) -> str:
    """`label  value unit  (target ..., ratio x, MET/NOT MET)`."""
    met = value >= target if higher_is_better else value <= target
    ratio = value / target if target else float("nan")
    sign = ">=" if higher_is_better else "<="
    return (f"{label:<44s} {value:>12,.1f} {unit:<8s} target {sign} {target:,.0f}  "
            f"ratio {ratio:.2f}  {'MET' if met else 'NOT MET'}")
