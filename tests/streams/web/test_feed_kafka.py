"""The board feed against the real broker: every partition, every screen topic, acks shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from kafka import KafkaProducer

from pathways import events as ev
from streams import topics as names
from streams.web.feed import ACKS, BoardFeed
from streams.web.server import BoardHub


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_two_workers_feeds_see_every_partition_and_each_others_acks(
    kit: Any, kafka_settings: Any, kafka_topics: str
) -> None:
    prefix = kafka_topics
    producer = KafkaProducer(**kafka_settings.kafka_client_kwargs())
    incidents = [f"I{n}" for n in range(12)]  # keys spread over the 6 partitions

    def send(topic: str, key: str, value: bytes) -> None:
        producer.send(prefix + topic, key=key.encode(), value=value)

    async def main() -> None:
        hubs = [BoardHub(kit.board()), BoardHub(kit.board())]
        feeds = [BoardFeed(hub, kafka_settings, topic_prefix=prefix) for hub in hubs]
        tasks = [asyncio.ensure_future(feed.run()) for feed in feeds]
        try:
            await wait_for(lambda: all(h.feed_state == "live" for h in hubs))
            for incident in incidents:
                send(names.CALLS, incident, ev.dumps(kit.call(incident, 0)))
            send(names.GPS, "A01", ev.dumps(kit.gps("A01", 5, 30.95, 117.05)))
            send(names.GPS, "A01", b"{not json")
            prealert = kit.prealert("I3", "H01")
            send(names.PREALERTS, "H01", orjson.dumps(prealert))
            producer.flush()

            def caught_up(h: BoardHub) -> bool:
                return (
                    len(h.board.incidents) == len(incidents)
                    and "I3:H01" in h.board.prealerts
                    and "A01" in h.board.units
                )

            for hub in hubs:
                await wait_for(partial(caught_up, hub))
            assert feeds[0].skipped == 1  # the bad message is skipped (the agents dead-letter it)
            ack = {"prealert_id": "I3:H01", "hospital_id": "H01", "ack_ts": "t"}
            await feeds[0].send_ack(ack)  # acknowledged on worker 1's screen ...
            await wait_for(lambda: "I3:H01" in hubs[1].board.acks)  # ... seen by worker 2
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for feed in feeds:
                await feed.close()

    asyncio.run(main())
    producer.close()
    assert ACKS == "pathwatch.acks"
