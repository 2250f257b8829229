"""The incident side's table value: engine state, pre-alert book, ETA, advice, unit targets.

Stored as JSON (the table's changelog is how it survives restarts); every part round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pathways import events as ev
from pathways import prealerts
from pathways.engine import IncidentState


@dataclass(slots=True)
class IncidentRecord:
    """One incident's table value."""

    incident_id: str
    state: IncidentState
    book: prealerts.PreAlertBook
    eta: prealerts.Eta | None = None
    advice: prealerts.Advice | None = None
    advice_basis: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, value: dict[str, Any] | None, incident_id: str) -> IncidentRecord:
        if not value:
            return cls(incident_id, IncidentState(incident_id), prealerts.PreAlertBook())
        eta, advice = value.get("eta"), value.get("advice")
        return cls(
            incident_id=incident_id,
            state=IncidentState.from_json(value["state"]),
            book=prealerts.PreAlertBook.from_json(value.get("book", {})),
            eta=None if eta is None else _eta_from_json(eta),
            advice=None if advice is None else prealerts.Advice(
                hospital_id=advice["hospital_id"],
                activations=tuple(advice.get("activations", ())),
                ed_bypass=bool(advice.get("ed_bypass")),
                reason=advice.get("reason", ""),
            ),
            advice_basis=value.get("advice_basis"),
            targets=dict(value.get("targets", {})),
        )

    def dump(self, due: datetime | None) -> dict[str, Any]:
        return {
            "state": self.state.to_json(),
            "book": self.book.to_json(),
            "eta": None if self.eta is None else _eta_to_json(self.eta),
            "advice": None if self.advice is None else {
                "hospital_id": self.advice.hospital_id,
                "activations": list(self.advice.activations),
                "ed_bypass": self.advice.ed_bypass,
                "reason": self.advice.reason,
            },
            "advice_basis": self.advice_basis,
            "targets": self.targets,
            "due": None if due is None else ev.format_timestamp(due),
        }


def _eta_to_json(eta: prealerts.Eta) -> dict[str, Any]:
    def fmt(moment: datetime | None) -> str | None:
        return None if moment is None else ev.format_timestamp(moment)

    return {"unit_id": eta.unit_id, "hospital_id": eta.hospital_id, "at": fmt(eta.at),
            "eta_ts": fmt(eta.eta_ts), "eta_low_ts": fmt(eta.eta_low_ts),
            "eta_high_ts": fmt(eta.eta_high_ts)}


def _eta_from_json(obj: dict[str, Any]) -> prealerts.Eta:
    def parse(value: Any) -> datetime | None:
        return None if value is None else ev.parse_timestamp(value, "eta")

    return prealerts.Eta(unit_id=obj["unit_id"], hospital_id=obj["hospital_id"],
                         at=ev.parse_timestamp(obj["at"], "at"),
                         eta_ts=ev.parse_timestamp(obj["eta_ts"], "eta_ts"),
                         eta_low_ts=parse(obj.get("eta_low_ts")),
                         eta_high_ts=parse(obj.get("eta_high_ts")))
