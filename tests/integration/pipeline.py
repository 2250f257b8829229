"""Helpers of the pipeline integration tests: a `pathwatch worker` subprocess, a producer,
and readers of the output topics. Every test uses its own topic prefix and app id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from streams import topics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MAX_REQUEST = topics.MAX_MESSAGE_BYTES
TEST_TOKENS = '{"wall": "wall-token-for-tests-only", "hospitals": {}}'


def ensure_topics(bootstrap: str, prefix: str) -> None:
    topics.create_topics(settings=Settings().with_bootstrap(bootstrap), prefix=prefix)


@dataclass
class Worker:
    """`pathwatch worker` as a subprocess (so it can be SIGKILLed like a real one)."""

    bootstrap: str
    app_id: str
    prefix: str
    datadir: Path
    clock: str = "watermark"
    extra: tuple[str, ...] = ()
    web_port: int | None = None  # None: no web server
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.datadir / f"{self.app_id}-{id(self)}.log"

    def start(self) -> Worker:
        self.datadir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable, "-m", "streams.cli", "worker",
            "--bootstrap", self.bootstrap, "--app-id", self.app_id,
            "--topic-prefix", self.prefix, "--clock", self.clock,
            *(["--no-web"] if self.web_port is None else ["--web-port", str(self.web_port)]),
            "--sweep-interval", "0.5", "--datadir", str(self.datadir / "faust"),
            *self.extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PATHWATCH_TOKENS": TEST_TOKENS}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)
        return self

    def wait_ready(self, timeout: float = 40.0) -> Worker:
        """Until the worker has its partitions and tables (Faust logs `Worker]: Ready`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Worker]: Ready" in self.log_text():
                return self
            if not self.alive():
                raise AssertionError("worker died:\n" + self.log_text()[-3000:])
            time.sleep(0.2)
        raise AssertionError("worker not ready:\n" + self.log_text()[-3000:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> str:
        """The worker's Prometheus page."""
        import urllib.request

        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, max_request_size=MAX_REQUEST, linger_ms=5,
                         acks="all")


def produce_events(prod: KafkaProducer, prefix: str, events: Iterable[ev.Event]) -> None:
    """Each event to its contract topic, keyed as the contract says."""
    for event in events:
        topic = ev.TOPIC_OF_TYPE[event.TYPE]
        key = event.unit_id if topic in ("dispatch.units", "dispatch.gps") else event.incident_id
        if topic == "hospital.status":
            key = event.hospital_id
        prod.send(prefix + topic, key=(key or "").encode(), value=ev.dumps(event))
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
        parts = []
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
                raise AssertionError("worker died:\n" + worker.log_text()[-3000:])
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
