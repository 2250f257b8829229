"""Kafka plumbing of the end-to-end benchmark: the city stream as messages, a fast producer,
a `pathwatch worker` subprocess, consumer-group lag, and the timestamps of records."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from streams import topics

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str  # without the run's prefix
    key: bytes
    value: bytes
    incident_id: str | None
    event_ms: int  # event time, ms since the epoch (to match outputs to their cause)


def messages_of(lines: Iterable[bytes]) -> list[Message]:
    """Each line as the message a producer sends: the contract's topic and key."""
    out = []
    for line in lines:
        event = ev.parse(line)
        if isinstance(event, ev.ParseError):
            raise ValueError(f"the city stream holds an invalid event: {event}")
        topic = ev.TOPIC_OF_TYPE[event.TYPE]
        if topic in (topics.UNITS, topics.GPS):
            key = event.unit_id
        elif topic == topics.HOSPITAL_STATUS:
            key = event.hospital_id
        else:
            key = event.incident_id
        out.append(Message(topic, (key or "").encode(), line, event.incident_id,
                           round(event.ts.timestamp() * 1000)))
    return out


def producer(bootstrap: str, linger_ms: int = 10) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=linger_ms,
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
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="pathwatch-bench")


def partitions_of(consumer: KafkaConsumer, names: Iterable[str]) -> list[TopicPartition]:
    found = []
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
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
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

    def first_ts(self, names: Iterable[str]) -> int | None:
        """Timestamp of the earliest first record of the topics' partitions."""
        beginnings = self.consumer.beginning_offsets(partitions_of(self.consumer, names))
        ends = self.end(names)
        stamps = self.timestamps({tp: off for tp, off in beginnings.items() if ends[tp] > off})
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


@dataclass
class Worker:
    """`pathwatch worker` as a subprocess, with the event-time clock (the stream is historical)."""

    bootstrap: str
    app_id: str
    prefix: str
    datadir: Path
    sweep_interval_s: float = 1.0
    profile: Path | None = None  # run under cProfile, stats written here at exit
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.datadir / f"{self.app_id}-{id(self)}.log"

    def start(self) -> Worker:
        self.datadir.mkdir(parents=True, exist_ok=True)
        profiler = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        args = [sys.executable, *profiler, "-m", "streams.cli", "worker",
                "--bootstrap", self.bootstrap, "--app-id", self.app_id,
                "--topic-prefix", self.prefix, "--no-web",
                "--clock", "watermark", "--sweep-interval", str(self.sweep_interval_s),
                "--datadir", str(self.datadir / f"faust-{id(self)}"), "--log-level", "warning"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent())
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker process so far (from /proc)."""
        if not self.alive():
            return 0.0
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _die_with_parent() -> Callable[[], None]:
    """A killed benchmark must not leave workers behind: SIGTERM them when it dies."""
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl

    def child() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG

    return child
