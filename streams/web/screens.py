"""JSON of each screen, from the board state: the wall display and one hospital's ED board.

A hospital's view holds only that hospital's patients (pre-alerts addressed to it and
patients through its door); the wall display sees every incident.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pathways.compliance import BucketStats
from streams.web.board import DEPARTURE, RESPONSE, Board, IncidentState, parse_ts, ts

ACTIVE_PREALERT_STATES = ("new", "update")
STAGES = ("awaiting_unit", "assigned", "enroute", "on_scene", "transporting")
_NEVER = datetime.max.replace(tzinfo=UTC)  # a pre-alert without ETA sorts last


def wall_view(board: Board, now: datetime) -> dict[str, Any]:
    return {
        "now": ts(now),
        "kpis": _kpis(board),
        "incidents": _open_incidents(board, now),
        "units": [
            {
                "unit_id": u.unit_id,
                "status": u.status,
                "lat": u.lat,
                "lon": u.lon,
                "incident_id": u.incident_id,
            }
            for u in sorted(board.units.values(), key=lambda u: u.unit_id)
        ],
        "hospitals": [
            {
                "hospital_id": h.hospital_id,
                "name": h.name,
                "lat": h.lat,
                "lon": h.lon,
                "capabilities": h.capabilities,
                **h.status,
            }
            for h in sorted(board.hospitals.values(), key=lambda h: h.hospital_id)
        ],
        "districts": _districts(board),
        "alerts": list(board.alerts),
    }


def _kpis(board: Board) -> dict[str, Any]:
    today = _today(board)
    response = {
        area: {**_summary(today, RESPONSE, "area_type", area), "target_s": target}
        for area, target in board.targets.response_s.items()
    }
    days = {s.bucket for s in today.values() if s.period == "day"}
    return {
        "day": max(days) if days else "",
        DEPARTURE: {
            **_summary(today, DEPARTURE, "all", "all"),
            "target_s": board.targets.departure_s,
        },
        RESPONSE: response,
    }


def _today(board: Board) -> dict[tuple[str, str, str], BucketStats]:
    return {
        (s.interval, s.dimension, s.value): s
        for s in board.current_compliance()
        if s.period == "day"
    }


def _summary(
    today: dict[tuple[str, str, str], BucketStats], interval: str, dimension: str, value: str
) -> dict[str, Any]:
    stats = today.get((interval, dimension, value))
    if stats is None:
        return {"count": 0, "mean_s": None, "p90_s": None, "within_share": None}
    return {
        "count": stats.count,
        "mean_s": stats.mean_s,
        "p90_s": stats.p90_s,
        "within_share": stats.share_met,
    }


def _districts(board: Board) -> list[dict[str, Any]]:
    today = _today(board)
    return [
        {
            "district_id": district_id,
            "name": name,
            "area_type": area_type,
            "response": _summary(today, RESPONSE, "district", district_id),
        }
        for district_id, name, area_type in board.districts.values()
    ]


def _open_incidents(board: Board, now: datetime) -> list[dict[str, Any]]:
    open_ = [i for i in board.incidents.values() if i.call_ts is not None and i.door_ts is None]
    # the incidents a dispatcher can still act on first: no unit yet, then not yet rolling
    open_.sort(key=lambda i: (STAGES.index(incident_status(i)), i.call_ts or now))
    acked = _acks_by_incident(board)
    return [
        {
            "incident_id": i.incident_id,
            "call_ts": ts(i.call_ts),
            "status": incident_status(i),
            "pathway": i.pathway,
            "triage_level": i.triage_level,
            "district_id": i.district_id,
            "area_type": i.area_type,
            "units": sorted(i.units),
            "hospital_id": i.hospital_id,
            "clocks": [c.to_json(now) for c in board.incident_clocks(i)],
            "acknowledged_by": acked.get(i.incident_id, []),
            "lat": i.lat,
            "lon": i.lon,
        }
        for i in open_
    ]


def incident_status(incident: IncidentState) -> str:
    for event_type, status in (
        ("unit.left_scene", "transporting"),
        ("unit.on_scene", "on_scene"),
        ("unit.enroute", "enroute"),
        ("unit.assigned", "assigned"),
    ):
        if event_type in incident.first:
            return status
    return "awaiting_unit"


def _acks_by_incident(board: Board) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, ack in board.acks.items():
        prealert = board.prealerts.get(key)
        if prealert is not None:
            out.setdefault(str(prealert["incident_id"]), []).append(str(ack["hospital_id"]))
    return out


def hospital_view(board: Board, hospital_id: str, now: datetime) -> dict[str, Any]:
    hospital = board.hospitals.get(hospital_id)
    return {
        "now": ts(now),
        "hospital_id": hospital_id,
        "name": hospital.name if hospital else hospital_id,
        "status": dict(hospital.status) if hospital else {},
        "incoming": _incoming(board, hospital_id),
        "in_hospital": _in_hospital(board, hospital_id, now),
    }


def _incoming(board: Board, hospital_id: str) -> list[dict[str, Any]]:
    rows = []
    for key, p in board.prealerts.items():
        if p.get("hospital_id") != hospital_id or p.get("state") not in ACTIVE_PREALERT_STATES:
            continue
        incident = board.incidents.get(str(p.get("incident_id")))
        if incident is not None and incident.door_ts is not None:
            continue  # through the door: shown with the in-hospital clocks
        ack = board.acks.get(key)
        rows.append(
            {
                "prealert_id": key,
                "state": p.get("state"),
                "unit_id": p.get("unit_id"),
                "eta_ts": p.get("eta_ts"),
                "eta_low_ts": p.get("eta_low_ts"),
                "eta_high_ts": p.get("eta_high_ts"),
                "eta_stale": p.get("eta_stale", False),
                "pathway": p.get("pathway"),
                "triage_level": p.get("triage_level"),
                "summary": p.get("summary", {}),
                "activations": p.get("activations", []),
                "ed_bypass": p.get("ed_bypass", False),
                "reason": p.get("reason", ""),
                "sent_ts": p.get("sent_ts"),
                "acknowledged_ts": ack.get("ack_ts") if ack else None,
            }
        )
    rows.sort(key=lambda r: (parse_ts(r["eta_ts"]) or _NEVER).timestamp())
    return rows


def _in_hospital(board: Board, hospital_id: str, now: datetime) -> list[dict[str, Any]]:
    patients = [
        i
        for i in board.incidents.values()
        if i.hospital_id == hospital_id and i.door_ts is not None
    ]
    patients.sort(key=lambda i: i.door_ts or now)
    summaries = {
        str(p.get("incident_id")): p
        for p in board.prealerts.values()
        if p.get("hospital_id") == hospital_id
    }
    return [
        {
            "arrived_by": ", ".join(sorted(i.units)) or "walk-in",
            "door_ts": ts(i.door_ts),
            "pathway": i.pathway,
            "triage_level": i.triage_level,
            "units": sorted(i.units),
            "summary": summaries.get(i.incident_id, {}).get("summary", {}),
            "activations": summaries.get(i.incident_id, {}).get("activations", []),
            "clocks": [c.to_json(now) for c in board.hospital_clocks(i)],
        }
        for i in patients
    ]
