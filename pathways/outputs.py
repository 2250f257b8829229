"""What leaves the engine: interval records, alerts and pre-alerts, as values.

Their JSON shape is the output half of the event contract (DESIGN.md); sinks decide
whether a value goes to Kafka, a file or a test list.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pathways.events import format_timestamp

AlertKind = Literal[
    "approaching", "breach", "predicted_breach", "missing_milestone", "data_quality"
]
PreAlertState = Literal["new", "update", "arrived", "cancelled"]
Activation = Literal["cathlab", "stroke_team", "ct", "trauma_team", "icu"]
AreaType = Literal["urban", "county"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> dict[str, Any]:
    """JSON object of an output value; keys whose value is None are left out."""
    return {
        f.name: _plain(getattr(value, f.name))
        for f in dataclasses.fields(value)
        if getattr(value, f.name) is not None
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalRecord:
    """One measured interval of one incident, at one revision (1, 2, ...)."""

    incident_id: str
    interval: str
    start_ts: datetime
    end_ts: datetime
    seconds: float
    target_s: float | None
    met: bool | None
    pathway: str
    triage_level: int | None
    district_id: str | None
    area_type: AreaType | None
    hospital_id: str | None
    unit_id: str | None
    revision: int
    quality_flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """`alert_id` is deterministic (incident, kind, subject), so a redelivery repeats it."""

    alert_id: str
    kind: AlertKind
    incident_id: str
    at_ts: datetime  # event time (or watermark) at which the alert was raised
    interval: str | None = None
    deadline_ts: datetime | None = None
    target_s: float | None = None
    detail: str = ""
    pathway: str = "other"
    triage_level: int | None = None
    district_id: str | None = None
    area_type: AreaType | None = None
    hospital_id: str | None = None
    unit_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalSummary:
    ecg_stemi: bool | None = None
    ecg_ts: datetime | None = None
    diagnosis: str | None = None
    stroke_scale: str | None = None
    stroke_score: float | None = None
    lvo_suspected: bool | None = None
    last_known_well: datetime | None = None
    symptom_onset: datetime | None = None
    gcs: int | None = None
    mechanism: str | None = None
    trauma_activation_level: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreAlert:
    """One step of a pre-alert's lifecycle new -> update* -> arrived | cancelled."""

    prealert_id: str  # incident_id + hospital_id: the lifecycle's identity
    state: PreAlertState
    sequence: int  # 1 for `new`, +1 per later step
    hospital_id: str
    incident_id: str
    unit_id: str | None
    sent_ts: datetime  # event time of the change that caused this step
    eta_ts: datetime | None
    eta_low_ts: datetime | None = None
    eta_high_ts: datetime | None = None
    eta_stale: bool = False
    pathway: str = "other"
    triage_level: int | None = None
    summary: ClinicalSummary = field(default_factory=ClinicalSummary)
    activations: tuple[Activation, ...] = ()
    ed_bypass: bool = False
    reason: str = ""  # why this hospital / why this step, in words


def prealert_to_json(alert: PreAlert) -> dict[str, Any]:
    out = to_json(alert)
    out["summary"] = to_json(alert.summary)
    return out


def interval_from_json(obj: dict[str, Any]) -> IntervalRecord:
    """The record `to_json` wrote (e.g. read back from `pathwatch.intervals`).

    Raises KeyError, TypeError or ValueError when `obj` is not such a record.
    """
    optional = ("target_s", "met", "triage_level", "district_id", "area_type", "hospital_id",
                "unit_id")
    return IntervalRecord(
        incident_id=str(obj["incident_id"]),
        interval=str(obj["interval"]),
        start_ts=datetime.fromisoformat(obj["start_ts"]),
        end_ts=datetime.fromisoformat(obj["end_ts"]),
        seconds=float(obj["seconds"]),
        pathway=str(obj.get("pathway", "other")),
        revision=int(obj["revision"]),
        quality_flags=tuple(obj.get("quality_flags", ())),
        **{name: obj.get(name) for name in optional},
    )
