"""Agents, tables and the sweep timer of a worker; wiring only.

    dispatch.units, dispatch.gps (by unit_id) + unit feed --units--> incident feed
    dispatch.calls, clinical.events, hospital.events (by incident_id) + incident feed
        --incidents--> outputs, unit feed
    hospital.status --ingest--> incident feed, a copy to every partition
    timer --tick per partition--> incident feed (deadline sweeps run inside the agent, where
    the table may be written)

Each side reads the input topics keyed like its table, so input needs no extra hop; a message
keyed otherwise than the contract says is forwarded to its owner through the feed.
All agents have `concurrency=1`; at-least-once delivery is made exact by deduplicating on
`event_id` in the table records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from geo.regions import load_region
from pathways import events as ev
from pathways.engine import Engine
from pathways.prealerts import PreAlertRules
from pathways.quality import SourceClocks
from pathways.rulepack import load_pack
from streams import faust_consumer, feeds
from streams.clock import Clock, PartitionClock
from streams.feeds import Envelope
from streams.incident_agent import IncidentDesk
from streams.ingest import (
    DeadLetter,
    DeadLetterPolicy,
    Origin,
    decode,
    normalize_headers,
)
from streams.producer import DirectProducer
from streams.sinks import Sink
from streams.tables import TableWrites
from streams.telemetry import Telemetry
from streams.topics import INCIDENT_TABLE, MAX_MESSAGE_BYTES, UNIT_TABLE
from streams.unit_agent import UnitDesk

if TYPE_CHECKING:
    import faust

    from streams.app import Topics, WorkerOptions

log = logging.getLogger(__name__)
T = TypeVar("T")
_UNIT_TOPICS = frozenset({"dispatch.units", "dispatch.gps"})


@dataclass(slots=True)
class Ingest:
    """Decode one input message; dead-letter it or forward it to the side owning its state."""

    policy: DeadLetterPolicy
    sink: Sink
    telemetry: Telemetry
    topic_prefix: str
    feeds: Any  # object with async to_incident(key, item) and to_unit(key, item)
    # device clock skew against Kafka record times; None where the input is not live (replays,
    # accelerated simulations on the watermark clock): record time then says nothing of `ts`
    clocks: SourceClocks | None = None

    async def handle(self, raw: bytes | None, origin: Origin) -> ev.Event | DeadLetter:
        """Accept the message, then forward its event to the side that owns its state."""
        outcome = await self.accept(raw, origin)
        if isinstance(outcome, ev.Event):
            await self.route(outcome)
        return outcome

    async def accept(self, raw: bytes | None, origin: Origin) -> ev.Event | DeadLetter:
        """Decode and count the message; dead-letter it if it is bad."""
        topic = origin.topic.removeprefix(self.topic_prefix)
        outcome = decode(raw, origin)
        if isinstance(outcome, DeadLetter):
            self.telemetry.count_deadletter(str(outcome.reason), topic)
            log.warning("dead letter", extra={"event": "deadletter", "reason": str(outcome.reason),
                                              "topic": origin.topic, "partition": origin.partition,
                                              "offset": origin.offset})
            if self.policy.wants_record(outcome):
                await self.sink.deadletter(outcome)
            return outcome
        self.telemetry.count_event(topic)
        self.telemetry.observe_event_lag(topic, max(0.0, time.time() - outcome.ts.timestamp()))
        if self.clocks and topic in _UNIT_TOPICS and origin.timestamp is not None:
            await self._clock_skew(self.clocks, outcome, origin.timestamp)
        return outcome

    async def _clock_skew(
        self, clocks: SourceClocks, event: ev.Event, reached_kafka: datetime
    ) -> None:
        # the unit's device clock against Kafka's record time, not the time we read it:
        # a worker catching up a backlog must not see every unit as late
        alert = clocks.observe(event, reached_kafka)
        if alert is not None:
            self.telemetry.count_alert(alert)
            await self.sink.alert(alert)

    async def route(self, event: ev.Event) -> None:
        side, key = home(event)
        if side == UNIT_SIDE:
            await self.feeds.to_unit(key, event)
        elif side == EVERY_INCIDENT_PARTITION:
            await self.feeds.to_every_incident_partition(key, event)
        else:
            await self.feeds.to_incident(key, event)


UNIT_SIDE, INCIDENT_SIDE, EVERY_INCIDENT_PARTITION = "unit", "incident", "every incident partition"


def home(event: ev.Event) -> tuple[str, str]:
    """The side whose table holds what `event` changes, and its key there."""
    if ev.TOPIC_OF_TYPE[event.TYPE] in _UNIT_TOPICS:
        return UNIT_SIDE, event.unit_id or ""
    if isinstance(event, ev.HospitalStatus):
        # every incident partition chooses destinations, so every one needs the status
        return EVERY_INCIDENT_PARTITION, event.hospital_id or ""
    return INCIDENT_SIDE, event.incident_id or ""  # the parser requires it on these types


@dataclass(slots=True)
class KafkaFeeds:
    sends: DirectProducer
    incident_feed: str  # topic names
    unit_feed: str
    partitions: int

    async def to_incident(self, key: str, item: feeds.Envelope) -> None:
        await self.sends.send(self.incident_feed, key.encode(), feeds.encode(item),
                              feeds.partition_of(key, self.partitions))

    async def to_every_incident_partition(self, key: str, item: feeds.Envelope) -> None:
        value = feeds.encode(item)
        for partition in range(self.partitions):
            await self.sends.send(self.incident_feed, key.encode(), value, partition)

    async def to_unit(self, key: str, item: feeds.Envelope) -> None:
        await self.sends.send(self.unit_feed, key.encode(), feeds.encode(item),
                              feeds.partition_of(key, self.partitions))

    async def tick(self) -> None:
        """A sweep tick to every incident partition (the sweeps run inside the agent)."""
        for partition in range(self.partitions):
            await self.sends.send(self.incident_feed, b"tick",
                                  feeds.encode(feeds.Tick(partition)), partition)


def _origin(message: Any) -> Origin:
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        headers=normalize_headers(message.headers),
        timestamp=_record_time(getattr(message, "timestamp", None)),
    )


def _record_time(seconds: float | None) -> datetime | None:
    """Faust's record timestamp (CreateTime, or LogAppendTime by topic config), in seconds;
    Kafka's "no timestamp" is -1 ms."""
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(slots=True)
class _Wiring:
    """What the agents of one worker share: the desks, the tables and the progress counts.

    The unit and incident agents read their input topics directly (keyed as the contract says,
    so partition p of an input topic holds the keys of table partition p) as well as their
    internal feed; a message keyed otherwise is forwarded through the feed to its owner.
    """

    ingest: Ingest
    units: UnitDesk
    incidents: IncidentDesk
    unit_table: TableWrites
    incident_table: TableWrites
    guard: _Guard
    take_batch: Callable[[Any], list[Any]]  # the messages an agent's message carries
    ack: Callable[[Any], Any]  # acknowledge a carried message
    feeds: KafkaFeeds
    end_offset: Any  # (topic-partition) -> end offset last fetched, or None
    feed_names: frozenset[str]  # the internal feeds' topic names
    partitions: int
    progress: dict[str, int] = field(
        default_factory=lambda: {"ingested": 0, "unit_messages": 0, "incident_messages": 0}
    )

    def read(self, message: Any) -> None:
        self.incidents.time.read((message.topic, message.partition), message.offset,
                                 self.end_offset(message.tp))

    async def each(self, carrier: Any, handle: Callable[[list[Any]], Awaitable[None]],
                   table: TableWrites | None = None) -> None:
        """The messages `carrier` brings (streams.faust_consumer.batch_topics), a partition at
        a time and each partition's in order (`handle` gets messages of one partition); then
        the changelog messages of what they wrote are sent, and only then are the carried
        messages acknowledged (Faust acknowledges the carrier itself).

        A partition's read position is reported for its first and its last message: in
        between it is behind by the batch's rest anyway (`pathways.clock.Backlog`)."""
        messages = self.take_batch(carrier)
        for part in _by_partition(messages):
            self.read(part[0])
            if len(part) > 1:
                await handle(part[:-1])
                self.read(part[-1])
            await handle(part[-1:])
        if table is not None:
            await table.flush()
        for message in messages:
            if message is not carrier:
                self.ack(message)

    async def on_inputs(self, messages: list[Any]) -> None:
        """hospital.status: every incident partition needs it."""
        for message in messages:
            self.progress["ingested"] += 1
            await self.guard.run(message, self.ingest.handle(message.value, _origin(message)))

    async def on_units(self, messages: list[Any]) -> None:
        """The unit side's messages in order; each run of GPS fixes is handled unit by unit
        (`UnitDesk.fixes`)."""
        table = self.unit_table.partition(messages[0].partition)
        fixes: dict[str, list[tuple[Any, ev.GpsFix]]] = {}
        for message in messages:
            item = await self.guard.run(message, self._item(message, UNIT_SIDE))
            if item is None:
                continue
            self.progress["unit_messages"] += 1
            if isinstance(item, ev.GpsFix):
                fixes.setdefault(item.unit_id or "", []).append((message, item))
                continue
            await self._unit_fixes(fixes, table)
            await self.guard.run(message, self.units.handle(item, table))
        await self._unit_fixes(fixes, table)

    async def _unit_fixes(self, fixes: dict[str, list[tuple[Any, ev.GpsFix]]],
                          table: MutableMapping[str, Any]) -> None:
        for unit_id, read in fixes.items():
            await self.guard.run_for([message for message, _ in read],
                                     self.units.fixes(unit_id, [fix for _, fix in read], table))
        fixes.clear()

    async def on_incidents(self, messages: list[Any]) -> None:
        table = self.incident_table.partition(messages[0].partition)
        for message in messages:
            await self.guard.run(message, self._on_incident(message, table))

    async def _on_incident(self, message: Any, table: MutableMapping[str, Any]) -> None:
        item = await self._item(message, INCIDENT_SIDE)
        if item is None:
            return
        if not isinstance(item, feeds.Tick):
            self.progress["incident_messages"] += 1
        position = (f"{message.topic}:{message.partition}", message.offset)
        await self.incidents.handle(item, message.partition, table, position)

    async def _item(self, message: Any, side: str) -> Envelope | None:
        """The message's envelope or input event if this partition owns it; None when it was
        dead-lettered or forwarded to its owner."""
        if message.topic in self.feed_names:
            return feeds.decode(message.value)
        self.progress["ingested"] += 1
        event = await self.ingest.accept(message.value, _origin(message))
        if not isinstance(event, ev.Event):
            return None
        owner, key = home(event)
        if owner == side and feeds.partition_of(key, self.partitions) == message.partition:
            return event
        await self.ingest.route(event)
        return None


