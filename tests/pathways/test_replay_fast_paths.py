"""The replay's fast paths say what the plain paths say: a gps.fix read for its time only
(`parse_or_fix_time`), a timeline extended by a last event (`extend_timeline`), the engine's
caches of open and ended incidents at any size, and a replay that skips the sweeps that cannot
raise anything (checked against the plain replay loop, written out here)."""

from __future__ import annotations

import heapq
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pathways.engine as engine_module
from pathways import events as ev
from pathways.clock import WatermarkClock
from pathways.compliance import Compliance
from pathways.engine import Engine, IncidentState
from pathways.outputs import Alert, to_json
from pathways.quality import SourceClocks
from pathways.replay import LineError, Replay
from pathways.rulepack import load_pack
from pathways.timeline import Timeline, build_timeline, extend_timeline
from tests.pathways.factory import at, event, stemi_incident, unit
from tests.pathways.test_engine_caches import extras, locate
from tests.pathways.test_events_fast_path import FIX, ODD_VALUES
from tests.pathways.test_multi_unit import sf_call
from tests.pathways.test_order_independence import stroke_call

PACK = load_pack("cn")


# --- gps.fix read for its time only -----------------------------------------------------------


def raw_fix(changes: dict[str, Any], dropped: set[str]) -> bytes:
    obj = {k: v for k, v in {**FIX, **changes}.items() if k not in dropped}
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except (TypeError, ValueError):
        return b"{"


def agrees_with_parse(raw: bytes | str) -> None:
    light = ev.parse_or_fix_time(raw)
    full = ev.parse(raw)
    if isinstance(light, tuple):
        assert isinstance(full, ev.GpsFix)
        assert light == (ev.epoch_us(full.ts), light[1], full.source, full.unit_id)
        assert ev.parse_timestamp(light[1]).isoformat() == full.ts.isoformat()
    else:
        assert light == full


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(FIX)),
        st.sampled_from(ODD_VALUES) | st.floats(allow_nan=True) | st.integers(-200, 400)
        | st.sampled_from(["gps.fix", "call.received", "unit.available", 7]),
        max_size=4,
    ),
    st.sets(st.sampled_from(sorted(FIX))),
)
def test_a_fix_read_for_its_time_agrees_with_parse(
    changes: dict[str, Any], dropped: set[str]
) -> None:
    raw = raw_fix(changes, dropped)
    agrees_with_parse(raw)
    agrees_with_parse(raw.decode())


@pytest.mark.parametrize(
    "raw",
    [b"", b"  ", b"[1]", b"null", b'{"type": "gps.fix"', b"x" * (ev.MAX_EVENT_BYTES + 1),
     b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}", ev.dumps(stemi_incident()[0]),
     raw_fix({"ts": "2026-11-24 00:03:31"}, set()), raw_fix({}, {"ts"})],
)
def test_odd_lines_read_for_their_time_agree_with_parse(raw: bytes) -> None:
    agrees_with_parse(raw)


def test_a_plain_fix_is_read_for_its_time_only() -> None:
    light = ev.parse_or_fix_time(raw_fix({}, set()))
    assert isinstance(light, tuple)
    assert light[1:] == (FIX["ts"], FIX["source"], FIX["unit_id"])


# --- a time read by its minute ----------------------------------------------------------------

_TIME_PARTS = st.tuples(
    st.sampled_from(["2026-11-24T08:15", "2026-11-24t23:59", "2099-12-31T23:59",
                     "2100-01-01T07:59", "1990-01-01T07:59", "1989-12-31T23:59",
                     "2026-02-30T00:00", "2026-11-24 24:00"]),
    st.sampled_from(["00", "07", "59", "60", "99", "5", "٣٣", "+1", " 1"]),
    st.sampled_from([".", ",", "0"]),
    st.sampled_from(["000", "120", "999", "12", "1234", "٣٣٣", "-12", "1_2"]),
    st.sampled_from(["+08:00", "-08:00", "+00:00", "Z", "+8:00", "+08:0", "+0800", "+08:000"]),
)


def outcome(read: Any, text: str) -> Any:
    try:
        moment = read(text)
    except Exception as exc:  # noqa: BLE001 - what each way of reading raises is compared
        return repr(exc)
    return moment if isinstance(moment, int) else (moment, moment.isoformat())


