"""Why the worker's consumer seeks uncommitted input partitions to their beginning
(streams/faust_consumer.py): aiokafka's seek to committed offsets does not move them, so
messages fetched and then dropped by Faust (flow suspended, generation changed) are never
fetched again. This pins that behaviour of aiokafka on the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import topics
from tests.integration.pipeline import ensure_topics, producer

pytestmark = pytest.mark.integration


async def _read(bootstrap: str, tp: TopicPartition) -> tuple[int, int, int]:
    """Positions: after reading 3 messages, after the seek to committed, after the rewind."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=f"seek-{uuid.uuid4()}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        read = 0
        while read < 3:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            read += len(batch.get(tp, []))
        fetched = await consumer.position(tp)
        await consumer.seek_to_committed(tp)  # nothing committed: aiokafka leaves it
        after_seek = await consumer.position(tp)
        await consumer.seek_to_beginning(tp)
        return fetched, after_seek, await consumer.position(tp)
    finally:
        await consumer.stop()


def test_a_seek_to_committed_offsets_leaves_an_uncommitted_partition_where_it_was(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    ensure_topics(kafka_bootstrap, topic_prefix)
    name = topic_prefix + topics.CALLS
    prod = producer(kafka_bootstrap)
    for n in range(3):
        prod.send(name, key=b"k", value=b"%d" % n, partition=0)
    prod.flush()
    prod.close()
    fetched, after_seek, rewound = asyncio.run(_read(kafka_bootstrap, TopicPartition(name, 0)))
    assert (fetched, after_seek, rewound) == (3, 3, 0)