def _by_partition(messages: list[Any]) -> Iterator[list[Any]]:
    """The messages of each topic partition, in the order read."""
    parts: dict[tuple[str, int], list[Any]] = {}
    for message in messages:
        parts.setdefault((message.topic, message.partition), []).append(message)
    return iter(parts.values())


def install(
    app: Any, topics: Topics, *, clock: Clock, telemetry: Telemetry, options: WorkerOptions
) -> None:
    wiring = _wire(app, topics, clock, telemetry, options)
    _agents(app, topics, wiring)
    _timers(app, topics, wiring, options)


def _wire(
    app: Any, topics: Topics, clock: Clock, telemetry: Telemetry, options: WorkerOptions
) -> _Wiring:
    region = load_region(options.region) if options.region else load_region()
    engine = Engine(load_pack(options.rule_pack), region.locate)
    sends = app.transport.direct_producer()
    sends.on_sent = lambda topic: telemetry.count_sent(topic.removeprefix(options.topic_prefix))
    kafka_feeds = KafkaFeeds(sends, topics.incident_feed.get_topic_name(),
                             topics.unit_feed.get_topic_name(), options.partitions)
    partition_clock = PartitionClock(clock, lateness=timedelta(seconds=options.lateness_s))
    rules = PreAlertRules(eta_threshold_s=options.eta_threshold_s)
    big = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}  # a long incident's state is large
    return _Wiring(
        ingest=Ingest(options.policy, topics.sink, telemetry, options.topic_prefix, kafka_feeds,
                      _live_clocks(clock, engine.pack.quality.skew_tolerance_s)),
        units=UnitDesk(region, clock, kafka_feeds.to_incident),
        incidents=IncidentDesk(engine, region, partition_clock, topics.sink, telemetry,
                               kafka_feeds.to_unit, options.partitions, rules),
        unit_table=TableWrites(app.Table(UNIT_TABLE, default=None, partitions=options.partitions,
                                         key_type=bytes, extra_topic_configs=big), sends),
        incident_table=TableWrites(app.Table(INCIDENT_TABLE, default=None,
                                             partitions=options.partitions, key_type=bytes,
                                             extra_topic_configs=big), sends),
        guard=_Guard(topics.sink, telemetry, options.topic_prefix),
        take_batch=lambda message: app.consumer.take_batch(message),
        ack=lambda message: app.consumer.ack(message),
        feeds=kafka_feeds,
        end_offset=lambda tp: _end_offset(app, tp),
        feed_names=frozenset({topics.incident_feed.get_topic_name(),
                              topics.unit_feed.get_topic_name()}),
        partitions=options.partitions,
    )


