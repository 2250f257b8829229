"""Clocks: where `now` comes from. The engine never reads time; a clock is handed in.

The wall clock (live mode) lives in `streams.clock`, which has the same protocol; replay uses
the event-time watermark below.
"""

from __future__ import annotations

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
