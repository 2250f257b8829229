"""The worker's notion of "now": the wall clock live, the event-time watermark in replay.

Deadline sweeps ask the clock; nothing in `pathways/` reads time itself. With the
watermark clock a replay at any speed raises the same alerts as the live run, because
"now" only moves as far as the events themselves say.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The watermark clock (the largest event time seen, minus the lateness allowed for stragglers)
# is global to the worker, not per partition, so GPS fixes of any unit keep time moving for
# every incident, as the wall clock does live. It never goes back.
from pathways.clock import Backlog
from pathways.clock import WatermarkClock as WatermarkClock  # re-exported


class Clock(Protocol):
    name: str

    def now(self) -> datetime | None:
        """The current time, or None before the clock knows any (watermark before any event)."""

    def observe(self, event_ts: datetime) -> None:
        """Tell the clock an event with this event time was read."""


class WallClock:
    name = "wall"

    def now(self) -> datetime | None:
        return datetime.now(UTC)

    def observe(self, event_ts: datetime) -> None:
        return None


class ManualClock:
    """A clock a test moves by hand."""

    name = "manual"

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime | None:
        return self._now

    def observe(self, event_ts: datetime) -> None:
        return None

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def clock_named(name: str) -> Clock:
    if name == "wall":
        return WallClock()
    if name == "watermark":
        return WatermarkClock()
    raise ValueError(f"unknown clock {name!r}; expected wall or watermark")


class PartitionClock:
    """"Now" for one partition of the incident feed.

    Wall clock: the wall clock. Event time: the partition's own watermark (the largest event
    time it carried, minus `lateness`), so deadline sweeps run in the partition's event order
    and a replay at any speed raises the same alerts; a partition idle for `idle_s` of wall
    time follows the worker's global watermark instead, so time still passes for incidents
    whose events have stopped (a deadline with no closing event must still fire).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        lateness: timedelta = timedelta(seconds=30),
        idle_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self._lateness = lateness
        self._idle_s = idle_s
        self._monotonic = monotonic
        self._marks: dict[int, datetime] = {}
        self._touched: dict[int, float] = {}
        self.backlog = Backlog()

    def read(self, source: tuple[str, int], offset: int, end_offset: int | None) -> None:
        """A message at `offset` of a partition ending at `end_offset` was read."""
        self.backlog.observe(source, offset, end_offset, self._monotonic())

    def catching_up(self) -> bool:
        """True while a partition this worker reads has unread messages: sweeps wait."""
        return self.backlog.holding(self._monotonic())

    @property
    def event_time(self) -> bool:
        return self.clock.name == "watermark"

    def observe(self, partition: int, event_ts: datetime) -> None:
        self.clock.observe(event_ts)
        mark = self._marks.get(partition)
        if mark is None or event_ts > mark:
            self._marks[partition] = event_ts
        self._touched[partition] = self._monotonic()

    def now(self, partition: int) -> datetime | None:
        if not self.event_time:
            return self.clock.now()
        mark = self._marks.get(partition)
        idle = self._monotonic() - self._touched.get(partition, float("-inf")) >= self._idle_s
        if mark is None or idle:
            overall = self.clock.now()
            if overall is None:
                return None
            return overall if mark is None else max(overall, mark - self._lateness)
        return mark - self._lateness
