"""Kafka plumbing of the end-to-end benchmark: the city stream as messages, a fast producer,
consumer-group lag, the timestamps of records, and CPU seconds of processes over a window of
record timestamps (the worker subprocess is `streams.worker_process.WorkerProcess`)."""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import workload
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from simulators.sinks import partition_key
from streams import topics
from streams.settings import Settings
from streams.worker_process import process_cpu_seconds


@dataclass(frozen=True, slots=True)
class Message:
    topic: str  # without the run's prefix
    key: bytes
    value: bytes
    incident_id: str | None
    event_ms: int  # event time, ms since the epoch (to match outputs to their cause)


def event_ms(moment: datetime) -> int:
    """An event time as `Message.event_ms`: what an output's time fields are matched on."""
    return round(moment.timestamp() * 1000)


def messages_of(lines: Iterable[bytes]) -> list[Message]:
    """Each line as the message a producer sends: the contract's topic and key."""
    out = []
    for line in lines:
        event = ev.parse(line)
        if isinstance(event, ev.ParseError):
            raise ValueError(f"the city stream holds an invalid event: {event}")
        out.append(Message(ev.TOPIC_OF_TYPE[event.TYPE], (partition_key(event) or "").encode(),
                           line, event.incident_id, event_ms(event.ts)))
    return out


def settings(bootstrap: str) -> Settings:
    """The environment's Kafka settings (security included) with the bench's bootstrap."""
    return Settings.from_env().with_bootstrap(bootstrap)


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(**settings(bootstrap).kafka_client_kwargs(), acks=1, linger_ms=10,
                         batch_size=512 * 1024, max_request_size=topics.MAX_MESSAGE_BYTES)


def produce_all(bootstrap: str, prefix: str, messages: list[Message]) -> float:
    """Send every message as fast as the client goes; returns messages per second."""
    prod = producer(bootstrap)
    started = time.perf_counter()
    for m in messages:
        prod.send(prefix + m.topic, key=m.key, value=m.value)
    prod.flush()
    rate = len(messages) / (time.perf_counter() - started)
    prod.close()
    return rate


def admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(**settings(bootstrap).kafka_client_kwargs(),
                            client_id="pathwatch-bench")


def partitions_of(consumer: KafkaConsumer, names: Iterable[str]) -> list[TopicPartition]:
    found: list[TopicPartition] = []
    for name in names:
        for _ in range(50):
            parts = consumer.partitions_for_topic(name)
            if parts:
                break
            time.sleep(0.1)
        found.extend(TopicPartition(name, p) for p in sorted(parts or ()))
    return found


