"""Fault injection: composable transformers of an outgoing message stream.

Each transformer takes and returns an iterator of `Outgoing` (a message, its event if it
is one, and `at`, the event time at which it is delivered). They model what real feeds do:

- `duplicates(p)`: a message is delivered again (exact same bytes) a few messages later.
- `out_of_order(p, window)`: a message is held back and overtaken by up to `window` others.
- `late(p, late_by_s)`: a message is delivered `late_by_s` seconds of event time late.
- `clock_skew(unit_id, seconds)`: one unit's device clock is off: its events' `ts` shift.
- `malformed(p)`: extra messages that are not valid events (truncated JSON, wrong types,
  unknown type, not an object) are inserted; the valid stream is untouched, so the final
  intervals must not change and the worker must dead-letter exactly the inserted ones.

Every transformer is deterministic given its `random.Random`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import count

import orjson

from pathways.events import Event, dumps
from simulators.sinks import Message, message_of

MALFORMED_KINDS = ("truncated", "wrong_type", "unknown_type", "not_an_object")


@dataclass(frozen=True, slots=True)
class Outgoing:
    at: datetime
    message: Message
    event: Event | None = None


def outgoing(events: Iterable[Event]) -> Iterator[Outgoing]:
    """Events as delivered on time, in the order given."""
    for event in events:
        yield Outgoing(event.ts, message_of(event), event)


def duplicates(stream: Iterable[Outgoing], p: float, rng: random.Random,
               max_delay: int = 20) -> Iterator[Outgoing]:
    """With probability p a message is sent again, 0..max_delay messages later."""
    held: list[tuple[int, int, Outgoing]] = []
    seq = count()
    for position, item in enumerate(stream):
        yield item
        if rng.random() < p:
            heapq.heappush(held, (position + rng.randint(0, max_delay), next(seq), item))
        while held and held[0][0] <= position:
            yield heapq.heappop(held)[2]
    while held:
        yield heapq.heappop(held)[2]


def out_of_order(stream: Iterable[Outgoing], p: float, rng: random.Random,
                 window: int = 20) -> Iterator[Outgoing]:
    """With probability p a message is held back and released 1..window messages later."""
    held: list[tuple[int, int, Outgoing]] = []
    seq = count()
    for position, item in enumerate(stream):
        while held and held[0][0] <= position:
            yield heapq.heappop(held)[2]
        if rng.random() < p:
            heapq.heappush(held, (position + rng.randint(1, window), next(seq), item))
        else:
            yield item
    while held:
        yield heapq.heappop(held)[2]


def late(stream: Iterable[Outgoing], p: float, rng: random.Random,
         late_by_s: float) -> Iterator[Outgoing]:
    """With probability p a message arrives `late_by_s` seconds (event time) after its time."""
    held: list[tuple[datetime, int, Outgoing]] = []
    seq = count()
    delay = timedelta(seconds=late_by_s)
    for item in stream:
        while held and held[0][0] <= item.at:
            yield heapq.heappop(held)[2]
        if rng.random() < p:
            due = item.at + delay
            heapq.heappush(held, (due, next(seq), replace(item, at=due)))
        else:
            yield item
    while held:
        yield heapq.heappop(held)[2]


def clock_skew(stream: Iterable[Outgoing], unit_id: str, seconds: float) -> Iterator[Outgoing]:
    """Every event carrying `unit_id` (its status and GPS) gets `ts` shifted by `seconds`."""
    shift = timedelta(seconds=seconds)
    for item in stream:
        event = item.event
        if event is not None and event.unit_id == unit_id:
            skewed = replace(event, ts=event.ts + shift)
            item = Outgoing(item.at, replace(item.message, value=dumps(skewed)), skewed)
        yield item


def malformed(stream: Iterable[Outgoing], p: float, rng: random.Random) -> Iterator[Outgoing]:
    """After a message, with probability p, one extra invalid message on the same topic."""
    for item in stream:
        yield item
        if rng.random() < p:
            kind = rng.choice(MALFORMED_KINDS)
            bad = corrupt(item.message.value, kind, rng)
            yield Outgoing(item.at, replace(item.message, value=bad), None)


def corrupt(value: bytes, kind: str, rng: random.Random) -> bytes:
    """An invalid variant of a valid message; `kind` is one of MALFORMED_KINDS."""
    if kind == "truncated":
        return value[: rng.randint(1, max(1, len(value) - 2))]
    obj = orjson.loads(value)
    obj["event_id"] = f"{obj.get('event_id', '')}:malformed"
    if kind == "wrong_type":
        obj["ts"] = rng.choice((1700000000, "yesterday", None, True))
    elif kind == "unknown_type":
        obj["type"] = "unit.teleported"
    elif kind == "not_an_object":
        return orjson.dumps([obj])
    else:
        raise ValueError(f"unknown malformed kind {kind!r}; known: {MALFORMED_KINDS}")
    return orjson.dumps(obj)
