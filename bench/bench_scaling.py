"""Benchmark: cost per event as open incidents and units grow (10 -> 10,000 units), no broker.

    .venv/bin/python bench/bench_scaling.py [--units 10,100,1000,10000] [--events 20000]

For U units, U incidents are opened (call.received, unit.assigned, unit.enroute; one unit per
incident), then a steady mix is measured: 90% GPS fixes round-robin over the units (10 s
apart per unit in event time) and 10% incident milestones (on scene, at patient, ECG, left
scene, at destination, hospital arrival, closed) round-robin over the incidents.
The cost per event of that phase is measured on two paths:

- engine: `pathways.replay.Replay` (decode + engine + deadline sweeps), as `pathwatch replay`;
- worker: the worker's own desks (`streams.agents.Ingest`, `UnitDesk`, `IncidentDesk`) wired
  in memory with dict tables and the internal envelopes encoded and decoded, as the agents
  run them minus Kafka (tick sweeps every 1 s of event time per partition, as the timer).

Growth ratio = cost per event at the largest U / at the smallest. Flat is 1.0. Each size is
timed `--rounds` times, the sizes in a rotated order each round, and its least CPU is kept:
this machine's speed moves by 1.5x from one minute to the next.
Writes bench/results/scaling.json (scaling-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import workload

from geo.regions import load_region
from pathways import events as ev
from pathways.compliance import Compliance
from pathways.engine import Engine
from pathways.replay import Replay
from pathways.rulepack import load_pack
from streams import feeds
from streams.agents import INCIDENT_SIDE, UNIT_SIDE, Ingest, home
from streams.cli import fewer_gc_passes
from streams.clock import PartitionClock, WatermarkClock
from streams.incident_agent import IncidentDesk
from streams.ingest import DeadLetterPolicy, Origin
from streams.sinks import ListSink
from streams.telemetry import NoTelemetry
from streams.unit_agent import UnitDesk

PARTITIONS = 6
GPS_EVERY_S = 10.0
MILESTONES = ("unit.on_scene", "unit.at_patient", "ecg.acquired", "unit.left_scene",
              "unit.at_destination", "hospital.arrived", "incident.closed")
CYCLE = (*MILESTONES, "call.received", "unit.assigned", "unit.enroute")
TICK_EVERY_S = 1.0


def _event(kind: str, number: int, ts: datetime, incident: str, unit: str,
           hospital: str, lat: float, lon: float) -> ev.Event:
    fields: dict[str, Any] = {"event_id": f"{incident}:{kind}:{number}", "ts": ts,
                              "source": "cad", "incident_id": incident}
    if kind.startswith("unit."):
        fields["unit_id"] = unit
    if kind == "unit.left_scene":
        fields["destination_hospital_id"] = hospital
    if kind == "hospital.arrived":
        fields["hospital_id"] = hospital
    if kind == "ecg.acquired":
        fields.update(source="ecg", setting="prehospital", stemi=True)
    if kind == "call.received":
        fields.update(location=ev.Location(lat, lon, 50.0), triage_level=2,
                      pathway_hint="chest_pain")
    return ev.EVENT_TYPES[kind](**fields)


def workload_events(units: int, measured: int) -> tuple[list[bytes], list[bytes]]:
    """(opening events, measured events) as contract JSON lines, in event-time order.

    Each unit cycles through incidents: the 7 milestones, then a new call (received, assigned,
    enroute), so open incidents stay at `units` and the event mix does not depend on `units`.
    """
    region = load_region()
    core = region.hospitals[0]
    hospital = core.hospital_id
    spots = [(core.lat + (k % 100 - 50) * 0.001, core.lon + (k // 100 - 50) * 0.001)
             for k in range(units)]
    opening: list[tuple[datetime, bytes]] = []
    step = timedelta(seconds=60.0 / units)  # every incident opened within a minute
    for k in range(units):
        lat, lon = spots[k]
        for offset, kind in ((0, "call.received"), (20, "unit.assigned"), (40, "unit.enroute")):
            ts = workload.START + step * k + timedelta(seconds=offset)
            opening.append((ts, ev.dumps(_event(kind, 0, ts, f"I{k:05d}-0", f"U{k:05d}",
                                                hospital, lat, lon))))
    opening.sort(key=lambda pair: pair[0])
    begin = workload.START + timedelta(seconds=100)
    spacing = timedelta(seconds=GPS_EVERY_S / units)
    steps = [0] * units
    lines = []
    for n in range(measured):
        ts = begin + spacing * n
        k = n % units
        unit = f"U{k:05d}"
        cycle, position = divmod(steps[k], len(CYCLE))
        incident = f"I{k:05d}-{cycle}"
        lat, lon = spots[k]
        if n % 10 == 9:
            kind = CYCLE[position]
            if position >= len(MILESTONES):
                incident = f"I{k:05d}-{cycle + 1}"
            steps[k] += 1
            lines.append(ev.dumps(_event(kind, 0, ts, incident, unit, hospital, lat, lon)))
        else:
            lines.append(ev.dumps(ev.GpsFix(
                event_id=f"{unit}:gps:{n}", ts=ts, source="avl", unit_id=unit,
                incident_id=incident, lat=lat + 0.0001 * (n % 7), lon=lon, speed_mps=8.0,
                accuracy_m=6.0)))
    return [line for _, line in opening], lines


# --- engine path ------------------------------------------------------------------------------


def engine_cost(opening: list[bytes], measured: list[bytes]) -> dict[str, Any]:
    pack = load_pack("cn")
    replay = Replay(Engine(pack, load_region().locate), Compliance(pack))
    marks: dict[str, float] = {}

    def lines() -> Iterator[bytes]:
        yield from opening
        marks["start"] = time.process_time()
        yield from measured
        marks["end"] = time.process_time()  # before the final sweep of every incident

    for _ in replay.run(lines()):
        pass
    seconds = marks["end"] - marks["start"]
    return {"us_per_event": seconds / len(measured) * 1e6, "incidents": len(replay.states)}


# --- worker path (the desks, in memory) -------------------------------------------------------


class SizedTable(dict[str, Any]):
    """A dict table that can count the bytes a Faust changelog would carry for each write."""

    counting = False
    written = 0

    def __setitem__(self, key: str, value: Any) -> None:
        if self.counting:
            self.written += len(orjson.dumps(value)) + len(key)
        super().__setitem__(key, value)


class MemoryWorker:
    """The agents' desks wired by in-memory queues; forwarded envelopes encoded as on the
    internal topics."""

    def __init__(self) -> None:
        region = load_region()
        self.sink = ListSink()
        self.clock = WatermarkClock()
        self.unit_queue: deque[bytes] = deque()
        self.incident_queue: deque[tuple[int, bytes]] = deque()
        telemetry = NoTelemetry()
        self.ingest = Ingest(DeadLetterPolicy(), self.sink, telemetry, "", self)
        self.units = UnitDesk(region, self.clock, self.to_incident)
        self.incidents = IncidentDesk(Engine(load_pack("cn"), region.locate), region,
                                      PartitionClock(self.clock), self.sink, telemetry,
                                      self.to_unit, PARTITIONS)
        self.unit_table = SizedTable()
        self.incident_table = SizedTable()
        self.offset = 0
        self.last_tick: datetime | None = None

    async def to_incident(self, key: str, item: feeds.Envelope) -> None:
        self.incident_queue.append((feeds.partition_of(key, PARTITIONS), feeds.encode(item)))

    async def to_unit(self, key: str, item: feeds.Envelope) -> None:
        self.unit_queue.append(feeds.encode(item))

    async def to_every_incident_partition(self, key: str, item: feeds.Envelope) -> None:
        value = feeds.encode(item)
        self.incident_queue.extend((partition, value) for partition in range(PARTITIONS))

    async def send(self, line: bytes) -> None:
        """As the agents do: an input event goes to the desk owning its state, without an
        envelope (its topic is on that side's partition); what the desks forward is queued."""
        self.offset += 1
        event = await self.ingest.accept(line, Origin("input", 0, self.offset))
        if isinstance(event, ev.Event):
            side, key = home(event)
            if side == UNIT_SIDE:
                await self.units.handle(event, self.unit_table)
            elif side == INCIDENT_SIDE:
                await self.incidents.handle(event, feeds.partition_of(key, PARTITIONS),
                                            self.incident_table)
            else:
                await self.ingest.route(event)
        await self.drain()
        now = self.clock.now()
        if now is not None and (self.last_tick is None
                                or (now - self.last_tick).total_seconds() >= TICK_EVERY_S):
            self.last_tick = now
            for partition in range(PARTITIONS):
                await self.incidents.handle(feeds.Tick(partition), partition,
                                            self.incident_table)
            await self.drain()

    async def drain(self) -> None:
        while self.unit_queue or self.incident_queue:
            while self.unit_queue:
                await self.units.handle(feeds.decode(self.unit_queue.popleft()),
                                        self.unit_table)
            if self.incident_queue:
                partition, raw = self.incident_queue.popleft()
                await self.incidents.handle(feeds.decode(raw), partition, self.incident_table)


def worker_seconds(opening: list[bytes], measured: list[bytes], count_bytes: bool = False
                   ) -> tuple[float, MemoryWorker]:
    """CPU seconds of the measured events through the desks (after the opening ones)."""
    async def run() -> tuple[float, MemoryWorker]:
        worker = MemoryWorker()
        for line in opening:
            await worker.send(line)
        for table in (worker.unit_table, worker.incident_table):
            table.counting = count_bytes
        started = time.process_time()
        for line in measured:
            await worker.send(line)
        return time.process_time() - started, worker

    return asyncio.run(run())


def worker_cost(opening: list[bytes], measured: list[bytes]) -> dict[str, Any]:
    seconds, _ = worker_seconds(opening, measured)
    # a second, untimed pass: JSON sizes of table writes
    _, counted = worker_seconds(opening, measured, count_bytes=True)
    input_bytes = sum(len(line) for line in measured)
    changelog = counted.unit_table.written + counted.incident_table.written
    return {"us_per_event": seconds / len(measured) * 1e6,
            "changelog_bytes_per_event": changelog / len(measured),
            "unit_changelog_bytes_per_event": counted.unit_table.written / len(measured),
            "incident_changelog_bytes_per_event": counted.incident_table.written / len(measured),
            "input_bytes_per_event": input_bytes / len(measured)}


def first_round(units: int, events: int, opening: list[bytes], measured: list[bytes],
                with_worker: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"units": units, "open_incidents": units, "events": events,
                           "engine": engine_cost(opening, measured)}
    if with_worker:
        row["worker"] = worker_cost(opening, measured)
    for path in ("engine", "worker"):
        if path in row:
            row[path]["us_per_event_runs"] = [row[path]["us_per_event"]]
    return row


def another_round(row: dict[str, Any], opening: list[bytes], measured: list[bytes]) -> None:
    """One more timed run of a size; the least CPU of its runs is kept."""
    times = {"engine": engine_cost(opening, measured)["us_per_event"]}
    if "worker" in row:
        times["worker"] = worker_seconds(opening, measured)[0] / len(measured) * 1e6
    for path, us_per_event in times.items():
        runs = row[path]["us_per_event_runs"]
        runs.append(us_per_event)
        row[path]["us_per_event"] = min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="10,100,1000,10000")
    parser.add_argument("--events", type=int, default=20_000, help="measured events per size")
    parser.add_argument("--quick", action="store_true", help="--events 5000")
    parser.add_argument("--no-worker", action="store_true", help="engine path only")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed runs of each size, sizes in a rotated order each round; "
                             "the least CPU is kept (this machine's speed moves by 1.5x)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    fewer_gc_passes()  # as `pathwatch worker` and `pathwatch replay` run
    events = 5_000 if args.quick else args.events
    sizes = [int(x) for x in args.units.split(",")]
    workloads = {units: workload_events(units, events) for units in sizes}
    rows = {units: first_round(units, events, *workloads[units], not args.no_worker)
            for units in sizes}
    for round_no in range(1, args.rounds):
        shift = round_no % len(sizes)
        for units in sizes[shift:] + sizes[:shift]:
            another_round(rows[units], *workloads[units])
    for units in sizes:
        row = rows[units]
        worker_text = (f"   worker desks {row['worker']['us_per_event']:>8.1f} us/event, "
                       f"table writes {row['worker']['changelog_bytes_per_event']:>6,.0f} B/event"
                       f" (input {row['worker']['input_bytes_per_event']:.0f} B)"
                       if "worker" in row else "")
        print(f"{units:>6,} units / open incidents: engine "
              f"{row['engine']['us_per_event']:>7.1f} us/event{worker_text}  (least of "
              f"{len(row['engine']['us_per_event_runs'])} runs)", flush=True)
    ordered = list(rows.values())  # as `sizes`
    result: dict[str, Any] = {"events_per_size": events, "rounds": args.rounds,
                              "sizes": ordered,
                              "cpu_time": "process_time (one core), least of the rounds"}
    for path in ("engine", "worker"):
        if path in ordered[0]:
            growth = ordered[-1][path]["us_per_event"] / ordered[0][path]["us_per_event"]
            result[f"{path}_growth_ratio"] = growth
            print(f"{path:<6s} cost growth {sizes[0]:,} -> {sizes[-1]:,} units: {growth:.2f}x "
                  f"(flat = 1.00)")
    out = None if args.out is None else Path(args.out)
    workload.write_result("scaling-quick" if args.quick else "scaling", result, out)


if __name__ == "__main__":
    main()
