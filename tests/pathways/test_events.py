from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathways import events
from pathways.events import EVENT_TYPES, TOPIC_OF_TYPE, ParseError, Reason, parse

TS = "2026-11-24T08:15:02.120+08:00"


def call_received(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": "e1",
        "type": "call.received",
        "ts": TS,
        "source": "cad",
        "incident_id": "I1",
        "location": {"lat": 30.27, "lon": 120.15},
    }
    return {**base, **extra}


def reason_of(obj: object) -> Reason:
    result = parse(orjson.dumps(obj))
    assert isinstance(result, ParseError), result
    return result.reason


def test_call_received_parses_with_all_fields() -> None:
    event = parse(
        orjson.dumps(
            call_received(
                triage_level=1,
                pathway_hint="stroke",
                complaint="右侧肢体无力",
                last_known_well="2026-11-24T07:40:00+08:00",
            )
        )
    )
    assert isinstance(event, events.CallReceived)
    assert event.ts == datetime(2026, 11, 24, 0, 15, 2, 120000, tzinfo=UTC)
    assert event.location == events.Location(lat=30.27, lon=120.15)
    assert event.triage_level == 1 and event.pathway_hint == "stroke"
    assert event.complaint == "右侧肢体无力"


def test_every_contract_type_has_a_model_and_a_topic() -> None:
    assert set(EVENT_TYPES) == set(TOPIC_OF_TYPE)
    assert {"unit.at_destination", "wire.crossed", "gps.fix", "hospital.status"} <= set(EVENT_TYPES)
    assert TOPIC_OF_TYPE["puncture"] == "hospital.events"
    assert TOPIC_OF_TYPE["unit.available"] == "dispatch.units"


def test_hospital_milestone_needs_hospital_and_incident() -> None:
    ok = {"event_id": "h", "type": "wire.crossed", "ts": TS, "source": "his:H01",
          "incident_id": "I1", "hospital_id": "H01"}
    event = parse(orjson.dumps(ok))
    assert isinstance(event, events.Event), event
    assert type(event).__name__ == "WireCrossed" and event.type == "wire.crossed"
    assert reason_of({**ok, "hospital_id": None}) is Reason.SCHEMA


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (call_received(ts="2026-11-24T08:15:02"), Reason.BAD_TIMESTAMP),  # naive
        (call_received(ts="24/11/2026 08:15"), Reason.BAD_TIMESTAMP),
        (call_received(ts="1970-01-01T00:00:00Z"), Reason.BAD_TIMESTAMP),
        (call_received(ts=1732400000), Reason.BAD_TIMESTAMP),
        (call_received(type="call.teleported"), Reason.UNKNOWN_TYPE),
        (call_received(incident_id=None), Reason.SCHEMA),
        (call_received(event_id=""), Reason.SCHEMA),
        (call_received(triage_level=5), Reason.SCHEMA),
        (call_received(triage_level="1"), Reason.SCHEMA),
        (call_received(triage_level=True), Reason.SCHEMA),
        (call_received(location={"lat": 91, "lon": 0}), Reason.SCHEMA),
        (call_received(location={"lat": "30", "lon": 120}), Reason.SCHEMA),
        (call_received(pathway_hint="cardiac"), Reason.SCHEMA),
        (call_received(complaint="x" * 5000), Reason.SCHEMA),
        ([1, 2], Reason.NOT_AN_OBJECT),
    ],
)
def test_invalid_events_are_rejected_with_a_reason(obj: object, reason: Reason) -> None:
    assert reason_of(obj) is reason


def test_raw_bytes_failures() -> None:
    assert parse(b'{"event_id": "e1", "ty').reason is Reason.INVALID_JSON  # type: ignore[union-attr]
    assert parse(b'{"lat": NaN}').reason is Reason.INVALID_JSON  # type: ignore[union-attr]
    assert parse(b"\xff\xfe{}").reason is Reason.INVALID_JSON  # type: ignore[union-attr]
    assert parse(b"[" * 100_000).reason is Reason.TOO_LARGE  # type: ignore[union-attr]
    deep = b"[" * 5000 + b"]" * 5000
    assert isinstance(parse(deep[: events.MAX_EVENT_BYTES]), ParseError)


def test_gps_fix_nan_and_range() -> None:
    fix = {"event_id": "g", "type": "gps.fix", "ts": TS, "source": "avl", "unit_id": "U1",
           "lat": 30.0, "lon": 120.0, "speed_mps": 12.5}
    assert isinstance(parse(orjson.dumps(fix)), events.GpsFix)
    as_text = json.dumps({**fix, "lat": float("inf")})  # Python's json writes Infinity
    assert parse(as_text).reason is Reason.INVALID_JSON  # type: ignore[union-attr]
    assert reason_of({**fix, "speed_mps": -1}) is Reason.SCHEMA


def test_fractional_seconds_beyond_microseconds_are_accepted() -> None:
    event = parse(orjson.dumps(call_received(ts="2026-11-24T00:15:02.123456789Z")))
    assert isinstance(event, events.CallReceived)
    assert event.ts.microsecond == 123456


def test_unit_available_needs_no_incident() -> None:
    obj = {"event_id": "a", "type": "unit.available", "ts": TS, "source": "cad", "unit_id": "U1"}
    assert isinstance(parse(orjson.dumps(obj)), events.UnitAvailable)
    assert reason_of({**obj, "type": "unit.enroute"}) is Reason.SCHEMA


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
moments = st.datetimes(
    min_value=datetime(1991, 1, 1), max_value=datetime(2099, 1, 1), timezones=offsets
)
# annotated: passed as a literal, mypy infers tuple[str] (not the Literal hypothesis asks for)
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
ids = st.text(st.characters(codec="utf-8", exclude_categories=SURROGATES), min_size=1, max_size=20)


@given(
    moment=moments,
    event_id=ids,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    triage=st.none() | st.integers(1, 4),
    lkw=st.none() | moments,
)
def test_round_trip(
    moment: datetime, event_id: str, lat: float, lon: float, triage: int | None,
    lkw: datetime | None,
) -> None:
    event = events.CallReceived(
        event_id=event_id, ts=moment, source="cad", incident_id="I1",
        location=events.Location(lat=lat, lon=lon), triage_level=triage, last_known_well=lkw,
    )
    again = parse(events.dumps(event))
    assert again == event
    assert again.ts.utcoffset() == moment.utcoffset()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = parse(raw)
    assert isinstance(result, ParseError | events.Event)


@given(st.dictionaries(st.sampled_from(["event_id", "type", "ts", "source", "incident_id",
                                        "unit_id", "hospital_id", "lat", "lon", "location"]),
                       st.none() | st.booleans() | st.integers() | st.floats() | st.text()))
def test_arbitrary_objects_never_raise(obj: dict[str, object]) -> None:
    result = events.parse_object(obj)
    assert isinstance(result, ParseError | events.Event)
