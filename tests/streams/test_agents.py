"""An agent's batch: each message handled in order, a failing one dead-lettered, then the
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


class _Table:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def flush(self) -> None:
        self.log.append("flush")


def _wiring(batch: list[_Message], log: list[str], sink: ListSink) -> _Wiring:
    wiring = object.__new__(_Wiring)
    wiring.guard = _Guard(sink, Recorder(), "p.")
    wiring.take_batch = lambda carrier: batch if carrier is batch[-1] else [carrier]
    wiring.ack = lambda message: log.append(f"ack {message.offset}")
    return wiring


def test_a_batch_is_handled_in_order_then_flushed_then_acknowledged() -> None:
    log: list[str] = []
    batch = [_Message(5), _Message(6), _Message(7)]

    async def handle(message: Any) -> None:
        log.append(f"handle {message.offset}")
        if message.offset == 6:
            raise ValueError("a bug")

    sink = ListSink()
    wiring = _wiring(batch, log, sink)
    asyncio.run(wiring.each(batch[-1], handle, _Table(log)))  # type: ignore[arg-type]
    assert log == ["handle 5", "handle 6", "handle 7", "flush", "ack 5", "ack 6"]
    assert [letter.origin.offset for letter in sink.deadletters] == [6]


def test_a_lone_message_is_handled_and_left_to_faust_to_acknowledge() -> None:
    log: list[str] = []
    message = _Message(1)

    async def handle(message: Any) -> None:
        log.append(f"handle {message.offset}")

    wiring = _wiring([_Message(0)], log, ListSink())
    asyncio.run(wiring.each(message, handle))
    assert log == ["handle 1"]
