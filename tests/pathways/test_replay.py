"""Offline replay over lines: watermark clock, deadline sweeps, bad lines, compliance."""

from __future__ import annotations

import random
from typing import Any

from pathways import events as ev
from pathways.compliance import Compliance
from pathways.engine import Engine
from pathways.outputs import IntervalRecord, to_json
from pathways.replay import LineError, Replay, replay
from pathways.rulepack import load_pack
from tests.intervals import final_intervals
from tests.pathways.factory import at, event, stemi_incident, unit
from tests.pathways.test_multi_unit import sf_call

CN = load_pack("cn")


def lines_of(events: list[ev.Event]) -> list[bytes]:
    return [ev.dumps(e) for e in events]


def test_malformed_lines_are_reported_with_line_numbers_and_skipped() -> None:
    lines = lines_of(stemi_incident())
    lines.insert(2, b'{"type": "call.received", "ts": ')
    lines.insert(5, b"")
    lines.insert(7, b'{"event_id": "x", "type": "unit.teleported", "ts": "2026-01-01T00:00:00Z"}')
    records, _, errors, _ = replay(lines, Engine(CN))
    assert [(e.line_no, e.reason) for e in errors] == [(3, "invalid_json"), (8, "unknown_type")]
    assert "line 3: invalid_json" in str(errors[0])
    assert {r.interval for r in records} >= {"door_to_balloon", "response"}


def test_deadlines_fire_as_the_watermark_passes_them() -> None:
    quiet = event("call.received", 0, incident="quiet")  # never gets a unit
    busy = [e for e in stemi_incident("busy") if e.ts >= at(0)]
    run = Replay(Engine(CN, locate=lambda lat, lon: ("D1", "urban")), Compliance(CN))
    outputs = list(run.run(lines_of([quiet, *busy])))
    quiet_alerts = [
        (o.kind, o.at_ts) for o in outputs
        if not isinstance(o, LineError | IntervalRecord) and o.incident_id == "quiet"
        and o.interval == "response"
    ]
    # each moment is judged at that moment, once an event shows the watermark is past it
    assert quiet_alerts == [("approaching", at(12)), ("breach", at(15))]


def test_ignored_events_and_counts() -> None:
    extra = [
        event("gps.fix", 1, unit_id="A1", lat=31.2, lon=121.4),
        event("unit.available", 200, unit_id="A1"),
    ]
    run = Replay(Engine(CN), Compliance(CN))
    list(run.run(lines_of(stemi_incident() + extra)))
    assert (run.counts.events, run.counts.ignored, run.counts.errors) == (15, 2, 0)
    assert len(run.states) == 1


def final_by_incident(
    records: list[IntervalRecord],
) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, r in final_intervals(records).items():
        body = to_json(r)
        body.pop("revision")
        out[key] = body
    return out


def test_shuffled_and_duplicated_file_gives_identical_final_intervals() -> None:
    events = [e for i in range(20) for e in (stemi_incident(f"s{i}") + sf_call_for(f"m{i}"))]
    ordered, _, _, ordered_compliance = replay(lines_of(events), Engine(CN))
    rnd = random.Random(7)
    messy = events + rnd.sample(events, k=len(events) // 20)
    rnd.shuffle(messy)
    shuffled, _, _, shuffled_compliance = replay(lines_of(messy), Engine(CN))
    assert final_by_incident(shuffled) == final_by_incident(ordered)
    assert len(final_by_incident(ordered)) == 20 * (12 + 7)
    assert shuffled_compliance.stats() == ordered_compliance.stats()


def sf_call_for(incident: str) -> list[ev.Event]:
    out = []
    for e in sf_call():
        obj = ev.to_json(e)
        obj["incident_id"] = incident
        obj["event_id"] = f"{incident}:{obj['event_id']}"
        parsed = ev.parse_object(obj)
        assert not isinstance(parsed, ev.ParseError)
        out.append(parsed)
    return out


def test_compliance_counts_latest_revision_only() -> None:
    events = [event("call.received", 0), unit("on_scene", 12, "A1"), unit("on_scene", 10, "A2")]
    records, _, _, compliance = replay(lines_of(events), Engine(CN))
    assert [r.revision for r in records if r.interval == "response"] == [1, 2]
    (row,) = [
        r for r in compliance.stats()
        if r.interval == "response" and r.period == "month" and r.dimension == "all"
    ]
    assert (row.count, row.mean_s) == (1, 600)


def test_an_interval_closed_at_its_very_deadline_is_not_breached() -> None:
    """Another incident's event at the deadline instant comes first in the file: the sweep
    must wait for the rest of that instant, which holds the closing event."""
    early = event("call.received", 0, incident="early")
    first_at_deadline = event("call.received", 3, incident="other")
    closing = unit("enroute", 3, "A1", incident="early")
    assert closing.ts == early.ts + (at(3) - at(0))  # call_to_departure target: 3 minutes
    run = Replay(Engine(CN, locate=lambda lat, lon: ("D1", "urban")), Compliance(CN))
    outputs = list(run.run(lines_of([early, first_at_deadline, closing])))
    departure = [o for o in outputs if not isinstance(o, LineError)
                 and o.incident_id == "early" and o.interval == "call_to_departure"]
    assert [getattr(o, "kind", "record") for o in departure] == ["approaching", "record"]
    assert [o.met for o in departure if isinstance(o, IntervalRecord)] == [True]
