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

# where a message came from: ("topic:partition", offset)
Position = tuple[str, int]


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
    # "topic:partition" -> offset of the last message from there that changed this record
    read: dict[str, int] = field(default_factory=dict)

    def read_before(self, position: Position | None) -> bool:
        """Whether the message at `position` is one this record has already taken in: read
        again after a restart (its offset was not committed), not a duplicate in the input,
        which comes at a later offset."""
        if position is None:
            return False
        last = self.read.get(position[0])
        return last is not None and position[1] <= last

    def took(self, position: Position | None) -> None:
        if position is not None:
            source, offset = position
            self.read[source] = max(offset, self.read.get(source, offset))

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
            read=dict(value.get("read", {})),
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
            "read": self.read,
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
