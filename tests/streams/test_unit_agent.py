"""The unit desk: GPS fixes drive the geofences of the unit's current leg only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from geo.regions import load_region
from pathways import events as ev
from streams import unit_agent
from streams.clock import WatermarkClock
from streams.feeds import Envelope, EtaUpdate, UnitTargets
from streams.unit_agent import (
    _TIMES,
    ETA_EVERY_S,
    ETA_RESEND_S,
    UnitDesk,
    _stored_time,
    _ts,
)
from tests.integration.scenarios import H01_DOOR, SCENE, event, gps_path
from tests.pathways.test_events import moments
from tests.streams.harness import run

INCIDENT, UNIT = "inc-2", "A1"
LEFT_SCENE_MIN = 120.0


class Desk:
    def __init__(self) -> None:
        self.forwarded: list[Envelope] = []
        self.table: dict[str, Any] = {}
        self.desk = UnitDesk(load_region(), WatermarkClock(), self._forward)

    async def _forward(self, key: str, item: Envelope) -> None:
        self.forwarded.append(item)

    def send(self, items: Sequence[ev.Event]) -> None:
        async def go() -> None:
            for item in items:
                await self.desk.handle(item, self.table)

        run(go())

    def doors(self) -> list[ev.Event]:
        return [e for e in self.forwarded
                if isinstance(e, ev.Event) and e.TYPE == "unit.at_destination"]


def transporting() -> Desk:
    desk = Desk()
    desk.send([
        event("unit.assigned", 100.5, INCIDENT, unit_id=UNIT),
        event("unit.enroute", 101, INCIDENT, unit_id=UNIT),
        event("unit.on_scene", 110, INCIDENT, unit_id=UNIT),
        event("unit.left_scene", LEFT_SCENE_MIN, INCIDENT, unit_id=UNIT,
              destination_hospital_id="H01"),
    ])
    return desk


def test_fixes_from_before_the_latest_status_open_no_door() -> None:
    desk = transporting()
    old_trip = gps_path(UNIT, SCENE, H01_DOOR, 50, 55)  # at H01's door, an hour too early
    desk.send(old_trip)
    assert desk.doors() == []
    # still the newest position known: the ETA may use it (it is stamped with its own time)
    assert desk.desk.current(desk.table, UNIT)["fix"]["ts"] == ev.format_timestamp(old_trip[-1].ts)


def test_fixes_after_the_latest_status_still_open_the_door() -> None:
    desk = transporting()
    desk.send(gps_path(UNIT, SCENE, H01_DOOR, LEFT_SCENE_MIN + 1, LEFT_SCENE_MIN + 6))
    doors = desk.doors()
    assert [d.incident_id for d in doors] == [INCIDENT]
    assert doors[0].ts > event("unit.left_scene", LEFT_SCENE_MIN, INCIDENT, unit_id=UNIT).ts


def test_the_door_fenced_is_the_destination_now_given() -> None:
    """The fences of a leg are built once; a new destination for the same leg is a new fence."""
    desk = transporting()
    desk.send(gps_path(UNIT, SCENE, SCENE, LEFT_SCENE_MIN + 1, LEFT_SCENE_MIN + 2))
    h02 = load_region().hospital("H02")
    assert h02 is not None
    desk.send([UnitTargets(UNIT, INCIDENT, None, "H02")])  # type: ignore[list-item]
    desk.send(gps_path(UNIT, SCENE, H01_DOOR, LEFT_SCENE_MIN + 3, LEFT_SCENE_MIN + 8))
    assert desk.doors() == []  # H01 is no longer where it is going
    desk.send(gps_path(UNIT, H01_DOOR, (h02.lat, h02.lon), LEFT_SCENE_MIN + 9,
                       LEFT_SCENE_MIN + 14))
    assert [getattr(d, "hospital_id", None) for d in desk.doors()] == ["H02"]


def test_an_old_fix_does_not_move_the_position_back() -> None:
    desk = transporting()
    desk.send(gps_path(UNIT, SCENE, H01_DOOR, LEFT_SCENE_MIN + 1, LEFT_SCENE_MIN + 2))
    newest = desk.desk.current(desk.table, UNIT)["fix"]
    desk.send(gps_path(UNIT, H01_DOOR, SCENE, 50, 51))
    assert desk.desk.current(desk.table, UNIT)["fix"] == newest


class CountedTable(dict[str, Any]):
    writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_a_fix_that_only_moves_the_unit_is_written_once_a_minute() -> None:
    """Fixes are nine in ten input events; each table write is a changelog message."""
    desk = Desk()
    desk.table = table = CountedTable()
    desk.send([event("unit.available", 0, None, unit_id=UNIT)])
    start = table.writes
    fixes = gps_path(UNIT, SCENE, H01_DOOR, 1, 11)  # idle driving, no fence: 10 minutes
    desk.send(fixes)
    minutes = (fixes[-1].ts - fixes[0].ts).total_seconds() / 60
    assert len(fixes) >= 3 * minutes  # three fixes a minute
    assert table.writes - start <= minutes + 1
    assert desk.desk.current(table, UNIT)["fix"]["ts"] == ev.format_timestamp(fixes[-1].ts)
    # a rebalance forgets what was not written: the table's last checkpoint is at most a minute
    # of event time behind
    desk.desk.forget_unsaved()
    written = ev.parse_timestamp(desk.desk.current(table, UNIT)["fix"]["ts"])
    assert (fixes[-1].ts - written).total_seconds() <= 60


def test_the_arrival_does_not_depend_on_fixes_coming_before_the_scene() -> None:
    """Input topics are read side by side: after an outage a unit's fixes at the scene can be
    read before the incident side has told the unit where the scene is."""
    from streams.feeds import UnitTargets

    status = [event("unit.assigned", 100.5, INCIDENT, unit_id=UNIT),
              event("unit.enroute", 101, INCIDENT, unit_id=UNIT)]
    fixes = gps_path(UNIT, H01_DOOR, SCENE, 101.5, 108)
    scene = UnitTargets(UNIT, INCIDENT, SCENE, None)

    in_order, late_scene = Desk(), Desk()
    in_order.send([*status, scene, *fixes])  # type: ignore[list-item]
    late_scene.send([*status, *fixes, scene])  # type: ignore[list-item]

    def arrivals(desk: Desk) -> list[tuple[str, object]]:
        return [(e.event_id, e.ts) for e in desk.forwarded
                if isinstance(e, ev.Event) and e.TYPE == "unit.on_scene"]

    assert len(arrivals(in_order)) == 1
    assert arrivals(late_scene) == arrivals(in_order)


def etas(desk: Desk) -> list[EtaUpdate]:
    return [e for e in desk.forwarded if isinstance(e, EtaUpdate)]


def test_the_first_eta_counts_from_the_departure_when_no_fix_came_on_scene() -> None:
    desk = Desk()
    desk.send([event("unit.assigned", 100.5, INCIDENT, unit_id=UNIT),
               event("unit.enroute", 101, INCIDENT, unit_id=UNIT)])
    run(desk.desk.handle(UnitTargets(incident_id=INCIDENT, unit_id=UNIT, scene=SCENE,
                                     hospital_id=None), desk.table))
    desk.send(gps_path(UNIT, H01_DOOR, SCENE, 102, 108, dwell_fixes=0))  # none on scene
    left = event("unit.left_scene", LEFT_SCENE_MIN, INCIDENT, unit_id=UNIT,
                 destination_hospital_id="H01")
    desk.send([left])
    first = etas(desk)[0]
    assert first.at == left.ts
    assert first.at < first.eta_ts < left.ts + timedelta(minutes=10)  # the door is ~1 km away


def test_an_eta_counts_from_the_latest_fix_once_the_unit_moves() -> None:
    desk = transporting()
    path = gps_path(UNIT, SCENE, H01_DOOR, LEFT_SCENE_MIN + 0.5, LEFT_SCENE_MIN + 3)
    desk.send(path[:3])
    assert etas(desk)[-1].at == path[0].ts  # the scene is not known here: fixes only


def test_an_eta_is_sent_again_only_once_it_moved_by_the_resend_threshold() -> None:
    desk = transporting()
    desk.forwarded.clear()
    # a unit standing still: its ETA, counted from each fix, moves 20 s later with each one
    standing = gps_path(UNIT, SCENE, SCENE, LEFT_SCENE_MIN + 0.5, LEFT_SCENE_MIN + 3.5,
                        dwell_fixes=0)
    desk.send(standing)
    sent = etas(desk)
    assert 2 <= len(sent) <= len(standing) // 2 + 1
    for before, after in zip(sent, sent[1:], strict=False):
        assert (after.eta_ts - before.eta_ts).total_seconds() >= ETA_RESEND_S
    assert (standing[-1].ts - sent[-1].at).total_seconds() < 2 * ETA_RESEND_S


def test_an_eta_is_estimated_from_fixes_at_most_every_eta_every_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fix every 5 s: the ETA is estimated from one fix in three, and is still sent again
    as it moves."""
    desk = transporting()
    desk.forwarded.clear()
    estimated: list[datetime] = []

    def counted(region: Any, unit: dict[str, Any]) -> Any:
        found = estimate(region, unit)
        if found is not None:
            estimated.append(found.at)
        return found

    estimate = unit_agent._estimate
    monkeypatch.setattr(unit_agent, "_estimate", counted)
    standing = gps_path(UNIT, SCENE, SCENE, LEFT_SCENE_MIN + 0.5, LEFT_SCENE_MIN + 3.5,
                        dwell_fixes=0, every_s=5.0)
    desk.send(standing)
    assert estimated[0] == standing[0].ts
    gaps = [(b - a).total_seconds() for a, b in zip(estimated, estimated[1:], strict=False)]
    assert gaps and min(gaps) >= ETA_EVERY_S
    assert len(estimated) <= len(standing) // 3 + 1
    sent = etas(desk)
    assert len(sent) >= 3  # standing still, the ETA moves by the time that passed
    assert (standing[-1].ts - sent[-1].at).total_seconds() < ETA_RESEND_S + ETA_EVERY_S


