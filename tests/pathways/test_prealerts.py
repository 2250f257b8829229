"""The pure pre-alert lifecycle: new -> update* -> arrived | cancelled, without Kafka."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pathways import events as ev
from pathways import prealerts as pa
from pathways.outputs import PreAlert
from pathways.timeline import build_timeline
from tests.pathways.factory import at, event, stemi_incident, unit

ADVICE = pa.Advice(hospital_id="H1", activations=("cathlab",), ed_bypass=True, reason="PCI")


def _run(
    events: Iterable[ev.Event],
    etas: dict[int, pa.Eta] | None = None,
    rules: pa.PreAlertRules = pa.DEFAULT_RULES,
) -> tuple[pa.PreAlertBook, list[PreAlert]]:
    """Step after every event, as the incident agent does; `etas[i]` is known from event i."""
    book, sent, seen = pa.PreAlertBook(), [], []
    eta = None
    for i, e in enumerate(events):
        seen.append(e)
        eta = (etas or {}).get(i, eta)
        timeline = build_timeline(seen)
        situation = pa.situation(timeline, at=e.ts, destination=timeline.hospital_id,
                                 advice=ADVICE, eta=eta, rules=rules)
        book, out = pa.step(book, situation, e.ts, rules)
        sent.extend(out)
    return book, sent


def _eta(minutes_at: float, minutes_eta: float, hospital: str = "H1") -> pa.Eta:
    return pa.Eta(unit_id="A1", hospital_id=hospital, at=at(minutes_at), eta_ts=at(minutes_eta))


def test_stemi_lifecycle_new_update_arrived() -> None:
    events = stemi_incident()
    left = next(i for i, e in enumerate(events) if e.TYPE == "unit.left_scene")
    etas = {left: _eta(27, 45), left + 1: _eta(30, 50)}  # moved 5 min: an update
    book, sent = _run(events, etas)
    assert [p.state for p in sent] == ["new", "update", "arrived"]
    assert [p.sequence for p in sent] == [1, 2, 3]
    first = sent[0]
    assert first.hospital_id == "H1" and first.unit_id == "A1"
    assert first.sent_ts == at(27)
    assert first.eta_ts == at(45)
    assert first.pathway == "chest_pain" and first.triage_level == 1
    assert first.summary.ecg_stemi is True and first.summary.ecg_ts == at(16)
    assert first.activations == ("cathlab",) and first.ed_bypass is True
    assert sent[1].eta_ts == at(50)
    assert sent[2].sent_ts == at(45)  # unit.at_destination: the door
    assert book.state == "arrived"


def test_small_eta_move_sends_no_update() -> None:
    events = stemi_incident()
    left = next(i for i, e in enumerate(events) if e.TYPE == "unit.left_scene")
    rules = pa.PreAlertRules(eta_threshold_s=120)
    etas = {left: _eta(27, 45), left + 1: _eta(30, 46)}  # moved 60 s
    _, sent = _run(events, etas, rules)
    assert [p.state for p in sent] == ["new", "arrived"]
    _, sent = _run(events, etas, pa.PreAlertRules(eta_threshold_s=30))
    assert [p.state for p in sent] == ["new", "update", "arrived"]


def test_same_situation_twice_sends_nothing_more() -> None:
    events = stemi_incident()[:7]  # up to left_scene
    timeline = build_timeline(events)
    situation = pa.situation(timeline, at=at(27), destination="H1", advice=ADVICE)
    book, first = pa.step(pa.PreAlertBook(), situation, at(27))
    again, second = pa.step(book, situation, at(28))
    assert [p.state for p in first] == ["new"] and second == [] and again == book


def test_destination_change_cancels_and_new_hospital_gets_new() -> None:
    events = stemi_incident()[:7]
    timeline = build_timeline(events)
    s1 = pa.situation(timeline, at=at(27), destination="H1", advice=ADVICE)
    book, out1 = pa.step(pa.PreAlertBook(), s1, at(27))
    s2 = pa.situation(timeline, at=at(30), destination="H2", advice=None)
    book, out2 = pa.step(book, s2, at(30))
    assert [(p.state, p.hospital_id, p.sequence) for p in out1 + out2] == [
        ("new", "H1", 1), ("cancelled", "H1", 2), ("new", "H2", 1)
    ]
    assert out2[1].prealert_id != out2[0].prealert_id
    assert book.hospital_id == "H2" and book.open


def test_diagnosis_en_route_opens_the_prealert() -> None:
    events = [
        event("call.received", 0, pathway_hint="chest_pain", triage_level=2),
        unit("on_scene", 10, "A1"),
        unit("left_scene", 20, "A1", destination_hospital_id="H1"),
        event("diagnosis.made", 25, diagnosis="stemi"),
        unit("at_destination", 40, "A1", hospital_id="H1"),
    ]
    _, sent = _run(events)
    assert [(p.state, p.sent_ts) for p in sent] == [("new", at(25)), ("arrived", at(40))]
    assert sent[0].summary.diagnosis == "stemi"


def test_non_critical_patient_gets_no_prealert() -> None:
    events = [
        event("call.received", 0, pathway_hint="chest_pain", triage_level=3),
        unit("on_scene", 10, "A1"),
        event("ecg.acquired", 12, setting="prehospital", stemi=False),
        unit("left_scene", 20, "A1", destination_hospital_id="H1"),
        unit("at_destination", 40, "A1", hospital_id="H1"),
    ]
    _, sent = _run(events)
    assert sent == []


def test_walk_in_stemi_gets_no_prealert() -> None:
    events = [
        event("hospital.arrived", 0),
        event("ecg.acquired", 5, setting="hospital", stemi=True),
        event("wire.crossed", 60),
    ]
    _, sent = _run(events)
    assert sent == []


def test_stroke_and_trauma_summaries() -> None:
    stroke = [
        event("call.received", 0, pathway_hint="stroke", triage_level=1,
              last_known_well=ev.format_timestamp(at(-30))),
        unit("on_scene", 10, "A1"),
        event("stroke.screen", 12, scale="FAST-ED", score=6, lvo_suspected=True),
        unit("left_scene", 20, "A1", destination_hospital_id="H1"),
    ]
    _, sent = _run(stroke)
    assert [p.state for p in sent] == ["new"]
    assert sent[0].summary.stroke_score == 6 and sent[0].summary.last_known_well == at(-30)
    trauma = [
        event("call.received", 0, pathway_hint="trauma", triage_level=1),
        unit("on_scene", 10, "A1"),
        event("trauma.assessment", 12, gcs=8, mechanism="fall"),
        unit("left_scene", 20, "A1", destination_hospital_id="H1"),
    ]
    _, sent = _run(trauma)
    assert [p.state for p in sent] == ["new"] and sent[0].summary.gcs == 8


def test_loss_of_criteria_cancels() -> None:
    events = stemi_incident()[:7]
    book, _ = _run(events)
    calm = build_timeline([e for e in events if e.TYPE != "ecg.acquired"])
    situation = pa.situation(calm, at=at(29), destination="H1", advice=ADVICE)
    book, out = pa.step(book, situation, at(29))
    assert [p.state for p in out] == ["cancelled"] and not book.open


def test_stale_eta_is_flagged() -> None:
    events = stemi_incident()[:7]
    timeline = build_timeline(events)
    eta = _eta(20, 45)
    situation = pa.situation(timeline, at=at(27), destination="H1", advice=ADVICE, eta=eta)
    _, out = pa.step(pa.PreAlertBook(), situation, at(27), pa.PreAlertRules(eta_stale_after_s=60))
    assert out[0].eta_stale is True
    _, out = pa.step(pa.PreAlertBook(), situation, at(20) + timedelta(seconds=30))
    assert out[0].eta_stale is False


def test_book_json_round_trip() -> None:
    events = stemi_incident()
    left = next(i for i, e in enumerate(events) if e.TYPE == "unit.left_scene")
    book, _ = _run(events[: left + 1], {left: _eta(27, 45)})
    assert pa.PreAlertBook.from_json(book.to_json()) == book


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), max_size=8))
def test_redelivered_events_change_nothing(duplicates: list[int]) -> None:
    """Events in time order with any of them redelivered later give the same pre-alerts."""
    events = stemi_incident()
    stream = list(events)
    for index in duplicates:
        position = min(len(stream), index + 1 + stream.index(events[index]))
        stream.insert(position, events[index])
    _, expected = _run(events)
    dedup: list[ev.Event] = []
    seen: set[str] = set()
    book, sent = pa.PreAlertBook(), []
    for e in stream:
        if e.event_id not in seen:  # the agent's dedupe happens in the engine state
            seen.add(e.event_id)
            dedup.append(e)
        timeline = build_timeline(dedup)
        situation = pa.situation(timeline, at=e.ts, destination=timeline.hospital_id,
                                 advice=ADVICE)
        book, out = pa.step(book, situation, e.ts)
        sent.extend(out)
    assert [(p.state, p.sequence) for p in sent] == [(p.state, p.sequence) for p in expected]
