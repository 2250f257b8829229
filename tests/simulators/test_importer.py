"""The mapping-driven CSV importer on a tiny 120-center export written for the test."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pathways.events import CallReceived, Event, ParseError, UnitLeftScene, dumps, parse, utc
from simulators.importer import ImportReport, import_csv, import_rows
from simulators.mapping import Mapping, MappingError, builtin_mapping, load_mapping, mapping_from
from streams.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CSV = FIXTURES / "tiny_cad.csv"
MAPPING = FIXTURES / "tiny_mapping.json"


Imported = tuple[list[Event], ImportReport]


@pytest.fixture(scope="module")
def imported() -> Imported:
    return import_csv(CSV, load_mapping(MAPPING))


def _by_id(events: list[Event]) -> dict[str, Event]:
    return {e.event_id: e for e in events}


def test_one_call_per_incident_and_units_per_row(imported: Imported) -> None:
    events, _ = imported
    calls = Counter(e.incident_id for e in events if e.type == "call.received")
    assert calls == {"t120:A1": 1, "t120:B2": 1}
    units_of_a1 = {e.unit_id for e in events if e.incident_id == "t120:A1" and e.unit_id}
    assert units_of_a1 == {"U1", "U2"}


def test_empty_timestamps_make_no_event(imported: Imported) -> None:
    events, _ = imported
    u2 = {e.type for e in events if e.unit_id == "U2"}
    assert u2 == {"unit.assigned", "unit.enroute", "unit.available"}


def test_bad_rows_are_reported_with_line_and_reason_and_skipped(imported: Imported) -> None:
    events, report = imported
    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [4, 7, 8]
    assert "到达现场" in reasons[4]
    assert "纬度" in reasons[7] and "location" in reasons[7]
    assert "incident id" in reasons[8]
    assert report.rows_bad == 3 and report.rows_filtered == 1 and report.rows_read == 7
    assert not any(e.incident_id == "t120:B2" and e.unit_id == "U1" for e in events)
    assert not any(e.incident_id in ("t120:C3", "t120:D4") for e in events)


def test_local_time_zone_is_applied(imported: Imported) -> None:
    events, _ = imported
    call = _by_id(events)["t120:A1:call.received"]
    # 08:00 in Shanghai (UTC+8, no DST) is midnight UTC
    assert utc(call.ts) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert call.ts.utcoffset() == timedelta(hours=8)


def test_mapped_fields(imported: Imported) -> None:
    events, _ = imported
    by_id = _by_id(events)
    call = by_id["t120:A1:call.received"]
    left_scene = by_id["t120:A1:U1:unit.left_scene"]
    b2_call = by_id["t120:B2:call.received"]
    assert isinstance(call, CallReceived) and isinstance(b2_call, CallReceived)
    assert isinstance(left_scene, UnitLeftScene)
    assert (call.triage_level, call.pathway_hint, call.complaint) == (1, "chest_pain", "胸痛")
    assert (call.location.lat, call.location.lon) == (31.2304, 121.4737)
    assert left_scene.destination_hospital_id == "H01"
    assert b2_call.pathway_hint == "stroke"


def test_events_sorted_by_event_time_and_parse_back(imported: Imported) -> None:
    events, _ = imported
    instants = [utc(e.ts) for e in events]
    assert instants == sorted(instants)
    for event in events:
        parsed = parse(dumps(event))
        assert not isinstance(parsed, ParseError), parsed
        assert parsed == event


def test_reimport_and_repeated_rows_are_idempotent() -> None:
    mapping = load_mapping(MAPPING)
    first, _ = import_csv(CSV, mapping)
    rows = _rows(CSV)
    twice, report = import_rows(rows + rows, mapping)
    assert [e.event_id for e in twice] == [e.event_id for e in first]
    assert twice == first
    assert report.conflicts == 0


def test_conflicting_duplicate_is_reported_and_first_kept() -> None:
    mapping = load_mapping(MAPPING)
    rows = _rows(CSV)
    changed = dict(rows[0][1], **{"出车时间": "2026-11-24 08:05:00"})
    events, report = import_rows([*rows, (99, changed)], mapping)
    assert report.conflicts == 1
    assert any(p.line == 99 and "t120:A1:U1:unit.enroute" in p.reason for p in report.problems)
    enroute = _by_id(events)["t120:A1:U1:unit.enroute"]
    assert enroute.ts.minute == 2


def test_mapping_errors_are_clear(tmp_path: Path) -> None:
    raw = json.loads(MAPPING.read_text(encoding="utf-8"))
    raw["unit_events"]["unit.teleported"] = "派车时间"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(MappingError, match="unit.teleported"):
        load_mapping(bad)
    raw = json.loads(MAPPING.read_text(encoding="utf-8"))
    raw["call"]["received"] = "No Such Column"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(MappingError, match="No Such Column"):
        import_csv(CSV, load_mapping(bad))


def test_shipped_sf_mapping_loads() -> None:
    mapping = builtin_mapping("sf-fire")
    assert mapping.timezone.key == "America/Los_Angeles"
    assert "Received DtTm" in mapping.required_columns()


def test_cli_writes_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.jsonl"
    problems = tmp_path / "problems.txt"
    code = main(["import", "csv", "--mapping", str(MAPPING), str(CSV), "--out", str(out),
                 "--problems", str(problems)])
    assert code == 0
    lines = out.read_bytes().splitlines()
    expected, _ = import_csv(CSV, load_mapping(MAPPING))
    assert [parse(line) for line in lines] == expected
    assert len(problems.read_text(encoding="utf-8").splitlines()) == 3
    assert "line 4" in capsys.readouterr().err


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


def _mapping_with(**changes: object) -> Mapping:
    raw = json.loads(MAPPING.read_text(encoding="utf-8"))
    raw.update(changes)
    return mapping_from(raw)


def test_iso_timestamps_keep_their_offset_and_wkt_locations_are_lon_lat() -> None:
    mapping = _mapping_with(
        timestamps={"format": "iso", "timezone": "Asia/Shanghai"},
        call={"received": "t0", "location": {"format": "wkt_point", "column": "where"}},
        unit_events={"unit.assigned": "t1"}, filters=[], destination_hospital_id=None,
    )
    row = {"事件编号": "X9", "车辆": "U1", "t0": "2026-11-24T00:00:00+00:00",
           "t1": "2026-11-24 08:01:00", "where": "POINT (121.5 31.25)"}
    events, report = import_rows([(2, row)], mapping)
    assert report.problems == []
    call, assigned = events
    assert isinstance(call, CallReceived)
    assert (call.location.lat, call.location.lon) == (31.25, 121.5)
    assert (assigned.ts - call.ts).total_seconds() == 60  # naive time read as Shanghai time


def test_unknown_time_zone_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="Mars/Olympus"):
        _mapping_with(timestamps={"format": "iso", "timezone": "Mars/Olympus"})


def test_status_log_grain_one_event_per_row() -> None:
    events, report = import_csv(FIXTURES / "status_log.csv",
                                load_mapping(FIXTURES / "status_log_mapping.json"))
    kinds = [(e.type, e.unit_id) for e in events]
    assert kinds == [("call.received", None), ("unit.assigned", "V1"), ("unit.enroute", "V1"),
                     ("unit.on_scene", "V1"), ("unit.available", "V1"),
                     ("incident.closed", None)]
    call = events[0]
    assert isinstance(call, CallReceived)
    assert (call.triage_level, call.pathway_hint) == (1, "chest_pain")
    assert report.unmapped == {"通话结束": 1}
    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [7, 8, 10]
    assert "log:E1:V1:unit.on_scene" in reasons[7]  # a second on-scene: conflict, first kept
    assert "时间" in reasons[8] and "纬度" in reasons[10]
    assert events[3].ts.minute == 10
