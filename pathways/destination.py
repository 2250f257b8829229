"""Destination choice policy: which hospital should this patient go to, and why.

Pure policy over plain values. Geometry (ETAs, capabilities read from the region file)
lives in `geo`; `geo.nearest.candidates` builds the `Candidate` list this module ranks.

    rec = recommend(candidates, pathway="chest_pain", triage_level=1,
                    facts=ClinicalFacts(stemi=True, fmc_ts=on_scene), now=now)
    rec.hospital_id, rec.ed_bypass, rec.activations, rec.explanation
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pathways.outputs import Activation

CAPABILITY_FLAGS: tuple[str, ...] = (
    "pci",
    "thrombolysis",
    "thrombectomy",
    "ct",
    "chest_pain_center",
    "stroke_center",
    "maternal",
    "pediatric",
)
CAPABILITY_NAMES: frozenset[str] = frozenset((*CAPABILITY_FLAGS, "trauma_level"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a hospital can do. `pci` means a 24/7 cath lab; trauma_level 1 is the highest."""

    pci: bool = False
    thrombolysis: bool = False
    thrombectomy: bool = False
    ct: bool = False
    trauma_level: int | None = None
    chest_pain_center: bool = False
    stroke_center: bool = False
    maternal: bool = False
    pediatric: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalAvailability:
    """Latest `hospital.status`; None means not reported, which is taken as available."""

    diversion: bool = False
    cathlab_available: bool | None = None
    ct_available: bool | None = None
    or_available: bool | None = None
    icu_available: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    hospital_id: str
    name: str
    capabilities: Capabilities
    eta_s: float
    availability: HospitalAvailability = field(default_factory=HospitalAvailability)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalFacts:
    """What is known about the patient when the recommendation is made."""

    stemi: bool | None = None
    lvo_suspected: bool | None = None
    trauma_activation_level: int | None = None  # 1 = highest activation
    fmc_ts: datetime | None = None  # first medical contact (unit.on_scene)
    last_known_well: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationPolicy:
    """Policy parameters; `from_json` reads the same names from a data file."""

    fmc_to_wire_limit_s: float = 120 * 60  # Chinese CPC / ESC: PCI if wire within 120 min of FMC
    bypass_door_to_wire_s: float = 30 * 60  # expected door-to-wire when the ED is bypassed
    lvo_extra_travel_margin_s: float = 20 * 60  # accept this much extra travel for thrombectomy
    thrombolysis_window_s: float = 4.5 * 3600
    thrombectomy_window_s: float = 24 * 3600

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DestinationPolicy:
        """Build from a JSON object; unknown keys are an error, not silently ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(obj) - names)
        if unknown:
            raise ValueError(f"unknown destination policy parameter(s): {unknown}")
        values: dict[str, float] = {}
        for key, value in obj.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"destination policy {key}: expected a number >= 0")
            values[key] = float(value)
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class RankedOption:
    """One hospital as the policy saw it: eligible or not, and why."""

    hospital_id: str
    name: str
    eta_s: float
    eligible: bool
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Recommendation:
    hospital_id: str | None  # None only when no hospital at all can take the patient
    pathway: str
    triage_level: int | None
    eta_s: float | None
    ed_bypass: bool
    activations: tuple[Activation, ...]
    strategy: str  # e.g. "primary_pci", "drip_and_ship", "thrombectomy_center", "nearest"
    explanation: str
    options: tuple[RankedOption, ...]  # every candidate, chosen first, then by ETA


DEFAULT_POLICY = DestinationPolicy()


def recommend(
    candidates: Sequence[Candidate],
    *,
    pathway: str,
    triage_level: int | None,
    facts: ClinicalFacts,
    now: datetime,
    policy: DestinationPolicy = DEFAULT_POLICY,
) -> Recommendation:
    """Rank `candidates` for this patient and choose one; see the module docstring."""
    chooser = _CHOOSERS.get(pathway, _choose_nearest_any)
    choice = chooser(_Context(candidates, triage_level, facts, now, policy))
    return _finish(choice, candidates, pathway, triage_level)


# --- internals ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    candidates: Sequence[Candidate]
    triage_level: int | None
    facts: ClinicalFacts
    now: datetime
    policy: DestinationPolicy


@dataclass(frozen=True, slots=True)
class _Choice:
    chosen: Candidate | None
    strategy: str
    why: str
    ed_bypass: bool
    activations: tuple[Activation, ...]
    notes: dict[str, str]  # hospital_id -> why it is (not) eligible


def _by_eta(candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.eta_s, c.hospital_id))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _screen(
    ctx: _Context, capable: Callable[[Candidate], str | None]
) -> tuple[list[Candidate], dict[str, str]]:
    """Eligible candidates by ETA and a note for each; `capable` returns why not, or None."""
    notes: dict[str, str] = {}
    eligible: list[Candidate] = []
    for cand in _by_eta(ctx.candidates):
        problem = "on diversion" if cand.availability.diversion else capable(cand)
        notes[cand.hospital_id] = problem or "eligible"
        if problem is None:
            eligible.append(cand)
    return eligible, notes


def _needs_pci(cand: Candidate) -> str | None:
    if not cand.capabilities.pci:
        return "no PCI"
    if cand.availability.cathlab_available is False:
        return "cath lab unavailable"
    return None


def _needs_thrombolysis(cand: Candidate) -> str | None:
    return None if cand.capabilities.thrombolysis else "no thrombolysis"


def _needs_stroke_ct(cand: Candidate) -> str | None:
    if not cand.capabilities.ct:
        return "no CT"
    if cand.availability.ct_available is False:
        return "CT unavailable"
    return None if cand.capabilities.thrombolysis else "no thrombolysis"


def _needs_thrombectomy(cand: Candidate) -> str | None:
    problem = _needs_stroke_ct(cand)
    if problem is not None:
        return problem
    if not cand.capabilities.thrombectomy:
        return "no thrombectomy"
    return None if cand.availability.cathlab_available is not False else "angio suite unavailable"


def _choose_chest_pain(ctx: _Context) -> _Choice:
    if not ctx.facts.stemi:
        return _choose_flag(ctx, "chest_pain_center", "chest-pain center")
    pci, pci_notes = _screen(ctx, _needs_pci)
    fmc = ctx.facts.fmc_ts or ctx.now
    elapsed = (ctx.now - fmc).total_seconds()
    limit = ctx.policy.fmc_to_wire_limit_s
    for cand in pci:
        projected = elapsed + cand.eta_s + ctx.policy.bypass_door_to_wire_s
        if projected <= limit:
            why = (
                f"STEMI: PCI center, projected FMC-to-wire {_minutes(projected)} "
                f"<= {_minutes(limit)}; bypass the ED to the cath lab"
            )
            return _Choice(cand, "primary_pci", why, True, ("cathlab",), pci_notes)
        pci_notes[cand.hospital_id] = f"FMC-to-wire {_minutes(projected)} > {_minutes(limit)}"
    lysis, lysis_notes = _screen(ctx, _needs_thrombolysis)
    if lysis:
        why = (
            f"STEMI: no PCI center reachable within FMC-to-wire {_minutes(limit)}; "
            "nearest thrombolysis site, then transfer for PCI (drip-and-ship)"
        )
        return _Choice(lysis[0], "drip_and_ship", why, False, (), {**lysis_notes, **pci_notes})
    if pci:
        why = "STEMI: no thrombolysis site available; nearest PCI center despite the delay"
        return _Choice(pci[0], "primary_pci_late", why, True, ("cathlab",), pci_notes)
    return _choose_nearest_any(ctx)


def _choose_stroke(ctx: _Context) -> _Choice:
    lysis, notes = _screen(ctx, _needs_stroke_ct)
    activations: tuple[Activation, ...] = ("stroke_team", "ct")
    since_lkw = _since_last_known_well(ctx)
    policy = ctx.policy
    if ctx.facts.lvo_suspected and since_lkw <= policy.thrombectomy_window_s:
        evt, evt_notes = _screen(ctx, _needs_thrombectomy)
        margin = policy.lvo_extra_travel_margin_s
        if evt and since_lkw > policy.thrombolysis_window_s:
            why = (
                f"Stroke with suspected LVO, last known well {_minutes(since_lkw)} ago: past the "
                "thrombolysis window, so straight to the nearest thrombectomy center"
            )
            return _Choice(evt[0], "thrombectomy_center", why, False, activations, evt_notes)
        if evt:
            extra = evt[0].eta_s - (lysis[0].eta_s if lysis else evt[0].eta_s)
            if extra <= margin:
                why = (
                    f"Stroke with suspected LVO: thrombectomy center, {_minutes(extra)} "
                    f"extra travel <= margin {_minutes(margin)}"
                )
                return _Choice(evt[0], "thrombectomy_center", why, False, activations, evt_notes)
            notes[evt[0].hospital_id] = f"thrombectomy {_minutes(extra)} further than margin"
    if lysis:
        why = "Stroke: nearest center with CT and thrombolysis"
        return _Choice(lysis[0], "nearest_thrombolysis", why, False, activations, notes)
    return _choose_nearest_any(ctx)


def _since_last_known_well(ctx: _Context) -> float:
    """Seconds since last known well; 0 when unknown (treat as within every window)."""
    lkw = ctx.facts.last_known_well
    return 0.0 if lkw is None else max(0.0, (ctx.now - lkw).total_seconds())


def _choose_trauma(ctx: _Context) -> _Choice:
    level = ctx.facts.trauma_activation_level or 3

    def capable(cand: Candidate) -> str | None:
        have = cand.capabilities.trauma_level
        if have is None or have > level:
            return f"trauma level {have or 'none'}, need {level} or better"
        return "OR unavailable" if cand.availability.or_available is False else None

    eligible, notes = _screen(ctx, capable)
    activations: tuple[Activation, ...] = (
        ("trauma_team", "ct", "icu") if level == 1 else ("trauma_team",)
    )
    if eligible:
        why = f"Trauma activation level {level}: nearest trauma center of level {level} or better"
        return _Choice(eligible[0], f"trauma_level_{level}", why, False, activations, notes)
    fallback = _choose_nearest_any(ctx)
    why = f"No level-{level} trauma center available; {fallback.why}"
    return dataclasses.replace(fallback, why=why, activations=activations)


def _choose_flag(ctx: _Context, flag: str, label: str) -> _Choice:
    def capable(cand: Candidate) -> str | None:
        return None if getattr(cand.capabilities, flag) else f"not a {label}"

    eligible, notes = _screen(ctx, capable)
    if eligible:
        return _Choice(eligible[0], flag, f"nearest {label}", False, (), notes)
    return _choose_nearest_any(ctx)


def _choose_nearest_any(ctx: _Context) -> _Choice:
    eligible, notes = _screen(ctx, lambda cand: None)
    activations: tuple[Activation, ...] = ("icu",) if ctx.triage_level == 1 else ()
    chosen = eligible[0] if eligible else None
    why = "nearest hospital not on diversion" if chosen else "every hospital is on diversion"
    return _Choice(chosen, "nearest", why, False, activations, notes)


_CHOOSERS: dict[str, Callable[[_Context], _Choice]] = {
    "chest_pain": _choose_chest_pain,
    "stroke": _choose_stroke,
    "trauma": _choose_trauma,
    "maternal": lambda ctx: _choose_flag(ctx, "maternal", "maternal center"),
    "pediatric": lambda ctx: _choose_flag(ctx, "pediatric", "pediatric center"),
}


def _finish(
    choice: _Choice, candidates: Sequence[Candidate], pathway: str, triage_level: int | None
) -> Recommendation:
    chosen_id = choice.chosen.hospital_id if choice.chosen else None
    ordered = _by_eta(candidates)
    ordered.sort(key=lambda c: c.hospital_id != chosen_id)  # stable: chosen first, then ETA
    options = tuple(
        RankedOption(
            hospital_id=c.hospital_id,
            name=c.name,
            eta_s=c.eta_s,
            eligible=choice.notes.get(c.hospital_id, "eligible") == "eligible",
            note="chosen" if c.hospital_id == chosen_id else choice.notes.get(c.hospital_id, ""),
        )
        for c in ordered
    )
    return Recommendation(
        hospital_id=chosen_id,
        pathway=pathway,
        triage_level=triage_level,
        eta_s=choice.chosen.eta_s if choice.chosen else None,
        ed_bypass=choice.ed_bypass,
        activations=choice.activations,
        strategy=choice.strategy,
        explanation=_explain(choice, options),
        options=options,
    )


def _explain(choice: _Choice, options: tuple[RankedOption, ...]) -> str:
    head = (
        f"{choice.chosen.name} ({choice.chosen.hospital_id}), ETA {_minutes(choice.chosen.eta_s)}"
        if choice.chosen
        else "No destination"
    )
    others = [
        f"{o.name} ({o.hospital_id}) ETA {_minutes(o.eta_s)}: {o.note}"
        for o in options
        if o.note != "chosen"
    ]
    text = f"{head}. {choice.why}."
    return f"{text} Alternatives: {'; '.join(others)}." if others else text
