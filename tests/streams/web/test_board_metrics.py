"""Compliance gauges: exported at scrape time from the board's `pathways.compliance`."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from pathways.outputs import IntervalRecord, to_json
from streams.web.board import Board
from streams.web.board_metrics import BoardCollector

CST = timezone(timedelta(hours=8))
DAY1 = datetime(2026, 11, 24, 10, 0, tzinfo=CST)
_ids = itertools.count()


def record(
    seconds: float, *, end: datetime = DAY1, incident: str | None = None, revision: int = 1,
    area: str = "urban",
) -> IntervalRecord:
    return IntervalRecord(
        incident_id=incident or f"I{next(_ids)}", interval="call_to_departure",
        start_ts=end - timedelta(seconds=seconds), end_ts=end, seconds=seconds, target_s=180,
        met=seconds <= 180, pathway="chest_pain", triage_level=2, district_id="D01",
        area_type=area,  # type: ignore[arg-type]
        hospital_id=None, unit_id="U1", revision=revision,
    )


def board_with_registry() -> tuple[Board, CollectorRegistry]:
    board, registry = Board(), CollectorRegistry()
    registry.register(BoardCollector(board))
    return board, registry


def compliance(registry: CollectorRegistry, period: str, area: str = "") -> tuple[object, ...]:
    labels = dict(interval="call_to_departure", area_type=area, period=period)
    return tuple(
        registry.get_sample_value(name, labels)
        for name in (
            "pathwatch_compliance_mean_seconds",
            "pathwatch_compliance_within_target_ratio",
            "pathwatch_compliance_intervals",
        )
    )


def test_compliance_mean_and_share_for_day_and_month() -> None:
    board, registry = board_with_registry()
    for seconds in (120, 150, 240, 170):
        board.apply_interval(to_json(record(seconds)))
    assert compliance(registry, "day") == (170.0, 0.75, 4)
    assert compliance(registry, "day", "urban") == (170.0, 0.75, 4)
    assert compliance(registry, "day", "county") == (None, None, None)
    board.apply_interval(to_json(record(100, end=DAY1 + timedelta(days=1))))
    assert compliance(registry, "day") == (100.0, 1.0, 1)
    assert compliance(registry, "month") == (156.0, 0.8, 5)


def test_a_revision_replaces_and_a_redelivery_changes_nothing() -> None:
    board, registry = board_with_registry()
    for rec in (record(400, incident="I1"), record(400, incident="I1"),
                record(100, incident="I2"), record(160, incident="I1", revision=2),
                record(400, incident="I1")):  # the last: a late copy of revision 1
        board.apply_interval(to_json(rec))
    assert compliance(registry, "day") == (130.0, 1.0, 2)


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(6)), st.lists(st.integers(1, 900), min_size=6, max_size=6))
def test_compliance_does_not_depend_on_arrival_order(order: list[int], secs: list[int]) -> None:
    # incidents 0..2 each with two revisions; the highest revision must win whatever the order
    records = [record(secs[i], incident=f"I{i % 3}", revision=1 + i // 3) for i in range(6)]
    board, registry = board_with_registry()
    for i in order:
        board.apply_interval(to_json(records[i]))
    final = secs[3:]
    mean, share, count = compliance(registry, "day")
    assert count == 3
    assert isinstance(mean, float) and abs(mean - sum(final) / 3) < 1e-9
    assert share == sum(s <= 180 for s in final) / 3