@given(moment=moments)
def test_a_stored_time_reads_back_as_written(moment: datetime) -> None:
    text = _ts(moment)
    just_written = _stored_time(text)
    _TIMES.clear()  # as after a restart: read from the text itself
    for read in (just_written, _stored_time(text), _stored_time(text)):
        assert read == moment and read.utcoffset() == moment.utcoffset()
        assert _ts(read) == text == ev.format_timestamp(ev.parse_timestamp(text))


def test_a_status_read_again_is_forwarded_again_with_its_eta() -> None:
    """The table may hold a status whose forward never reached Kafka (a worker killed between
    the two writes): read again, it is forwarded again, with its ETA; the incident side drops
    what it already has."""
    desk = Desk()
    desk.send([event("unit.assigned", 100.5, INCIDENT, unit_id=UNIT)])
    run(desk.desk.handle(UnitTargets(incident_id=INCIDENT, unit_id=UNIT, scene=SCENE,
                                     hospital_id=None), desk.table))
    left = event("unit.left_scene", LEFT_SCENE_MIN, INCIDENT, unit_id=UNIT,
                 destination_hospital_id="H01")
    desk.send([left])
    first = etas(desk)
    desk.forwarded.clear()
    desk.send([left])
    assert desk.forwarded[0] == left
    assert etas(desk) == first and len(first) == 1


def test_fixes_read_together_open_the_same_door_and_count_the_eta_from_the_latest() -> None:
    path = gps_path(UNIT, SCENE, H01_DOOR, LEFT_SCENE_MIN + 1, LEFT_SCENE_MIN + 6)
    one_by_one = transporting()
    one_by_one.send(path)
    together = transporting()
    run(together.desk.fixes(UNIT, path, together.table))
    assert [d.event_id for d in together.doors()] == [d.event_id for d in one_by_one.doors()]
    assert len(together.doors()) == 1
    assert together.desk.current(together.table, UNIT)["fix"] == one_by_one.desk.current(
        one_by_one.table, UNIT)["fix"]
    ahead = transporting()
    ahead.forwarded.clear()
    run(ahead.desk.fixes(UNIT, path[:4], ahead.table))
    assert [e.at for e in etas(ahead)] == [max(f.ts for f in path[:4])]