class Offsets:
    """End offsets, committed offsets of a group, and record timestamps at given offsets."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = KafkaConsumer(**settings(bootstrap).kafka_client_kwargs(), group_id=None,
                                      enable_auto_commit=False,
                                      max_partition_fetch_bytes=topics.MAX_MESSAGE_BYTES * 2)
        self.admin = admin(bootstrap)

    def end(self, names: Iterable[str]) -> dict[TopicPartition, int]:
        return dict(self.consumer.end_offsets(partitions_of(self.consumer, names)))

    def committed(self, group: str) -> dict[TopicPartition, int]:
        found = self.admin.list_group_offsets(group).get(group, {})
        return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}

    def lag(self, group: str, names: Iterable[str]) -> int:
        ends = self.end(names)
        done = self.committed(group)
        return sum(end - done.get(tp, 0) for tp, end in ends.items())

    def timestamps(self, where: dict[TopicPartition, int]) -> list[int]:
        """Kafka timestamps (ms) of the record at each (partition, offset) given."""
        wanted = {tp: off for tp, off in where.items() if off >= 0}
        if not wanted:
            return []
        self.consumer.assign(list(wanted))
        for tp, off in wanted.items():
            self.consumer.seek(tp, off)
        found: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + 20
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for tp, records in self.consumer.poll(timeout_ms=500, max_records=10).items():
                if tp not in found and records:
                    found[tp] = records[0].timestamp
                    self.consumer.pause(tp)
        self.consumer.resume(*wanted)
        return list(found.values())

    def first_ts(self, names: Iterable[str], skip_key: bytes | None = None) -> int | None:
        """Timestamp of the earliest first record of the topics' partitions (the first whose
        key is not `skip_key`)."""
        beginnings = self.consumer.beginning_offsets(partitions_of(self.consumer, names))
        if skip_key is None:
            return self.first_ts_after(beginnings)
        ends = self.end(names)
        stamps = [ts for tp, off in beginnings.items() if ends[tp] > off
                  if (ts := self._first_without(tp, off, ends[tp], skip_key)) is not None]
        return min(stamps) if stamps else None

    def _first_without(self, tp: TopicPartition, start: int, end: int, key: bytes) -> int | None:
        self.consumer.assign([tp])
        self.consumer.seek(tp, start)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.consumer.position(tp) < end:
            for record in self.consumer.poll(timeout_ms=500, max_records=200).get(tp, []):
                if record.key != key:
                    return int(record.timestamp)
        return None

    def first_ts_after(self, before: dict[TopicPartition, int]) -> int | None:
        """Timestamp of the earliest record written after `before` (end offsets read earlier)."""
        ends = self.end({tp.topic for tp in before})
        stamps = self.timestamps({tp: off for tp, off in before.items() if ends[tp] > off})
        return min(stamps) if stamps else None

    def last_ts(self, names: Iterable[str]) -> int | None:
        """Timestamp of the latest last record of the topics' partitions."""
        stamps = self.timestamps({tp: end - 1 for tp, end in self.end(names).items()})
        return max(stamps) if stamps else None

    def read_from(self, start: dict[TopicPartition, int], idle_s: float = 2.0
                  ) -> list[tuple[str, int, bytes]]:
        """(topic, timestamp, value) of every record from `start` up to now's end offsets."""
        ends = self.consumer.end_offsets(list(start))
        wanted = {tp: off for tp, off in start.items() if ends[tp] > off}
        out: list[tuple[str, int, bytes]] = []
        if not wanted:
            return out
        self.consumer.assign(list(wanted))
        for tp, off in wanted.items():
            self.consumer.seek(tp, off)
        remaining = {tp: ends[tp] for tp in wanted}
        last_progress = time.monotonic()
        while remaining and time.monotonic() - last_progress < idle_s:
            for tp, records in self.consumer.poll(timeout_ms=300, max_records=5000).items():
                last_progress = time.monotonic()
                for r in records:
                    if r.offset < remaining.get(tp, -1):
                        out.append((tp.topic, r.timestamp, r.value))
                if records and records[-1].offset >= ends[tp] - 1:
                    remaining.pop(tp, None)
        return out

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()


def machine_cpu_s() -> tuple[float, float, float]:
    """(busy, stolen, total) CPU seconds of the whole machine so far, all cores
    (`workload.cpu_ticks`)."""
    ticks = os.sysconf("SC_CLK_TCK")
    busy, stolen, total = workload.cpu_ticks()
    return busy / ticks, stolen / ticks, total / ticks


class CpuSampler:
    """CPU seconds of some processes and of the machine, sampled every `every_s` (wall clock,
    ms, as Kafka record timestamps), so that the CPU of any window measured afterwards by
    record timestamps can be interpolated."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.2) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self._sample()

    def _sample(self) -> None:
        busy, stolen, total = machine_cpu_s()
        values = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.samples.append((time.time() * 1000, {**values, "machine busy": busy,
                                                  "machine stolen": stolen,
                                                  "machine total": total}))

    def at(self, ms: float) -> dict[str, float]:
        """Each value at wall time `ms`, interpolated between the samples around it."""
        times = [t for t, _ in self.samples]
        i = min(max(bisect.bisect_left(times, ms), 1), len(times) - 1)
        (t0, v0), (t1, v1) = self.samples[i - 1], self.samples[i]
        share = 0.0 if t1 == t0 else min(max((ms - t0) / (t1 - t0), 0.0), 1.0)
        return {k: v0[k] + (v1[k] - v0[k]) * share for k in v0}

    def between(self, start_ms: float, end_ms: float) -> dict[str, float]:
        """CPU seconds of each process and of the machine within the window."""
        first, last = self.at(start_ms), self.at(end_ms)
        return {k: last[k] - first[k] for k in first}

    def shares(self, window_ms: Sequence[float], events: int, processes: Sequence[str]
               ) -> dict[str, Any]:
        """Within a measured window: CPU per event of the named processes and of the broker,
        and the share of the machine's cores that was busy (whatever ran)."""
        spent = self.between(window_ms[0], window_ms[1])
        total = max(spent["machine total"], 1e-9)
        out: dict[str, Any] = {"machine_busy_share": spent["machine busy"] / total,
                               "machine_stolen_share": spent["machine stolen"] / total}
        if processes:
            out["cpu_us_per_event"] = sum(spent[name] for name in processes) / events * 1e6
        if "broker" in spent:
            out["broker_cpu_us_per_event"] = spent["broker"] / events * 1e6
        return out
