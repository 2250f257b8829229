"""The shared SFFD export (Calls for Service, one week, /work/shared/data) for real-data tests.

Expected intervals come straight from the CSV's own timestamps with plain csv/datetime code,
independently of the importer and the mapping file: first-unit semantics, and the transporting
unit is the unit with the earliest Transport DtTm. The replay side (import, replay, final
records) is here too so the tests in tests/pathways and tests/simulators build it the same way.
"""

from __future__ import annotations

import csv
import functools
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pathways import events as ev
from pathways.engine import Engine
from pathways.replay import replay
from pathways.rulepack import load_pack
from simulators.importer import import_csv
from simulators.mapping import builtin_mapping
from tests.intervals import Final, final_intervals

CSV_PATH = Path("/work/shared/data/sf_fire_calls_for_service_2016-12.csv")
SF = ZoneInfo("America/Los_Angeles")
UNIT_COLUMNS = {
    "assigned": "Dispatch DtTm",
    "enroute": "Response DtTm",
    "on_scene": "On Scene DtTm",
    "left": "Transport DtTm",
    "hospital": "Hospital DtTm",
}
FROM_RECEIVED = (("call_processing", "assigned"), ("call_to_departure", "enroute"),
                 ("response", "on_scene"))
# (interval, step that picks the unit, start step, end step) of one unit's own timestamps
OF_ONE_UNIT = (("turnout", "enroute", "assigned", "enroute"),
               ("travel", "on_scene", "enroute", "on_scene"),
               ("on_scene", "left", "on_scene", "left"),
               ("transport", "left", "left", "hospital"))

def local_time(text: str) -> datetime | None:
    if not text.strip():
        return None
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=SF)


def medical_calls() -> dict[str, list[dict[str, str]]]:
    """The CSV rows (one per unit) of each Medical Incident call, by pathwatch incident id."""
    calls: dict[str, list[dict[str, str]]] = defaultdict(list)
    with CSV_PATH.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if row["Call Type"] == "Medical Incident":
                calls[f"sf:{row['Call Number']}"].append(row)
    return calls


def unit_times(rows: list[dict[str, str]]) -> dict[str, dict[str, datetime]]:
    """Each unit's present timestamps, by step name."""
    units: dict[str, dict[str, datetime]] = {}
    for row in rows:
        times = {step: local_time(row[column]) for step, column in UNIT_COLUMNS.items()}
        units[row["Unit ID"]] = {step: t for step, t in times.items() if t is not None}
    return units


def first_unit(units: dict[str, dict[str, datetime]], step: str) -> str | None:
    having = [(times[step], unit) for unit, times in units.items() if step in times]
    return min(having)[1] if having else None


def expected_intervals(rows: list[dict[str, str]]) -> dict[str, float]:
    """Seconds of every interval the call's timestamps give (negative ones included)."""
    received = local_time(rows[0]["Received DtTm"])
    units = unit_times(rows)
    out: dict[str, float] = {}
    for name, step in FROM_RECEIVED:
        unit = first_unit(units, step)
        if received is not None and unit is not None:
            out[name] = ev.seconds_between(received, units[unit][step])
    for name, role, start, end in OF_ONE_UNIT:
        unit = first_unit(units, role)
        if unit is not None and start in units[unit] and end in units[unit]:
            out[name] = ev.seconds_between(units[unit][start], units[unit][end])
    return out


@functools.cache
def imported_lines() -> tuple[bytes, ...]:
    """The CSV through the importer and its built-in mapping, as contract JSON lines (made
    once per test session)."""
    events, report = import_csv(CSV_PATH, builtin_mapping("sf_fire"))
    assert report.rows_bad == 0, report.problems[:5]
    return tuple(ev.dumps(e) for e in events)


def shuffled_with_duplicates(lines: Sequence[bytes], seed: int) -> list[bytes]:
    """The lines plus 5% duplicates, in a random order."""
    rnd = random.Random(seed)
    messy = [*lines, *rnd.sample(lines, k=len(lines) // 20)]
    rnd.shuffle(messy)
    return messy


@functools.cache
def replayed() -> Final:
    """The final intervals of the imported lines (made once per test session)."""
    return replay_final(imported_lines())


def replay_final(lines: Sequence[bytes]) -> Final:
    """The final intervals (tests/intervals.py) of an offline replay in SF time."""
    records, _, errors, _ = replay(lines, Engine(load_pack("cn").with_timezone(SF.key)))
    assert errors == []
    return final_intervals(records)
