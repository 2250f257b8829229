"""Compliance statistics on hand-checkable numbers: exact mean, nearest-rank p50/p90, shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pathways.compliance import BucketStats, Compliance, percentile
from pathways.outputs import IntervalRecord
from pathways.rulepack import load_pack

CN = load_pack("cn")
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def d2b(
    incident: str, minutes: float, revision: int = 1, start: datetime = START, **kw: object
) -> IntervalRecord:
    fields: dict[str, Any] = dict(
        incident_id=incident, interval="door_to_balloon", start_ts=start,
        end_ts=start + timedelta(minutes=minutes), seconds=minutes * 60, target_s=5400.0,
        met=minutes * 60 <= 5400, pathway="chest_pain", triage_level=1, district_id="D1",
        area_type="urban", hospital_id="H1", unit_id=None, revision=revision, quality_flags=(),
    )
    fields.update(kw)
    return IntervalRecord(**fields)


def month_all(compliance: Compliance, interval: str = "door_to_balloon") -> BucketStats:
    (row,) = [
        r for r in compliance.stats()
        if r.interval == interval and r.period == "month" and r.dimension == "all"
    ]
    return row


def test_d2b_month_passes_with_mean_82_5_and_share_75() -> None:
    c = Compliance(CN)
    c.add_all(d2b(f"i{i}", m) for i, m in enumerate([60, 80, 90, 100]))
    row = month_all(c)
    assert (row.count, row.mean_s, row.p50_s, row.p90_s) == (4, 82.5 * 60, 80 * 60, 100 * 60)
    assert row.share_met == 0.75
    assert [(v.rule, v.value, v.passed) for v in row.verdicts] == [
        ("mean<=5400s", 82.5 * 60, True),
        ("share<=5400s>=75%", 0.75, True),
    ]
    assert row.passed is True


def test_d2b_month_fails_on_share_although_mean_is_exactly_90() -> None:
    c = Compliance(CN)
    c.add_all(d2b(f"i{i}", m) for i, m in enumerate([60, 80, 90, 100, 120]))
    row = month_all(c)
    assert (row.mean_s, row.p50_s, row.p90_s, row.share_met) == (5400, 5400, 7200, 0.6)
    assert [v.passed for v in row.verdicts] == [True, False]
    assert row.passed is False


def test_monthly_rule_is_not_judged_per_day() -> None:
    c = Compliance(CN)
    c.add(d2b("a", 60))
    (day,) = [r for r in c.stats() if r.period == "day" and r.dimension == "all"]
    assert day.verdicts == () and day.passed is None


def test_only_latest_revision_counts() -> None:
    c = Compliance(CN)
    c.add(d2b("a", 120, revision=1))
    c.add(d2b("a", 60, revision=2))
    c.add(d2b("a", 200, revision=1))  # a stale revision arriving late
    row = month_all(c)
    assert (row.count, row.mean_s) == (1, 3600)


def test_unusable_records_are_excluded_and_counted() -> None:
    c = Compliance(CN)
    c.add(d2b("a", 60))
    c.add(d2b("b", -5, quality_flags=("end_before_start",), met=None))
    c.add(d2b("c", 70, quality_flags=("withdrawn",), met=None))
    row = month_all(c)
    assert (row.count, row.excluded, row.mean_s) == (1, 2, 3600)


def test_buckets_use_the_pack_time_zone() -> None:
    late_evening = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    after_midnight = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 April there
    c = Compliance(CN)
    c.add(d2b("a", 60, start=late_evening))
    c.add(d2b("b", 60, start=after_midnight))
    months = sorted(r.bucket for r in c.stats() if r.period == "month" and r.dimension == "all")
    assert months == ["2026-03", "2026-04"]
    utc = Compliance(CN.with_timezone("UTC"))
    utc.add_all([d2b("a", 60, start=late_evening), d2b("b", 60, start=after_midnight)])
    assert [r.count for r in utc.stats() if r.period == "day" and r.dimension == "all"] == [2]


def test_dimensions_split_counts() -> None:
    c = Compliance(CN)
    c.add(d2b("a", 60, hospital_id="H1"))
    c.add(d2b("b", 100, hospital_id="H2"))
    c.add(d2b("c", 80, hospital_id="H2", triage_level=None))
    rows = {
        (r.dimension, r.value): r.count for r in c.stats() if r.period == "month"
    }
    assert rows[("hospital", "H1")] == 1 and rows[("hospital", "H2")] == 2
    assert rows[("triage_level", "unknown")] == 1 and rows[("all", "all")] == 3


def test_mean_rule_against_mixed_targets_is_not_judged() -> None:
    """Response targets differ by area type: mean <= target is judged per area type only."""
    c = Compliance(CN)
    for i, (area, target) in enumerate([("urban", 900.0), ("county", 600.0)]):
        c.add(d2b(f"r{i}", 8, interval="response", target_s=target, area_type=area, met=True))
    rows = [r for r in c.stats() if r.interval == "response" and r.period == "month"]
    verdicts = {(r.dimension, r.value): r.passed for r in rows}
    assert verdicts[("all", "all")] is None
    assert verdicts[("area_type", "urban")] is True and verdicts[("area_type", "county")] is True


def test_share_is_exact_for_thirds() -> None:
    c = Compliance(CN)
    c.add_all(d2b(f"i{i}", m) for i, m in enumerate([60, 100, 110]))
    assert month_all(c).share_met == pytest.approx(1 / 3, abs=0)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, 10),
     ([5], 50, 5), ([1, 2], 50, 1), ([1, 2, 3], 50, 2)],
)
def test_nearest_rank_percentile(values: list[int], p: float, expected: int) -> None:
    assert percentile(values, p) == expected


def test_current_is_the_newest_day_and_month_and_old_months_can_be_forgotten() -> None:
    c = Compliance(CN)
    c.add(d2b("feb", 200, start=START - timedelta(days=30)))  # February
    c.add(d2b("day1", 60, start=START - timedelta(days=1)))
    c.add(d2b("day2", 80))
    current = {(r.period, r.bucket): r for r in c.current(("all",))
               if r.interval == "door_to_balloon"}
    assert set(current) == {("day", "2026-03-10"), ("month", "2026-03")}
    assert current[("day", "2026-03-10")].count == 1
    assert current[("month", "2026-03")].mean_s == 70 * 60
    assert len(c.records) == 3
    c.forget_before_current_month()
    assert sorted(r.incident_id for r in c.records) == ["day1", "day2"]


def test_interval_record_json_round_trip() -> None:
    from pathways.outputs import interval_from_json, to_json

    record = d2b("i1", 75, revision=2, quality_flags=("clock_skew",))
    assert interval_from_json(to_json(record)) == record
    with pytest.raises(KeyError):
        interval_from_json({"interval": "door_to_balloon"})