@settings(max_examples=300, deadline=None)
@given(st.lists(_TIME_PARTS, min_size=1, max_size=12))
def test_a_time_read_by_its_minute_is_the_time_parsed(parts: list[tuple[str, ...]]) -> None:
    for minute, second, dot, fraction, offset in parts:  # later ones hit the minute's entry
        text = f"{minute}:{second}{dot}{fraction}{offset}"
        parsed = outcome(lambda t: ev._read_timestamp(t, "ts"), text)
        assert outcome(ev.parse_timestamp, text) == parsed, text
        expected = ev.epoch_us(parsed[0]) if isinstance(parsed, tuple) else parsed
        assert outcome(ev.timestamp_us, text) == expected, text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0, 120, 123_456]),
                          st.sampled_from([0, 60, -300, 480, 345])), min_size=1, max_size=20))
def test_a_time_formatted_again_reads_as_formatted_the_first_time(
    picks: list[tuple[int, int, int]],
) -> None:
    """Equal instants in other offsets are other texts, whatever was formatted before."""
    for seconds, micros, offset_min in picks:
        zone = timezone(timedelta(minutes=offset_min))
        moment = (datetime(2026, 11, 24, tzinfo=UTC) + timedelta(seconds=seconds,
                  microseconds=micros)).astimezone(zone)
        spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
        assert ev.format_timestamp(moment) == moment.isoformat(timespec=spec)


# --- a timeline extended by one event ---------------------------------------------------------


def shape(timeline: Timeline) -> dict[str, Any]:
    """Everything a timeline says, with the key order of its groups."""
    return {
        "incident_id": timeline.incident_id,
        "by_type": [(k, [e.event_id for e in v]) for k, v in timeline.by_type.items()],
        "by_unit": [
            (u, [(k, [e.event_id for e in v]) for k, v in kinds.items()])
            for u, kinds in timeline.by_unit.items()
        ],
        "ordered": [e.event_id for e in timeline.ordered],
        "attributes": (timeline.pathway, timeline.triage_level, timeline.district_id,
                       timeline.area_type, timeline.facts, timeline.roles),
    }


def unique(events: list[ev.Event]) -> list[ev.Event]:
    seen: dict[str, ev.Event] = {}
    for e in events:
        seen.setdefault(e.event_id, e)
    return list(seen.values())


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([stemi_incident(), sf_call(), stroke_call()]).flatmap(
        lambda base: st.permutations(
            unique(base + extras() + [event("gps.fix", 3, unit_id="A1", lat=31.2, lon=121.4)])
        )
    ),
    st.booleans(),
)
def test_a_timeline_extended_one_event_at_a_time_is_the_timeline_built_at_once(
    order: list[ev.Event], with_area: bool
) -> None:
    where = locate if with_area else None
    timeline = build_timeline([], locate=where)
    for count, e in enumerate(order, start=1):
        timeline = extend_timeline(timeline, e, locate=where)
        assert shape(timeline) == shape(build_timeline(order[:count], locate=where))


def test_events_in_time_order_take_the_appending_path() -> None:
    events = stemi_incident()
    timeline = build_timeline(events[:3])
    longer = extend_timeline(timeline, events[3])
    # the groups the new event does not touch are shared, not copied
    assert longer.by_type["call.received"] is timeline.by_type["call.received"]
    assert shape(longer) == shape(build_timeline(events[:4]))


# --- engine caches of any size ----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 40), st.booleans()),
        min_size=10,
        max_size=60,
    ),
    st.integers(1, 3),
    st.integers(1, 2),
)
def test_small_caches_change_nothing(
    picks: list[tuple[str, int, bool]], open_limit: int, ended_limit: int
) -> None:
    """Interleaved incidents, each event applied to the incident's latest state or (as a
    worker restoring an older copy might) to its first one."""
    incidents = {
        name: [*stemi_incident(name), event("incident.closed", 130, name)]
        if name in "ab" else [*stroke_call(), *extras()]
        for name in "abcd"
    }
    pools = {
        name: [_moved(e, name) for e in events] for name, events in incidents.items()
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "_OPEN_INCIDENTS", open_limit)
        patch.setattr(engine_module, "_ENDED_INCIDENTS", ended_limit)
        warm = Engine(PACK, locate=locate)
        warm_states: dict[str, IncidentState] = {}
        cold_states: dict[str, IncidentState] = {}
        firsts: dict[str, tuple[IncidentState, IncidentState]] = {}
        for step, (name, index, stale) in enumerate(picks):
            e = pools[name][index % len(pools[name])]
            now = at(step * 3)
            warm_state, cold_state = warm_states.get(name), cold_states.get(name)
            if stale and name in firsts:
                warm_state, cold_state = firsts[name]
            warm_states[name], warm_out = warm.apply(warm_state, e, now)
            cold_states[name], cold_out = Engine(PACK, locate=locate).apply(cold_state, e, now)
            firsts.setdefault(name, (warm_states[name], cold_states[name]))
            assert [to_json(o) for o in warm_out] == [to_json(o) for o in cold_out]
            assert warm_states[name].to_json() == cold_states[name].to_json()
            other = warm_states[min(warm_states)]
            cold_other = cold_states[min(cold_states)]
            assert warm.next_deadline(other, now) == Engine(PACK, locate).next_deadline(
                cold_other, now
            )
            swept, alerts = warm.sweep(other, now)
            cold_swept, cold_alerts = Engine(PACK, locate=locate).sweep(cold_other, now)
            assert [to_json(o) for o in alerts] == [to_json(o) for o in cold_alerts]
            warm_states[other.incident_id] = swept
            cold_states[cold_other.incident_id] = cold_swept
        assert len(warm._open) <= open_limit and len(warm._ended) <= ended_limit


