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


def test_backlog_holds_while_any_partition_has_unread_messages() -> None:
    from pathways.clock import Backlog

    backlog = Backlog(stale_s=30, backlog_s=1, settle_s=2)
    assert not backlog.holding(at=0)
    backlog.observe(("dispatch.calls", 0), offset=10, end_offset=500, at=1)
    backlog.observe(("dispatch.units", 3), offset=7, end_offset=8, at=1)  # the last one
    assert backlog.holding(at=2)
    backlog.observe(("dispatch.calls", 0), offset=499, end_offset=500, at=3)
    assert backlog.holding(at=4.9)  # a real backlog (2 s): what it caused is still in flight
    assert not backlog.holding(at=5)
    backlog.observe(("dispatch.gps", 1), offset=1, end_offset=None, at=6)  # end unknown
    assert not backlog.holding(at=6)


def test_one_fetched_batch_is_no_backlog() -> None:
    """Live, each fetch leaves a partition "behind" until its last message: no settling."""
    from pathways.clock import Backlog

    backlog = Backlog(stale_s=30, backlog_s=1, settle_s=2)
    backlog.observe(("dispatch.gps", 0), offset=10, end_offset=13, at=100.0)
    assert backlog.holding(at=100.1)
    backlog.observe(("dispatch.gps", 0), offset=12, end_offset=13, at=100.2)
    assert not backlog.holding(at=100.2)


def test_backlog_forgets_a_partition_not_heard_of() -> None:
    from pathways.clock import Backlog

    backlog = Backlog(stale_s=30)
    backlog.observe(("dispatch.calls", 0), offset=10, end_offset=500, at=0)
    assert backlog.holding(at=29.9)
    assert not backlog.holding(at=30.0)
    backlog.observe(("dispatch.calls", 1), offset=10, end_offset=500, at=31)
    backlog.clear()
    assert not backlog.holding(at=31)
