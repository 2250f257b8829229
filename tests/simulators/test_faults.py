"""Fault transformers: each does exactly its one damage, and pacing keeps its schedule."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.regions import load_region
from pathways.events import ParseError, Reason, parse
from simulators import faults
from simulators.city import generate
from simulators.faults import Outgoing
from simulators.pacing import paced
from simulators.scenario import Scenario

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def stream() -> list[Outgoing]:
    events = generate(load_region(), Scenario(calls_per_hour=30), 2, START, timedelta(hours=1))
    return list(faults.outgoing(events))


def _values(items: list[Outgoing]) -> list[bytes]:
    return [i.message.value for i in items]


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0, 1), seed=st.integers(0, 10**6))
def test_duplicates_are_exact_copies(stream: list[Outgoing], p: float, seed: int) -> None:
    out = list(faults.duplicates(stream, p, random.Random(seed)))
    extra = Counter(_values(out)) - Counter(_values(stream))
    assert Counter(_values(out)) - extra == Counter(_values(stream))
    assert set(extra) <= set(_values(stream))  # every extra message is a copy of a real one
    if p == 0:
        assert out == stream


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0, 1), seed=st.integers(0, 10**6), window=st.integers(1, 50))
def test_out_of_order_is_a_local_permutation(stream: list[Outgoing], p: float, seed: int,
                                             window: int) -> None:
    out = list(faults.out_of_order(stream, p, random.Random(seed), window))
    assert sorted(_values(out)) == sorted(_values(stream))
    position = {id(item): n for n, item in enumerate(out)}
    for n, item in enumerate(stream):
        assert position[id(item)] - n <= window  # held back at most `window` places


def test_out_of_order_reorders_something(stream: list[Outgoing]) -> None:
    out = list(faults.out_of_order(stream, 0.1, random.Random(1), 20))
    assert _values(out) != _values(stream)


def test_late_messages_arrive_late_by_the_given_time(stream: list[Outgoing]) -> None:
    out = list(faults.late(stream, 0.05, random.Random(4), 300))
    assert sorted(_values(out)) == sorted(_values(stream))
    delayed = [i for i in out if i.event is not None and i.at != i.event.ts]
    assert delayed
    for item in delayed:
        assert item.event is not None
        assert item.at - item.event.ts == timedelta(seconds=300)
        assert parse(item.message.value) == item.event  # the message itself is unchanged
    overtaken = 0
    for n, item in enumerate(out):
        if item in delayed:
            overtaken += any(o.at > item.event.ts for o in out[:n])  # type: ignore[union-attr]
    assert overtaken == len(delayed)


def test_clock_skew_moves_only_one_units_timestamps(stream: list[Outgoing]) -> None:
    unit = next(i.event.unit_id for i in stream if i.event and i.event.type == "unit.enroute")
    assert unit is not None
    out = list(faults.clock_skew(stream, unit, -90))
    assert len(out) == len(stream)
    moved = 0
    for before, after in zip(stream, out, strict=True):
        assert before.event is not None and after.event is not None
        if before.event.unit_id == unit:
            moved += 1
            assert after.event.ts - before.event.ts == timedelta(seconds=-90)
            assert parse(after.message.value) == after.event
            assert after.event.event_id == before.event.event_id
        else:
            assert after.message == before.message
    assert moved > 10


@pytest.mark.parametrize(("kind", "reasons"), [
    ("truncated", {Reason.INVALID_JSON}),
    ("wrong_type", {Reason.BAD_TIMESTAMP}),
    ("unknown_type", {Reason.UNKNOWN_TYPE}),
    ("not_an_object", {Reason.NOT_AN_OBJECT}),
])
def test_each_malformed_kind_fails_with_its_reason(stream: list[Outgoing], kind: str,
                                                   reasons: set[Reason]) -> None:
    rng = random.Random(9)
    for item in stream[:200]:
        result = parse(faults.corrupt(item.message.value, kind, rng))
        assert isinstance(result, ParseError) and result.reason in reasons, (kind, result)


def test_malformed_inserts_without_touching_valid_messages(stream: list[Outgoing]) -> None:
    out = list(faults.malformed(stream, 0.05, random.Random(3)))
    valid = [i for i in out if i.event is not None]
    bad = [i for i in out if i.event is None]
    assert _values(valid) == _values(stream)
    assert len(bad) > 0
    assert all(isinstance(parse(i.message.value), ParseError) for i in bad)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_speed_compresses_event_time(stream: list[Outgoing]) -> None:
    clock = FakeClock()
    sent = list(paced(stream, speed=60, clock=clock, sleep=clock.sleep))
    span = (stream[-1].at - stream[0].at).total_seconds()
    assert len(sent) == len(stream)
    assert clock.now == pytest.approx(span / 60, abs=0.01)


def test_warmup_sends_history_at_once_then_paces(stream: list[Outgoing]) -> None:
    clock = FakeClock()
    warmup = (stream[-1].at - stream[0].at) / 2
    sent_at = [(item, clock.now) for item in
               paced(stream, speed=60, warmup=warmup, clock=clock, sleep=clock.sleep)]
    history = [t for item, t in sent_at if item.at <= stream[0].at + warmup]
    assert history and max(history) == 0.0
    span = (stream[-1].at - stream[0].at - warmup).total_seconds()
    assert clock.now == pytest.approx(span / 60, abs=0.01)


def test_rate_sends_n_messages_per_second(stream: list[Outgoing]) -> None:
    clock = FakeClock()
    list(paced(stream[:1001], rate=500, clock=clock, sleep=clock.sleep))
    assert clock.now == pytest.approx(2.0, abs=0.01)


def test_speed_outside_1_to_600_is_refused(stream: list[Outgoing]) -> None:
    with pytest.raises(ValueError, match="speed"):
        list(paced(stream, speed=1000))


def test_speed_below_real_time_is_refused(stream: list[Outgoing]) -> None:
    with pytest.raises(ValueError, match="speed"):
        list(paced(stream, speed=0.5))