def _moved(e: ev.Event, incident: str) -> ev.Event:
    """`e` as an event of `incident` (its id made unique to it)."""
    obj = ev.to_json(e)
    obj["incident_id"] = incident
    obj["event_id"] = f"{incident}:{e.event_id}"
    moved = ev.parse_object(obj)
    assert isinstance(moved, ev.Event)
    return moved


# --- the replay against the plain replay loop -------------------------------------------------


def plain_replay(lines: list[bytes]) -> tuple[list[Any], dict[str, IncidentState], Any]:
    """The replay loop without its fast paths: every event parsed in full, the watermark read
    before and after each event, every incident swept at the end."""
    engine = Engine(PACK, locate=locate)
    clock = WatermarkClock()
    skew = SourceClocks(PACK.quality.skew_tolerance_s)
    states: dict[str, IncidentState] = {}
    wake: list[tuple[datetime, str]] = []
    out: list[Any] = []

    def keep(state: IncidentState, now: datetime) -> None:
        states[state.incident_id] = state
        moment = engine.next_deadline(state, now)
        if moment is not None:
            heapq.heappush(wake, (moment, state.incident_id))

    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = ev.parse(line)
        if isinstance(parsed, ev.ParseError):
            out.append(LineError(line_no, parsed.reason.value, parsed.detail))
            continue
        before = clock.now()
        clock.observe(parsed.ts)
        now = clock.now()
        assert now is not None
        if wake and wake[0][0] < now and (before is None or now > before):
            while wake and wake[0][0] < now:
                moment, incident_id = heapq.heappop(wake)
                state, alerts = engine.sweep(states[incident_id], moment)
                keep(state, moment)
                out.extend(alerts)
        alert = skew.observe(parsed, now)
        if alert is not None:
            out.append(alert)
        if parsed.incident_id is None or parsed.TYPE in ("gps.fix", "unit.available"):
            continue
        state, applied = engine.apply(states.get(parsed.incident_id), parsed, now)
        keep(state, now)
        out.extend(applied)
    final = clock.now()
    if final is not None:
        for incident_id in sorted(states):
            state, alerts = engine.sweep(states[incident_id], final)
            states[incident_id] = state
            out.extend(alerts)
    return out, states, final


