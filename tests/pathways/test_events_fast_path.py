"""The gps.fix fast path and the timestamp parser decide exactly as the generic parser does:
same event (same offsets), or the same error, for valid and broken fixes alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pathways import events as ev

FIX: dict[str, Any] = {
    "event_id": "S26-A1:gps:503",
    "type": "gps.fix",
    "ts": "2026-11-24T00:03:31.153+08:00",
    "source": "avl",
    "incident_id": "inc-5",
    "unit_id": "S26-A1",
    "lat": 31.213935,
    "lon": 117.24618,
    "speed_mps": 16.1,
    "heading_deg": 93.1,
    "accuracy_m": 4.0,
}
ODD_VALUES: list[object] = [
    None, "", "x", "x" * (ev.MAX_STRING_CHARS + 1), 0, 1, -1, True, False, 0.0, -0.0, 90.0,
    90.0001, -90.0, -180.0, 180.5, 150.0, 150.5, 360.0, 360.5, 1e6, 1e6 + 1, 1e7,
    -1e-9, float("nan"), float("inf"), [], {},
    "2026-11-24T00:03:31+08:00", "2026-11-24T00:03:31.1234567891Z", "2026-11-24 00:03:31z",
    "1989-12-31T23:59:59-23:00", "2100-01-01T00:00:00+01:00", "2026-13-01T00:00:00Z",
]


def generic(obj: dict[str, Any]) -> ev.Event | ev.ParseError:
    try:
        return ev._build_any(obj)
    except ev._Invalid as exc:
        return exc.error


def same(a: ev.Event | ev.ParseError, b: ev.Event | ev.ParseError) -> None:
    assert a == b
    if isinstance(a, ev.Event) and isinstance(b, ev.Event):
        assert ev.to_json(a) == ev.to_json(b)  # offsets and number types too
        assert [type(getattr(a, k)) for k in ev.to_json(a) if k != "type"] == [
            type(getattr(b, k)) for k in ev.to_json(b) if k != "type"
        ]


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(FIX)),
        st.sampled_from(ODD_VALUES) | st.floats(allow_nan=True) | st.integers(-200, 400),
        max_size=4,
    ),
    st.sets(st.sampled_from(sorted(FIX))),
)
def test_a_fix_decodes_as_the_generic_parser_decodes_it(
    changes: dict[str, Any], dropped: set[str]
) -> None:
    obj = {k: v for k, v in {**FIX, **changes}.items() if k not in dropped or k == "type"}
    obj["type"] = "gps.fix"
    same(ev.parse_object(obj), generic(obj))


def test_each_field_with_each_odd_value_decodes_as_the_generic_parser_decodes_it() -> None:
    for field in sorted(FIX):
        for value in ODD_VALUES:
            obj = {**FIX, field: value}
            same(ev.parse_object(obj), generic(obj))
        obj = {k: v for k, v in FIX.items() if k != field}
        same(ev.parse_object(obj), generic(obj))


def test_a_plain_fix_takes_the_fast_path_and_equals_the_generic_result() -> None:
    fast = ev._gps_fix(dict(FIX))
    assert fast is not None
    same(fast, generic(dict(FIX)))


def reference_timestamp(value: object, field: str = "ts") -> datetime:
    """The parser as it was before the fast path (two regex passes, full range comparison)."""
    if not isinstance(value, str) or not ev._RFC3339.match(value):
        raise ev._Invalid(ev.Reason.BAD_TIMESTAMP, f"{field}: not an RFC 3339 time with offset")
    text = value
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:
        text = text.replace(frac.group(0), "." + frac.group(1)[:6], 1)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ev._Invalid(ev.Reason.BAD_TIMESTAMP, f"{field}: {exc}") from None
    if not datetime(1990, 1, 1, tzinfo=UTC) <= moment < datetime(2100, 1, 1, tzinfo=UTC):
        raise ev._Invalid(ev.Reason.BAD_TIMESTAMP, f"{field}: outside 1990..2100")
    return moment


def outcome(parse: Any, value: object) -> tuple[str, str]:
    try:
        return "ok", parse(value).isoformat()
    except ev._Invalid as exc:
        return "error", str(exc.error)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1985, 2105),
    st.integers(1, 12),
    st.integers(1, 31),
    st.integers(0, 23),
    st.integers(0, 60),
    st.text("0123456789", max_size=10),
    st.sampled_from(["Z", "z", "+08:00", "-23:59", "+23:59", "+00:00", "-05:30", "+24:00", ""]),
    st.sampled_from(["T", "t", " ", "_"]),
)
def test_timestamps_parse_as_before(
    year: int, month: int, day: int, hour: int, second: int, digits: str, offset: str, sep: str
) -> None:
    fraction = f".{digits}" if digits else ""
    value = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:07:{second:02d}{fraction}{offset}"
    expected = outcome(reference_timestamp, value)
    assert outcome(ev.parse_timestamp, value) == expected
    assert outcome(ev.parse_timestamp, value) == expected  # its minute known now: the fast path
