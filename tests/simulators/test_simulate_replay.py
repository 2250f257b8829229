"""`pathwatch simulate` end to end: the faulted stream replays to the clean stream's intervals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pathways.engine import Engine
from pathways.events import ParseError, parse
from pathways.replay import replay
from pathways.rulepack import load_pack
from streams.cli import main
from tests.intervals import final_intervals

COMMON = ["simulate", "--seed", "4", "--start", "2026-11-24T07:00:00+08:00",
          "--duration", "3h", "--calls-per-hour", "20"]


def _simulate(tmp_path: Path, name: str, *extra: str) -> list[bytes]:
    out = tmp_path / name
    assert main([*COMMON, "--out", str(out), *extra]) == 0
    return out.read_bytes().splitlines()


# an interval's (start_ts, end_ts, seconds, unit_id, hospital_id)
Timing = tuple[datetime, datetime, float, str | None, str | None]


def _final(lines: list[bytes]) -> tuple[dict[tuple[str, str], Timing], int]:
    records, _, errors, _ = replay(lines, Engine(load_pack("cn")))
    final = {k: (r.start_ts, r.end_ts, r.seconds, r.unit_id, r.hospital_id)
             for k, r in final_intervals(records).items()}
    return final, len(errors)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    return _simulate(tmp_path_factory.mktemp("clean"), "clean.jsonl")


def test_cli_output_is_deterministic_and_valid(tmp_path: Path, clean: list[bytes]) -> None:
    assert _simulate(tmp_path, "again.jsonl") == clean
    assert all(not isinstance(parse(line), ParseError) for line in clean)


def test_duplicates_disorder_lateness_and_garbage_change_no_final_interval(
    tmp_path: Path, clean: list[bytes]
) -> None:
    messy = _simulate(tmp_path, "messy.jsonl", "--duplicates", "0.05", "--out-of-order", "0.1",
                      "--late", "0.03", "--late-by", "600", "--malformed", "0.01")
    garbage = sum(isinstance(parse(line), ParseError) for line in messy)
    assert len(messy) > len(clean) and garbage > 0
    expected, clean_errors = _final(clean)
    got, errors = _final(messy)
    assert clean_errors == 0 and errors == garbage
    assert len(expected) > 100
    assert got == expected


def test_clock_skew_shifts_one_units_intervals(tmp_path: Path, clean: list[bytes]) -> None:
    unit = next(parse(line).unit_id for line in clean  # type: ignore[union-attr]
                if b'"unit.on_scene"' in line)
    skewed = _simulate(tmp_path, "skew.jsonl", "--clock-skew", f"{unit}:-120")
    expected, _ = _final(clean)
    got, _ = _final(skewed)
    changed = {k for k in expected if got.get(k) != expected[k]}
    assert changed
    assert all(expected[k][3] == unit or got.get(k, (None,) * 4)[3] == unit for k in changed)
