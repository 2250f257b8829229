"""The replay clock: event-time watermark, never going back."""

from __future__ import annotations

from datetime import timedelta

from pathways.clock import WatermarkClock
from tests.pathways.factory import at


def test_watermark_is_the_largest_event_time_and_never_goes_back() -> None:
    clock = WatermarkClock()
    assert clock.now() is None
    clock.observe(at(5))
    clock.observe(at(3))  # a late event
    assert clock.now() == at(5)
    clock.observe(at(9))
    assert clock.now() == at(9)


def test_lateness_holds_the_watermark_back() -> None:
    clock = WatermarkClock(lateness=timedelta(seconds=30))
    clock.observe(at(10))
    assert clock.now() == at(10) - timedelta(seconds=30)
