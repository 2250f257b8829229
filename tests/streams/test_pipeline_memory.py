"""The agents' logic end to end without Kafka: scripted incidents, shuffles, duplicates."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathways import events as ev
from pathways.outputs import IntervalRecord, PreAlert
from streams.clock import ManualClock
from tests.integration.scenarios import Scenario, all_scenarios, event, gps_path, stemi_bypass
from tests.intervals import final_intervals
from tests.streams.harness import MemoryPipeline, run


def _content(records: list[IntervalRecord]) -> dict[tuple[str, str], IntervalRecord]:
    """Final values without their revision number (which counts the history, by design);
    a withdrawn interval counts as absent."""
    return {key: replace(r, revision=0) for key, r in final_intervals(records).items()}


def _minutes(pipe: MemoryPipeline, incident: str) -> dict[str, float]:
    return {
        name: round(r.seconds / 60, 2)
        for (inc, name), r in final_intervals(pipe.sink.intervals).items()
        if inc == incident
    }


def _check_prealerts(scenario: Scenario, sent: list[PreAlert]) -> None:
    mine = [p for p in sent if p.incident_id == scenario.incident_id]
    if not scenario.prealerts:
        assert mine == []
        return
    states = [(p.state, p.hospital_id) for p in mine]
    assert states[0] == scenario.prealerts[0] and states[-1] == scenario.prealerts[-1], states
    assert {s for s, _ in states[1:-1]} <= {"update"}, states
    assert [p.sequence for p in mine] == list(range(1, len(mine) + 1))


@pytest.mark.parametrize("scenario", all_scenarios(), ids=lambda s: s.incident_id)
def test_scripted_incident(scenario: Scenario) -> None:
    pipe = MemoryPipeline()

    async def go() -> None:
        await pipe.send(scenario.events)
        await pipe.finish()

    run(go())
    assert _minutes(pipe, scenario.incident_id) == scenario.intervals
    _check_prealerts(scenario, pipe.sink.prealerts)
    alerts = {f"{a.kind}:{a.interval}" for a in pipe.sink.alerts}
    assert alerts == scenario.alerts


def test_stemi_prealert_content() -> None:
    pipe = MemoryPipeline()
    run(pipe.send(stemi_bypass().events))
    new = pipe.sink.prealerts[0]
    assert new.state == "new" and new.hospital_id == "H01"
    assert new.ed_bypass is True and "cathlab" in new.activations
    assert new.summary.ecg_stemi is True and new.triage_level == 1
    with_eta = [p for p in pipe.sink.prealerts if p.eta_ts is not None]
    assert with_eta, "the ETA from GPS reaches the pre-alert"
    # with_eta holds only pre-alerts whose eta_ts is not None (mypy cannot follow the filter)
    assert all(p.eta_ts > p.sent_ts for p in with_eta if p.state != "arrived")  # type: ignore[operator]


def test_duplicated_input_sends_nothing_new() -> None:
    events = [e for s in all_scenarios() for e in s.events]
    pipe = MemoryPipeline()
    run(pipe.send(events))
    before = (len(pipe.sink.intervals), len(pipe.sink.alerts), len(pipe.sink.prealerts))
    run(pipe.send(events))
    after = (len(pipe.sink.intervals), len(pipe.sink.alerts), len(pipe.sink.prealerts))
    assert after == before


def test_input_read_again_after_a_restart_sends_the_intervals_again() -> None:
    """A worker killed once its table writes had reached Kafka but not its outputs: what it
    had read is read again (same offsets) and the intervals are sent again as they stood,
    same revisions and bodies; a duplicate in the input (a later offset) sends nothing."""
    pipe = MemoryPipeline()
    run(pipe.send([e for s in all_scenarios() for e in s.events if e.TYPE != "gps.fix"]))
    sent = final_intervals(pipe.sink.intervals)
    for sent_before in (pipe.sink.intervals, pipe.sink.alerts, pipe.sink.prealerts):
        sent_before.clear()  # lost with the killed worker
    run(pipe.read_incident_feed_again())
    assert final_intervals(pipe.sink.intervals) == sent
    assert not pipe.sink.alerts and not pipe.sink.prealerts


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), dup_share=st.floats(0.0, 0.5))
def test_shuffled_and_duplicated_give_same_final_intervals(seed: int, dup_share: float) -> None:
    # GPS is left out: fixes older than the last one are ignored by design (device time)
    events = [e for s in all_scenarios() for e in s.events if e.TYPE != "gps.fix"]
    ordered = MemoryPipeline()
    run(ordered.send(sorted(events, key=lambda e: e.ts)))
    rng = random.Random(seed)
    stream = events + rng.sample(events, int(len(events) * dup_share))
    rng.shuffle(stream)
    shuffled = MemoryPipeline()
    run(shuffled.send(stream))
    assert _content(shuffled.sink.intervals) == _content(ordered.sink.intervals)
    expected = {(s.incident_id, name) for s in all_scenarios() for name in s.intervals}
    # without GPS the STEMI door is not inferred: no transport, no door-to-balloon
    expected -= {("stemi-1", "transport"), ("stemi-1", "door_to_balloon")}
    assert set(_content(ordered.sink.intervals)) == expected


def test_bad_input_is_dead_lettered_and_counted() -> None:
    pipe = MemoryPipeline()

    async def go() -> None:
        await pipe.send_raw("dispatch.calls", b'{"event_id": "x", "type": "call.rec', b"k1")
        await pipe.send_raw("dispatch.calls", None, b"k2")
        await pipe.send_raw("dispatch.units", b'{"type": "unit.teleported"}', b"k3")
        await pipe.send(stemi_bypass().events[:1])

    run(go())
    reasons = [d.reason.value for d in pipe.sink.deadletters]
    assert reasons == ["invalid_json", "invalid_json", "unknown_type"]
    assert pipe.telemetry.deadletters == {"invalid_json": 2, "unknown_type": 1}
    assert pipe.telemetry.events == 1


def test_destination_change_cancels_and_new_hospital_gets_new() -> None:
    """A stroke going to the nearest thrombolysis site; LVO suspected en route: the policy
    now picks a thrombectomy center, so the first hospital is cancelled and the new one gets
    `new` (no destination from dispatch: the choice is geo's)."""
    inc, loc = "stroke-2", {"lat": 30.9200, "lon": 117.0400}
    events = [
        event("call.received", 0, inc, location=loc, pathway_hint="stroke", triage_level=1),
        event("unit.on_scene", 10, inc, unit_id="D1"),
        event("stroke.screen", 12, inc, scale="FAST", score=3, lvo_suspected=False),
        event("unit.left_scene", 18, inc, unit_id="D1"),
        event("stroke.screen", 22, inc, scale="FAST-ED", score=6, lvo_suspected=True,
              id_suffix="b"),
    ]
    pipe = MemoryPipeline()
    run(pipe.send(events))
    # no GPS here: the ETA updates count from the scene at the departure
    assert all(p.eta_ts is not None for p in pipe.sink.prealerts if p.state == "update")
    steps = [(p.state, p.hospital_id, p.sequence) for p in pipe.sink.prealerts
             if p.state != "update"]
    assert [s for s, _, _ in steps] == ["new", "cancelled", "new"], steps
    first, second = steps[0][1], steps[2][1]
    assert steps[1][1] == first and second != first
    assert steps[2][2] == 1, "the new hospital's lifecycle starts at 1"
    assert pipe.sink.prealerts[-1].summary.lvo_suspected is True
    # the unit now drives to the new hospital: it was told so
    assert pipe.unit_table["D1"]["destination"] == second


def test_hospital_on_diversion_is_not_recommended() -> None:
    """The STEMI's nearest PCI center (H01) reports diversion: the pre-alert goes elsewhere."""
    scenario = stemi_bypass()
    # up to the departure, without hospital events (they would name the destination)
    en_route = [e for e in _without_gps(scenario.events)
                if e.TYPE in ev.TOPIC_OF_TYPE and not e.hospital_id
                and e.ts <= next(x.ts for x in scenario.events if x.TYPE == "unit.left_scene")]
    diversion = ev.parse_object({
        "event_id": "status-1", "type": "hospital.status", "ts": "2026-11-24T07:00:00+08:00",
        "source": "his:H01", "hospital_id": "H01", "diversion": True,
    })
    assert isinstance(diversion, ev.HospitalStatus)
    pipe = MemoryPipeline()
    run(pipe.send([diversion, *en_route]))
    new = pipe.sink.prealerts[0]
    assert new.state == "new" and new.hospital_id not in (None, "H01")
    normal = MemoryPipeline()
    run(normal.send(en_route))
    assert normal.sink.prealerts[0].hospital_id == "H01"


def _without_gps(events: list[ev.Event]) -> list[ev.Event]:
    return [e for e in events if e.TYPE != "gps.fix"]


def test_watermark_replay_raises_the_alerts_of_real_time() -> None:
    """Real time: a wall clock with sweeps every 10 s between the events (each delivered as
    it happens). Replay: the same events at once on the event-time watermark. Same alerts.

    Sweeps fall 5 s off the events' whole and half minutes: a sweep at the very instant of an
    event that closes an interval would race it in real time too (the watermark's lateness
    is what keeps a replay out of that race)."""
    events = sorted((e for s in all_scenarios() for e in s.events), key=lambda e: e.ts)
    wall = ManualClock(events[0].ts - timedelta(seconds=55))
    live = MemoryPipeline(clock=wall)

    async def real_time() -> None:
        step = timedelta(seconds=10)
        for e in events:
            while wall.now() + step < e.ts:  # type: ignore[operator]
                wall.advance(step)
                await live.tick()
            await live.send([e])
        for _ in range(60):
            wall.advance(timedelta(seconds=10))
            await live.tick()

    run(real_time())
    replay = MemoryPipeline()

    async def fast() -> None:
        await replay.send(events)
        await replay.finish()

    run(fast())
    ids = {a.alert_id for a in live.sink.alerts}
    assert ids, "the scenarios raise alerts"
    assert {a.alert_id for a in replay.sink.alerts} == ids
    assert {(a.alert_id, a.deadline_ts) for a in replay.sink.alerts} == {
        (a.alert_id, a.deadline_ts) for a in live.sink.alerts
    }


def test_forgotten_on_scene_button_is_inferred_from_gps() -> None:
    """No CAD `unit.on_scene`: the unit's fixes dwelling at the scene give the arrival."""
    inc, scene = "avl-1", (30.9450, 117.0600)
    start = (30.9700, 117.0800)
    events = [
        event("call.received", 0, inc, location={"lat": scene[0], "lon": scene[1]},
              pathway_hint="chest_pain", triage_level=2),
        event("unit.assigned", 0.5, inc, unit_id="E1"),
        event("unit.enroute", 1, inc, unit_id="E1"),
        *gps_path("E1", start, scene, 1, 9),
    ]
    pipe = MemoryPipeline()
    run(pipe.send(events))
    final = _content(pipe.sink.intervals)
    response = final[(inc, "response")]
    assert response.seconds == pytest.approx(9 * 60, abs=25)  # the first fix in the fence
    on_scene = [p for p in pipe.incident_table[inc]["state"]["events"]
                if p["type"] == "unit.on_scene"]
    assert [p["source"] for p in on_scene] == ["avl"]