def _live_clocks(clock: Clock, tolerance_s: float) -> SourceClocks | None:
    """Skew is judged against Kafka record times only when the input is live (wall clock)."""
    return SourceClocks(tolerance_s) if clock.name == "wall" else None


def _end_offset(app: Any, tp: Any) -> int | None:
    try:
        return int(app.consumer.highwater(tp))
    except (TypeError, ValueError, AttributeError, AssertionError):
        return None  # not fetched yet, or no consumer (tests)


def _agents(app: faust.App, topics: Topics, wiring: _Wiring) -> None:
    for group, read in (("ingest", topics.shared_inputs), ("units", topics.unit_inputs),
                        ("incidents", topics.incident_inputs)):
        faust_consumer.batch_topics(app, group, read.topics)

    @app.agent(topics.shared_inputs, name="ingest", concurrency=1)
    async def ingest_agent(stream: Any) -> None:
        async for event in stream.events():
            await wiring.each(event.message, wiring.on_inputs)

    @app.agent(topics.unit_inputs, name="units", concurrency=1)
    async def unit_agent(stream: Any) -> None:
        async for event in stream.events():
            await wiring.each(event.message, wiring.on_units, wiring.unit_table)

    @app.agent(topics.incident_inputs, name="incidents", concurrency=1)
    async def incident_agent(stream: Any) -> None:
        async for event in stream.events():
            await wiring.each(event.message, wiring.on_incidents, wiring.incident_table)

    @app.on_partitions_assigned.connect
    async def on_assigned(*sender_and_assigned: Any, **signal: Any) -> None:
        wiring.incidents.forget_deadlines()
        wiring.incidents.time.backlog.clear()
        wiring.units.forget_unsaved()


