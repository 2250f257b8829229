"""Importer mapping files: how one CAD export's columns become contract events.

A mapping is JSON a dispatch center can edit (see `simulators/mappings/sf_fire.json` and
`simulators/README.md`). Loading validates it completely, so a typo fails before any row
is read, with the offending key named.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pathways.events import EVENT_TYPES, PATHWAYS

MAPPINGS_DIR = Path(__file__).parent / "mappings"
GRAINS = ("unit_per_call", "event_per_row")
LOCATION_FORMATS = ("paren_lat_lon", "wkt_point", "columns")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
UNIT_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("unit."))
ROW_TYPES = ("call.received", "call.cancelled", "incident.closed", *UNIT_TYPES)


class MappingError(ValueError):
    """The mapping file itself is wrong (not a bad row): the import cannot start."""


@dataclass(frozen=True, slots=True)
class Template:
    """`"sf-{Call Number}"`: literal text with column values substituted."""

    text: str

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(_TEMPLATE_FIELD.findall(self.text))

    def render(self, row: dict[str, str]) -> str:
        return _TEMPLATE_FIELD.sub(lambda m: row.get(m.group(1), "").strip(), self.text)


@dataclass(frozen=True, slots=True)
class Filter:
    column: str
    allowed: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()

    def admits(self, row: dict[str, str]) -> bool:
        value = row.get(self.column, "").strip()
        if self.allowed is not None and value not in self.allowed:
            return False
        return value not in self.excluded


@dataclass(frozen=True, slots=True)
class ValueMap:
    """A column whose values are translated (priority → triage level, call type → pathway)."""

    column: str
    values: dict[str, Any]
    default: Any = None

    def lookup(self, row: dict[str, str]) -> Any:
        return self.values.get(row.get(self.column, "").strip(), self.default)


@dataclass(frozen=True, slots=True)
class LocationSpec:
    format: str
    column: str | None = None
    lat: str | None = None
    lon: str | None = None
    accuracy_m: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.column, self.lat, self.lon) if c)


@dataclass(frozen=True, slots=True)
class EventRows:
    """Grain `event_per_row` (a status log): which column says which event, and when."""

    type_column: str
    time_column: str
    types: dict[str, str]  # the export's status value -> contract event type


@dataclass(frozen=True, slots=True)
class CallSpec:
    received: str | None  # None with grain event_per_row: the row's time column
    location: LocationSpec
    triage_level: ValueMap | None = None
    pathway_hint: ValueMap | None = None
    complaint: Template | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    name: str
    source: str
    grain: str
    timestamp_format: str
    timezone: ZoneInfo
    incident_id: Template
    unit_id: Template
    call: CallSpec
    unit_events: dict[str, str]
    filters: tuple[Filter, ...] = ()
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    destination_hospital_id: Template | None = None
    description: str = ""
    event_rows: EventRows | None = None

    def required_columns(self) -> set[str]:
        columns = {*self.call.location.columns, *self.unit_events.values()}
        if self.call.received:
            columns.add(self.call.received)
        if self.event_rows:
            columns |= {self.event_rows.type_column, self.event_rows.time_column}
        columns |= {*self.incident_id.columns, *self.unit_id.columns}
        columns |= {f.column for f in self.filters}
        for value_map in (self.call.triage_level, self.call.pathway_hint):
            if value_map is not None:
                columns.add(value_map.column)
        for template in (self.call.complaint, self.destination_hospital_id):
            if template is not None:
                columns |= set(template.columns)
        return columns


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; `MappingError` names what is wrong."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MappingError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a JSON object")
    return mapping_from(raw, str(path))


def mapping_from(raw: dict[str, Any], where: str = "mapping") -> Mapping:
    """Validate an already-decoded mapping object."""
    try:
        return _mapping(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MappingError(f"{where}: {exc}") from None


def builtin_mapping(name: str) -> Mapping:
    return load_mapping(MAPPINGS_DIR / f"{name.replace('-', '_')}.json")


def _need(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise KeyError(f"missing key {where}{key!r}")
    return obj[key]


def _mapping(raw: dict[str, Any]) -> Mapping:
    grain = _need(raw, "grain", "")
    if grain not in GRAINS:
        raise ValueError(f"grain {grain!r}: supported grains are {list(GRAINS)}")
    stamps = _need(raw, "timestamps", "")
    try:
        zone = ZoneInfo(_need(stamps, "timezone", "timestamps."))
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"timestamps.timezone: {exc} (install the tzdata package)") from None
    per_row = grain == "event_per_row"
    unit_events = dict(raw.get("unit_events", {}) if per_row else _need(raw, "unit_events", ""))
    unknown = sorted(set(unit_events) - set(UNIT_TYPES))
    if unknown:
        raise ValueError(f"unit_events: {unknown} are not unit event types {list(UNIT_TYPES)}")
    destination = raw.get("destination_hospital_id")
    return Mapping(
        name=str(_need(raw, "name", "")),
        source=str(raw.get("source", raw["name"])),
        grain=grain,
        timestamp_format=str(_need(stamps, "format", "timestamps.")),
        timezone=zone,
        incident_id=Template(_need(raw, "incident_id", "")),
        unit_id=Template(_need(raw, "unit_id", "")),
        call=_call(_need(raw, "call", ""), per_row),
        unit_events=unit_events,
        filters=tuple(_filter(f) for f in raw.get("filters", [])),
        encoding=str(raw.get("encoding", "utf-8-sig")),
        delimiter=str(raw.get("delimiter", ",")),
        destination_hospital_id=Template(destination) if destination else None,
        description=str(raw.get("description", "")),
        event_rows=_event_rows(_need(raw, "event_rows", "")) if per_row else None,
    )


def _event_rows(raw: dict[str, Any]) -> EventRows:
    types = dict(_need(raw, "types", "event_rows."))
    unknown = sorted(set(types.values()) - set(ROW_TYPES))
    if unknown:
        raise ValueError(f"event_rows.types: {unknown} are not in {list(ROW_TYPES)}")
    return EventRows(
        type_column=_need(raw, "type_column", "event_rows."),
        time_column=_need(raw, "time_column", "event_rows."),
        types={str(k): v for k, v in types.items()},
    )


def _filter(raw: dict[str, Any]) -> Filter:
    allowed = raw.get("in")
    return Filter(
        column=_need(raw, "column", "filters[]."),
        allowed=None if allowed is None else frozenset(allowed),
        excluded=frozenset(raw.get("not_in", [])),
    )


def _call(raw: dict[str, Any], per_row: bool) -> CallSpec:
    triage = _value_map(raw.get("triage_level"), "call.triage_level")
    if triage is not None:
        for level in [*triage.values.values(), triage.default]:
            if level is not None and level not in (1, 2, 3, 4):
                raise ValueError(f"call.triage_level: {level!r} is not a triage level 1-4")
    hint = _value_map(raw.get("pathway_hint"), "call.pathway_hint")
    if hint is not None:
        for pathway in [*hint.values.values(), hint.default]:
            if pathway is not None and pathway not in PATHWAYS:
                raise ValueError(f"call.pathway_hint: {pathway!r} not in {sorted(PATHWAYS)}")
    complaint = raw.get("complaint")
    return CallSpec(
        received=raw.get("received") if per_row else _need(raw, "received", "call."),
        location=_location(_need(raw, "location", "call.")),
        triage_level=triage,
        pathway_hint=hint,
        complaint=Template(complaint) if complaint else None,
    )


def _value_map(raw: dict[str, Any] | None, where: str) -> ValueMap | None:
    if raw is None:
        return None
    return ValueMap(
        column=_need(raw, "column", f"{where}."),
        values=dict(raw.get("map", {})),
        default=raw.get("default"),
    )


def _location(raw: dict[str, Any]) -> LocationSpec:
    fmt = _need(raw, "format", "call.location.")
    if fmt not in LOCATION_FORMATS:
        raise ValueError(f"call.location.format {fmt!r}: expected one of {list(LOCATION_FORMATS)}")
    if fmt == "columns":
        spec = LocationSpec(format=fmt, lat=raw.get("lat"), lon=raw.get("lon"))
        if not (spec.lat and spec.lon):
            raise ValueError("call.location: format 'columns' needs 'lat' and 'lon' columns")
    else:
        spec = LocationSpec(format=fmt, column=_need(raw, "column", "call.location."))
    accuracy = raw.get("accuracy_m")
    return LocationSpec(
        spec.format, spec.column, spec.lat, spec.lon, None if accuracy is None else float(accuracy)
    )
