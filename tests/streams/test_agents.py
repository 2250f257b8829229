"""An agent's batch: its messages handled in order, a failing one dead-lettered, then the
table's changelog sent, and only then the carried messages acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from streams.agents import _Guard, _Wiring
from streams.sinks import ListSink
from tests.streams.harness import Recorder


@dataclass(frozen=True)
class _Message:
    offset: int
    topic: str = "p.dispatch.gps"
    partition: int = 0
    key: bytes = b"U1"
    value: bytes = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


class _Table:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def flush(self) -> None:
        self.log.append("flush")


class _Time:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def read(self, source: Any, offset: int, end: int | None) -> None:
        self.log.append(f"read {offset}")


class _Incidents:
    def __init__(self, log: list[str]) -> None:
        self.time = _Time(log)


def _wiring(batch: list[_Message], log: list[str], sink: ListSink) -> _Wiring:
    wiring = object.__new__(_Wiring)
    wiring.guard = _Guard(sink, Recorder(), "p.")
    wiring.take_batch = lambda carrier: batch if carrier is batch[-1] else [carrier]
    wiring.ack = lambda message: log.append(f"ack {message.offset}")
    wiring.incidents = _Incidents(log)  # type: ignore[assignment]
    wiring.end_offset = lambda tp: 8
    return wiring


def _each(wiring: _Wiring, handle: Any) -> Any:
    async def batch(messages: list[Any]) -> None:
        for message in messages:
            await wiring.guard.run(message, handle(message))

    return batch


def test_a_batch_is_handled_in_order_then_flushed_then_acknowledged() -> None:
    log: list[str] = []
    batch = [_Message(5), _Message(6), _Message(7)]

    async def handle(message: Any) -> None:
        log.append(f"handle {message.offset}")
        if message.offset == 6:
            raise ValueError("a bug")

    sink = ListSink()
    wiring = _wiring(batch, log, sink)
    asyncio.run(wiring.each(batch[-1], _each(wiring, handle), _Table(log)))  # type: ignore[arg-type]
    # the read position: the first message (the rest of the batch behind it), then the last
    assert log == ["read 5", "handle 5", "handle 6", "read 7", "handle 7", "flush",
                   "ack 5", "ack 6"]
    assert [letter.origin.offset for letter in sink.deadletters] == [6]


def test_a_batch_of_several_partitions_is_handled_a_partition_at_a_time() -> None:
    log: list[str] = []
    batch = [_Message(5, partition=0), _Message(3, partition=1), _Message(6, partition=0),
             _Message(4, partition=1)]

    async def handle(messages: list[Any]) -> None:
        log.append(f"handle {[(m.partition, m.offset) for m in messages]}")

    wiring = _wiring(batch, log, ListSink())
    asyncio.run(wiring.each(batch[-1], handle, _Table(log)))  # type: ignore[arg-type]
    assert log == ["read 5", "handle [(0, 5)]", "read 6", "handle [(0, 6)]",
                   "read 3", "handle [(1, 3)]", "read 4", "handle [(1, 4)]",
                   "flush", "ack 5", "ack 3", "ack 6"]


def test_a_lone_message_is_handled_and_left_to_faust_to_acknowledge() -> None:
    log: list[str] = []
    message = _Message(1)

    async def handle(message: Any) -> None:
        log.append(f"handle {message.offset}")

    wiring = _wiring([_Message(0)], log, ListSink())
    asyncio.run(wiring.each(message, _each(wiring, handle)))
    assert log == ["read 1", "handle 1"]


class _Units:
    def __init__(self, log: list[str], failing: str = "") -> None:
        self.log, self.failing = log, failing

    async def fixes(self, unit_id: str, fixes: list[Any], table: Any) -> None:
        self.log.append(f"fixes {unit_id} {[f.event_id for f in fixes]}")
        if unit_id == self.failing:
            raise KeyError(unit_id)

    async def handle(self, item: Any, table: Any) -> None:
        self.log.append(f"status {item.event_id}")


def _unit_wiring(log: list[str], sink: ListSink, failing: str = "") -> _Wiring:
    from streams.agents import Ingest
    from streams.ingest import DeadLetterPolicy

    wiring = _wiring([_Message(0)], log, sink)
    wiring.ingest = Ingest(DeadLetterPolicy(), sink, Recorder(), "p.", None)
    wiring.units = _Units(log, failing)  # type: ignore[assignment]
    wiring.unit_table = _UnitTable()  # type: ignore[assignment]
    wiring.feed_names = frozenset()
    wiring.partitions = 1
    wiring.progress = {"ingested": 0, "unit_messages": 0, "incident_messages": 0}
    return wiring


class _UnitTable:
    def partition(self, partition: int) -> dict[str, Any]:
        return {}


def _fix(event_id: str, unit: str, second: int) -> bytes:
    return (b'{"event_id":"%s","type":"gps.fix","ts":"2026-11-24T08:00:%02d.000+08:00",'
            b'"source":"avl","unit_id":"%s","lat":31.0,"lon":117.0}'
            % (event_id.encode(), second, unit.encode()))


def test_a_run_of_fixes_is_handled_unit_by_unit_and_a_status_between_keeps_its_place() -> None:
    log: list[str] = []
    enroute = (b'{"event_id":"s1","type":"unit.enroute","ts":"2026-11-24T08:00:03.000+08:00",'
               b'"source":"cad","unit_id":"U1","incident_id":"I1"}')
    values = [_fix("f1", "U1", 1), _fix("f2", "U2", 1), _fix("f3", "U1", 2), enroute,
              _fix("f4", "U1", 4)]
    messages = [_Message(n, value=v, topic="p.dispatch.units" if v is enroute else
                         "p.dispatch.gps") for n, v in enumerate(values)]
    asyncio.run(_unit_wiring(log, ListSink()).on_units(messages))
    assert log == ["fixes U1 ['f1', 'f3']", "fixes U2 ['f2']", "status s1", "fixes U1 ['f4']"]


def test_a_unit_whose_fixes_fail_dead_letters_each_of_them_and_the_others_go_on() -> None:
    log: list[str] = []
    sink = ListSink()
    values = [_fix("f1", "U1", 1), _fix("f2", "U2", 1), _fix("f3", "U1", 2)]
    messages = [_Message(n, value=v) for n, v in enumerate(values)]
    asyncio.run(_unit_wiring(log, sink, failing="U1").on_units(messages))
    assert log == ["fixes U1 ['f1', 'f3']", "fixes U2 ['f2']"]
    assert [letter.origin.offset for letter in sink.deadletters] == [0, 2]
