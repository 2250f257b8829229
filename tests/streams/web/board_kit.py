"""Builds the board's inputs (parsed events, output-topic JSON) at times relative to `t0`.

Loaded by path from the conftests of tests/streams/web and tests/e2e (pytest's import mode
does not let test folders import each other).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from geo.regions import load_region
from pathways import events as ev
from pathways.outputs import (
    AreaType,
    ClinicalSummary,
    IntervalRecord,
    PreAlert,
    prealert_to_json,
    to_json,
)
from streams.web.access import Tokens
from streams.web.board import Board
from streams.web.region_map import region_districts, region_hospitals

# Points inside demo districts (representative points of D01 urban and C01 county)
URBAN = (30.9517, 117.0495)
COUNTY = (31.0877, 117.0500)
TOKENS = Tokens(
    wall="wall-token-0123456789",
    hospitals={"H01": "h01-token-0123456789", "H02": "h02-token-0123456789"},
)


class BoardKit:
    def __init__(self, t0: datetime | None = None) -> None:
        self.t0 = t0 or datetime.now(UTC).replace(microsecond=0)
        self._ids = itertools.count()
        self.region = load_region()

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def board(self) -> Board:
        return Board(
            locate=self.region.locate,
            hospitals=region_hospitals(self.region),
            districts=region_districts(self.region),
        )

    def event(self, type_: str, at_s: float, **fields: Any) -> ev.Event:
        obj = {
            "event_id": f"e{next(self._ids)}",
            "type": type_,
            "ts": ev.format_timestamp(self.at(at_s)),
            "source": "test",
            **fields,
        }
        parsed = ev.parse(orjson.dumps(obj))
        assert not isinstance(parsed, ev.ParseError), parsed
        return parsed

    def call(
        self, incident: str, at_s: float, where: tuple[float, float] = URBAN, **fields: Any
    ) -> ev.Event:
        location = {"lat": where[0], "lon": where[1]}
        return self.event("call.received", at_s, incident_id=incident, location=location, **fields)

    def unit(
        self, type_: str, unit: str, incident: str | None, at_s: float, **fields: Any
    ) -> ev.Event:
        ids = {"unit_id": unit} | ({"incident_id": incident} if incident else {})
        return self.event(type_, at_s, **ids, **fields)

    def gps(self, unit: str, at_s: float, lat: float, lon: float) -> ev.Event:
        return self.event("gps.fix", at_s, unit_id=unit, lat=lat, lon=lon)

    def prealert(
        self,
        incident: str,
        hospital: str,
        *,
        state: str = "new",
        sequence: int = 1,
        eta_s: float = 600,
        sent_s: float = 0,
        **fields: Any,
    ) -> dict[str, Any]:
        summary = fields.pop("summary", ClinicalSummary(ecg_stemi=True))
        value = PreAlert(
            prealert_id=f"{incident}:{hospital}",
            state=state,  # type: ignore[arg-type]
            sequence=sequence,
            hospital_id=hospital,
            incident_id=incident,
            unit_id=fields.pop("unit_id", "A01"),
            sent_ts=self.at(sent_s),
            eta_ts=self.at(eta_s),
            summary=summary,
            **fields,
        )
        return prealert_to_json(value)

    def interval(
        self,
        incident: str,
        name: str,
        seconds: float,
        *,
        target: float | None,
        end_s: float = 0,
        revision: int = 1,
        area: AreaType = "urban",
        district: str = "D01",
        **fields: Any,
    ) -> dict[str, Any]:
        end = self.at(end_s)
        value = IntervalRecord(
            incident_id=incident,
            interval=name,
            start_ts=end - timedelta(seconds=seconds),
            end_ts=end,
            seconds=seconds,
            target_s=target,
            met=None if target is None else seconds <= target,
            pathway=fields.pop("pathway", "chest_pain"),
            triage_level=2,
            district_id=district,
            area_type=area,
            hospital_id=fields.pop("hospital_id", None),
            unit_id=None,
            revision=revision,
        )
        return to_json(value)
