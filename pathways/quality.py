"""Data-quality checks: conflicting duplicates, future timestamps, bad durations, clock skew."""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from pathways import events as ev
from pathways.outputs import Alert, IntervalRecord

RECORD_FLAGS_ALERTED = ("end_before_start", "implausible_duration", "future_timestamp")


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
    source: str
    skew_s: float  # > 0: the source's clock runs ahead; < 0: behind (or always late)
    samples: int


def _low_quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(share * len(ordered)) - 1)]


class SourceClocks:
    """Per-source clock skew from (event ts, observed-at) pairs; pure, bounded memory.

    Lag = observed_at - ts is delivery delay minus skew. Delivery delay is never negative,
    so the low end of the lags (10th percentile, robust to one bad stamp) estimates -skew.
    The streaming side feeds arrival times; replay feeds the watermark.
    """

    def __init__(self, tolerance_s: float, window: int = 50, min_samples: int = 10) -> None:
        self.tolerance_s = tolerance_s
        self.min_samples = min_samples
        self._lags: dict[str, deque[float]] = {}
        self._window = window
        self._flagged: set[str] = set()

    def estimate(self, source: str) -> SkewEstimate | None:
        lags = self._lags.get(source)
        if not lags or len(lags) < self.min_samples:
            return None
        return SkewEstimate(source, -_low_quantile(list(lags), 0.1), len(lags))

    def observe(self, event: ev.Event, observed_at: datetime) -> Alert | None:
        """Record one sample; an alert when the source newly exceeds the tolerance."""
        lags = self._lags.setdefault(event.source, deque(maxlen=self._window))
        lags.append((observed_at - event.ts) / timedelta(seconds=1))
        estimate = self.estimate(event.source)
        if estimate is None:
            return None
        skewed = abs(estimate.skew_s) > self.tolerance_s
        if not skewed:
            self._flagged.discard(event.source)
            return None
        if event.source in self._flagged:
            return None
        self._flagged.add(event.source)
        return Alert(
            alert_id=f"source:{event.source}:data_quality:clock_skew:{observed_at.isoformat()}",
            kind="data_quality",
            incident_id=event.incident_id or "",
            at_ts=observed_at,
            detail=(
                f"clock_skew: source {event.source} is {estimate.skew_s:+.0f}s off "
                f"(tolerance {self.tolerance_s:.0f}s, {estimate.samples} samples)"
            ),
        )
