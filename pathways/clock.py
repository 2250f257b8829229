"""Clocks: where `now` comes from. The engine never reads time; a clock is handed in.

The wall clock (live mode) lives in `streams.clock`, which has the same protocol; replay uses
the event-time watermark below.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime | None:
        """The current time, or None before the clock knows any (watermark before any event)."""
        ...

    def observe(self, event_ts: datetime) -> None:
        """Tell the clock an event with this event time was read."""
        ...


class WatermarkClock:
    """Event time: the largest event time observed, minus an allowed lateness; never goes back."""

    def __init__(self, lateness: timedelta = timedelta(0)) -> None:
        self._lateness = lateness
        self._max: datetime | None = None

    def observe(self, event_ts: datetime) -> None:
        if self._max is None or event_ts > self._max:
            self._max = event_ts

    def now(self) -> datetime | None:
        return None if self._max is None else self._max - self._lateness


class Backlog:
    """Which partitions still have unread messages, from the offset of each message read and
    the partition's end offset.

    While any has, deadline sweeps wait: after a restart or an outage the calls are read ahead
    of the unit events that close their intervals (they travel another path), and a sweep then
    would raise breaches that did not happen. A partition not heard of for `stale_s` seconds
    (revoked, or no longer fetched) stops holding time back.
    """

    def __init__(self, stale_s: float = 30.0) -> None:
        self._stale_s = stale_s
        self._behind: dict[Hashable, float] = {}

    def observe(self, source: Hashable, offset: int, end_offset: int | None, at: float) -> None:
        """`at`: a monotonic reading of when the message was read."""
        if end_offset is not None and offset + 1 < end_offset:
            self._behind[source] = at
        else:
            self._behind.pop(source, None)

    def holding(self, at: float) -> bool:
        self._behind = {s: t for s, t in self._behind.items() if at - t < self._stale_s}
        return bool(self._behind)

    def clear(self) -> None:
        self._behind.clear()
