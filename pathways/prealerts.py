"""The pre-alert lifecycle of one incident: `step(book, situation, now) -> (book, [PreAlert])`.

A receiving center gets `new` when a unit leaves the scene with a STEMI, stroke or major trauma
patient (or when such a diagnosis is made en route), `update` when the ETA moves by more than
a threshold or clinical data is added, `arrived` at the door, and `cancelled` when the
destination changes (the new hospital then gets its own `new`).

`step` compares the *situation* (everything known now) with what was last sent, so feeding
the same situation twice (a redelivered input) sends nothing, and the order in which facts
arrived does not matter for the final state. `PreAlertBook` is a JSON round-trippable value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pathways import events as ev
from pathways.outputs import Activation, ClinicalSummary, PreAlert, PreAlertState, to_json
from pathways.timeline import Timeline

# pathway -> the timeline fact that makes the patient time-critical for it
CRITICAL_FACTS: dict[str, tuple[str, ...]] = {
    "chest_pain": ("stemi",),
    "stroke": ("stroke", "lvo_suspected"),
    "trauma": ("major_trauma",),
}
DEFAULT_ACTIVATIONS: dict[str, tuple[Activation, ...]] = {
    "chest_pain": ("cathlab",),
    "stroke": ("stroke_team", "ct"),
    "trauma": ("trauma_team",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PreAlertRules:
    """When a patient counts as time-critical before a formal diagnosis, and when to update."""

    eta_threshold_s: float = 120.0  # an ETA move larger than this sends `update`
    eta_stale_after_s: float = 120.0  # an estimate older than this (vs now) is flagged stale
    stroke_screen_positive: float = 1.0  # a prehospital stroke scale score at or above this
    trauma_gcs_at_most: int = 13  # GCS at or below this is major trauma
    trauma_activation_at_most: int = 2  # a trauma activation level this high (1 = highest)


DEFAULT_RULES = PreAlertRules()


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """What is known about the incident at one moment (event time `at`)."""

    incident_id: str
    at: datetime
    eligible: bool  # STEMI / stroke / major trauma is known
    departed: bool  # the transporting unit has left the scene
    arrived: bool  # the patient is at the destination's door
    hospital_id: str | None
    unit_id: str | None = None
    eta_ts: datetime | None = None
    eta_low_ts: datetime | None = None
    eta_high_ts: datetime | None = None
    eta_at: datetime | None = None  # event time of the fix the ETA was estimated from
    pathway: str = "other"
    triage_level: int | None = None
    summary: ClinicalSummary = field(default_factory=ClinicalSummary)
    activations: tuple[Activation, ...] = ()
    ed_bypass: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PreAlertBook:
    """What was sent: the open lifecycle (hospital, last state, ETA, content) and the sequences."""

    hospital_id: str | None = None  # the hospital whose lifecycle is open (or just arrived)
    state: str | None = None  # last state sent to that hospital
    sent_eta: datetime | None = None
    content: dict[str, Any] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)  # hospital -> last sequence sent

    @property
    def open(self) -> bool:
        return self.hospital_id is not None and self.state in ("new", "update")

    def to_json(self) -> dict[str, Any]:
        return {
            "hospital_id": self.hospital_id,
            "state": self.state,
            "sent_eta": None if self.sent_eta is None else ev.format_timestamp(self.sent_eta),
            "content": self.content,
            "sequences": dict(self.sequences),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PreAlertBook:
        eta = obj.get("sent_eta")
        return cls(
            hospital_id=obj.get("hospital_id"),
            state=obj.get("state"),
            sent_eta=None if eta is None else ev.parse_timestamp(eta, "sent_eta"),
            content=dict(obj.get("content", {})),
            sequences={str(k): int(v) for k, v in obj.get("sequences", {}).items()},
        )


def step(
    book: PreAlertBook, situation: Situation, now: datetime, rules: PreAlertRules = DEFAULT_RULES
) -> tuple[PreAlertBook, list[PreAlert]]:
    """The pre-alert steps `situation` calls for, given what `book` says was already sent."""
    if book.state == "arrived":
        return book, []
    out: list[PreAlert] = []
    if book.open and _should_cancel(book, situation):
        book, cancelled = _send(book, book.hospital_id or "", "cancelled", situation, now, rules)
        out.append(cancelled)
    if book.open:
        if situation.arrived:
            book, arrived = _send(book, book.hospital_id or "", "arrived", situation, now, rules)
            out.append(arrived)
        elif _changed(book, situation, rules):
            book, update = _send(book, book.hospital_id or "", "update", situation, now, rules)
            out.append(update)
    elif _should_open(situation):
        book, new = _send(book, situation.hospital_id or "", "new", situation, now, rules)
        out.append(new)
    return book, out


def _should_open(situation: Situation) -> bool:
    return (
        situation.eligible
        and situation.departed
        and not situation.arrived
        and situation.hospital_id is not None
    )


def _should_cancel(book: PreAlertBook, situation: Situation) -> bool:
    moved = situation.hospital_id is not None and situation.hospital_id != book.hospital_id
    return moved or not situation.eligible


def _content(situation: Situation) -> dict[str, Any]:
    """The clinical part of a pre-alert; a change of any of it is worth an `update`."""
    return {
        "pathway": situation.pathway,
        "triage_level": situation.triage_level,
        "summary": to_json(situation.summary),
        "activations": list(situation.activations),
        "ed_bypass": situation.ed_bypass,
        "unit_id": situation.unit_id,
    }


def _changed(book: PreAlertBook, situation: Situation, rules: PreAlertRules) -> bool:
    if _content(situation) != book.content:
        return True
    if situation.eta_ts is None:
        return False
    if book.sent_eta is None:
        return True
    moved = abs((situation.eta_ts - book.sent_eta).total_seconds())
    return moved > rules.eta_threshold_s


def _send(
    book: PreAlertBook,
    hospital_id: str,
    state: PreAlertState,
    situation: Situation,
    now: datetime,
    rules: PreAlertRules,
) -> tuple[PreAlertBook, PreAlert]:
    sequence = book.sequences.get(hospital_id, 0) + 1
    stale = situation.eta_at is not None and (
        (now - situation.eta_at).total_seconds() > rules.eta_stale_after_s
    )
    prealert = PreAlert(
        prealert_id=f"{situation.incident_id}:{hospital_id}",
        state=state,
        sequence=sequence,
        hospital_id=hospital_id,
        incident_id=situation.incident_id,
        unit_id=situation.unit_id,
        sent_ts=situation.at,
        eta_ts=situation.eta_ts,
        eta_low_ts=situation.eta_low_ts,
        eta_high_ts=situation.eta_high_ts,
        eta_stale=stale,
        pathway=situation.pathway,
        triage_level=situation.triage_level,
        summary=situation.summary,
        activations=situation.activations,
        ed_bypass=situation.ed_bypass,
        reason=_reason(state, situation),
    )
    sequences = {**book.sequences, hospital_id: sequence}
    if state == "cancelled":
        book = PreAlertBook(sequences=sequences)
    else:
        book = PreAlertBook(
            hospital_id=hospital_id,
            state=state,
            sent_eta=situation.eta_ts if situation.eta_ts is not None else book.sent_eta,
            content=_content(situation),
            sequences=sequences,
        )
    return book, prealert


def _reason(state: PreAlertState, situation: Situation) -> str:
    if state == "cancelled":
        if not situation.eligible:
            return "patient no longer meets the pre-alert criteria"
        return f"destination changed to {situation.hospital_id}"
    if state == "arrived":
        return "patient at the door"
    return situation.reason


# --- situation from an incident's timeline ------------------------------------------------


def is_time_critical(timeline: Timeline, rules: PreAlertRules = DEFAULT_RULES) -> bool:
    """STEMI, stroke or major trauma: by diagnosis, ECG, or a positive prehospital screen."""
    if any(fact in timeline.facts for facts in CRITICAL_FACTS.values() for fact in facts):
        return True
    if timeline.pathway == "stroke":
        screens = timeline.by_type.get("stroke.screen", [])
        if any(getattr(s, "score", 0.0) >= rules.stroke_screen_positive for s in screens):
            return True
    for assessment in timeline.by_type.get("trauma.assessment", []):
        gcs = getattr(assessment, "gcs", None)
        level = getattr(assessment, "activation_level", None)
        if gcs is not None and gcs <= rules.trauma_gcs_at_most:
            return True
        if level is not None and level <= rules.trauma_activation_at_most:
            return True
    return False


def clinical_summary(timeline: Timeline) -> ClinicalSummary:
    """The latest ECG, diagnosis, stroke scale, last-known-well and GCS of the incident."""
    ecgs = timeline.by_type.get("ecg.acquired", [])
    stemi_ecgs = [e for e in ecgs if getattr(e, "stemi", None) is not None]
    ecg = stemi_ecgs[-1] if stemi_ecgs else (ecgs[-1] if ecgs else None)
    diagnoses = timeline.by_type.get("diagnosis.made", [])
    screens = timeline.by_type.get("stroke.screen", [])
    screen = screens[-1] if screens else None
    trauma = timeline.by_type.get("trauma.assessment", [])
    calls = [*timeline.by_type.get("call.received", []), *timeline.by_type.get("call.triaged", [])]
    lkw = [getattr(c, "last_known_well", None) for c in calls]
    onset = [getattr(c, "symptom_onset", None) for c in calls]
    return ClinicalSummary(
        ecg_stemi=getattr(ecg, "stemi", None) if ecg else None,
        ecg_ts=ecg.ts if ecg else None,
        diagnosis=getattr(diagnoses[-1], "diagnosis", None) if diagnoses else None,
        stroke_scale=getattr(screen, "scale", None) if screen else None,
        stroke_score=getattr(screen, "score", None) if screen else None,
        lvo_suspected=getattr(screen, "lvo_suspected", None) if screen else None,
        last_known_well=_last_given(lkw),
        symptom_onset=_last_given(onset),
        gcs=_last_attr(trauma, "gcs"),
        mechanism=_last_attr(trauma, "mechanism"),
        trauma_activation_level=_last_attr(trauma, "activation_level"),
    )


def _last_given(values: list[Any]) -> Any:
    given = [v for v in values if v is not None]
    return given[-1] if given else None


def _last_attr(events: list[ev.Event], name: str) -> Any:
    return _last_given([getattr(e, name, None) for e in events])


@dataclass(frozen=True, slots=True, kw_only=True)
class Eta:
    """The transporting unit's latest estimate to its destination."""

    unit_id: str
    hospital_id: str
    at: datetime
    eta_ts: datetime
    eta_low_ts: datetime | None = None
    eta_high_ts: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Advice:
    """The destination policy's answer for this patient (`pathways.destination.recommend`)."""

    hospital_id: str
    activations: tuple[Activation, ...] = ()
    ed_bypass: bool = False
    reason: str = ""


