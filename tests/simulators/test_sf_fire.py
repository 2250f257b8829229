"""Acceptance on real data: the SFFD export, imported and replayed offline, gives each
Medical Incident call the response and transport intervals of the CSV's own timestamps.

Expected values come from tests/sf_fire.py (plain csv/datetime code, independent of the
importer and the mapping file):

- response  = earliest On Scene DtTm of any unit - Received DtTm (first-unit semantics)
- transport = Hospital DtTm - Transport DtTm of the transporting unit, the unit with the
  earliest Transport DtTm

A call is valid for an interval when every timestamp it uses is present and the end is not
before the start; for transport also when no two units share the earliest Transport DtTm
(the transporting unit is then unambiguous). Every call is either checked or excluded with
a counted reason, and the counts are printed (pytest -s) and bounded below.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests import sf_fire
from tests.intervals import Final


def _response(rows: list[dict[str, str]]) -> float | str:
    """Seconds, or the reason the call is excluded."""
    received = {sf_fire.local_time(r["Received DtTm"]) for r in rows}
    if len(received) != 1 or None in received:
        return "received time missing or inconsistent"
    seconds = sf_fire.expected_intervals(rows).get("response")
    if seconds is None:
        return "no unit on scene"
    return seconds if seconds >= 0 else "on scene before received"


def _transport(rows: list[dict[str, str]]) -> float | str:
    left = [t["left"] for t in sf_fire.unit_times(rows).values() if "left" in t]
    if not left:
        return "not transported"
    if left.count(min(left)) > 1:
        return "two units share the earliest transport time"
    seconds = sf_fire.expected_intervals(rows).get("transport")
    if seconds is None:
        return "transporting unit has no hospital time"
    return seconds if seconds >= 0 else "hospital before transport"


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, float | str]]:
    return {
        call: {"response": _response(rows), "transport": _transport(rows)}
        for call, rows in sf_fire.medical_calls().items()
    }


@pytest.fixture(scope="module")
def replayed() -> Final:
    return sf_fire.replayed()


@pytest.mark.parametrize("interval", ["response", "transport"])
def test_replayed_intervals_equal_the_csv_timestamps(
    interval: str, expected: dict[str, dict[str, float | str]], replayed: Final,
) -> None:
    valid = {c: v[interval] for c, v in expected.items() if isinstance(v[interval], float)}
    excluded = Counter(v[interval] for v in expected.values() if isinstance(v[interval], str))
    print(f"\n{interval}: {len(expected)} medical calls, {len(valid)} valid, "
          f"excluded {dict(excluded)}")
    assert len(valid) > (2500 if interval == "response" else 1900)
    got = {c: replayed[(c, interval)].seconds for c in valid if (c, interval) in replayed}
    assert got == valid  # every valid call present, each equal to the second


def test_calls_never_transported_have_no_transport_interval(
    expected: dict[str, dict[str, float | str]], replayed: Final,
) -> None:
    untransported = [c for c, v in expected.items() if v["transport"] == "not transported"]
    assert len(untransported) > 300
    assert [c for c in untransported if (c, "transport") in replayed] == []


def test_shuffled_with_duplicates_gives_identical_final_intervals(
    replayed: Final,
) -> None:
    lines = sf_fire.imported_lines()
    messy = sf_fire.replay_final(sf_fire.shuffled_with_duplicates(lines, seed=6))

    def values(final: Final) -> dict[tuple[str, str], tuple[object, ...]]:
        return {k: (r.start_ts, r.end_ts, r.seconds, r.unit_id) for k, r in final.items()
                if k[1] in ("response", "transport")}

    assert values(messy) == values(replayed)
