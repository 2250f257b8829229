"""Shared pieces of the reliability suite: the city scenario, its fault-free reference, the
output invariants and the figures written to RELIABILITY.md.

The reference is the worker's own agents run in memory (tests/streams/harness.py): the same
desks the Faust worker drives, with no Kafka, no crash and every message in order.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from geo.regions import load_region
from pathways import events as ev
from simulators.city import generate
from simulators.scenario import load_scenario
from tests.integration.pipeline import Message
from tests.streams.harness import MemoryPipeline, run

CST = timezone(timedelta(hours=8))
CITY_START = datetime(2026, 11, 24, 8, 0, tzinfo=CST)
# Figures of each run are appended here (one JSON object per line) for RELIABILITY.md.
FIGURES = Path(os.environ.get("PATHWATCH_RELIABILITY_FIGURES", "/tmp/pathwatch-reliability.jsonl"))


def city_events(seed: int, minutes: float, calls_per_hour: float = 60.0) -> list[ev.Event]:
    """The synthetic city (demo region), every call run to completion, in event-time order."""
    from dataclasses import replace

    scenario = replace(load_scenario(None), calls_per_hour=calls_per_hour)
    return list(generate(load_region("demo"), scenario, seed, CITY_START,
                         timedelta(minutes=minutes), True))


@dataclass(frozen=True)
class Reference:
    intervals: dict[tuple[str, str], dict[str, Any]]  # final content per (incident, interval)
    lifecycle: set[tuple[str, str, str]]  # (incident, hospital, state) for new/arrived/cancelled


def reference(events: Iterable[ev.Event]) -> Reference:
    """The fault-free run: the worker's agents in memory, one message at a time, in order."""
    pipe = MemoryPipeline()

    async def go() -> None:
        await pipe.send(events)
        await pipe.finish()

    run(go())
    intervals = final_intervals(_plain(r) for r in pipe.sink.intervals)
    prealerts = [_plain(p) for p in pipe.sink.prealerts]
    return Reference(intervals, lifecycle_states(prealerts))


