"""Real data: SFFD Calls for Service (one week, /work/shared/data), replayed through pathwatch.

Expected intervals come straight from the CSV's own timestamps (first-unit semantics,
transporting unit = the unit with the earliest Transport DtTm), computed here independently
of the importer; pathwatch must match them to the second for every Medical Incident call
whose rows agree on the call's Received DtTm. Then the same file shuffled with 5% duplicates
must give identical final intervals.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathways import events as ev
from pathways.engine import Engine
from pathways.outputs import IntervalRecord
from pathways.replay import replay
from pathways.rulepack import load_pack
from simulators.importer import import_csv
from simulators.mapping import builtin_mapping

CSV = Path("/work/shared/data/sf_fire_calls_for_service_2016-12.csv")
LA = ZoneInfo("America/Los_Angeles")
UNIT_COLUMNS = {
    "assigned": "Dispatch DtTm",
    "enroute": "Response DtTm",
    "on_scene": "On Scene DtTm",
    "left": "Transport DtTm",
    "hospital": "Hospital DtTm",
}

pytestmark = pytest.mark.skipif(not CSV.exists(), reason="shared SFFD data set not present")


def local(text: str) -> datetime | None:
    if not text.strip():
        return None
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=LA)


def first_unit(units: dict[str, dict[str, datetime]], step: str) -> str | None:
    having = [(times[step], unit) for unit, times in units.items() if step in times]
    return min(having)[1] if having else None


def expected_intervals(rows: list[dict[str, str]]) -> dict[str, float]:
    received = local(rows[0]["Received DtTm"])
    assert received is not None
    units: dict[str, dict[str, datetime]] = {}
    for row in rows:
        times = {step: local(row[col]) for step, col in UNIT_COLUMNS.items()}
        units[row["Unit ID"]] = {k: v for k, v in times.items() if v is not None}
    out: dict[str, float] = {}

    def put(name: str, start: datetime | None, end: datetime | None) -> None:
        if start is not None and end is not None:
            out[name] = ev.seconds_between(start, end)

    for name, step in (("call_processing", "assigned"), ("call_to_departure", "enroute"),
                       ("response", "on_scene")):
        unit = first_unit(units, step)
        put(name, received, units[unit][step] if unit else None)
    for name, role, a, b in (("turnout", "enroute", "assigned", "enroute"),
                             ("travel", "on_scene", "enroute", "on_scene"),
                             ("on_scene", "left", "on_scene", "left"),
                             ("transport", "left", "left", "hospital")):
        unit = first_unit(units, role)
        if unit:
            put(name, units[unit].get(a), units[unit].get(b))
    return out


@pytest.fixture(scope="module")
def calls() -> dict[str, dict[str, float]]:
    by_call: dict[str, list[dict[str, str]]] = defaultdict(list)
    with CSV.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if row["Call Type"] == "Medical Incident":
                by_call[f"sf:{row['Call Number']}"].append(row)
    return {
        call: expected_intervals(rows)
        for call, rows in by_call.items()
        if len({r["Received DtTm"] for r in rows}) == 1  # the rows agree on the call
    }


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    events, report = import_csv(CSV, builtin_mapping("sf_fire"))
    assert report.rows_bad == 0
    return [ev.dumps(e) for e in events]


def latest(records: list[IntervalRecord]) -> dict[tuple[str, str], IntervalRecord]:
    """The final record of each (incident, interval); withdrawn intervals are not final."""
    out: dict[tuple[str, str], IntervalRecord] = {}
    for r in records:
        key = (r.incident_id, r.interval)
        if key not in out or r.revision > out[key].revision:
            out[key] = r
    return {k: r for k, r in out.items() if "withdrawn" not in r.quality_flags}


@pytest.fixture(scope="module")
def replayed(lines: list[bytes]) -> dict[tuple[str, str], IntervalRecord]:
    records, _, errors, _ = replay(lines, Engine(load_pack("cn").with_timezone(LA.key)))
    assert errors == []
    return latest(records)


def test_every_valid_call_matches_its_recorded_intervals_to_the_second(
    calls: dict[str, dict[str, float]], replayed: dict[tuple[str, str], IntervalRecord]
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
    lines: list[bytes], replayed: dict[tuple[str, str], IntervalRecord]
) -> None:
    rnd = random.Random(2016)
    messy = lines + rnd.sample(lines, k=len(lines) // 20)
    rnd.shuffle(messy)
    records, _, _, _ = replay(messy, Engine(load_pack("cn").with_timezone(LA.key)))

    def body(r: IntervalRecord) -> tuple[object, ...]:
        return (r.start_ts, r.end_ts, r.seconds, r.target_s, r.met, r.unit_id, r.quality_flags)

    shuffled = {k: body(r) for k, r in latest(records).items()}
    assert shuffled == {k: body(r) for k, r in replayed.items()}
