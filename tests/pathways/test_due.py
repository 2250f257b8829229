from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pathways.due import DueIndex

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def drain(index: DueIndex, now: datetime) -> list[str]:
    out = []
    while (incident := index.pop_due(now)) is not None:
        out.append(incident)
    return out


def test_due_incidents_come_in_moment_order_and_leave_the_index() -> None:
    index = DueIndex()
    index.set("b", T0 + timedelta(minutes=2))
    index.set("a", T0 + timedelta(minutes=1))
    index.set("c", T0 + timedelta(minutes=9))
    assert drain(index, T0 + timedelta(minutes=5)) == ["a", "b"]
    assert list(index) == ["c"]
    assert drain(index, T0 + timedelta(minutes=5)) == []


def test_a_moved_or_cleared_moment_is_what_counts() -> None:
    index = DueIndex()
    index.set("a", T0)
    index.set("a", T0 + timedelta(hours=1))
    index.set("b", T0)
    index.set("b", None)
    assert drain(index, T0 + timedelta(minutes=1)) == []
    assert drain(index, T0 + timedelta(hours=1)) == ["a"]


@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.none() | st.integers(0, 100)),
                max_size=300),
       st.integers(0, 100))
def test_pop_due_matches_a_scan_of_the_latest_moments(
    updates: list[tuple[str, int | None]], cut: int
) -> None:
    index = DueIndex()
    latest: dict[str, int | None] = {}
    for incident, minute in updates:
        index.set(incident, None if minute is None else T0 + timedelta(minutes=minute))
        latest[incident] = minute
    now = T0 + timedelta(minutes=cut)
    want = {i for i, m in latest.items() if m is not None and m <= cut}
    got = drain(index, now)
    assert len(got) == len(set(got))
    assert set(got) == want
    assert set(index) == {i for i, m in latest.items() if m is not None and m > cut}
