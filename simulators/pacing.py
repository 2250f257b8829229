"""The thin runner's pacing: event time compressed by `speed`, a fixed `rate`, or none.

This is the one place of the simulators that reads the wall clock (it is handed in, so
tests can drive it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from simulators.faults import Outgoing

MIN_SPEED = 1.0
MAX_SPEED = 600.0
_SLACK_S = 0.005  # sleeping less than this costs more than it is worth


def paced(
    stream: Iterable[Outgoing], *, speed: float | None = None, rate: float | None = None,
    warmup: timedelta = timedelta(0),
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Outgoing]:
    """Yield each message when it is due: at `at` / speed, or the n-th at n / rate seconds.

    With `speed`, the first `warmup` of event time is sent at once (history for a demo), and
    pacing starts from there. Invalid settings raise ValueError here, before anything is sent.
    """
    if speed is not None and rate is not None:
        raise ValueError("give --speed or --rate, not both")
    if speed is not None and not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"--speed must be within {MIN_SPEED:g}..{MAX_SPEED:g} (x real time)")
    if rate is not None and rate <= 0:
        raise ValueError("--rate must be > 0 events per second")
    if warmup < timedelta(0):
        raise ValueError("--warmup must not be negative")
    return _paced(stream, speed, rate, warmup, clock, sleep)


def _paced(
    stream: Iterable[Outgoing], speed: float | None, rate: float | None, warmup: timedelta,
    clock: Callable[[], float], sleep: Callable[[float], None],
) -> Iterator[Outgoing]:
    wall_start = clock()
    paced_from: datetime | None = None
    latest: datetime | None = None
    for number, item in enumerate(stream):
        if speed is not None:
            paced_from = paced_from or item.at + warmup
            latest = item.at if latest is None or item.at > latest else latest
            due = max(0.0, (latest - paced_from).total_seconds() / speed)
        elif rate is not None:
            due = number / rate
        else:
            yield item
            continue
        ahead = due - (clock() - wall_start)
        if ahead > _SLACK_S:
            sleep(ahead)
        yield item