def _plain(value: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(_bytes_of(value))
    return plain


def _bytes_of(value: Any) -> bytes:
    from pathways.outputs import IntervalRecord
    from streams.sinks import interval_bytes, prealert_bytes

    return interval_bytes(value) if isinstance(value, IntervalRecord) else prealert_bytes(value)


def final_intervals(bodies: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Latest revision per (incident, interval), without the revision number itself (it counts
    the history, which redelivery may legitimately lengthen); a withdrawn interval is absent."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for body in bodies:
        key = (body["incident_id"], body["interval"])
        if key not in latest or body["revision"] > latest[key]["revision"]:
            latest[key] = body
    return {
        key: {k: v for k, v in body.items() if k != "revision"}
        for key, body in latest.items()
        if "withdrawn" not in body.get("quality_flags", ())
    }


def lifecycle_states(prealerts: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (p["incident_id"], p["hospital_id"], p["state"])
        for p in prealerts
        if p["state"] in ("new", "arrived", "cancelled")
    }


def lifecycle_violations(prealerts: list[dict[str, Any]]) -> list[str]:
    """Broken pre-alert lifecycles: two different `new` for one incident and hospital, an
    `arrived` or `cancelled` with no `new`, or one lifecycle step with two contents.

    An exact redelivery (same id, sequence and content) is not a violation: it is counted
    as a duplicate instead."""
    problems: list[str] = []
    steps: dict[tuple[str, str, int], str] = {}
    for p in prealerts:
        step = (p["incident_id"], p["hospital_id"], p["sequence"])
        text = json.dumps(p, sort_keys=True)
        if steps.setdefault(step, text) != text:
            problems.append(f"step {step} sent with two contents")
    news = Counter((i, h) for (i, h, _), text in steps.items() if '"state": "new"' in text)
    problems += [f"`new` {n} times for {pair}" for pair, n in news.items() if n > 1]
    for (incident, hospital, _), text in steps.items():
        for end in ("arrived", "cancelled"):
            if f'"state": "{end}"' in text and (incident, hospital) not in news:
                problems.append(f"`{end}` without `new` for {(incident, hospital)}")
    return problems


def exact_duplicates(messages: Iterable[Message]) -> int:
    """Messages whose bytes were already seen on the same topic (redelivered outputs)."""
    seen = Counter((m.topic, m.value) for m in messages)
    return sum(n - 1 for n in seen.values())


def conflicting_revisions(bodies: Iterable[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(incident, interval, revision) sent with two different contents: a real duplicate bug."""
    seen: dict[tuple[str, str, int], str] = {}
    bad = []
    for body in bodies:
        key = (body["incident_id"], body["interval"], body["revision"])
        text = json.dumps(body, sort_keys=True)
        if seen.setdefault(key, text) != text:
            bad.append(key)
    return bad


def diff_intervals(
    got: dict[tuple[str, str], dict[str, Any]], want: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Any]:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    return {"missing": missing, "extra": extra, "changed": changed,
            "example": [(want.get(k), got.get(k)) for k in (missing + extra + changed)[:2]]}


def record_figures(test: str, **figures: Any) -> None:
    """Append this run's measured figures (RELIABILITY.md quotes them)."""
    line = {"test": test, **figures}
    print(f"\nRELIABILITY {json.dumps(line)}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(json.dumps(line) + "\n")


class PacedProducer:
    """Produces events in a background thread, `speed` times faster than their event time,
    like a live feed; `done` is set when the last one is flushed."""

    def __init__(self, bootstrap: str, prefix: str, events: list[ev.Event], speed: float,
                 fast_after_s: float | None = None, fast_speed: float = 600.0) -> None:
        """After `fast_after_s` of event time the feed runs at `fast_speed` (the quiet tail of
        a scenario whose incidents are run to completion)."""
        import threading

        self.bootstrap, self.prefix, self.events, self.speed = bootstrap, prefix, events, speed
        self.fast_after_s, self.fast_speed = fast_after_s, fast_speed
        self.done = threading.Event()
        self.sent = 0
        self.sent_at: dict[str, float] = {}  # event_id -> time.monotonic() when sent
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PacedProducer:
        self._thread.start()
        return self

    def _run(self) -> None:
        import time

        from tests.integration.pipeline import producer

        try:
            prod = producer(self.bootstrap)
            first, started = self.events[0].ts, time.monotonic()
            for event in self.events:
                due = started + self.wall_offset((event.ts - first).total_seconds())
                if due > time.monotonic():  # the producer batches by itself (linger_ms)
                    time.sleep(max(0.0, due - time.monotonic()))
                _send(prod, self.prefix, event)
                self.sent_at[event.event_id] = time.monotonic()
                self.sent += 1
            prod.flush()
            prod.close()
        except BaseException as exc:  # reported by join()
            self.error = exc
        finally:
            self.done.set()

    def wall_offset(self, event_offset_s: float) -> float:
        """Seconds after the start of the feed at which an event this far in is sent."""
        slow = event_offset_s if self.fast_after_s is None else min(event_offset_s,
                                                                    self.fast_after_s)
        return slow / self.speed + (event_offset_s - slow) / self.fast_speed

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the producer did not finish"
        assert self.error is None, f"the producer failed: {self.error!r}"


def _send(prod: Any, prefix: str, event: ev.Event) -> None:
    from simulators.sinks import message_of

    message = message_of(event)
    prod.send(prefix + message.topic, key=(message.key or "").encode(), value=message.value)


def end_offsets(reader: Any, names: Iterable[str]) -> int:
    """Messages ever written to these topics (sum of their partitions' end offsets)."""
    from kafka import TopicPartition

    parts = [TopicPartition(name, p) for name in names
             for p in reader.consumer.partitions_for_topic(name) or ()]
    return sum(reader.consumer.end_offsets(parts).values())


class CatchUp:
    """When (time.monotonic()) a consumer group had committed every message the topics held
    at construction: the end of a restarted worker's catch-up (commits trail processing by up
    to Faust's commit interval, so this errs late, never early). Polled in a thread."""

    def __init__(self, bootstrap: str, group: str, names: Iterable[str]) -> None:
        import threading

        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        try:
            parts = [TopicPartition(name, p) for name in names
                     for p in consumer.partitions_for_topic(name) or ()]
            self._ends = consumer.end_offsets(parts)
        finally:
            consumer.close()
        self._bootstrap, self._group = bootstrap, group
        self._found: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import time

        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self._bootstrap)
        try:
            while not self._stop.is_set():
                found = admin.list_group_offsets(self._group).get(self._group, {})
                done = {tp: meta.offset for tp, meta in found.items()}
                if all(done.get(tp, -1) >= end for tp, end in self._ends.items() if end > 0):
                    self._found = time.monotonic()
                    return
                self._stop.wait(0.5)
        finally:
            admin.close()

    def at(self, timeout_s: float) -> float:
        self._thread.join(timeout_s)
        self._stop.set()
        if self._found is None:
            raise AssertionError(f"group {self._group} did not catch up within {timeout_s} s")
        return self._found
