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

    name = "watermark"  # as `streams.clock` names the clocks

    def __init__(self, lateness: timedelta = timedelta(0)) -> None:
        self._lateness = lateness
        self._max: datetime | None = None

    @property
    def lateness(self) -> timedelta:
        return self._lateness

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

    A real backlog (a partition behind for `backlog_s` or more, not one fetched batch being
    worked through) holds time back for `settle_s` more once it is read: what its last
    messages caused on the other side (a unit event forwarded to the incident side) is still
    in flight, and the end offsets known are those of the last fetch.
    """

    def __init__(self, stale_s: float = 30.0, backlog_s: float = 1.0, settle_s: float = 2.0
                 ) -> None:
        self._stale_s = stale_s
        self._backlog_s = backlog_s
        self._settle_s = settle_s
        self._behind: dict[Hashable, tuple[float, float]] = {}  # since, last seen behind
        self._settled_at = float("-inf")

    def observe(self, source: Hashable, offset: int, end_offset: int | None, at: float) -> None:
        """`at`: a monotonic reading of when the message was read."""
        if end_offset is not None and offset + 1 < end_offset:
            since = self._behind.get(source, (at, at))[0]
            self._behind[source] = (since, at)
            return
        behind = self._behind.pop(source, None)
        if behind is not None and at - behind[0] >= self._backlog_s:
            self._settled_at = max(self._settled_at, at + self._settle_s)

    def holding(self, at: float) -> bool:
        self._behind = {s: b for s, b in self._behind.items() if at - b[1] < self._stale_s}
        return bool(self._behind) or at < self._settled_at

    def clear(self) -> None:
        self._behind.clear()
        self._settled_at = float("-inf")
