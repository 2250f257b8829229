"""Helpers of the pipeline integration tests: a `pathwatch worker` subprocess, a producer,
and readers of the output topics. Every test uses its own topic prefix and app id."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from simulators.sinks import messages_of
from streams import topics
from streams.settings import Settings
from streams.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
MAX_REQUEST = topics.MAX_MESSAGE_BYTES
TEST_TOKENS = '{"wall": "wall-token-for-tests-only", "hospitals": {}}'


def ensure_topics(bootstrap: str, prefix: str) -> None:
    topics.create_topics(settings=Settings().with_bootstrap(bootstrap), prefix=prefix)


@dataclass
class Worker(WorkerProcess):
    """`pathwatch worker` as a subprocess (so it can be SIGKILLed like a real one), with the
    tests' settings: sweeps every 0.5 s, screen tokens for its web server."""

    sweep_interval_s: float = 0.5
    env: dict[str, str] = field(default_factory=lambda: {"PATHWATCH_TOKENS": TEST_TOKENS})


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, max_request_size=MAX_REQUEST, linger_ms=5,
                         acks="all")


def produce_events(prod: KafkaProducer, prefix: str, events: Iterable[ev.Event]) -> None:
    """Each event to its contract topic, keyed as the contract says."""
    for message in messages_of(events):
        prod.send(prefix + message.topic, key=(message.key or "").encode(), value=message.value)
    prod.flush()


@dataclass
class Message:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    offset: int
    partition: int

    def json(self) -> Any:
        return orjson.loads(self.value)


class Reader:
    """Reads whole topics from the beginning, accumulating everything seen so far."""

    def __init__(self, bootstrap: str, names: Iterable[str]) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                      auto_offset_reset="earliest", enable_auto_commit=False,
                                      max_partition_fetch_bytes=MAX_REQUEST * 2,
                                      fetch_max_bytes=MAX_REQUEST * 8)
        self.names = list(names)
        self.messages: dict[str, list[Message]] = {name: [] for name in self.names}
        self._assigned = False

    def _assign(self) -> None:
        parts: list[TopicPartition] = []
        for name in self.names:
            found = self.consumer.partitions_for_topic(name) or set()
            if not found:
                return  # metadata not there yet: try again at the next poll
            parts.extend(TopicPartition(name, p) for p in found)
        if parts:
            self.consumer.assign(parts)
            self.consumer.seek_to_beginning()
            self._assigned = True

    def poll(self, seconds: float = 1.0) -> None:
        if not self._assigned:
            self._assign()
            if not self._assigned:
                time.sleep(seconds)
                return
        batch = self.consumer.poll(timeout_ms=int(seconds * 1000), max_records=5000)
        for tp, records in batch.items():
            for r in records:
                headers = {k: v for k, v in (r.headers or [])}
                self.messages[tp.topic].append(
                    Message(tp.topic, r.key, r.value, headers, r.offset, tp.partition)
                )

    def until(self, done: Callable[[Reader], bool], timeout: float, worker: Worker | None = None
              ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if done(self):
                return True
            if worker is not None and not worker.alive():
                raise AssertionError("worker died:\n" + worker.log_tail())
        return done(self)

    def close(self) -> None:
        self.consumer.close()


def latest_intervals(messages: Iterable[Message]) -> dict[tuple[str, str], dict[str, Any]]:
    """Final value per (incident, interval): the highest revision."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for m in messages:
        body = m.json()
        key = (body["incident_id"], body["interval"])
        if key not in out or body["revision"] > out[key]["revision"]:
            out[key] = body
    return out
