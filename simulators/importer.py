"""The CAD-export importer: CSV rows → contract events, driven by a mapping file.

One mechanism for every export: `pathwatch import sf-fire` is this importer with the
shipped `sf_fire.json` mapping. Bad rows are reported with their line number and reason,
counted and skipped; they never stop the import.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pathways.events import (
    EVENT_TYPES,
    CallReceived,
    Event,
    Location,
    ParseError,
    dumps,
    parse,
    utc,
)
from simulators.mapping import Mapping, MappingError

_PAREN_LAT_LON = re.compile(r"^\(\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*\)$")
_WKT_POINT = re.compile(r"^POINT\s*\(\s*([-+\d.eE]+)\s+([-+\d.eE]+)\s*\)$", re.IGNORECASE)


class BadRow(ValueError):
    """One row cannot be converted; the message is the reason reported to the user."""


class UnmappedRow(Exception):
    """A status-log row whose status the mapping does not translate (counted, not an error)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    rows_read: int = 0
    rows_filtered: int = 0
    rows_bad: int = 0
    conflicts: int = 0
    events: int = 0
    incidents: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)  # status value -> rows

    def summary(self) -> str:
        unmapped = f"{sum(self.unmapped.values())} with unmapped status, " if self.unmapped else ""
        return (
            f"{self.rows_read} rows read, {self.rows_filtered} filtered out, {unmapped}"
            f"{self.rows_bad} bad rows skipped, {self.conflicts} conflicting duplicates, "
            f"{self.events} events for {self.incidents} incidents"
        )


def import_csv(path: str | Path, mapping: Mapping) -> tuple[list[Event], ImportReport]:
    """Read a whole export; events come back sorted by event time (stable)."""
    with open(path, newline="", encoding=mapping.encoding) as handle:
        reader = csv.DictReader(handle, delimiter=mapping.delimiter)
        missing = mapping.required_columns() - set(reader.fieldnames or ())
        if missing:
            raise MappingError(f"{path}: columns {sorted(missing)} of mapping "
                               f"{mapping.name!r} are not in the header")
        return import_rows(_numbered(reader), mapping)


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        yield reader.line_num, row


def import_rows(
    rows: Iterable[tuple[int, dict[str, str]]], mapping: Mapping
) -> tuple[list[Event], ImportReport]:
    """Convert numbered rows; the same event id from two rows is kept once (idempotent)."""
    report = ImportReport()
    kept: dict[str, tuple[Event, int]] = {}
    for line, row in rows:
        report.rows_read += 1
        if not all(f.admits(row) for f in mapping.filters):
            report.rows_filtered += 1
            continue
        try:
            events = row_events(row, mapping)
        except BadRow as exc:
            report.rows_bad += 1
            report.problems.append(RowProblem(line, str(exc)))
            continue
        except UnmappedRow as exc:
            report.unmapped[str(exc)] += 1
            continue
        for event in events:
            _keep(kept, event, line, report)
    ordered = sorted((e for e, _ in kept.values()), key=lambda e: utc(e.ts))
    report.events = len(ordered)
    report.incidents = len({e.incident_id for e in ordered if e.incident_id})
    return ordered, report


def _keep(
    kept: dict[str, tuple[Event, int]], event: Event, line: int, report: ImportReport
) -> None:
    first = kept.get(event.event_id)
    if first is None:
        kept[event.event_id] = (event, line)
    elif first[0] != event:
        report.conflicts += 1
        report.problems.append(RowProblem(
            line, f"{event.event_id} differs from line {first[1]}; the first is kept"))


def row_events(row: dict[str, str], mapping: Mapping) -> list[Event]:
    """Events of one row, by the mapping's grain."""
    if not _has_value(mapping.incident_id, row):
        raise BadRow(f"no incident id ({mapping.incident_id.text})")
    incident_id = mapping.incident_id.render(row)
    if mapping.event_rows is not None:
        return [_checked(_status_row_event(row, mapping, incident_id))]
    events: list[Event] = [_call_received(row, mapping, incident_id, mapping.call.received)]
    for kind, column in mapping.unit_events.items():
        moment = local_time(row, column, mapping)
        if moment is not None:  # empty: the step did not happen or was not recorded
            events.append(_unit_event(row, mapping, incident_id, kind, moment))
    return [_checked(e) for e in events]


