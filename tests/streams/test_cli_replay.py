"""`pathwatch replay` on a small .jsonl file with a malformed line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pathways import events as ev
from streams.cli import main
from tests.pathways.factory import stemi_incident


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    lines = [ev.dumps(e).decode() for e in stemi_incident()]
    bad = '{"event_id": "b", "type": "unit.on_scene", "source": "cad", "ts": "yesterday"}'
    lines.insert(3, bad)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_writes_intervals_alerts_and_report(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intervals, alerts = tmp_path / "intervals.jsonl", tmp_path / "alerts.jsonl"
    code = main(["replay", str(events_file), "--intervals", str(intervals),
                 "--alerts", str(alerts), "--report"])
    out, err = capsys.readouterr()
    assert code == 0
    assert f"{events_file}:4: bad_timestamp" in err
    assert "1 malformed (skipped)" in err
    records = [json.loads(line) for line in intervals.read_text().splitlines()]
    d2b = [r for r in records if r["interval"] == "door_to_balloon"]
    assert d2b and d2b[-1]["seconds"] == 3600 and d2b[-1]["revision"] == 1
    assert set(d2b[-1]) >= {"incident_id", "start_ts", "end_ts", "target_s", "met", "pathway",
                            "revision", "quality_flags"}
    assert all(json.loads(line)["kind"] for line in alerts.read_text().splitlines())
    assert "door_to_balloon" in out and "mean<=5400s pass" in out
    assert "Asia/Shanghai" in out


def test_pack_and_time_zone_options(
    events_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(events_file), "--pack", "nfpa_aha", "--tz",
                 "America/Los_Angeles", "--report"]) == 0
    out, _ = capsys.readouterr()
    assert "door_to_device" in out and "door_to_balloon" not in out
    assert "America/Los_Angeles" in out
    assert "2026-03-13" in out  # 09:00 in Shanghai is still the 13th in Los Angeles


def test_unknown_pack_and_missing_file_are_clear_errors(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(events_file), "--pack", "atlantis"]) == 1
    assert "no such pack" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "nope.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_progress_is_reported_on_stderr(
    events_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import streams.cli_replay

    monkeypatch.setattr(streams.cli_replay, "PROGRESS_EVERY", 5)
    assert main(["replay", str(events_file)]) == 0
    out, err = capsys.readouterr()
    assert "replay: 5 lines read" in err and "replay: 10 lines read" in err
    assert out == ""  # no report unless asked


def test_region_gives_area_type_and_its_response_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from geo.regions import load_region

    county = next(d for d in load_region("demo").districts if d.area_type == "county")
    point = county.geometry.representative_point()
    events = [
        dataclasses.replace(e, location=ev.Location(lat=point.y, lon=point.x))
        if isinstance(e, ev.CallReceived) else e
        for e in stemi_incident()
    ]
    events_file, out_file = tmp_path / "county.jsonl", tmp_path / "intervals.jsonl"
    events_file.write_bytes(b"\n".join(ev.dumps(e) for e in events) + b"\n")

    def response(*region: str) -> dict[str, Any]:
        assert main(["replay", str(events_file), "--intervals", str(out_file), *region]) == 0
        lines = out_file.read_text().splitlines()
        rows: list[dict[str, Any]] = [json.loads(line) for line in lines]
        return [r for r in rows if r["interval"] == "response"][-1]

    without = response()
    assert "unknown_area" in without["quality_flags"] and without["target_s"] == 900
    with_region = response("--region", "demo")
    assert (with_region["district_id"], with_region["area_type"]) == (county.district_id,
                                                                      "county")
    assert with_region["target_s"] == 600 and "unknown_area" not in with_region["quality_flags"]
    assert main(["replay", str(events_file), "--region", "atlantis"]) == 1
    assert "atlantis" in capsys.readouterr().err
