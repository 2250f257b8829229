"""The worker's agents without Kafka: the same desks, wired by in-memory queues.

Internal envelopes are encoded and decoded on the way, as on the real topics; partitions are
computed as the worker does. Each input message is processed to completion (all queues
drained) before the next, like a worker with no lag.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from geo.regions import load_region
from pathways import events as ev
from pathways.engine import Engine
from pathways.rulepack import load_pack
from streams import feeds
from streams.agents import Ingest
from streams.clock import Clock, PartitionClock, WatermarkClock
from streams.incident_agent import IncidentDesk
from streams.incident_record import Position
from streams.ingest import DeadLetterPolicy, Origin
from streams.sinks import ListSink
from streams.telemetry import NoTelemetry
from streams.unit_agent import UnitDesk

PARTITIONS = 6
_REGION = load_region()
_PACK = load_pack("cn")


@dataclass
class Recorder(NoTelemetry):
    deadletters: dict[str, int] = field(default_factory=dict)
    events: int = 0

    def count_deadletter(self, reason: str, topic: str) -> None:
        self.deadletters[reason] = self.deadletters.get(reason, 0) + 1

    def count_event(self, topic: str) -> None:
        self.events += 1


class _Queues:
    def __init__(self) -> None:
        self.incident: deque[tuple[int, bytes]] = deque()
        self.unit: deque[tuple[int, bytes]] = deque()

    async def to_incident(self, key: str, item: feeds.Envelope) -> None:
        self.incident.append((feeds.partition_of(key, PARTITIONS), feeds.encode(item)))

    async def to_every_incident_partition(self, key: str, item: feeds.Envelope) -> None:
        for partition in range(PARTITIONS):
            self.incident.append((partition, feeds.encode(item)))

    async def to_unit(self, key: str, item: feeds.Envelope) -> None:
        self.unit.append((feeds.partition_of(key, PARTITIONS), feeds.encode(item)))


class MemoryPipeline:
    def __init__(self, clock: Clock | None = None, lateness: timedelta = timedelta(0)) -> None:
        self.sink = ListSink()
        self.telemetry = Recorder()
        self.clock = clock or WatermarkClock()
        self.idle = False  # what the partition clock's idleness test sees
        self.queues = _Queues()
        # no lateness needed: in memory nothing overtakes anything
        self.time = PartitionClock(self.clock, lateness=lateness, monotonic=self._monotonic)
        self.ingest = Ingest(DeadLetterPolicy(), self.sink, self.telemetry, "", self.queues)
        self.units = UnitDesk(_REGION, self.clock, self.queues.to_incident)
        self.incidents = IncidentDesk(Engine(_PACK, _REGION.locate), _REGION, self.time,
                                      self.sink, self.telemetry, self.queues.to_unit, PARTITIONS)
        self.unit_table: dict[str, Any] = {}
        self.incident_table: dict[str, Any] = {}
        # the incident feed as a topic: (partition, message, its position), in offset order
        self.incident_feed: list[tuple[int, bytes, Position]] = []
        self._offset = 0
        self._wall = 0.0

    def _monotonic(self) -> float:
        return self._wall + (1e6 if self.idle else 0.0)

    async def send_raw(self, topic: str, raw: bytes | None, key: bytes | None = None) -> None:
        self._offset += 1
        await self.ingest.handle(raw, Origin(topic, 0, self._offset, key))
        await self.drain()

    async def send(self, events: Iterable[ev.Event]) -> None:
        for e in events:
            await self.send_raw(ev.TOPIC_OF_TYPE[e.TYPE], ev.dumps(e))

    async def tick(self) -> None:
        for partition in range(PARTITIONS):
            await self.incidents.handle(feeds.Tick(partition), partition, self.incident_table)
        await self.drain()

    async def drain(self) -> None:
        while self.queues.unit or self.queues.incident:
            while self.queues.unit:
                _, raw = self.queues.unit.popleft()
                await self.units.handle(feeds.decode(raw), self.unit_table)
            if self.queues.incident:
                partition, raw = self.queues.incident.popleft()
                position = (f"incident-feed:{partition}", len(self.incident_feed))
                self.incident_feed.append((partition, raw, position))
                await self.incidents.handle(feeds.decode(raw), partition, self.incident_table,
                                            position)

    async def read_incident_feed_again(self) -> None:
        """What a restarted worker does with input it had read but not committed: every
        incident feed message again, at its own offset (a redelivery, not a duplicate)."""
        for partition, raw, position in list(self.incident_feed):
            await self.incidents.handle(feeds.decode(raw), partition, self.incident_table,
                                        position)
            await self.drain()

    async def finish(self) -> None:
        """End of stream: partitions go idle and follow the worker's watermark."""
        self.idle = True
        await self.tick()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
