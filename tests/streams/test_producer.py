"""The worker's sends: straight to the app's aiokafka producer; a failed delivery is kept."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from streams.producer import DeliveryFailed, DirectProducer


class _Cluster:
    def __init__(self, partitions: int | None) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return None if self.partitions is None else set(range(self.partitions))


class _AioProducer:
    def __init__(self, partitions: int | None = None) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.deliveries: list[asyncio.Future[Any]] = []
        self.client = type("Client", (), {"cluster": _Cluster(partitions)})()

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None,
                   partition: int | None = None, headers: Any = None) -> asyncio.Future[Any]:
        self.sent.append((topic, key, value, partition, headers))
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery


class _App:
    def __init__(self, producer: _AioProducer) -> None:
        class _Faust:
            def _ensure_producer(self) -> _AioProducer:
                return producer

        self.producer = _Faust()


def test_sends_go_to_the_aiokafka_producer_without_waiting_for_delivery() -> None:
    aio = _AioProducer()
    sends = DirectProducer(_App(aio))

    async def scenario() -> None:
        await sends.send("p.pathwatch.intervals", b"inc-1", b"{}", 2)
        await sends.send("p.pathwatch.deadletter", b"k", b"raw", headers=(("h", b"v"),))
        aio.deliveries[0].set_result("metadata")
        aio.deliveries[1].set_result("metadata")
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert aio.sent == [("p.pathwatch.intervals", b"inc-1", b"{}", 2, None),
                        ("p.pathwatch.deadletter", b"k", b"raw", None, [("h", b"v")])]
    assert sends.failure is None


def test_a_failed_delivery_is_kept_for_the_commit_to_refuse() -> None:
    aio = _AioProducer()
    sends = DirectProducer(_App(aio))

    async def scenario() -> None:
        await sends.send("p.pathwatch.alerts", b"inc-1", b"{}")
        aio.deliveries[0].set_exception(TimeoutError("broker gone"))
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert isinstance(sends.failure, DeliveryFailed)
    assert "TimeoutError" in str(sends.failure)


def test_a_keyed_send_goes_where_kafkas_default_partitioner_puts_it() -> None:
    aio = _AioProducer(partitions=6)
    sends = DirectProducer(_App(aio))
    keys = [f"inc-{n}".encode() for n in range(40)]

    async def scenario() -> None:
        for key in keys:
            await sends.send("p.pathwatch.intervals", key, b"{}")

    asyncio.run(scenario())
    expected = [DefaultPartitioner()(key, list(range(6)), list(range(6))) for key in keys]
    assert [partition for _, _, _, partition, _ in aio.sent] == expected
    assert len(set(expected)) == 6


def test_before_the_topic_is_known_the_producer_chooses() -> None:
    aio = _AioProducer(partitions=None)
    asyncio.run(DirectProducer(_App(aio)).send("p.pathwatch.alerts", b"inc-1", b"{}"))
    assert aio.sent[0][3] is None
