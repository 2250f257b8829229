"""Shuffling and duplicating an incident's events never changes its final intervals."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.engine import Engine, IncidentState
from pathways.events import Event
from pathways.outputs import IntervalRecord, to_json
from pathways.rulepack import load_pack
from tests.pathways.factory import at, event, stemi_incident
from tests.pathways.test_multi_unit import sf_call

ENGINE = Engine(load_pack("cn"), locate=lambda lat, lon: ("D1", "urban"))


def final_intervals(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Latest revision per interval (withdrawn ones left out), without the revision number."""
    state: IncidentState | None = None
    latest: dict[str, IntervalRecord] = {}
    for e in events:
        state, outputs = ENGINE.apply(state, e, at(10_000))
        for o in outputs:
            if isinstance(o, IntervalRecord):
                assert o.revision == latest[o.interval].revision + 1 if o.interval in latest else 1
                latest[o.interval] = o
    out = {}
    for name, record in latest.items():
        if "withdrawn" not in record.quality_flags:
            body = to_json(record)
            body.pop("revision")
            out[name] = body
    return out


def stroke_call() -> list[Event]:
    return [
        event("call.received", 0, pathway_hint="chest_pain"),
        event("unit.on_scene", 9, unit_id="A1"),
        event("diagnosis.made", 30, diagnosis="ischemic_stroke"),
        event("hospital.arrived", 35),
        event("ct.started", 52),
        event("thrombolysis.started", 70),
    ]


TEMPLATES = [stemi_incident(), sf_call(), stroke_call()]


@st.composite
def delivered(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    events = draw(st.sampled_from(TEMPLATES))
    shuffled = draw(st.permutations(events))
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    order = draw(st.permutations(shuffled + extra))
    return events, list(order)


@settings(max_examples=150, deadline=None)
@given(delivered())
def test_shuffle_and_duplicates_give_the_same_final_intervals(
    case: tuple[list[Event], list[Event]],
) -> None:
    ordered, delivery = case
    assert final_intervals(delivery) == final_intervals(ordered)


@st.composite
def random_incident(draw: st.DrawFn) -> list[Event]:
    """The STEMI template with random times (even end-before-start) and random gaps."""
    minutes = st.integers(min_value=0, max_value=240)
    out = []
    for i, template in enumerate(stemi_incident()):
        if i > 0 and draw(st.booleans()) and draw(st.booleans()):
            continue  # a missing milestone
        obj = {f: getattr(template, f) for f in ("unit_id", "hospital_id") if getattr(template, f)}
        extra: dict[str, Any] = {}
        for name in ("setting", "stemi", "pathway_hint", "destination_hospital_id"):
            if getattr(template, name, None) is not None:
                extra[name] = getattr(template, name)
        out.append(event(template.TYPE, draw(minutes), event_id=f"e{i}", **obj, **extra))
    return out


@settings(max_examples=150, deadline=None)
@given(random_incident(), st.randoms(use_true_random=False))
def test_random_timelines_are_order_independent(events: list[Event], rnd: Any) -> None:
    delivery = events + rnd.sample(events, k=len(events) // 3)
    rnd.shuffle(delivery)
    assert final_intervals(delivery) == final_intervals(events)
