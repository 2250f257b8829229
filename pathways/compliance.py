"""Compliance statistics: exact count, mean, p50, p90 and share within target per bucket.

Buckets are (interval, period day|month in the pack's time zone by the interval's start,
dimension, value). Only the latest revision of each (incident, interval) counts; records
whose duration is unusable (end before start, implausible, withdrawn) are counted apart.
Arithmetic is exact: durations in integer microseconds, means and shares as fractions.
Percentiles are nearest-rank, so "share within T >= p%" and "Pp <= T" are the same test.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from pathways.intervals import UNUSABLE
from pathways.outputs import IntervalRecord
from pathways.rulepack import RulePack, StatisticRule

DIMENSIONS = ("all", "district", "area_type", "hospital", "pathway", "triage_level")
_US = timedelta(microseconds=1)


def percentile(sorted_us: list[int], p: float) -> int:
    """Nearest-rank percentile of a sorted, non-empty list."""
    rank = math.ceil(Fraction(p) / 100 * len(sorted_us))
    return sorted_us[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    value: float | None  # the statistic the rule tests (seconds or a share)
    passed: bool | None  # None: informational, or no single target in the bucket


@dataclass(frozen=True, slots=True)
class BucketStats:
    interval: str
    period: str  # "day" | "month"
    bucket: str  # "2026-11-24" | "2026-11"
    dimension: str
    value: str
    count: int
    excluded: int
    mean_s: float | None
    p50_s: float | None
    p90_s: float | None
    share_met: float | None  # among records that have a target
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool | None:
        """All testable rules pass; None when no rule could be tested."""
        tested = [v.passed for v in self.verdicts if v.passed is not None]
        return all(tested) if tested else None


@dataclass(slots=True)
class _Bucket:
    durations_us: list[int]
    met: list[bool]
    targets: set[float | None]
    excluded: int = 0


def _dimension_value(record: IntervalRecord, dimension: str) -> str:
    value = {
        "all": "all",
        "district": record.district_id,
        "area_type": record.area_type,
        "hospital": record.hospital_id,
        "pathway": record.pathway,
        "triage_level": None if record.triage_level is None else str(record.triage_level),
    }[dimension]
    return value if value is not None else "unknown"


class Compliance:
    """Accumulates the latest revision of each (incident, interval); computes bucket stats."""

    def __init__(self, pack: RulePack, timezone: ZoneInfo | None = None) -> None:
        self.pack = pack
        self.timezone = timezone or pack.timezone
        self._latest: dict[tuple[str, str], IntervalRecord] = {}
        self._newest_start: datetime | None = None

    def add(self, record: IntervalRecord) -> None:
        key = (record.incident_id, record.interval)
        held = self._latest.get(key)
        if held is None or record.revision >= held.revision:
            self._latest[key] = record
        if self._newest_start is None or record.start_ts > self._newest_start:
            self._newest_start = record.start_ts

    def add_all(self, records: Iterable[IntervalRecord]) -> None:
        for record in records:
            self.add(record)

    @property
    def records(self) -> list[IntervalRecord]:
        return list(self._latest.values())

    def stats(
        self, periods: Iterable[str] = ("day", "month"), dimensions: Iterable[str] = DIMENSIONS
    ) -> list[BucketStats]:
        return self._stats(self._latest.values(), tuple(periods), tuple(dimensions))

    def current(self, dimensions: Iterable[str] = DIMENSIONS) -> list[BucketStats]:
        """Stats of the newest day and month seen (by interval start, in event time)."""
        if self._newest_start is None:
            return []
        today = self._labels(self._newest_start)
        month = [r for r in self._latest.values() if self._labels(r.start_ts)["month"] ==
                 today["month"]]
        return [
            stats
            for stats in self._stats(month, ("day", "month"), tuple(dimensions))
            if stats.bucket == today[stats.period]
        ]

    def forget_before_current_month(self) -> None:
        """Drop records of months before the newest one seen, to bound a live worker's memory."""
        if self._newest_start is not None:
            month = self._labels(self._newest_start)["month"]
            self._latest = {
                key: record
                for key, record in self._latest.items()
                if self._labels(record.start_ts)["month"] >= month
            }

    def _labels(self, moment: datetime) -> dict[str, str]:
        local = moment.astimezone(self.timezone)
        return {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m")}

    def _stats(
        self, records: Iterable[IntervalRecord], periods: tuple[str, ...],
        dimensions: tuple[str, ...],
    ) -> list[BucketStats]:
        buckets: dict[tuple[str, str, str, str, str], _Bucket] = defaultdict(
            lambda: _Bucket([], [], set())
        )
        for record in records:
            labels = self._labels(record.start_ts)
            for period in periods:
                for dim in dimensions:
                    value = _dimension_value(record, dim)
                    _add(buckets[(record.interval, period, labels[period], dim, value)], record)
        return [self._summarise(key, b) for key, b in sorted(buckets.items())]

    def _summarise(self, key: tuple[str, str, str, str, str], bucket: _Bucket) -> BucketStats:
        interval, period, label, dim, value = key
        ordered = sorted(bucket.durations_us)
        n = len(ordered)
        rules = _rules_of(self.pack, interval)
        return BucketStats(
            interval=interval,
            period=period,
            bucket=label,
            dimension=dim,
            value=value,
            count=n,
            excluded=bucket.excluded,
            mean_s=float(Fraction(sum(ordered), n) / 1_000_000) if n else None,
            p50_s=percentile(ordered, 50) / 1_000_000 if n else None,
            p90_s=percentile(ordered, 90) / 1_000_000 if n else None,
            share_met=sum(bucket.met) / len(bucket.met) if bucket.met else None,
            verdicts=tuple(
                _verdict(rule, bucket, ordered) for rule in rules if rule.period in (None, period)
            ),
        )


def _rules_of(pack: RulePack, interval: str) -> tuple[StatisticRule, ...]:
    try:
        return pack.interval(interval).statistics
    except KeyError:
        return ()


def _add(bucket: _Bucket, record: IntervalRecord) -> None:
    if set(record.quality_flags) & UNUSABLE:
        bucket.excluded += 1
        return
    bucket.durations_us.append((record.end_ts - record.start_ts) // _US)
    bucket.targets.add(record.target_s)
    if record.met is not None:
        bucket.met.append(record.met)


def _limit_us(limit_s: float | None, bucket: _Bucket) -> int | None:
    """The rule's limit, or the bucket's one common target when the rule says `target`."""
    if limit_s is None:
        if len(bucket.targets) != 1 or None in bucket.targets:
            return None
        limit_s = next(iter(bucket.targets))
    assert limit_s is not None
    return round(limit_s * 1_000_000)


def _verdict(rule: StatisticRule, bucket: _Bucket, ordered: list[int]) -> Verdict:
    if not ordered:
        return Verdict(rule.describe(), None, None)
    if rule.stat == "share_within":
        if rule.within_s is None:
            share = Fraction(sum(bucket.met), len(bucket.met)) if bucket.met else None
        else:
            within = round(rule.within_s * 1_000_000)
            share = Fraction(sum(1 for d in ordered if d <= within), len(ordered))
        floor = None if rule.min_share is None else Fraction(repr(rule.min_share))
        passed = None if share is None or floor is None else share >= floor
        return Verdict(rule.describe(), None if share is None else float(share), passed)
    limit = _limit_us(rule.max_s, bucket)
    if rule.stat == "mean":
        mean = Fraction(sum(ordered), len(ordered))
        return Verdict(rule.describe(), float(mean / 1_000_000), _le(mean, limit))
    value = percentile(ordered, rule.p)
    return Verdict(rule.describe(), value / 1_000_000, _le(Fraction(value), limit))


def _le(value: Fraction, limit_us: int | None) -> bool | None:
    return None if limit_us is None else value <= limit_us
