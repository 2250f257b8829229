"""Interval records as the tests compare them: the final value of each interval."""

from __future__ import annotations

from collections.abc import Iterable

from pathways.outputs import IntervalRecord

Final = dict[tuple[str, str], IntervalRecord]


def final_intervals(records: Iterable[IntervalRecord]) -> Final:
    """The latest revision of each (incident, interval); a withdrawn interval no longer exists."""
    latest: Final = {}
    for record in records:
        key = (record.incident_id, record.interval)
        if key not in latest or record.revision > latest[key].revision:
            latest[key] = record
    return {k: r for k, r in latest.items() if "withdrawn" not in r.quality_flags}
