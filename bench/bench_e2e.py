"""Benchmark: end to end through a real Kafka broker, against the raw-Kafka limit.

    .venv/bin/python bench/bench_e2e.py [--quick] [--events 300000] [--bootstrap HOST:PORT]

Without --bootstrap an embedded broker (`streams.broker.Broker`) is started in a temporary
folder on free ports and stopped at the end. Every run uses its own topic prefix and app ids.

1. Produce the first N city events (bench/workload.py) to the six input topics (6 partitions).
2. The limit: a raw aiokafka consumer group reads those topics and produces every message, as
   is, to one output topic (acks=all, as Faust's producer) - no decoding, no state.
   Faust's own limit (faust_passthrough.py): the worker's Faust app with one agent that only
   reads every message, then one that forwards every message unchanged.
3. One `pathwatch worker` (watermark clock) processes the same N events: throughput is N over
   the time from the first record it writes (an internal-feed message or an output, not a
   sweep tick) to its last output record (both Kafka timestamps of the worker's own
   producer), once its group has committed everything. Before step 2, a first worker runs
   over the same N events untimed, to warm the broker (`warm_broker`).
4. Two workers (one consumer group, 6 partitions) on the same N events, measured the same way.
5. Latency: the next events of the stream, produced at 25%, 50% and 90% of the one-worker rate
   to the still-running first worker (every 5 ms, what is due, by aiokafka record batches:
   the generator shares the machine); for each interval record, alert and pre-alert the
   latency is its Kafka timestamp minus the time the event that caused it was due (interval:
   the event at `end_ts`; alert: the event at `at_ts`; pre-alert: the event at `sent_ts`).
   An interval ending on a unit's status takes two hops (unit side -> incident feed ->
   incident side), each timed apart. At each level, the worker's CPU per event against the
   backlog's: what a level really asks of the worker. And the machine's idle penalty
   (`workload.idle_penalty`): one decode back to back against the same decode after 1 ms
   asleep.

Writes bench/results/e2e.json (or e2e-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faust_passthrough
import kafka_bench as kb
import numpy as np
import orjson
import workload
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.errors import KafkaError

from pathways import events as ev
from streams import feeds, topics
from streams.broker import Broker, free_ports
from streams.producer import key_partition
from streams.worker_process import WorkerProcess

TARGET_EVENTS_PER_S = 10_000
TARGET_SHARE_OF_RAW = 0.5
TARGET_P99_MS = 250
TARGET_SCALING = 1.7
LEVELS = (0.25, 0.5, 0.9)
OUTPUTS = (topics.INTERVALS, topics.ALERTS, topics.PREALERTS)
PASSTHROUGH_TOPIC = "bench.passthrough"
IDLE_PENALTY_EVENTS = 3000  # decoded back to back, then 1 ms apart (workload.idle_penalty)
SLOWEST_KEPT = 12  # the slowest outputs of each latency level, described in the result


@dataclass(frozen=True, slots=True)
class Kafka:
    bootstrap: str
    broker_pid: int | None  # the embedded broker's, for its CPU (None: --bootstrap)

    def pids(self, **others: int) -> dict[str, int]:
        return {**others, **({"broker": self.broker_pid} if self.broker_pid else {})}


@contextmanager
def kafka(bootstrap: str | None, folder: Path) -> Iterator[Kafka]:
    if bootstrap:
        yield Kafka(bootstrap, None)
        return
    port, controller = free_ports(2)
    # Kafka's default wait for a new group's members: two workers started together then
    # share the first assignment. With none (the embedded broker's default) the first one
    # sometimes took all six partitions and gave three up ~2 s later, at its next heartbeat:
    # 11,379 and 11,639 ev/s against 20,734 for two workers, in three runs back to back.
    broker = Broker(folder / "broker", port=port, controller_port=controller, heap="768m",
                    first_join_wait_ms=3000)
    started = time.perf_counter()
    broker.start(timeout=120, tie_to_parent=True)
    print(f"embedded broker at {broker.bootstrap} ready in {time.perf_counter() - started:.0f} s")
    try:
        yield Kafka(broker.bootstrap, broker.status().pid)
    finally:
        broker.stop()


# --- the limit: raw passthrough ---------------------------------------------------------------


async def _passthrough(bootstrap: str, inputs: list[str], output: str, group: str,
                       total: int) -> dict[str, Any]:
    client = kb.settings(bootstrap).aiokafka_client_kwargs()
    consumer = AIOKafkaConsumer(*inputs, **client, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    producer = AIOKafkaProducer(**client, acks="all", linger_ms=10,
                                max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    seen, started, started_cpu, started_ms = 0, 0.0, 0.0, 0.0
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not batch:
                continue
            if not started:
                started, started_cpu = time.perf_counter(), time.process_time()
                started_ms = time.time() * 1000
            sent = []
            for records in batch.values():
                for record in records:
                    sent.append(await producer.send(output, record.value, key=record.key))
            seen += len(sent)
            await asyncio.gather(*sent)
            await consumer.commit()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - started_cpu
    finally:
        await consumer.stop()
        await producer.stop()
    return {"events": seen, "seconds": seconds, "events_per_s": seen / seconds,
            "cpu_us_per_event": cpu / seen * 1e6,
            "window_ms": [started_ms, started_ms + seconds * 1000]}


def passthrough(cluster: Kafka, prefix: str, total: int) -> dict[str, Any]:
    topics.create_topics(cluster.bootstrap, prefix=prefix, names=[PASSTHROUGH_TOPIC])
    inputs = [prefix + name for name in topics.INPUT_TOPICS]
    with kb.CpuSampler(cluster.pids()) as cpu:
        result = asyncio.run(_passthrough(cluster.bootstrap, inputs, prefix + PASSTHROUGH_TOPIC,
                                          f"{prefix}passthrough", total))
    return {**result, **cpu.shares(result["window_ms"], total, ())}


# --- worker throughput --------------------------------------------------------------------------


def feed_topics(prefix: str, app_id: str) -> list[str]:
    return [f"{prefix}{app_id}-incident-feed", f"{prefix}{app_id}-unit-feed"]


def wait_caught_up(offsets: kb.Offsets, prefix: str, app_id: str, workers: list[WorkerProcess],
                   timeout_s: float) -> None:
    inputs = [prefix + name for name in topics.INPUT_TOPICS]
    ticks_allowed = 4 * topics.DEFAULT_PARTITIONS * len(workers)  # sweep ticks keep coming
    started = time.monotonic()
    shown = started
    while time.monotonic() - started < timeout_s:
        for worker in workers:
            if not worker.alive():
                raise SystemExit(f"worker {worker.app_id} died:\n{worker.log_tail()}")
        try:
            behind = offsets.lag(app_id, inputs)
            feeds = offsets.lag(app_id, feed_topics(prefix, app_id))
        except KafkaError:  # the group or its feed topics do not exist yet
            behind = feeds = -1
        if behind == 0 and 0 <= feeds <= ticks_allowed:
            return
        if time.monotonic() - shown >= 15:
            shown = time.monotonic()
            print(f"  {app_id}: {time.monotonic() - started:.0f} s, input lag {behind:,}, "
                  f"internal feed lag {feeds:,}", flush=True)
        time.sleep(0.5)
    raise SystemExit(f"{app_id} did not catch up within {timeout_s:.0f} s:\n"
                     f"{workers[0].log_tail()}")


def worker_throughput(cluster: Kafka, prefix: str, app_id: str, count: int, events: int,
                      folder: Path, timeout_s: float, profile: Path | None = None
                      ) -> tuple[dict[str, Any], list[WorkerProcess]]:
    bootstrap = cluster.bootstrap
    offsets = kb.Offsets(bootstrap)
    dead_before = sum(offsets.end([prefix + topics.DEADLETTER]).values())
    outputs = [prefix + name for name in OUTPUTS]
    outputs_before = offsets.end(outputs)  # the output topics are shared by every run
    workers = [WorkerProcess(bootstrap, app_id, prefix, folder / f"{app_id}-{n}",
                             log_level="warning", profile=profile, tie_to_parent=True).start()
               for n in range(count)]
    names = [f"worker {n}" for n in range(count)]
    try:
        pids = {name: w.pid for name, w in zip(names, workers, strict=True)}
        with kb.CpuSampler(cluster.pids(**pids)) as cpu:
            wait_caught_up(offsets, prefix, app_id, workers, timeout_s)
            time.sleep(1.0)  # the last outputs' batches
        # from the first record the worker wrote (not a sweep tick: those start with it): an
        # output can come first, from an event the incident agent reads itself (a call)
        starts = [offsets.first_ts(feed_topics(prefix, app_id), skip_key=b"tick"),
                  offsets.first_ts_after(outputs_before)]
        first = min((ts for ts in starts if ts is not None), default=None)
        last = offsets.last_ts(outputs)
        dead = sum(offsets.end([prefix + topics.DEADLETTER]).values()) - dead_before
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    finally:
        offsets.close()
    if first is None or last is None or last <= first:
        raise SystemExit(f"no output from {app_id}:\n{workers[0].log_tail()}")
    seconds = (last - first) / 1000
    total_cpu = [w.cpu_seconds() for w in workers]
    startup = cpu.at(first)
    return {"workers": count, "events": events, "seconds": seconds,
            "events_per_s": events / seconds, "worker_cpu_seconds": total_cpu,
            "deadletters": dead,
            "worker_startup_cpu_seconds": [startup[name] for name in names],
            "cpu_us_per_event_with_startup": sum(total_cpu) / events * 1e6,
            **cpu.shares([first, last], events, names)}, workers


def warm_broker(cluster: Kafka, prefix: str, app_id: str, events: int, folder: Path,
                timeout_s: float) -> dict[str, Any]:
    """One worker over the N events before anything is timed. A new broker runs its first
    appends to compacted topics (a worker's table changelogs) cold: measured, one such produce
    request of 1.6 MB took 1.1 s in the broker, and the first worker stood still waiting for
    it. A later worker's first appends (its own new changelog topics) still took 0.3-0.6 s
    (bench/README.md); no timed phase meets the cold broker any more."""
    warm, workers = worker_throughput(cluster, prefix, app_id, 1, events, folder, timeout_s)
    for worker in workers:
        worker.stop()
    return warm


# --- latency ----------------------------------------------------------------------------------


class SendLog:
    """When each event sent was due (the time its record is stamped with): by (incident,
    event time), by event time alone, and the non-GPS events of each incident in send order."""

    def __init__(self) -> None:
        self.by_incident: dict[tuple[str | None, int], list[float]] = defaultdict(list)
        self.by_ts: dict[int, list[float]] = defaultdict(list)
        self.milestones: dict[str | None, list[float]] = defaultdict(list)

    def add(self, message: kb.Message, due_ms: float) -> None:
        self.by_incident[(message.incident_id, message.event_ms)].append(due_ms)
        self.by_ts[message.event_ms].append(due_ms)
        if message.topic != topics.GPS:
            self.milestones[message.incident_id].append(due_ms)

    def at(self, incident_id: str | None, moment: str | None, before_ms: float,
           any_incident: bool = False) -> float | None:
        """Due time of the latest event at `moment` (of the incident) due before the output."""
        if moment is None:
            return None
        key = kb.event_ms(ev.parse_timestamp(moment))
        found = _latest(self.by_incident.get((incident_id, key), []), before_ms)
        if found is None and any_incident:
            found = _latest(self.by_ts.get(key, []), before_ms)
        return found

    def last_milestone(self, incident_id: str | None, before_ms: float) -> float | None:
        return _latest(self.milestones.get(incident_id, []), before_ms)


def _latest(due: list[float], before_ms: float) -> float | None:
    index = bisect.bisect_right(due, before_ms)
    return due[index - 1] if index else None


def send_paced(bootstrap: str, prefix: str, messages: list[kb.Message], rate: float
               ) -> tuple[SendLog, float]:
    """Send at `rate` messages/s; returns the log and the rate actually achieved. Each message
    is stamped with the moment it was due, so the wait for its send counts in its latency.

    The generator shares the machine with the worker and the broker, so it must cost little:
    every `SEND_TICK_S` what is due goes out as one record batch per partition (aiokafka's
    batch builder; partitions by Kafka's default partitioner, as a client's send). Measured at
    5,000 ev/s on the bench machine: 37 us of CPU an event (0.18 core), against 156 us (0.78
    core) for kafka-python's send of each message with a 5 ms linger."""
    return asyncio.run(_send_paced(bootstrap, prefix, messages, rate))


SEND_TICK_S = 0.005  # as the 5 ms linger of a client's producer: one request per tick


async def _send_paced(bootstrap: str, prefix: str, messages: list[kb.Message], rate: float
                      ) -> tuple[SendLog, float]:
    log = SendLog()
    producer = AIOKafkaProducer(**kb.settings(bootstrap).aiokafka_client_kwargs(), acks=1,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        partitions = {name: len(await producer.partitions_for(prefix + name))
                      for name in {m.topic for m in messages}}
        sent: list[asyncio.Future[Any]] = []
        done = 0
        started, started_ms = time.perf_counter(), time.time() * 1000
        while done < len(messages):
            due = min(len(messages), int((time.perf_counter() - started) * rate) + 1)
            if due > done:
                sent += await _send_tick(producer, prefix, messages, range(done, due),
                                         (started_ms, rate), partitions, log)
                done = due
            await asyncio.sleep(max(SEND_TICK_S, started + done / rate - time.perf_counter()))
        await asyncio.gather(*sent)
        achieved = len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()
    return log, achieved


async def _send_tick(producer: AIOKafkaProducer, prefix: str, messages: list[kb.Message],
                     due: range, schedule: tuple[float, float], partitions: dict[str, int],
                     log: SendLog) -> list[asyncio.Future[Any]]:
    """The messages due now, one batch per partition, each stamped with when it was due
    (`schedule`: the first one's time in ms since the epoch, and the rate)."""
    started_ms, rate = schedule
    batches: dict[tuple[str, int], Any] = {}
    sent: list[asyncio.Future[Any]] = []
    for number in due:
        message = messages[number]
        due_ms = started_ms + number * 1000 / rate
        where = (message.topic, key_partition(message.key, partitions[message.topic]))
        record = {"key": message.key, "value": message.value, "timestamp": int(due_ms)}
        batch = batches.get(where)
        if batch is None or batch.append(**record) is None:
            if batch is not None:  # full: it goes now, the message starts the next one
                sent.append(await producer.send_batch(batch, prefix + where[0],
                                                      partition=where[1]))
            batch = batches[where] = producer.create_batch()
            if batch.append(**record) is None:
                raise ValueError(f"a {len(message.value)}-byte message does not fit a batch")
        log.add(message, due_ms)
    return sent + [await producer.send_batch(batch, prefix + topic, partition=partition)
                   for (topic, partition), batch in batches.items()]


def _cause(topic: str, body: dict[str, Any], log: SendLog, stamp: float) -> float | None:
    """Due time of the event that caused an output (None: not sent in this level).

    Interval revision 1: the event at `end_ts`; a later revision: the incident's latest
    non-GPS event (a revision comes from a changed attribute, not from its end event).
    Pre-alert: the incident's event at `sent_ts`. Alert: the event at `at_ts` (the watermark
    of the partition, so any incident's event with that time), the latest due before it.
    """
    incident = body.get("incident_id")
    if topic.endswith(topics.INTERVALS):
        if body.get("revision", 1) == 1:
            return log.at(incident, body.get("end_ts"), stamp)
        return log.last_milestone(incident, stamp)
    if topic.endswith(topics.ALERTS):
        return log.at(incident, body.get("at_ts"), stamp, any_incident=True)
    return log.at(incident, body.get("sent_ts"), stamp)


def latency_level(bootstrap: str, prefix: str, messages: list[kb.Message], rate: float,
                  worker: WorkerProcess, tail_s: float, timeout_s: float, pids: dict[str, int]
                  ) -> dict[str, Any]:
    """p50/p99 of produce -> output at one rate, and what the worker's CPU cost per event was
    at that rate (`pids`: the worker's, as "worker", and the broker's).

    The outputs are read once the worker has caught up with the level's events, then `tail_s`
    later (the last batches): a worker that falls behind is timed on all it produces, not on
    what came before a fixed wait. `catch_up_s` is how long that took after the last send."""
    offsets = kb.Offsets(bootstrap)
    feed = feed_topics(prefix, worker.app_id)[0]
    try:
        start = offsets.end([prefix + name for name in OUTPUTS] + [feed])
        with kb.CpuSampler(pids) as cpu:
            started_ms = time.time() * 1000
            log, achieved = send_paced(bootstrap, prefix, messages, rate)
            last_sent = time.monotonic()
            wait_caught_up(offsets, prefix, worker.app_id, [worker], timeout_s)
            catch_up_s = time.monotonic() - last_sent
            time.sleep(tail_s)
            ended_ms = time.time() * 1000
        records = offsets.read_from(start)
    finally:
        offsets.close()
    forwarded = _forwarded(records, feed)
    records = [record for record in records if record[0] != feed]
    by_kind: dict[str, list[float]] = {name: [] for name in OUTPUTS}
    by_second: dict[int, list[float]] = defaultdict(list)  # by when the cause was due
    by_hop: dict[str, list[float]] = {"to_incident_feed": [], "incident_feed_to_output": []}
    slowest: list[tuple[float, dict[str, Any]]] = []
    unmatched = 0
    for topic, stamp, value in records:
        body = orjson.loads(value)
        due = _cause(topic, body, log, stamp)
        if due is None:
            unmatched += 1
            continue
        by_kind[topic.removeprefix(prefix)].append(stamp - due)
        by_second[int((due - started_ms) // 1000)].append(stamp - due)
        slowest.append((stamp - due, _described(topic.removeprefix(prefix), body)))
        hop = _first_hop(topic, body, forwarded)
        if hop is not None:
            by_hop["to_incident_feed"].append(hop - due)
            by_hop["incident_feed_to_output"].append(stamp - hop)
    every = [x for values in by_kind.values() for x in values]
    slowest.sort(key=lambda item: -item[0])
    return {"rate_asked": rate, "rate_achieved": achieved, "events": len(messages),
            "catch_up_s": catch_up_s, "outputs": len(records), "unmatched": unmatched,
            **percentiles(every),
            # the send until caught up, and the tail: everything these events cost the worker
            **cpu.shares([started_ms, ended_ms], len(messages), ["worker"]),
            "by_output": {name: percentiles(values) for name, values in by_kind.items()},
            "by_second": [{"second": second, **percentiles(values)}
                          for second, values in sorted(by_second.items())],
            "by_hop": {name: percentiles(values) for name, values in by_hop.items()},
            "slowest": [{"ms": ms, **what} for ms, what in slowest[:SLOWEST_KEPT]]}


def _forwarded(records: list[tuple[str, int, bytes]], feed: str
               ) -> dict[tuple[str | None, int], int]:
    """When each event the worker forwarded to its incident feed got there (the record's
    timestamp), by (incident, event time in ms): a unit's status goes through the unit side
    first, so an interval ending on it takes two hops, input -> feed -> output."""
    found: dict[tuple[str | None, int], int] = {}
    for topic, stamp, value in records:
        if topic == feed:
            item = feeds.decode(value)
            if isinstance(item, ev.Event):
                found.setdefault((item.incident_id, kb.event_ms(item.ts)), stamp)
    return found


def _first_hop(topic: str, body: dict[str, Any], forwarded: dict[tuple[str | None, int], int]
               ) -> int | None:
    """When the event an interval (revision 1) ends on reached the incident feed; None for
    other outputs, and for intervals ending on an event the incident side reads itself."""
    if not topic.endswith(topics.INTERVALS) or body.get("revision", 1) != 1:
        return None
    end_ms = kb.event_ms(ev.parse_timestamp(body["end_ts"]))
    return forwarded.get((body.get("incident_id"), end_ms))


def _described(topic: str, body: dict[str, Any]) -> dict[str, Any]:
    """What an output was, for the list of the slowest (synthetic data: ids are kept)."""
    fields = ("incident_id", "interval", "revision", "kind", "state", "sequence", "reason",
              "end_ts", "at_ts", "sent_ts")
    return {"topic": topic, **{name: body[name] for name in fields if name in body}}


def _ms(value: float | None) -> str:
    return "none" if value is None else f"{value:,.1f} ms"


def percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    array = np.asarray(values)
    return {"count": len(values), "p50_ms": float(np.percentile(array, 50)),
            "p99_ms": float(np.percentile(array, 99)), "max_ms": float(array.max())}


# --- the run ----------------------------------------------------------------------------------


def profile_top(path: Path, top: int = 20) -> dict[str, list[dict[str, Any]]]:
    """Top functions by own time, and pathwatch's own functions by cumulative time."""
    stats = pstats.Stats(str(path))
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values())

    def rows(items: list[Any]) -> list[dict[str, Any]]:
        return [{"function": f"{Path(file).parent.name}/{Path(file).name}:{line}({name})",
                 "calls": calls, "self_share": self_s / total, "cumulative_share": cum_s / total}
                for (file, line, name), (_, calls, self_s, cum_s, _) in items]

    ours = [kv for kv in table.items()
            if any(f"/{package}/" in kv[0][0] for package in ("streams", "pathways", "geo"))]
    return {"by_self_time": rows(sorted(table.items(), key=lambda kv: -kv[1][2])[:top]),
            "pathwatch_by_cumulative": rows(sorted(ours, key=lambda kv: -kv[1][3])[:top])}


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    profile = folder / "worker.prof" if args.profile_worker else None
    total = args.events + args.latency_events
    lines = workload.read_lines(workload.city_stream(total))
    messages = kb.messages_of(lines)
    run_id = f"bench{int(time.time())}"
    prefix = f"{run_id}."
    result: dict[str, Any] = {"events": args.events, "partitions": topics.DEFAULT_PARTITIONS,
                              "gps_share": workload.type_mix(lines[:args.events])["gps.fix"]
                              / args.events, "quick": args.quick}
    with kafka(args.bootstrap, folder) as cluster:
        bootstrap = cluster.bootstrap
        topics.create_topics(bootstrap, prefix=prefix)
        result["produce_events_per_s"] = kb.produce_all(bootstrap, prefix,
                                                        messages[:args.events])
        result["idle_penalty"] = workload.idle_penalty(lines[:IDLE_PENALTY_EVENTS])
        step("broker warm-up", lambda: result.update(warm_up=warm_broker(
            cluster, prefix, f"{run_id}-warm", args.events, folder, args.timeout)))
        step("raw passthrough", lambda: result.update(raw=passthrough(
            cluster, prefix, args.events)))

        def faust_alone(mode: str) -> None:
            result[f"faust_{mode}"] = faust_passthrough.measure(
                bootstrap, prefix, mode, args.events, folder, args.timeout, cluster.broker_pid)

        for mode in faust_passthrough.MODES:
            step(f"Faust {mode}", partial(faust_alone, mode))
        one, first_workers = worker_throughput(cluster, prefix, f"{run_id}-w1", 1,
                                               args.events, folder, args.timeout, profile)
        result["one_worker"] = one
        print(f"one worker: {one['events_per_s']:,.0f} events/s")
        if profile is not None:
            first_workers[0].stop()
            result["worker_profile"] = profile_top(profile)
            for title, table in result["worker_profile"].items():
                print(f"worker profile, {title.replace('_', ' ')}:")
                for row in table:
                    print(f"  {row['self_share']:>6.1%} self {row['cumulative_share']:>6.1%} "
                          f"cum  {row['calls']:>10,}  {row['function']}")
            return result
        try:
            if not args.no_scaling:
                two, pair = worker_throughput(cluster, prefix, f"{run_id}-w2", 2,
                                              args.events, folder, args.timeout)
                for worker in pair:
                    worker.stop()
                result["two_workers"] = two
                split = " / ".join(f"{c:.2f}" for c in two["worker_cpu_seconds"])
                print(f"two workers: {two['events_per_s']:,.0f} events/s "
                      f"(CPU of each, start-up included: {split} s)")
            result["latency"] = latency_levels(
                args, bootstrap, prefix, messages[args.events:], one["events_per_s"],
                first_workers[0], cluster.pids(worker=first_workers[0].pid))
        finally:
            for worker in first_workers:
                worker.stop()
    return result


def latency_levels(args: argparse.Namespace, bootstrap: str, prefix: str,
                   messages: list[kb.Message], rate: float, worker: WorkerProcess,
                   pids: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    budget = len(messages) / sum(LEVELS)  # events per unit of level, so all levels fit
    position = 0
    for level in LEVELS:
        asked = rate * level
        count = int(min(asked * args.level_seconds, budget * level))
        part = messages[position:position + count]
        position += count
        out[f"{round(level * 100)}%"] = measured = latency_level(
            bootstrap, prefix, part, asked, worker, args.tail_seconds, args.timeout, pids)
        print(f"latency at {level:.0%}: {measured['rate_achieved']:,.0f} events/s sent, "
              f"p50 {_ms(measured['p50_ms'])}, p99 {_ms(measured['p99_ms'])} "
              f"({measured['count']} outputs), worker CPU {measured['cpu_us_per_event']:,.0f} "
              f"us/event, caught up {measured['catch_up_s']:.1f} s after the last send")
        print("  p99 (ms) by second of the send: "
              + " ".join(f"{row['p99_ms']:.0f}" for row in measured["by_second"]))
        hops = measured["by_hop"]
        print(f"  intervals ending on a unit's status ({hops['to_incident_feed']['count']}): "
              f"input -> incident feed p50 {_ms(hops['to_incident_feed']['p50_ms'])}, p99 "
              f"{_ms(hops['to_incident_feed']['p99_ms'])}; incident feed -> output p50 "
              f"{_ms(hops['incident_feed_to_output']['p50_ms'])}, p99 "
              f"{_ms(hops['incident_feed_to_output']['p99_ms'])}")
    return out


def step(label: str, action: Callable[[], None]) -> None:
    started = time.perf_counter()
    action()
    print(f"{label}: done in {time.perf_counter() - started:.0f} s")


def report(result: dict[str, Any]) -> None:
    raw, one = result["raw"], result["one_worker"]
    print(f"city stream: {result['events']:,} events, {result['gps_share']:.1%} gps.fix; "
          f"produced at {result['produce_events_per_s']:,.0f} events/s")
    print(f"{'raw aiokafka passthrough (the limit)':<44s} {raw['events_per_s']:>12,.1f} ev/s")
    for mode, label in (("read", "Faust, an agent that only reads"),
                        ("forward", "Faust passthrough (an agent that forwards)")):
        if f"faust_{mode}" in result:
            faust = result[f"faust_{mode}"]
            print(f"{label:<44s} {faust['events_per_s']:>12,.1f} ev/s     "
                  f"CPU per event {faust['cpu_us_per_event']:,.0f} us, "
                  f"{faust['events_per_s'] / raw['events_per_s']:.1%} of raw")
    if "warm_up" in result:
        print(f"{'the warm-up worker (cold broker, untimed)':<44s} "
              f"{result['warm_up']['events_per_s']:>12,.1f} ev/s")
    print(workload.ratio_line("one worker, sustained", one["events_per_s"], TARGET_EVENTS_PER_S,
                              "ev/s"))
    share = one["events_per_s"] / raw["events_per_s"]
    result["ratio_worker_to_raw"] = share
    print(workload.ratio_line("one worker / raw passthrough (%)", share * 100,
                              TARGET_SHARE_OF_RAW * 100, "%"))
    print(f"{'':44s} CPU per event: worker {one['cpu_us_per_event']:,.0f} us "
          f"({one['cpu_us_per_event_with_startup']:,.0f} with its start-up), "
          f"raw passthrough {raw['cpu_us_per_event']:,.0f} us "
          f"(ratio {raw['cpu_us_per_event'] / one['cpu_us_per_event']:.3f})")
    print_cpu_shares(result)
    if "faust_forward" in result:
        faust_share = one["events_per_s"] / result["faust_forward"]["events_per_s"]
        result["ratio_worker_to_faust_passthrough"] = faust_share
        print(f"{'one worker / Faust passthrough (%)':<44s} {faust_share * 100:>12,.1f} %")
    capacity = 1e6 / one["cpu_us_per_event"]
    result["one_worker_events_per_cpu_s"] = capacity
    print(workload.ratio_line("one worker, per CPU-second (contention-free)", capacity,
                              TARGET_EVENTS_PER_S, "ev/s"))
    if "two_workers" in result:
        scaling = result["two_workers"]["events_per_s"] / one["events_per_s"]
        result["ratio_two_to_one"] = scaling
        print(workload.ratio_line("two workers / one (x100)", scaling * 100,
                                  TARGET_SCALING * 100, ""))
    for level, measured in result.get("latency", {}).items():
        if measured["p99_ms"] is None:
            print(f"latency at {level}: no outputs matched")
            continue
        label = f"p99 produce->output at {level} (ms)"
        print(workload.ratio_line(label, measured["p99_ms"], TARGET_P99_MS, "ms",
                                  higher_is_better=False)
              + f"  p50 {measured['p50_ms']:.0f} ms, {measured['count']} outputs, caught up "
              f"{measured['catch_up_s']:.1f} s after the last send")
    print_paced_cost(result)


def print_cpu_shares(result: dict[str, Any]) -> None:
    """Where the machine's CPU went in each measured window: what bounds the throughput."""
    phases = (("raw", "raw passthrough"), ("faust_read", "Faust read"),
              ("faust_forward", "Faust forward"), ("one_worker", "one worker"),
              ("two_workers", "two workers"))
    print(f"{'CPU per event in each window':<44s} {'reader':>8s} {'broker':>8s}   "
          f"machine busy / stolen by the host (of {os.cpu_count()} cores)")
    for key, label in phases:
        if key in result:
            phase = result[key]
            reader = phase.get("cpu_us_per_event")
            broker = phase.get("broker_cpu_us_per_event")
            print(f"  {label:<42s} {reader or 0:>6,.0f}us {broker or 0:>6,.0f}us   "
                  f"{phase['machine_busy_share']:.0%} / {phase['machine_stolen_share']:.0%}")


def print_paced_cost(result: dict[str, Any]) -> None:
    """The worker's CPU per event at each latency level against the backlog's. Input arriving
    at a rate wakes the worker every few events (small fetches; and on some machines code that
    runs after a sleep costs several times more, `workload.idle_penalty`), so a level's load on
    the worker is its rate times its own cost, not the backlog's."""
    levels = result.get("latency", {})
    if not levels:
        return
    backlog = result["one_worker"]["cpu_us_per_event"]
    print(f"{'worker CPU per event, paced (backlog ' + f'{backlog:,.0f} us)':<44s} "
          f"{'per event':>9s} {'x backlog':>9s} {'core used':>9s} {'paced capacity':>15s}")
    for level, measured in levels.items():
        cost = measured["cpu_us_per_event"]
        used = cost * measured["rate_achieved"] / 1e6
        measured["cost_vs_backlog"] = cost / backlog
        measured["paced_capacity_events_per_s"] = 1e6 / cost
        print(f"  at {level:<40s} {cost:>7,.0f}us {cost / backlog:>8.2f}x {used:>9.0%} "
              f"{1e6 / cost:>10,.0f} ev/s")
    idle = result.get("idle_penalty")
    if idle:
        print(f"{'this machine, one decode: back to back':<44s} {idle['hot_us']:>7.1f}us; after "
              f"{idle['gap_ms']:.0f} ms idle {idle['after_idle_us']:.1f}us "
              f"({idle['ratio']:.1f}x the same code)")


def result_name(args: argparse.Namespace) -> str:
    """A profiled run's figures are not the benchmark's (cProfile slows the worker ~2x):
    they go to their own file, not over the latest figures."""
    if args.profile_worker:
        return "e2e-profile"
    return "e2e-quick" if args.quick else "e2e"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (~2 min on 2 cores)")
    parser.add_argument("--events", type=int, default=None,
                        help="events of the throughput runs (default 100000, quick 15000)")
    parser.add_argument("--latency-events", type=int, default=None,
                        help="events available to the three latency levels "
                             "(default 100000, quick 15000)")
    parser.add_argument("--level-seconds", type=float, default=None,
                        help="seconds per latency level (default 30, quick 8)")
    parser.add_argument("--tail-seconds", type=float, default=1.0,
                        help="wait after the worker caught up with a latency level")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--no-scaling", action="store_true", help="skip the two-worker run")
    parser.add_argument("--profile-worker", action="store_true",
                        help="run the one-worker phase under cProfile, print its top functions "
                             "and stop there")
    parser.add_argument("--bootstrap", default=None, help="use this Kafka instead of a new one")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.events = args.events or (15_000 if args.quick else 100_000)
    args.latency_events = args.latency_events or (15_000 if args.quick else 100_000)
    args.level_seconds = args.level_seconds or (8.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory(prefix="pathwatch-bench-") as folder:
        result = run(args, Path(folder))
    report(result)
    workload.write_result(result_name(args), result, args.out)


if __name__ == "__main__":
    main()