def _timers(app: faust.App, topics: Topics, wiring: _Wiring, options: WorkerOptions
            ) -> None:
    logged = dict(wiring.progress)

    async def log_progress() -> None:
        # counts only: what an operator needs to see the worker is alive and which share it has
        if wiring.progress != logged:
            logged.update(wiring.progress)
            log.info("progress", extra={"event": "progress", **wiring.progress})

    async def sweep_ticks() -> None:
        # every worker ticks every partition: a sweep is idempotent, so a doubled tick is harmless
        await wiring.feeds.tick()

    # called, not used as decorators: Faust's `timer` is untyped and would untype them
    app.timer(interval=5.0)(log_progress)
    app.timer(interval=options.sweep_interval_s)(sweep_ticks)


@dataclass(slots=True)
class _Guard:
    """No message may crash or stall an agent: a failure while processing a valid message (a
    bug, by definition) dead-letters that message as `processing_error` and is counted."""

    sink: Sink
    telemetry: Telemetry
    topic_prefix: str

    async def run(self, message: Any, work: Coroutine[Any, Any, T]) -> T | None:
        """`work`'s result, or None when it failed (and `message` was dead-lettered)."""
        return await self.run_for([message], work)

    async def run_for(self, messages: Sequence[Any], work: Coroutine[Any, Any, T]) -> T | None:
        """The same for work done for several messages: each is dead-lettered if it fails."""
        try:
            return await work
        except Exception as exc:  # the policy: keep the messages, count them, go on
            for message in messages:
                await self._dead_letter(message, exc)
            return None

    async def _dead_letter(self, message: Any, exc: Exception) -> None:
        origin = _origin(message)
        log.error("processing failed", extra={
            "event": "processing_error", "reason": type(exc).__name__,
            "topic": origin.topic, "partition": origin.partition, "offset": origin.offset})
        self.telemetry.count_deadletter(
            ev.Reason.PROCESSING_ERROR, origin.topic.removeprefix(self.topic_prefix))
        detail = f"{type(exc).__name__} in {origin.topic}"
        await self.sink.deadletter(
            DeadLetter(ev.Reason.PROCESSING_ERROR, detail, origin, message.value or b""))
