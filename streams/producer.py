"""Sends of the worker: through the Faust app's own aiokafka producer, without Faust's topic
machinery.

Faust's `Topic.send` wraps every message in its own futures, callbacks and sensor calls:
measured with bench/faust_passthrough.py, ~210 us of CPU a message on the bench machine,
against ~70 us for a send on the aiokafka producer underneath. The worker sends ~0.6
messages per input event (outputs, internal feeds, table changelogs), so here they go to that
producer directly. It is the producer Faust flushes before every offset commit, so what a
handler sent before its input message was acknowledged is in Kafka before that offset is
committed: at-least-once is unchanged.

A send that fails (the producer gave up on it) is logged and counted, and no offset is
committed after it (`streams.faust_consumer.Consumer`): the worker stops instead, and input
from the last commit on is read again at the next start. (Faust's own sends log such a
failure and commit past it.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


@lru_cache(maxsize=1 << 16)
def key_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client), kept: it is pure Python, and
    the worker asks for every message's key."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


class DeliveryFailed(Exception):
    """Kafka did not take a message the worker sent; its input must be read again."""


class DirectProducer:
    """`send(topic, key, value, partition)` on the app's aiokafka producer (started by Faust
    before any agent runs). `partition` None: Kafka's default partitioner (murmur2 of the key),
    as Faust's own send."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.failure: DeliveryFailed | None = None
        self.on_sent: Callable[[str], None] | None = None  # told each topic sent to (metrics)
        self._partitions: dict[str, int] = {}  # topic -> partition count (topics never shrink)

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None = None, headers: Headers | None = None) -> None:
        producer = self._producer()
        if partition is None and key is not None:
            partition = self._partition_of(producer, topic, key)
        delivery = await producer.send(topic, value, key=key, partition=partition,
                                       headers=list(headers) if headers else None)
        delivery.add_done_callback(self._delivered)
        if self.on_sent is not None:
            self.on_sent(topic)

    def _producer(self) -> Any:
        return self._app.producer._ensure_producer()

    def _partition_of(self, producer: Any, topic: str, key: bytes) -> int | None:
        """Kafka's default partition of `key` (what the producer would compute, in pure
        Python, on every send), or None before the topic's metadata is known."""
        count = self._partitions.get(topic)
        if count is None:
            known = producer.client.cluster.partitions_for_topic(topic)
            if not known:
                return None
            count = self._partitions[topic] = len(known)
        return key_partition(key, count)

    def _delivered(self, delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled():
            error: BaseException | None = asyncio.CancelledError()
        else:
            error = delivery.exception()
        if error is None:
            return
        if self.failure is None:
            self.failure = DeliveryFailed(f"{type(error).__name__}: {error}")
        log.error("send failed; no offset is committed from here on",
                  extra={"event": "send_failed", "reason": type(error).__name__})
