"""Event contract v1: one frozen value type per event type, one parser, one serializer.

Every producer and consumer (worker, replay, importers, simulator) goes through
`parse` and `to_json`, so the contract lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar, get_args

import orjson
from mypy_extensions import mypyc_attr

MAX_EVENT_BYTES = 64 * 1024
MAX_STRING_CHARS = 4096
# `source` of the unit statuses inferred from GPS geofences (geo/geofence.py); an explicit
# status of the same unit supersedes them (pathways/timeline.py)
INFERRED_SOURCE = "avl"

Pathway = Literal["chest_pain", "stroke", "trauma", "maternal", "pediatric", "other"]
PATHWAYS: frozenset[str] = frozenset(get_args(Pathway))

# RFC 3339 date-time with a mandatory UTC offset; fromisoformat alone accepts more.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Reason(StrEnum):
    """Closed set of reasons a message is dead-lettered."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    TOO_LARGE = "too_large"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA = "schema"
    BAD_TIMESTAMP = "bad_timestamp"
    # a valid message whose processing failed (a bug, by definition); `parse` never says it
    PROCESSING_ERROR = "processing_error"


@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True)
class ParseError:
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


class _Invalid(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.error = ParseError(reason, detail)


@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    accuracy_m: float | None = None


# The event classes are plain Python classes (mypyc_attr) in this compiled module (setup.py):
# code elsewhere, and the dataclass machinery, see them as written.
@mypyc_attr(native_class=False)
class _Kind:
    TYPE: ClassVar[str] = ""  # the contract's type
    REQUIRES: ClassVar[tuple[str, ...]] = ()  # ids that must be present


_E = TypeVar("_E", bound=_Kind)


def _kind(
    type_name: str, requires: tuple[str, ...] | None = None
) -> Callable[[type[_E]], type[_E]]:
    """Sets an event class's TYPE (unless "") and REQUIRES (unless None). Not in the class body:
    mypyc makes a dataclass field of every name assigned there, ClassVar or not."""

    def mark(cls: type[_E]) -> type[_E]:
        if type_name:
            cls.TYPE = type_name
        if requires is not None:
            cls.REQUIRES = requires
        return cls

    return mark


@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class Event(_Kind):
    """Fields every event carries. Subclasses add their type's payload (and `_kind`)."""

    event_id: str
    ts: datetime
    source: str
    incident_id: str | None = None
    unit_id: str | None = None
    hospital_id: str | None = None

    @property
    def type(self) -> str:
        return self.TYPE


# --- dispatch.calls -------------------------------------------------------------------------


@_kind("call.received", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class CallReceived(Event):
    location: Location
    triage_level: int | None = None
    pathway_hint: Pathway | None = None
    complaint: str | None = None
    symptom_onset: datetime | None = None
    last_known_well: datetime | None = None


@_kind("call.triaged", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class CallTriaged(Event):
    triage_level: int | None = None
    pathway_hint: Pathway | None = None
    last_known_well: datetime | None = None


@_kind("call.cancelled", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class CallCancelled(Event):
    pass


@_kind("incident.closed", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentClosed(Event):
    pass


# --- dispatch.units -------------------------------------------------------------------------


@_kind("", requires=("incident_id", "unit_id"))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitStatus(Event):
    """Base of the unit status events; all but `unit.available` belong to an incident."""


@_kind("unit.assigned")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitAssigned(UnitStatus):
    pass


@_kind("unit.enroute")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitEnroute(UnitStatus):
    pass


@_kind("unit.on_scene")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitOnScene(UnitStatus):
    pass


@_kind("unit.at_patient")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitAtPatient(UnitStatus):
    pass


@_kind("unit.left_scene")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitLeftScene(UnitStatus):
    destination_hospital_id: str | None = None


@_kind("unit.at_destination")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitAtDestination(UnitStatus):
    pass


@_kind("unit.available", requires=("unit_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitAvailable(UnitStatus):
    pass


@_kind("unit.cancelled")
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class UnitCancelled(UnitStatus):
    pass


# --- dispatch.gps ---------------------------------------------------------------------------


@_kind("gps.fix", requires=("unit_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class GpsFix(Event):
    lat: float
    lon: float
    speed_mps: float | None = None
    heading_deg: float | None = None
    accuracy_m: float | None = None


# --- clinical.events ------------------------------------------------------------------------

EcgSetting = Literal["prehospital", "hospital"]


@_kind("ecg.acquired", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class EcgAcquired(Event):
    setting: EcgSetting
    stemi: bool | None = None


@_kind("ecg.transmitted", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class EcgTransmitted(Event):
    pass


@_kind("diagnosis.made", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisMade(Event):
    diagnosis: str


@_kind("stroke.screen", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class StrokeScreen(Event):
    scale: str
    score: float
    lvo_suspected: bool | None = None


@_kind("trauma.assessment", requires=("incident_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class TraumaAssessment(Event):
    gcs: int | None = None
    mechanism: str | None = None
    activation_level: int | None = None


# --- hospital.events ------------------------------------------------------------------------


@_kind("", requires=("incident_id", "hospital_id"))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalMilestone(Event):
    """An in-hospital milestone; the type names which one."""


HOSPITAL_MILESTONES: tuple[str, ...] = (
    "hospital.arrived",
    "cathlab.activated",
    "cathlab.team_ready",
    "cathlab.arrived",
    "wire.crossed",
    "device.deployed",
    "thrombolysis.started",
    "ct.started",
    "ct.read",
    "puncture",
    "recanalization",
    "trauma_team.activated",
    "trauma_team.arrived",
    "or.entered",
    "transfer.departed",
)


def _milestone_class(type_name: str) -> type[HospitalMilestone]:
    words = re.split(r"[._]", type_name)
    name = "".join(w.capitalize() for w in words)
    return dataclass(frozen=True, slots=True, kw_only=True)(
        type(name, (HospitalMilestone,), {"TYPE": type_name, "__module__": __name__})
    )


_MILESTONE_CLASSES = {t: _milestone_class(t) for t in HOSPITAL_MILESTONES}
HospitalArrived = _MILESTONE_CLASSES["hospital.arrived"]


# --- hospital.status ------------------------------------------------------------------------


@_kind("hospital.status", requires=("hospital_id",))
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalStatus(Event):
    diversion: bool | None = None
    cathlab_available: bool | None = None
    ct_available: bool | None = None
    or_available: bool | None = None
    icu_available: bool | None = None


_ALL_TYPES: tuple[type[Event], ...] = (
    CallReceived,
    CallTriaged,
    CallCancelled,
    IncidentClosed,
    UnitAssigned,
    UnitEnroute,
    UnitOnScene,
    UnitAtPatient,
    UnitLeftScene,
    UnitAtDestination,
    UnitAvailable,
    UnitCancelled,
    GpsFix,
    EcgAcquired,
    EcgTransmitted,
    DiagnosisMade,
    StrokeScreen,
    TraumaAssessment,
    HospitalStatus,
    *_MILESTONE_CLASSES.values(),
)
EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in _ALL_TYPES}

TOPIC_OF_TYPE: dict[str, str] = {
    **{t: "dispatch.calls" for t in EVENT_TYPES if t.startswith(("call.", "incident."))},
    **{t: "dispatch.units" for t in EVENT_TYPES if t.startswith("unit.")},
    "gps.fix": "dispatch.gps",
    **{
        t: "clinical.events"
        for t in (
            "ecg.acquired",
            "ecg.transmitted",
            "diagnosis.made",
            "stroke.screen",
            "trauma.assessment",
        )
    },
    **{t: "hospital.events" for t in HOSPITAL_MILESTONES},
    "hospital.status": "hospital.status",
}


# --- parsing --------------------------------------------------------------------------------


def parse_timestamp(value: object, field: str = "ts") -> datetime:
    """An RFC 3339 timestamp with a UTC offset, within a plausible range."""
    if type(value) is str and len(value) == _USUAL_LENGTH and value[19] == ".":
        key = value[:17] + value[23:]
        known = _MINUTES.get(key)
        if known is not None:
            second, milli = _SECOND_STEPS.get(value[17:19]), _MILLI_STEPS.get(value[20:23])
            if second is not None and milli is not None:
                return known[1] + second + milli
        moment = _read_timestamp(value, field)
        _keep_minute(key, value, moment)
        return moment
    return _read_timestamp(value, field)


def timestamp_us(value: object) -> int:
    """`epoch_us(parse_timestamp(value))`, raising as that does, without the datetime."""
    if type(value) is str and len(value) == _USUAL_LENGTH and value[19] == ".":
        known = _MINUTES.get(value[:17] + value[23:])
        if known is not None:
            seconds, micros = _SECONDS_US.get(value[17:19]), _MILLIS_US.get(value[20:23])
            if seconds is not None and micros is not None:
                return known[0] + seconds + micros
    return epoch_us(parse_timestamp(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(moment: datetime) -> int:
    """An aware time as whole microseconds since the epoch: exact, and cheap to compare."""
    return (moment - _EPOCH) // _MICROSECOND


# Times of the usual shape, "2026-11-24T08:15:02.120+08:00", by their minute and offset (the
# text without "02.120"): that minute's start (epoch microseconds, datetime), once one time of
# it was valid. Then every second and millisecond of it is (the range limits are whole
# minutes), and a time of it is read without the regular expression.
_USUAL_LENGTH = 29
_MINUTES: dict[str, tuple[int, datetime]] = {}
_MINUTES_KEPT = 4096
_SECONDS_US = {f"{s:02d}": s * 1_000_000 for s in range(60)}
_MILLIS_US = {f"{m:03d}": m * 1000 for m in range(1000)}
# The same steps as timedeltas: the minute's start plus them is the time. (`replace(second=,
# microsecond=)` costs about four times as much: keyword arguments.)
_SECOND_STEPS = {text: timedelta(microseconds=us) for text, us in _SECONDS_US.items()}
_MILLI_STEPS = {text: timedelta(microseconds=us) for text, us in _MILLIS_US.items()}


def _keep_minute(key: str, value: str, moment: datetime) -> None:
    if value[23] not in "+-":  # then not exactly three digits of fraction, as the key assumes
        return
    if len(_MINUTES) >= _MINUTES_KEPT:
        _MINUTES.clear()
    start = moment.replace(second=0, microsecond=0)
    _MINUTES[key] = (epoch_us(start), start)


def _read_timestamp(value: object, field: str) -> datetime:
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise _Invalid(Reason.BAD_TIMESTAMP, f"{field}: not an RFC 3339 time with offset")
    text: str = match.string
    digits = match.group(1)
    if digits is not None and len(digits) > 7:  # ".ddddddd...": Python keeps microseconds
        text = text[: match.start(1)] + digits[:7] + text[match.end(1) :]
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise _Invalid(Reason.BAD_TIMESTAMP, f"{field}: {exc}") from None
    # The year test is exact (an offset moves a time by less than a day) and spares the
    # slow aware-datetime comparison for nearly every timestamp.
    if not 1990 < moment.year < 2099 and not _EARLIEST <= moment < _LATEST:
        raise _Invalid(Reason.BAD_TIMESTAMP, f"{field}: outside 1990..2100")
    return moment


def _check_str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(Reason.SCHEMA, f"{field}: expected a non-empty string")
    if len(value) > MAX_STRING_CHARS:
        raise _Invalid(Reason.SCHEMA, f"{field}: longer than {MAX_STRING_CHARS} characters")
    return value


def _check_number(value: object, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(Reason.SCHEMA, f"{field}: expected a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise _Invalid(Reason.SCHEMA, f"{field}: {value!r} outside {low}..{high}")
    return number


def _check_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(Reason.SCHEMA, f"{field}: expected an integer")
    if not low <= value <= high:
        raise _Invalid(Reason.SCHEMA, f"{field}: {value} outside {low}..{high}")
    return value


def _check_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(Reason.SCHEMA, f"{field}: expected true or false")
    return value


def _check_choice(value: object, field: str, choices: frozenset[str]) -> str:
    if value not in choices:
        raise _Invalid(Reason.SCHEMA, f"{field}: expected one of {sorted(choices)}")
    return str(value)


def _check_location(value: object, field: str) -> Location:
    if not isinstance(value, dict):
        raise _Invalid(Reason.SCHEMA, f"{field}: expected an object with lat and lon")
    accuracy = value.get("accuracy_m")
    return Location(
        lat=_check_number(value.get("lat"), f"{field}.lat", -90, 90),
        lon=_check_number(value.get("lon"), f"{field}.lon", -180, 180),
        accuracy_m=None if accuracy is None else _check_number(accuracy, "accuracy_m", 0, 1e6),
    )


# Checks of the payload fields, by field name: one rule per name across all types.
_FIELD_CHECKS: dict[str, Any] = {
    "location": _check_location,
    "triage_level": lambda v, f: _check_int(v, f, 1, 4),
    "pathway_hint": lambda v, f: _check_choice(v, f, PATHWAYS),
    "complaint": _check_str,
    "symptom_onset": parse_timestamp,
    "last_known_well": parse_timestamp,
    "destination_hospital_id": _check_str,
    "lat": lambda v, f: _check_number(v, f, -90, 90),
    "lon": lambda v, f: _check_number(v, f, -180, 180),
    "speed_mps": lambda v, f: _check_number(v, f, 0, 150),
    "heading_deg": lambda v, f: _check_number(v, f, 0, 360),
    "accuracy_m": lambda v, f: _check_number(v, f, 0, 1e6),
    "setting": lambda v, f: _check_choice(v, f, frozenset(get_args(EcgSetting))),
    "stemi": _check_bool,
    "diagnosis": _check_str,
    "scale": _check_str,
    "score": lambda v, f: _check_number(v, f, 0, 1000),
    "lvo_suspected": _check_bool,
    "gcs": lambda v, f: _check_int(v, f, 3, 15),
    "mechanism": _check_str,
    "activation_level": lambda v, f: _check_int(v, f, 1, 3),
    "diversion": _check_bool,
    "cathlab_available": _check_bool,
    "ct_available": _check_bool,
    "or_available": _check_bool,
    "icu_available": _check_bool,
}
_COMMON = ("event_id", "ts", "source", "incident_id", "unit_id", "hospital_id")


# Per type, its payload fields in declaration order: (name, required, check).
_PAYLOAD: dict[type[Event], tuple[tuple[str, bool, Any], ...]] = {
    cls: tuple(
        (f.name, f.default is dataclasses.MISSING, _FIELD_CHECKS[f.name])
        for f in dataclasses.fields(cls)
        if f.name not in _COMMON
    )
    for cls in _ALL_TYPES
}


def _build(obj: dict[str, Any]) -> Event:
    if obj.get("type") == "gps.fix":
        fix = _gps_fix(obj)
        if fix is not None:
            return fix
    return _build_any(obj)


def _build_any(obj: dict[str, Any]) -> Event:
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise _Invalid(Reason.SCHEMA, "type: expected a string")
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise _Invalid(Reason.UNKNOWN_TYPE, f"type: {kind[:64]!r} is not in contract v1")
    values: dict[str, Any] = {
        "event_id": _check_str(obj.get("event_id"), "event_id"),
        "source": _check_str(obj.get("source"), "source"),
        "ts": parse_timestamp(obj.get("ts")),
    }
    for key in ("incident_id", "unit_id", "hospital_id"):
        if obj.get(key) is not None:
            values[key] = _check_str(obj[key], key)
        elif key in cls.REQUIRES:
            raise _Invalid(Reason.SCHEMA, f"{key}: required for {kind}")
    for name, required, check in _PAYLOAD[cls]:
        raw = obj.get(name)
        if raw is None:
            if required:
                raise _Invalid(Reason.SCHEMA, f"{name}: required for {kind}")
            continue
        values[name] = check(raw, name)
    return cls(**values)


def _gps_fix(obj: dict[str, Any]) -> GpsFix | None:
    """The ~90% case, validated without the generic machinery: a GpsFix when every field is
    plainly valid, else None and the generic path decides (and words the error)."""
    plain = _plain_fix(obj)
    if plain is None:
        return None
    event_id, source, incident_id, unit_id, hospital_id, lat, lon, speed, heading, accuracy = (
        plain
    )
    return GpsFix(
        event_id=event_id,
        ts=parse_timestamp(obj.get("ts")),
        source=source,
        incident_id=incident_id,
        unit_id=unit_id,
        hospital_id=hospital_id,
        lat=lat,
        lon=lon,
        speed_mps=speed,
        heading_deg=heading,
        accuracy_m=accuracy,
    )


def _plain_fix(obj: dict[str, Any]) -> tuple[Any, ...] | None:
    """A gps.fix's fields but `ts` (event_id, source, incident_id, unit_id, hospital_id, lat,
    lon, speed, heading, accuracy) when every one is plainly valid, else None."""
    get = obj.get
    event_id, source, incident_id, unit_id, hospital_id = (
        get("event_id"), get("source"), get("incident_id"), get("unit_id"), get("hospital_id")
    )
    lat, lon, speed, heading, accuracy = (
        get("lat"), get("lon"), get("speed_mps"), get("heading_deg"), get("accuracy_m")
    )
    limit = MAX_STRING_CHARS
    if not (
        type(event_id) is str
        and 0 < len(event_id) <= limit
        and type(source) is str
        and 0 < len(source) <= limit
        and type(unit_id) is str
        and 0 < len(unit_id) <= limit
        and (incident_id is None or (type(incident_id) is str and 0 < len(incident_id) <= limit))
        and (hospital_id is None or (type(hospital_id) is str and 0 < len(hospital_id) <= limit))
        and type(lat) is float
        and -90.0 <= lat <= 90.0
        and type(lon) is float
        and -180.0 <= lon <= 180.0
        and (speed is None or (type(speed) is float and 0.0 <= speed <= 150.0))
        and (heading is None or (type(heading) is float and 0.0 <= heading <= 360.0))
        and (accuracy is None or (type(accuracy) is float and 0.0 <= accuracy <= 1e6))
    ):
        return None
    return event_id, source, incident_id, unit_id, hospital_id, lat, lon, speed, heading, accuracy


FixTime = tuple[int, str, str, str]
"""Of a gps.fix, what a consumer that only keeps time needs: its ts as `timestamp_us` and as
written, its source and unit_id."""


def parse_or_fix_time(raw: bytes | str) -> Event | ParseError | FixTime:
    """`parse`, except that a plainly valid gps.fix comes back as its `FixTime` without
    building the GpsFix (the offline replay reads nothing else of a fix). Whatever `parse`
    would reject or word differently goes through `parse`'s own path."""
    obj = _loads(raw)
    if isinstance(obj, ParseError):
        return obj
    if type(obj) is dict and obj.get("type") == "gps.fix":
        plain = _plain_fix(obj)
        if plain is not None:
            ts = obj.get("ts")
            try:
                return timestamp_us(ts), str(ts), plain[1], plain[3]
            except _Invalid as exc:
                return exc.error
    return parse_object(obj)


def parse(raw: bytes | str) -> Event | ParseError:
    """Decode and validate one message of the contract; never raises."""
    obj = _loads(raw)
    return obj if isinstance(obj, ParseError) else parse_object(obj)


def _loads(raw: bytes | str) -> object:
    """The message's JSON value, or the ParseError saying why there is none."""
    if len(raw) > MAX_EVENT_BYTES:
        return ParseError(Reason.TOO_LARGE, f"{len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return ParseError(Reason.INVALID_JSON, str(exc)[:200])


def parse_object(obj: object) -> Event | ParseError:
    """Validate an already-decoded JSON value; never raises."""
    if not isinstance(obj, dict):
        return ParseError(Reason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
    try:
        return _build(obj)
    except _Invalid as exc:
        return exc.error
    except RecursionError:
        return ParseError(Reason.SCHEMA, "nested too deeply")


# --- serialization --------------------------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with milliseconds (or microseconds when present) and the original offset."""
    key = (moment, moment.utcoffset())  # the text depends on nothing else
    text = _FORMATTED.get(key)
    if text is None:
        if len(_FORMATTED) >= _FORMATTED_KEPT:
            _FORMATTED.clear()
        spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
        text = _FORMATTED[key] = moment.isoformat(timespec=spec)
    return text


# The same times are formatted again and again (an interval's start in each of its records and
# revisions), and `isoformat` costs several dict lookups' worth.
_FORMATTED: dict[tuple[datetime, timedelta | None], str] = {}
_FORMATTED_KEPT = 8192


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Location):
        loc: dict[str, Any] = {"lat": value.lat, "lon": value.lon}
        if value.accuracy_m is not None:
            loc["accuracy_m"] = value.accuracy_m
        return loc
    return value


def to_json(event: Event) -> dict[str, Any]:
    """The contract's JSON object for an event (fields that are None are left out)."""
    out: dict[str, Any] = {"event_id": event.event_id, "type": event.TYPE}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if value is not None and field.name != "event_id":
            out[field.name] = _plain(value)
    return out


def dumps(event: Event) -> bytes:
    return orjson.dumps(to_json(event))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


_SECOND = timedelta(seconds=1)


def seconds_between(start: datetime, end: datetime) -> float:
    return (end - start) / _SECOND
