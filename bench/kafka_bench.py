"""Kafka plumbing of the end-to-end benchmark: the city stream as messages, a fast producer,
consumer-group lag, and the timestamps of records (the worker subprocess is
`streams.worker_process.WorkerProcess`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from simulators.sinks import partition_key
from streams import topics
from streams.settings import Settings


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
        out.append(Message(ev.TOPIC_OF_TYPE[event.TYPE], (partition_key(event) or "").encode(),
                           line, event.incident_id, round(event.ts.timestamp() * 1000)))
    return out


def settings(bootstrap: str) -> Settings:
    """The environment's Kafka settings (security included) with the bench's bootstrap."""
    return Settings.from_env().with_bootstrap(bootstrap)


def producer(bootstrap: str, linger_ms: int = 10) -> KafkaProducer:
    return KafkaProducer(**settings(bootstrap).kafka_client_kwargs(), acks=1, linger_ms=linger_ms,
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