def _status_row_event(row: dict[str, str], mapping: Mapping, incident_id: str) -> Event:
    """Grain event_per_row: the row's status column names the event, its time column when."""
    spec = mapping.event_rows
    assert spec is not None
    status = row.get(spec.type_column, "").strip()
    kind = spec.types.get(status)
    if kind is None:
        raise UnmappedRow(status)
    if kind == "call.received":
        return _call_received(row, mapping, incident_id, spec.time_column)
    moment = local_time(row, spec.time_column, mapping)
    if moment is None:
        raise BadRow(f"{spec.time_column}: empty time for status {status!r}")
    if kind.startswith("unit."):
        return _unit_event(row, mapping, incident_id, kind, moment)
    return EVENT_TYPES[kind](event_id=f"{incident_id}:{kind}", ts=moment,
                             source=mapping.source, incident_id=incident_id)


def _unit_event(row: dict[str, str], mapping: Mapping, incident_id: str, kind: str,
                moment: datetime) -> Event:
    if not _has_value(mapping.unit_id, row):
        raise BadRow(f"no unit id ({mapping.unit_id.text})")
    unit_id = mapping.unit_id.render(row)
    extra = {}
    destination = mapping.destination_hospital_id
    if kind == "unit.left_scene" and destination and _has_value(destination, row):
        extra["destination_hospital_id"] = destination.render(row)
    return EVENT_TYPES[kind](
        event_id=f"{incident_id}:{unit_id}:{kind}",
        ts=moment, source=mapping.source, incident_id=incident_id, unit_id=unit_id, **extra,
    )


def _has_value(template: object, row: dict[str, str]) -> bool:
    columns = getattr(template, "columns", ())
    return all(row.get(c, "").strip() for c in columns)


def _call_received(row: dict[str, str], mapping: Mapping, incident_id: str,
                   column: str | None) -> CallReceived:
    spec = mapping.call
    received = local_time(row, column, mapping) if column else None
    if received is None:
        raise BadRow(f"{column}: empty, the call has no received time")
    complaint = spec.complaint.render(row) if spec.complaint else None
    return CallReceived(
        event_id=f"{incident_id}:call.received",
        ts=received,
        source=mapping.source,
        incident_id=incident_id,
        location=location(row, mapping),
        triage_level=spec.triage_level.lookup(row) if spec.triage_level else None,
        pathway_hint=spec.pathway_hint.lookup(row) if spec.pathway_hint else None,
        complaint=complaint or None,
    )


def local_time(row: dict[str, str], column: str, mapping: Mapping) -> datetime | None:
    """A local wall-clock time of the export, placed in the mapping's time zone.

    An ambiguous time (the repeated hour when DST ends) is read as the first occurrence.
    """
    text = row.get(column, "").strip()
    if not text:
        return None
    try:
        if mapping.timestamp_format == "iso":
            naive = datetime.fromisoformat(text)
        else:
            naive = datetime.strptime(text, mapping.timestamp_format)
    except ValueError:
        raise BadRow(f"{column}: {text[:40]!r} does not match the timestamp format") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=mapping.timezone)


def location(row: dict[str, str], mapping: Mapping) -> Location:
    spec = mapping.call.location
    if spec.format == "columns":
        lat_text, lon_text = row.get(spec.lat or "", ""), row.get(spec.lon or "", "")
    else:
        text = row.get(spec.column or "", "").strip()
        pattern = _PAREN_LAT_LON if spec.format == "paren_lat_lon" else _WKT_POINT
        match = pattern.match(text)
        if match is None:
            raise BadRow(f"{spec.column}: {text[:60]!r} is not a {spec.format} location")
        first, second = match.groups()
        lat_text, lon_text = (first, second) if spec.format == "paren_lat_lon" else (second, first)
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        where = "/".join(spec.columns)
        raise BadRow(f"{where}: location {lat_text!r}, {lon_text!r} is not two numbers") from None
    return Location(lat=lat, lon=lon, accuracy_m=spec.accuracy_m)


def _checked(event: Event) -> Event:
    """Only what the contract's own parser accepts leaves the importer."""
    parsed = parse(dumps(event))
    if isinstance(parsed, ParseError):
        raise BadRow(f"{event.type} would not satisfy the contract: {parsed}")
    return event
