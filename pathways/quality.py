"""Data-quality checks: conflicting duplicates, future timestamps, bad durations, clock skew."""

from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from pathways import events as ev
from pathways.outputs import Alert, IntervalRecord

RECORD_FLAGS_ALERTED = ("end_before_start", "implausible_duration", "future_timestamp")
_SECOND = timedelta(seconds=1)


def _digest(event: ev.Event) -> str:
    return hashlib.sha256(ev.dumps(event)).hexdigest()[:12]


def conflict_alert(previous: ev.Event, event: ev.Event, now: datetime) -> Alert:
    """Same event_id, different content: the newer version is kept, and this alert says so."""
    return Alert(
        alert_id=f"{event.incident_id}:data_quality:conflict:{event.event_id}:{_digest(event)}",
        kind="data_quality",
        incident_id=event.incident_id or "",
        at_ts=now,
        detail=(
            f"duplicate_conflict: event {event.event_id} ({event.TYPE}, source {event.source}) "
            f"redelivered with different content; ts {ev.format_timestamp(previous.ts)} -> "
            f"{ev.format_timestamp(event.ts)}; the later version is used"
        ),
    )


def future_alert(event: ev.Event, now: datetime, tolerance_s: float) -> Alert | None:
    """An event stamped more than `tolerance_s` after `now` (a clock ahead, or a typo)."""
    ahead = ev.seconds_between(now, event.ts)
    if ahead <= tolerance_s:
        return None
    return Alert(
        alert_id=f"{event.incident_id}:data_quality:future:{event.event_id}",
        kind="data_quality",
        incident_id=event.incident_id or "",
        at_ts=now,
        detail=(
            f"future_timestamp: {event.TYPE} from {event.source} is {ahead:.0f}s ahead of now "
            f"(tolerance {tolerance_s:.0f}s)"
        ),
    )


def interval_quality_alerts(record: IntervalRecord, now: datetime) -> list[Alert]:
    """One data_quality alert per alarming flag of an interval record."""
    return [
        Alert(
            alert_id=f"{record.incident_id}:data_quality:{flag}:{record.interval}",
            kind="data_quality",
            incident_id=record.incident_id,
            at_ts=now,
            interval=record.interval,
            target_s=record.target_s,
            detail=f"{flag}: {record.interval} = {record.seconds:.0f}s "
            f"({ev.format_timestamp(record.start_ts)} -> {ev.format_timestamp(record.end_ts)})",
            pathway=record.pathway,
            triage_level=record.triage_level,
            district_id=record.district_id,
            area_type=record.area_type,
            hospital_id=record.hospital_id,
            unit_id=record.unit_id,
        )
        for flag in record.quality_flags
        if flag in RECORD_FLAGS_ALERTED
    ]


@dataclass(frozen=True, slots=True)
class SkewEstimate:
    source: str  # the clock's key: `device_key` of its events
    skew_s: float  # > 0: the clock runs ahead; < 0: behind (or always late)
    samples: int


def device_key(event: ev.Event) -> str:
    """Whose clock stamped `event`: one unit's device within a shared source (every unit's
    GPS is `avl`), else the source itself."""
    return device_key_of(event.source, event.unit_id)


def device_key_of(source: str, unit_id: str | None) -> str:
    """`device_key` of an event with this source and unit_id."""
    return f"{source}:{unit_id}" if unit_id else source