def fixes(unit_id: str, incident: str, count: int, skew_s: float) -> list[ev.Event]:
    """A unit's fixes a minute apart from minute 1, stamped by a clock `skew_s` off."""
    return [
        event("gps.fix", 1 + i + skew_s / 60, incident, unit_id=unit_id, lat=31.2, lon=121.4,
              event_id=f"{unit_id}:gps:{i}")
        for i in range(count)
    ]


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    events: list[ev.Event] = [*stemi_incident("s"), event("incident.closed", 130, "s")]
    events += [_moved(e, "k") for e in draw(st.sampled_from([sf_call(), stroke_call()]))]
    events += [event("call.received", 2, "quiet"), unit("assigned", 3, "Q1", "quiet")]
    events += [_moved(e, "x") for e in draw(st.lists(st.sampled_from(extras()), max_size=4))]
    arrivals = [(e.ts, e) for e in events]
    for unit_id in ("A1", "B2"):  # fixes arrive on time, stamped by a clock maybe off
        skew = draw(st.sampled_from([0.0, 300.0, -300.0]))
        sent = fixes(unit_id, "s", draw(st.integers(0, 25)), skew)
        arrivals += [(e.ts - timedelta(seconds=skew), e) for e in sent]
    arrivals.sort(key=lambda pair: pair[0])
    lines = [ev.dumps(e) for _, e in arrivals]
    for _ in range(draw(st.integers(0, 8))):  # duplicates, swaps, bad lines, time jumps
        at_line = draw(st.integers(0, len(lines) - 1))
        what = draw(st.sampled_from(["dup", "swap", "bad", "blank", "late", "jump"]))
        if what == "dup":
            lines.insert(at_line, lines[at_line])
        elif what == "swap" and at_line + 1 < len(lines):
            lines[at_line], lines[at_line + 1] = lines[at_line + 1], lines[at_line]
        elif what == "bad":
            lines.insert(at_line, draw(st.sampled_from(
                [b"{", b"[]", raw_fix({"lat": 95.0}, set()), raw_fix({}, {"unit_id"})])))
        elif what == "blank":
            lines.insert(at_line, b"  ")
        elif lines[at_line].startswith(b'{"event_id"'):  # an event's line
            minutes = -90 if what == "late" else 400
            obj = json.loads(lines[at_line])
            moved = datetime.fromisoformat(obj["ts"]) + timedelta(minutes=minutes)
            obj["ts"] = ev.format_timestamp(moved)
            lines.insert(at_line, json.dumps(obj).encode())
    return lines


def _plain(item: Any) -> Any:
    return str(item) if isinstance(item, LineError) else (type(item).__name__, to_json(item))


@settings(max_examples=60, deadline=None)
@given(streams())
def test_the_replay_says_what_the_plain_replay_loop_says(lines: list[bytes]) -> None:
    expected, states, final = plain_replay(lines)
    run = Replay(Engine(PACK, locate=locate), Compliance(PACK))
    got = list(run.run(lines))
    assert [_plain(o) for o in got] == [_plain(o) for o in expected]
    assert {k: s.to_json() for k, s in run.states.items()} == {
        k: s.to_json() for k, s in states.items()
    }
    assert run.clock.now() == final
    errors = sum(isinstance(o, LineError) for o in expected)
    assert run.counts.errors == errors


class _SweepLog(Engine):
    """An engine that notes each incident swept and when."""

    def __init__(self) -> None:
        super().__init__(PACK, locate=locate)
        self.swept: list[tuple[str, datetime]] = []

    def sweep(self, state: IncidentState, now: datetime) -> tuple[IncidentState, list[Any]]:
        self.swept.append((state.incident_id, now))
        return super().sweep(state, now)


def test_a_deadline_an_event_moved_is_not_swept() -> None:
    # call_processing (target 1 min) would approach at 0.8 min; the assignment at 0.5 closes
    # it, so the incident's next deadline is call_to_departure's approach (3 min x 0.8)
    lines = [ev.dumps(e) for e in (
        event("call.received", 0, "m", pathway_hint="chest_pain", triage_level=1),
        unit("assigned", 0.5, "A1", "m"),
        event("call.received", 5, "later"),
    )]
    engine = _SweepLog()
    alerts = [o for o in Replay(engine, Compliance(PACK)).run(lines) if isinstance(o, Alert)]
    assert ("m", at(0.8)) not in engine.swept
    assert ("m", at(2.4)) in engine.swept
    assert [(a.alert_id, a.at_ts) for a in alerts if a.incident_id == "m"][:2] == [
        ("m:approaching:call_to_departure", at(2.4)),
        ("m:breach:call_to_departure", at(3)),
    ]


def test_a_redelivery_at_a_deadline_leaves_it_due() -> None:
    # call_processing's breach is due at 1 min, and the watermark reaches it with a fix; the
    # call delivered again then changes nothing, so the breach is raised at 1 min, when the
    # next event moves the watermark past it (found by the property test above)
    call = event("call.received", 0, "k", pathway_hint="chest_pain")
    lines = [ev.dumps(e) for e in (
        call,
        event("gps.fix", 1, "k", unit_id="B2", lat=31.2, lon=121.4),
        call,
        event("call.received", 2, "later"),
    )]
    alerts = [o for o in Replay(Engine(PACK, locate=locate), Compliance(PACK)).run(lines)
              if isinstance(o, Alert) and o.incident_id == "k"]
    assert [(a.alert_id, a.at_ts) for a in alerts][:2] == [
        ("k:approaching:call_processing", at(0.8)),
        ("k:breach:call_processing", at(1)),
    ]
