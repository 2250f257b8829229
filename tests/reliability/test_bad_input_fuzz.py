"""Issue #10: bad input at every input topic, through the real broker and one worker.

Hypothesis draws batches of arbitrary bytes, wrong types, huge strings, deep nesting, NaN and
infinite coordinates, timestamps far in the past and future, unknown event types, and valid
events with contradictory content. Around each batch, good incidents are fed. The worker
must keep consuming; every bad message must be in the dead-letter topic, once, with its
original bytes, a reason from the closed set and the coordinates it was read at; every good
incident must be measured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathways import events as ev
from streams.ingest import HEADER_OFFSET, HEADER_PARTITION, HEADER_REASON, HEADER_TOPIC
from tests.integration.pipeline import MAX_REQUEST, Reader, Worker, ensure_topics, producer
from tests.reliability import harness

pytestmark = pytest.mark.integration

INPUTS = ("dispatch.calls", "dispatch.units", "dispatch.gps", "clinical.events",
          "hospital.events", "hospital.status")
REASONS = {r.value for r in ev.Reason}
CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 24, 8, 0, tzinfo=CST)
TIMEOUT_S = 90.0


def _template(kind: str) -> dict[str, Any]:
    """A valid event of each input topic, as a JSON object (the base of wrong-type variants)."""
    common: dict[str, Any] = {
        "event_id": f"tpl-{kind}", "ts": "2026-11-24T08:00:00.000+08:00", "source": "cad"
    }
    return {
        "call.received": {**common, "type": kind, "incident_id": "tpl",
                          "location": {"lat": 30.945, "lon": 117.06}, "triage_level": 2},
        "unit.enroute": {**common, "type": kind, "incident_id": "tpl", "unit_id": "U1"},
        "gps.fix": {**common, "type": kind, "unit_id": "U1", "lat": 30.9, "lon": 117.0},
        "ecg.acquired": {**common, "type": kind, "incident_id": "tpl", "setting": "prehospital"},
        "hospital.arrived": {**common, "type": kind, "incident_id": "tpl", "hospital_id": "H01"},
        "hospital.status": {**common, "type": kind, "hospital_id": "H01", "diversion": False},
    }[kind]


TEMPLATES = ("call.received", "unit.enroute", "gps.fix", "ecg.acquired", "hospital.arrived",
             "hospital.status")
_not_str = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_not_number = st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.floats(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "event_id": _not_str, "type": _not_str, "source": _not_str,
    "ts": st.one_of(_not_str, st.text(max_size=20).filter(lambda s: not s[:4].isdigit())),
    "incident_id": _not_str.filter(lambda v: v != []),
    "location": st.one_of(_not_str.filter(lambda v: not isinstance(v, dict)), st.just({})),
    "lat": _not_number, "lon": _not_number,
    "triage_level": st.one_of(st.text(min_size=1, max_size=3), st.integers(5, 99),
                              st.integers(-99, 0)),
}


@st.composite
def wrong_type(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(TEMPLATES))
    obj = _template(kind)
    name = draw(st.sampled_from(sorted(k for k in _WRONG if k in obj)))
    obj[name] = draw(_WRONG[name])
    return orjson.dumps(obj)


@st.composite
def huge_string(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(TEMPLATES))
    obj = _template(kind)
    # known string fields only: an unknown field is ignored by design (forward compatible)
    names = sorted(k for k in obj if isinstance(obj[k], str) and k != "ts")
    name = draw(st.sampled_from(names + (["complaint"] if kind == "call.received" else [])))
    obj[name] = "界" * draw(st.integers(4_097, 600_000))  # 3 bytes each: up to 1.8 MB
    return orjson.dumps(obj)


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(600, 50_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = opener * depth + "1" + closer * depth
    if draw(st.booleans()):  # as the location of an otherwise valid call
        obj = orjson.dumps(_template("call.received")).decode()
        return obj.replace('"location":{"lat":30.945,"lon":117.06}',
                           '"location":' + inner).encode()
    return inner.encode()


@st.composite
def non_finite_coordinates(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["call.received", "gps.fix"]))
    text = orjson.dumps(_template(kind)).decode()
    bad = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "91.5",
                                "-180.01", '"NaN"']))
    target = '"lat":30.945' if kind == "call.received" else '"lon":117.0'
    key = target.split(":")[0]
    return text.replace(target, f"{key}:{bad}", 1).encode()


@st.composite
def far_timestamp(draw: st.DrawFn) -> bytes:
    obj = _template(draw(st.sampled_from(TEMPLATES)))
    year = draw(st.one_of(st.integers(1, 1989), st.integers(2100, 9999)))
    offset = draw(st.sampled_from(["Z", "+08:00", "-05:00", "+14:00"]))
    obj["ts"] = f"{year:04d}-06-15T12:00:00.000{offset}"
    return orjson.dumps(obj)


@st.composite
def unknown_type(draw: st.DrawFn) -> bytes:
    obj = _template(draw(st.sampled_from(TEMPLATES)))
    name = draw(st.text(min_size=1, max_size=30).filter(lambda t: t not in ev.TOPIC_OF_TYPE))
    obj["type"] = name
    return orjson.dumps(obj)


def _arbitrary(raw: bytes) -> bool:
    return not isinstance(ev.parse(raw), ev.Event)  # a random valid event is not "bad"


BAD = st.one_of(
    st.binary(max_size=400).filter(_arbitrary), wrong_type(), huge_string(), deep_nesting(),
    non_finite_coordinates(), far_timestamp(), unknown_type(),
)


@dataclass
class Rig:
    """One worker for the whole module, a producer, and a reader of its outputs."""

    prefix: str
    worker: Worker
    reader: Reader
    prod: Any
    expected: dict[tuple[str, int, int], bytes] = field(default_factory=dict)
    incidents: set[str] = field(default_factory=set)
    conflicts: set[str] = field(default_factory=set)
    topics_hit: set[str] = field(default_factory=set)

    def send(self, topic: str, value: bytes, key: bytes = b"k") -> tuple[int, int]:
        meta = self.prod.send(self.prefix + topic, key=key, value=value).get(30)
        return meta.partition, meta.offset

    def bad(self, topic: str, value: bytes) -> None:
        partition, offset = self.send(topic, value)
        self.expected[(self.prefix + topic, partition, offset)] = value
        self.topics_hit.add(topic)

    def good_incident(self, contradict: bool) -> None:
        incident = f"good-{uuid.uuid4().hex[:10]}"
        self.incidents.add(incident)
        for event in _good_events(incident, contradict):
            topic = ev.TOPIC_OF_TYPE[event.TYPE]
            key = event.unit_id if topic == "dispatch.units" else incident
            self.send(topic, ev.dumps(event), (key or "").encode())
        if contradict:
            self.conflicts.add(incident)

    def settled(self) -> bool:
        letters = self.reader.messages[self.prefix + "pathwatch.deadletter"]
        measured = {m.json()["incident_id"] for m in
                    self.reader.messages[self.prefix + "pathwatch.intervals"]}
        flagged = {m.json()["incident_id"] for m in
                   self.reader.messages[self.prefix + "pathwatch.alerts"]
                   if "duplicate_conflict" in m.json().get("detail", "")}
        return (len(letters) >= len(self.expected) and self.incidents <= measured
                and self.conflicts <= flagged)


def _good_events(incident: str, contradict: bool) -> Iterator[ev.Event]:
    def make(kind: str, minutes: float, suffix: str = "", **extra: Any) -> ev.Event:
        obj = {"event_id": f"{incident}:{kind}{suffix}", "type": kind, "source": "cad",
               "ts": ev.format_timestamp(BASE + timedelta(minutes=minutes)),
               "incident_id": incident, **extra}
        parsed = ev.parse_object(obj)
        assert isinstance(parsed, ev.Event), parsed
        return parsed

    location = {"lat": 30.945, "lon": 117.06}
    yield make("call.received", 0, location=location, triage_level=2)
    yield make("unit.assigned", 0.5, unit_id=f"U-{incident}")
    yield make("unit.enroute", 2, unit_id=f"U-{incident}")
    if contradict:  # same event id, other content: a valid event that contradicts the first
        yield make("call.received", 0, location={"lat": 30.95, "lon": 117.07}, triage_level=1)


@pytest.fixture(scope="module")
def rig(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    prefix = f"fuzz-{uuid.uuid4().hex[:8]}."
    ensure_topics(kafka_bootstrap, prefix)
    worker = Worker(kafka_bootstrap, f"fuzz-{uuid.uuid4().hex[:8]}", prefix,
                    tmp_path_factory.mktemp("fuzz")).start()
    outputs = [prefix + n for n in ("pathwatch.deadletter", "pathwatch.intervals",
                                    "pathwatch.alerts")]
    prod = producer(kafka_bootstrap)
    rig = Rig(prefix, worker, Reader(kafka_bootstrap, outputs), prod)
    yield rig
    worker.stop()
    rig.reader.close()
    prod.close()


def _check(rig: Rig) -> None:
    assert rig.reader.until(lambda r: rig.settled(), TIMEOUT_S, rig.worker), (
        f"not settled: {len(rig.reader.messages[rig.prefix + 'pathwatch.deadletter'])} "
        f"dead letters of {len(rig.expected)}")
    rig.reader.poll(0.5)
    letters = rig.reader.messages[rig.prefix + "pathwatch.deadletter"]
    found: dict[tuple[str, int, int], bytes] = {}
    for letter in letters:
        h = letter.headers
        assert h[HEADER_REASON].decode() in REASONS, h
        where = (h[HEADER_TOPIC].decode(), int(h[HEADER_PARTITION]), int(h[HEADER_OFFSET]))
        assert where not in found, f"dead-lettered twice: {where}"
        found[where] = letter.value
    assert set(found) == set(rig.expected), {
        "not dead-lettered": sorted(set(rig.expected) - set(found))[:5],
        "dead-lettered but good": sorted(set(found) - set(rig.expected))[:5]}
    assert all(found[k] == v for k, v in rig.expected.items()), "original bytes not kept"


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(st.sampled_from(INPUTS), BAD), min_size=1, max_size=12),
       contradict=st.booleans())
def test_bad_input_is_dead_lettered_and_good_input_processed(
    rig: Rig, batch: list[tuple[str, bytes]], contradict: bool
) -> None:
    rig.good_incident(contradict=False)
    for topic, value in batch:
        rig.bad(topic, value)
    rig.good_incident(contradict=contradict)
    _check(rig)


CATEGORIES = {
    "arbitrary_bytes": b"\x00\xff\xfe garbage \x81",
    "not_utf8_json": b'{"type": "call.received", "event_id": "\xff\xfe"}',
    "wrong_type": orjson.dumps({**_template("call.received"), "ts": 1700000000}),
    "huge_string": orjson.dumps({**_template("unit.enroute"), "source": "x" * 1_500_000}),
    "deep_nesting": b"[" * 20_000 + b"]" * 20_000,
    "deep_and_large": b"[" * 100_000 + b"]" * 100_000,
    "nan_coordinate": orjson.dumps(_template("gps.fix")).replace(b'"lat":30.9', b'"lat":NaN'),
    "inf_coordinate": orjson.dumps(_template("gps.fix")).replace(b'"lon":117.0', b'"lon":1e999'),
    "far_past": orjson.dumps({**_template("hospital.arrived"), "ts": "1900-01-01T00:00:00Z"}),
    "far_future": orjson.dumps({**_template("ecg.acquired"),
                                "ts": "2999-01-01T00:00:00.000+08:00"}),
    "unknown_type": orjson.dumps({**_template("hospital.status"), "type": "unit.teleported"}),
    "empty": b"",
    "null_json": b"null",
}


def test_every_kind_on_every_topic(rig: Rig) -> None:
    for topic in INPUTS:
        rig.good_incident(contradict=False)
        for value in CATEGORIES.values():
            assert len(value) < MAX_REQUEST
            rig.bad(topic, value)
    rig.good_incident(contradict=True)
    _check(rig)
    assert rig.topics_hit == set(INPUTS)
    harness.record_figures(
        "bad_input", bad_messages=len(rig.expected),
        dead_letters=len(rig.reader.messages[rig.prefix + "pathwatch.deadletter"]),
        good_incidents=len(rig.incidents),
        good_incidents_measured=len(rig.incidents & _measured(rig)),
        conflicts_flagged=len(rig.conflicts), worker_restarts=0,
    )


def _measured(rig: Rig) -> set[str]:
    return {m.json()["incident_id"]
            for m in rig.reader.messages[rig.prefix + "pathwatch.intervals"]}


def test_worker_log_has_one_line_per_dead_letter(rig: Rig) -> None:
    """Counted: the worker logged each dead letter (reason and coordinates, no body)."""
    _check(rig)
    text = Path(rig.worker.log).read_text(errors="replace")
    lines = [orjson.loads(line) for line in text.splitlines()
             if line.startswith("{") and '"event":"deadletter"' in line]
    logged = {(x["topic"], x["partition"], x["offset"]) for x in lines}
    assert logged == set(rig.expected)
