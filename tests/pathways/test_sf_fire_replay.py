"""Real data: SFFD Calls for Service (one week, /work/shared/data), replayed through pathwatch.

Expected intervals come straight from the CSV's own timestamps (tests/sf_fire.py: first-unit
semantics, transporting unit = the unit with the earliest Transport DtTm), independently of
the importer; pathwatch must match them to the second for every Medical Incident call whose
rows agree on the call's Received DtTm. Then the same file shuffled with 5% duplicates must
give identical final intervals.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from pathways.outputs import IntervalRecord
from tests import sf_fire
from tests.intervals import Final

pytestmark = pytest.mark.skipif(
    not sf_fire.CSV_PATH.exists(), reason="shared SFFD data set not present"
)


@pytest.fixture(scope="module")
def calls() -> dict[str, dict[str, float]]:
    return {
        call: sf_fire.expected_intervals(rows)
        for call, rows in sf_fire.medical_calls().items()
        if len({r["Received DtTm"] for r in rows}) == 1  # the rows agree on the call
    }


@pytest.fixture(scope="module")
def replayed() -> Final:
    return sf_fire.replayed()


def test_every_valid_call_matches_its_recorded_intervals_to_the_second(
    calls: dict[str, dict[str, float]], replayed: Final
) -> None:
    assert len(calls) == 2688  # README: all Medical Incident calls; their rows agree
    got: dict[str, dict[str, float]] = defaultdict(dict)
    for (incident, interval), record in replayed.items():
        if incident in calls:
            got[incident][interval] = record.seconds
    mismatches = {c: (want, dict(got[c])) for c, want in calls.items() if got[c] != want}
    assert mismatches == {}
    measured = sum(len(v) for v in calls.values())
    assert measured > 10_000  # thousands of response, travel, transport... intervals


def test_shuffled_with_duplicates_gives_identical_final_intervals(
    replayed: Final,
) -> None:
    lines = sf_fire.imported_lines()
    messy = sf_fire.replay_final(sf_fire.shuffled_with_duplicates(lines, seed=2016))

    def body(r: IntervalRecord) -> tuple[object, ...]:
        return (r.start_ts, r.end_ts, r.seconds, r.target_s, r.met, r.unit_id, r.quality_flags)

    assert {k: body(r) for k, r in messy.items()} == {k: body(r) for k, r in replayed.items()}