def situation(
    timeline: Timeline,
    *,
    at: datetime,
    destination: str | None,
    advice: Advice | None = None,
    eta: Eta | None = None,
    rules: PreAlertRules = DEFAULT_RULES,
) -> Situation:
    """The pre-alert situation of an incident; `destination` wins over the advice's hospital."""
    hospital = destination or (advice.hospital_id if advice else None)
    left = timeline.find("transporting:unit.left_scene")
    door = timeline.find("transporting:unit.at_destination") or timeline.find("hospital.arrived")
    eta = eta if eta is not None and eta.hospital_id == hospital else None
    use_advice = advice is not None and advice.hospital_id == hospital
    activations = advice.activations if advice and use_advice else ()
    return Situation(
        incident_id=timeline.incident_id,
        at=at,
        eligible=is_time_critical(timeline, rules),
        departed=left is not None,
        arrived=door is not None,
        hospital_id=hospital,
        unit_id=left.unit_id if left else None,
        eta_ts=eta.eta_ts if eta else None,
        eta_low_ts=eta.eta_low_ts if eta else None,
        eta_high_ts=eta.eta_high_ts if eta else None,
        eta_at=eta.at if eta else None,
        pathway=timeline.pathway,
        triage_level=timeline.triage_level,
        summary=clinical_summary(timeline),
        activations=activations or DEFAULT_ACTIVATIONS.get(timeline.pathway, ()),
        ed_bypass=bool(advice and use_advice and advice.ed_bypass),
        reason=advice.reason if advice and use_advice else "destination given by dispatch",
    )