class _LagWindow:
    """The last `size` lags, in arrival order (to drop the oldest) and sorted (to read a
    quantile without sorting on every sample)."""

    __slots__ = ("arrivals", "ordered", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrivals: deque[float] = deque()
        self.ordered: list[float] = []

    def add(self, lag: float) -> bool:
        """Add a lag; False when the sorted lags stay the same (it replaced an equal one)."""
        if len(self.arrivals) >= self.size:
            oldest = self.arrivals.popleft()
            self.arrivals.append(lag)
            if lag == oldest:  # the same value (often 0.0, an on-time event) leaves it sorted
                return False
            del self.ordered[bisect_left(self.ordered, oldest)]
        else:
            self.arrivals.append(lag)
        insort(self.ordered, lag)
        return True

    def low_quantile(self, share: float) -> float:
        return self.ordered[max(0, int(share * len(self.ordered)) - 1)]


class SourceClocks:
    """Per-device clock skew from (event ts, observed-at) pairs; pure, bounded memory.

    Lag = observed_at - ts is delivery delay minus skew. Delivery delay is never negative,
    so the low end of the lags (10th percentile, robust to one bad stamp) estimates -skew.
    Clocks are keyed by `device_key`; at most `max_clocks` are kept (least recently heard
    dropped). The streaming side feeds the time the event reached Kafka; replay the watermark.
    """

    def __init__(
        self, tolerance_s: float, window: int = 50, min_samples: int = 10,
        max_clocks: int = 10_000,
    ) -> None:
        self.tolerance_s = tolerance_s
        self.min_samples = min_samples
        self._window = window
        self._max_clocks = max_clocks
        self._lags: OrderedDict[str, _LagWindow] = OrderedDict()
        self._flagged: set[str] = set()

    def estimate(self, key: str) -> SkewEstimate | None:
        """The skew of the clock `key` (`device_key` of its events), once it has enough samples."""
        lags = self._lags.get(key)
        if lags is None:
            return None
        skew = self._skew_of(lags)
        return None if skew is None else SkewEstimate(key, skew, len(lags.ordered))

    def observe(self, event: ev.Event, observed_at: datetime) -> Alert | None:
        """Record one sample; an alert when the event's clock newly exceeds the tolerance."""
        estimate = self.observe_lag(device_key(event), (observed_at - event.ts) / _SECOND)
        return None if estimate is None else self.alert(event, estimate, observed_at)

    def observe_lag(self, key: str, lag_s: float) -> SkewEstimate | None:
        """`observe` of an event of clock `key` that arrived `lag_s` after its ts (observed_at
        - ts): the estimate when the clock newly exceeds the tolerance (`alert` words it)."""
        lags = self._lags_of(key)
        if not lags.add(lag_s):  # the same lags: this clock's last sample decided already
            return None
        skew = self._skew_of(lags)
        if skew is None:
            return None
        if abs(skew) <= self.tolerance_s:
            self._flagged.discard(key)
            return None
        if key in self._flagged:
            return None
        self._flagged.add(key)
        return SkewEstimate(key, skew, len(lags.ordered))

    def alert(self, event: ev.Event, estimate: SkewEstimate, observed_at: datetime) -> Alert:
        """The clock_skew alert of `estimate` (from `observe_lag`), `event` the sample's."""
        return _skew_alert(event, estimate, observed_at, self.tolerance_s)

    def _skew_of(self, lags: _LagWindow) -> float | None:
        if len(lags.ordered) < self.min_samples:
            return None
        return -lags.low_quantile(0.1)

    def _lags_of(self, key: str) -> _LagWindow:
        lags = self._lags.get(key)
        if lags is not None:
            self._lags.move_to_end(key)
            return lags
        if len(self._lags) >= self._max_clocks:
            dropped, _ = self._lags.popitem(last=False)
            self._flagged.discard(dropped)
        lags = self._lags[key] = _LagWindow(self._window)
        return lags


def _skew_alert(
    event: ev.Event, estimate: SkewEstimate, observed_at: datetime, tolerance_s: float
) -> Alert:
    unit = f" unit {event.unit_id}" if event.unit_id else ""
    way = "ahead" if estimate.skew_s > 0 else "behind, or its events arrive late"
    return Alert(
        alert_id=f"source:{estimate.source}:data_quality:clock_skew:{observed_at.isoformat()}",
        kind="data_quality",
        incident_id=event.incident_id or "",
        at_ts=observed_at,
        detail=(
            f"clock_skew: source {event.source}{unit} is {estimate.skew_s:+.0f}s off ({way}; "
            f"tolerance {tolerance_s:.0f}s, {estimate.samples} samples)"
        ),
        unit_id=event.unit_id,
    )
