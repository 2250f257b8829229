"""Countdown clocks of the boards: when a clock turns amber and red. Pure; time is passed in.

The browser ticks the clocks every second between updates, so a clock is sent as instants
(`start`, `amber_at`, `deadline`) that the page compares with its own "now": the thresholds
are decided here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pathways.events import format_timestamp

ClockState = Literal["ok", "amber", "red", "met", "missed"]
# Amber at 2/3 of the target: a dispatcher still has a third of the time to act.
AMBER_SHARE = 2 / 3


@dataclass(frozen=True, slots=True)
class Clock:
    name: str
    start: datetime
    target_s: float
    stopped: datetime | None = None  # the end milestone, once seen

    @property
    def deadline(self) -> datetime:
        return self.start + timedelta(seconds=self.target_s)

    @property
    def amber_at(self) -> datetime:
        return self.start + timedelta(seconds=self.target_s * AMBER_SHARE)

    def state(self, now: datetime) -> ClockState:
        if self.stopped is not None:
            return "met" if self.stopped <= self.deadline else "missed"
        if now >= self.deadline:
            return "red"
        return "amber" if now >= self.amber_at else "ok"

    def to_json(self, now: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "start": format_timestamp(self.start),
            "target_s": self.target_s,
            "amber_at": format_timestamp(self.amber_at),
            "deadline": format_timestamp(self.deadline),
            "state": self.state(now),
        }
        if self.stopped is not None:
            out["stopped"] = format_timestamp(self.stopped)
            out["seconds"] = (self.stopped - self.start).total_seconds()
        return out
