"""Feeds the board from Kafka: every partition of the topics the screens show.

A plain aiokafka consumer without a consumer group: each worker's web server shows the whole
picture even when the agents' partitions are shared between workers. On start it rewinds
`lookback` so open incidents, pre-alerts and today's KPIs are rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson

from pathways import events as ev
from streams import topics as names
from streams.settings import Settings
from streams.web.server import BoardHub

log = logging.getLogger(__name__)

ACKS = "pathwatch.acks"
SCREEN_TOPICS = (
    names.CALLS,
    names.UNITS,
    names.GPS,
    names.CLINICAL_EVENTS,
    names.HOSPITAL_EVENTS,
    names.HOSPITAL_STATUS,
    names.INTERVALS,
    names.ALERTS,
    names.PREALERTS,
    ACKS,
)
DEFAULT_LOOKBACK = timedelta(hours=12)
TOPIC_CHECK_S = 30.0
ASSIGN_TIMEOUT_S = 30.0


def apply_message(hub: BoardHub, topic: str, value: bytes) -> bool:
    """Apply one message to the board; False when it cannot be read (the agents dead-letter
    and count bad input; the board only skips it)."""
    board = hub.board
    if topic in (names.INTERVALS, names.ALERTS, names.PREALERTS, ACKS):
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict):
            return False
        apply: dict[str, Callable[[Any], None]] = {
            names.INTERVALS: board.apply_interval,
            names.ALERTS: board.apply_alert,
            names.PREALERTS: board.apply_prealert,
            ACKS: board.apply_ack,
        }
        try:
            apply[topic](obj)
        except (KeyError, TypeError, ValueError):
            return False
        return True
    parsed = ev.parse(value)
    if isinstance(parsed, ev.ParseError):
        return False
    board.apply_event(parsed)
    return True


class BoardFeed:
    def __init__(
        self,
        hub: BoardHub,
        settings: Settings,
        *,
        topic_prefix: str = "",
        lookback: timedelta = DEFAULT_LOOKBACK,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.prefix = topic_prefix
        self.lookback = lookback
        self.skipped = 0
        self._producer: Any = None

    def _kafka_kwargs(self) -> dict[str, Any]:
        return self.settings.aiokafka_client_kwargs()

    async def run(self) -> None:
        """Consume until cancelled; reconnects after a broker error."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._ensure_ack_topic)
        except Exception as exc:
            log.warning("cannot create the %s topic: %s", ACKS, exc)
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the screens must outlive a broker outage
                self.hub.feed_state = "reconnecting"
                log.warning("board feed: %s; retrying in 3 s", exc)
                await asyncio.sleep(3)

    def _ensure_ack_topic(self) -> None:
        from streams.topics import create_topics

        create_topics(names=[ACKS], prefix=self.prefix, settings=self.settings)

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **self._kafka_kwargs())
        await consumer.start()
        try:
            assigned = await self._assign(consumer)
            self.hub.feed_state = "live"
            next_check = time.monotonic() + TOPIC_CHECK_S
            while True:
                if time.monotonic() > next_check:
                    next_check = time.monotonic() + TOPIC_CHECK_S
                    if set(await self._wanted(consumer)) - assigned:
                        return  # a topic appeared: start over; applying twice changes nothing
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, messages in batches.items():
                    topic = tp.topic[len(self.prefix) :]
                    for message in messages:
                        if message.value is None or not apply_message(
                            self.hub, topic, message.value
                        ):
                            self.skipped += 1
                if batches:
                    self.hub.notify()
        finally:
            await consumer.stop()

    async def _wanted(self, consumer: Any) -> list[str]:
        available = await consumer.topics()
        return [self.prefix + t for t in SCREEN_TOPICS if self.prefix + t in available]

    async def _assign(self, consumer: Any) -> set[str]:
        """Every partition of the wanted topics (no group: nothing is shared), from `lookback`."""
        wanted = await self._wanted(consumer)
        consumer.subscribe(topics=wanted)
        deadline = time.monotonic() + ASSIGN_TIMEOUT_S
        while {tp.topic for tp in consumer.assignment()} != set(wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partitions assigned for {sorted(wanted)}")
            await asyncio.sleep(0.1)
        partitions = sorted(consumer.assignment())
        since_ms = int((time.time() - self.lookback.total_seconds()) * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = offsets.get(tp)
            # plain seeks: aiokafka's seek_to_end waits for a fetch round per partition
            consumer.seek(tp, ends[tp] if found is None else found.offset)
        return set(wanted)

    async def send_ack(self, ack: dict[str, Any]) -> None:
        """Produce an acknowledgement so every worker's screens show it."""
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            self._producer = AIOKafkaProducer(**self._kafka_kwargs())
            await self._producer.start()
        await self._producer.send_and_wait(
            self.prefix + ACKS, orjson.dumps(ack), key=str(ack["hospital_id"]).encode()
        )

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
