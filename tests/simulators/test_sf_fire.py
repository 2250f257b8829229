"""Acceptance on real data: the SFFD export, imported and replayed offline, gives each
Medical Incident call the response and transport intervals of the CSV's own timestamps.

Expected values are computed here with plain csv/datetime code, independently of the
importer and the mapping file:

- response  = earliest On Scene DtTm of any unit - Received DtTm (first-unit semantics)
- transport = Hospital DtTm - Transport DtTm of the transporting unit, the unit with the
  earliest Transport DtTm

A call is valid for an interval when every timestamp it uses is present and the end is not
before the start; for transport also when no two units share the earliest Transport DtTm
(the transporting unit is then unambiguous). Every call is either checked or excluded with
a counted reason, and the counts are printed (pytest -s) and bounded below.
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathways.engine import Engine
from pathways.events import dumps
from pathways.outputs import IntervalRecord
from pathways.replay import replay
from pathways.rulepack import load_pack
from simulators.importer import import_csv
from simulators.mapping import builtin_mapping

CSV_PATH = Path("/work/shared/data/sf_fire_calls_for_service_2016-12.csv")
SF = ZoneInfo("America/Los_Angeles")
FORMAT = "%m/%d/%Y %I:%M:%S %p"


def _time(text: str) -> datetime | None:
    return datetime.strptime(text, FORMAT).replace(tzinfo=SF) if text.strip() else None


def _medical_calls() -> dict[str, list[dict[str, str]]]:
    calls: dict[str, list[dict[str, str]]] = defaultdict(list)
    with CSV_PATH.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Call Type"] == "Medical Incident":
                calls[row["Call Number"]].append(row)
    return calls


def _response(rows: list[dict[str, str]]) -> float | str:
    """Seconds, or the reason the call is excluded."""
    received = {_time(r["Received DtTm"]) for r in rows}
    if len(received) != 1 or None in received:
        return "received time missing or inconsistent"
    on_scene = [t for t in (_time(r["On Scene DtTm"]) for r in rows) if t is not None]
    if not on_scene:
        return "no unit on scene"
    seconds = (min(on_scene) - received.pop()).total_seconds()  # type: ignore[operator]
    return seconds if seconds >= 0 else "on scene before received"


def _transport(rows: list[dict[str, str]]) -> float | str:
    left = [(t, r) for r in rows if (t := _time(r["Transport DtTm"])) is not None]
    if not left:
        return "not transported"
    first = min(t for t, _ in left)
    transporting = [r for t, r in left if t == first]
    if len(transporting) > 1:
        return "two units share the earliest transport time"
    arrived = _time(transporting[0]["Hospital DtTm"])
    if arrived is None:
        return "transporting unit has no hospital time"
    seconds = (arrived - first).total_seconds()
    return seconds if seconds >= 0 else "hospital before transport"


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, float | str]]:
    return {
        f"sf:{number}": {"response": _response(rows), "transport": _transport(rows)}
        for number, rows in _medical_calls().items()
    }


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    events, report = import_csv(CSV_PATH, builtin_mapping("sf-fire"))
    assert report.rows_bad == 0, report.problems[:5]
    return [dumps(e) for e in events]


def _final(lines: list[bytes]) -> dict[tuple[str, str], IntervalRecord]:
    """Latest revision of each interval; withdrawn intervals no longer exist."""
    records, _, errors, _ = replay(lines, Engine(load_pack("cn").with_timezone(SF.key)))
    assert errors == []
    latest: dict[tuple[str, str], IntervalRecord] = {}
    for record in records:
        key = (record.incident_id, record.interval)
        if key not in latest or record.revision > latest[key].revision:
            latest[key] = record
    return {k: r for k, r in latest.items() if "withdrawn" not in r.quality_flags}


@pytest.fixture(scope="module")
def replayed(lines: list[bytes]) -> dict[tuple[str, str], IntervalRecord]:
    return _final(lines)


@pytest.mark.parametrize("interval", ["response", "transport"])
def test_replayed_intervals_equal_the_csv_timestamps(
    interval: str, expected: dict[str, dict[str, float | str]],
    replayed: dict[tuple[str, str], IntervalRecord],
) -> None:
    valid = {c: v[interval] for c, v in expected.items() if isinstance(v[interval], float)}
    excluded = Counter(v[interval] for v in expected.values() if isinstance(v[interval], str))
    print(f"\n{interval}: {len(expected)} medical calls, {len(valid)} valid, "
          f"excluded {dict(excluded)}")
    assert len(valid) > (2500 if interval == "response" else 1900)
    got = {c: replayed[(c, interval)].seconds for c in valid if (c, interval) in replayed}
    assert got == valid  # every valid call present, each equal to the second


def test_calls_never_transported_have_no_transport_interval(
    expected: dict[str, dict[str, float | str]], replayed: dict[tuple[str, str], IntervalRecord],
) -> None:
    untransported = [c for c, v in expected.items() if v["transport"] == "not transported"]
    assert len(untransported) > 300
    assert [c for c in untransported if (c, "transport") in replayed] == []


def test_shuffled_with_duplicates_gives_identical_final_intervals(
    lines: list[bytes], replayed: dict[tuple[str, str], IntervalRecord]
) -> None:
    rng = random.Random(6)
    messy = lines + rng.sample(lines, k=len(lines) // 20)
    rng.shuffle(messy)

    def values(final: dict[tuple[str, str], IntervalRecord]) -> dict[tuple[str, str], tuple]:
        return {k: (r.start_ts, r.end_ts, r.seconds, r.unit_id) for k, r in final.items()
                if k[1] in ("response", "transport")}

    assert values(_final(messy)) == values(replayed)
