"""An incident's timeline: its milestones, unit roles, pathway and facts, from a set of events.

Built from scratch from the deduplicated events each time, so it depends only on the set of
events, never on their arrival order. Ties in time are broken by event_id.

A unit status inferred from GPS (source `avl`) counts only when the unit has no explicit
event of that status: the geofences exist for the forgotten button. Whether one is inferred
at all depends on the order the unit's fixes and statuses are read in (a button pressed before
the arrival's dwell is confirmed ends the fence), so this precedence is also what keeps the
result independent of that order.

Milestone expressions (`[qualifier:]event_type`):
- `call.received`      the earliest event of that type (`first:` is the same, `last:` the latest)
- `walkin:hospital.arrived`  only for walk-ins (hospital events, no call and no unit events)
- `prehospital:ecg.acquired` / `hospital:ecg.acquired`  the earliest ECG in that setting
- `<role>:unit.<status>`  that unit's earliest event of the type, where role is
  `transporting` (the unit with the earliest unit.left_scene), `first_assigned`,
  `first_enroute` or `first_on_scene` (the unit with the earliest event of that status)
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pathways import events as ev

PATHWAYS = ev.PATHWAYS
UNIT_ROLES = {
    "transporting": "unit.left_scene",
    "first_assigned": "unit.assigned",
    "first_enroute": "unit.enroute",
    "first_on_scene": "unit.on_scene",
}
ECG_SETTINGS = frozenset({"prehospital", "hospital"})
QUALIFIERS = frozenset({"first", "last", "walkin", *ECG_SETTINGS, *UNIT_ROLES})
FACTS = frozenset(
    {
        "stemi",
        "stroke",
        "major_trauma",
        "lvo_suspected",
        "walk_in",
        "transferred",
        "cancelled",
        "closed",
        "ems",
    }
)
# Clinical facts that decide the pathway over the dispatcher's hint.
DIAGNOSIS_PATHWAY = {
    "stemi": "chest_pain",
    "ischemic_stroke": "stroke",
    "hemorrhagic_stroke": "stroke",
    "major_trauma": "trauma",
}
MILESTONE_TYPES = frozenset(
    t for t in ev.EVENT_TYPES if t not in ("gps.fix", "unit.available", "hospital.status")
)

_CALLS = (ev.CallReceived, ev.CallTriaged)
Area = tuple[str, str] | None
Locate = Callable[[float, float], Area]
T = TypeVar("T")
_HOSPITAL_KINDS = frozenset(
    {
        "hospital.arrived",
        *ev.HOSPITAL_MILESTONES,
        "unit.at_destination",
        "unit.left_scene",
        "@role:transporting",
    }
)
_KINDS: dict[tuple[str, ...], frozenset[str]] = {}
# The memo key of what `Timeline.inherit` leaves for `Timeline.basis`. Its kinds are None, so
# `inherit` never takes it over; the value is not an answer.
BASIS = ("basis",)


def kinds_of(options: tuple[str, ...]) -> frozenset[str]:
    """What the answer to milestone expressions depends on: their event types, plus
    `@role:<role>` / `@fact:walk_in` for the qualifiers that look at those."""
    found = _KINDS.get(options)
    if found is None:
        kinds: set[str] = set()
        for expr in options:
            qualifier, _, kind = expr.rpartition(":")
            kinds.add(kind)
            if qualifier in UNIT_ROLES:
                kinds.add(f"@role:{qualifier}")
            elif qualifier == "walkin":
                kinds.add("@fact:walk_in")
        found = _KINDS[options] = frozenset(kinds)
    return found


def attribute_kind(name: str) -> str:
    """The dependency key of `Timeline.attribute(name)`."""
    return "@fact:transferred" if name == "transfer" else f"@attr:{name}"


def check_milestone(expr: str) -> str | None:
    """Why `expr` is not a valid milestone expression, or None when it is."""
    qualifier, _, kind = expr.rpartition(":")
    if kind not in MILESTONE_TYPES:
        return f"unknown milestone {expr!r} (event type {kind!r} is not an incident event)"
    if qualifier and qualifier not in QUALIFIERS:
        return f"unknown milestone qualifier {qualifier!r} in {expr!r}; known: {sorted(QUALIFIERS)}"
    if qualifier in UNIT_ROLES and not kind.startswith("unit."):
        return f"milestone {expr!r}: a unit role needs a unit.* event type"
    if qualifier in ECG_SETTINGS and kind != "ecg.acquired":
        return f"milestone {expr!r}: a setting qualifier needs ecg.acquired"
    return None


def _order(event: ev.Event) -> tuple[float, str]:
    return (event.ts.timestamp(), event.event_id)


def _explicit(event: ev.Event) -> bool:
    return event.source != ev.INFERRED_SOURCE


def _superseded(ordered: Iterable[ev.Event]) -> set[tuple[str, str]]:
    """(unit, status) pairs with an explicit event: their inferred events do not count."""
    return {(e.unit_id, e.TYPE) for e in ordered
            if e.unit_id and e.TYPE.startswith("unit.") and _explicit(e)}


@dataclass(frozen=True, slots=True)
class Timeline:
    incident_id: str
    by_type: dict[str, list[ev.Event]]
    by_unit: dict[str, dict[str, list[ev.Event]]]
    pathway: str = "other"
    triage_level: int | None = None
    district_id: str | None = None
    area_type: str | None = None
    facts: frozenset[str] = frozenset()
    roles: dict[str, str] = field(default_factory=dict)
    # Answers derived from this timeline (which never changes), filled on first use, as
    # key -> (value, event types it depends on, owner such as the rule pack it was asked for):
    # the engine asks one timeline the same questions many times (apply, sweep, next
    # deadline), and the next timeline of the incident inherits what one event did not change.
    memo: dict[Any, tuple[Any, frozenset[str], object]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Its milestone events in time order (ties by event_id), as they were built.
    ordered: tuple[ev.Event, ...] = field(default=(), compare=False, repr=False)
    # Milestone lookups by expression (str) or alternatives (tuple): cheap, never inherited.
    found: dict[str | tuple[str, ...], ev.Event | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def recall(
        self, key: Any, kinds: frozenset[str], compute: Callable[[], T], owner: object = None
    ) -> T:
        """`compute()`, once per key; `kinds`: the event types the answer depends on."""
        entry = self.memo.get(key)
        if entry is not None and entry[2] is owner:
            found: T = entry[0]
            return found
        value = compute()
        self.memo[key] = (value, kinds, owner)
        return value

    def inherit(self, previous: Timeline, changed: Set[str]) -> None:
        """Take over the answers of `previous` (the incident's timeline before its last change)
        that cannot differ here: `changed` names the event types whose events differ; the
        attributes, facts and unit roles that differ are added here. (Milestone lookups,
        `found`, are not taken over: cheap, and only asked for when a rule is re-judged.)"""
        if previous.incident_id != self.incident_id or previous.district_id != self.district_id:
            return
        differ = set(changed)
        for name in ("pathway", "triage_level", "area_type"):
            if getattr(previous, name) != getattr(self, name):
                differ.add(f"@attr:{name}")
        if previous.facts is not self.facts:
            differ.update(f"@fact:{fact}" for fact in previous.facts ^ self.facts)
        if previous.roles is not self.roles:
            for role in previous.roles.keys() | self.roles.keys():
                if previous.roles.get(role) != self.roles.get(role):
                    differ.add(f"@role:{role}")
        memo = self.memo
        previous.memo.pop(BASIS, None)  # not passed on: no chain of timelines is kept
        for key, entry in previous.memo.items():
            if key not in memo and entry[1].isdisjoint(differ):
                memo[key] = entry
        # For answers kept as a whole that a part of can be taken over (`intervals.rule_views`):
        # read once, by the first question, and dropped then.
        memo[BASIS] = (previous.memo, frozenset(differ), None)

    def basis(self) -> tuple[dict[Any, Any], frozenset[str]] | None:
        """The previous timeline's answers and what differs from it, once (see `inherit`)."""
        entry = self.memo.pop(BASIS, None)
        return None if entry is None else (entry[0], entry[1])

    def find(self, expr: str) -> ev.Event | None:
        if expr in self.found:
            return self.found[expr]
        found = self.found[expr] = self._find(expr)
        return found

    def _find(self, expr: str) -> ev.Event | None:
        qualifier, _, kind = expr.rpartition(":")
        if qualifier in UNIT_ROLES:
            unit = self.roles.get(qualifier)
            found = self.by_unit.get(unit, {}).get(kind, []) if unit else []
            return found[0] if found else None
        found = self.by_type.get(kind, [])
        if qualifier in ECG_SETTINGS:
            found = [e for e in found if getattr(e, "setting", None) == qualifier]
        if not found or (qualifier == "walkin" and "walk_in" not in self.facts):
            return None
        return found[-1] if qualifier == "last" else found[0]

    def first(self, options: Iterable[str]) -> ev.Event | None:
        """The milestone of the first alternative that is present."""
        if not isinstance(options, tuple):
            return self._first(options)
        if options in self.found:
            return self.found[options]
        found = self.found[options] = self._first(options)
        return found

    def _first(self, options: Iterable[str]) -> ev.Event | None:
        for expr in options:
            found = self.find(expr)
            if found is not None:
                return found
        return None

    @property
    def hospital_id(self) -> str | None:
        """The receiving hospital: of the first hospital event, else the transport's destination."""
        return self.recall(("hospital_id",), _HOSPITAL_KINDS, self._hospital_id)

    def _hospital_id(self) -> str | None:
        for kind in ("hospital.arrived", *ev.HOSPITAL_MILESTONES):
            for event in self.by_type.get(kind, []):
                if event.hospital_id:
                    return event.hospital_id
        for kind in ("unit.at_destination", "unit.left_scene"):
            found = self.find(f"transporting:{kind}")
            if found is not None:
                dest = found.hospital_id or getattr(found, "destination_hospital_id", None)
                if dest:
                    return str(dest)
        return None

    @property
    def transfer(self) -> str:
        return "transferred" if "transferred" in self.facts else "direct"

    def attribute(self, name: str) -> str | None:
        if name == "area_type":
            return self.area_type
        if name == "pathway":
            return self.pathway
        if name == "triage_level":
            return None if self.triage_level is None else str(self.triage_level)
        if name == "transfer":
            return self.transfer
        return None


def build_timeline(events: Iterable[ev.Event], locate: Locate | None = None) -> Timeline:
    """The timeline of one incident's events (any order); `locate` gives district and area."""
    ordered = sorted((e for e in events if e.TYPE in MILESTONE_TYPES), key=_order)
    return _assemble(ordered, locate)


def extend_timeline(previous: Timeline, event: ev.Event, locate: Locate | None = None) -> Timeline:
    """`build_timeline` of the events of `previous` plus `event`, whose event_id is new to
    them; the events stay in order without sorting them again."""
    before = previous.ordered
    if event.TYPE not in MILESTONE_TYPES:
        return _assemble(list(before), locate)
    key = _order(event)
    if before and _order(before[-1]) <= key:  # the usual case: it comes last
        return _append(previous, (*before, event), locate)
    ordered = list(before)
    ordered.insert(bisect_right(ordered, key, key=_order), event)
    return _assemble(ordered, locate)


# Event types whose events `_pathway` and `_triage` look at.
_PATHWAY_TYPES = frozenset({"call.received", "call.triaged", "diagnosis.made", "ecg.acquired"})


def _append(previous: Timeline, ordered: tuple[ev.Event, ...], locate: Locate | None
            ) -> Timeline:
    """`_assemble(ordered)` when its last event is the only one `previous` has not: the groups
    (and their key order, by first appearance) extended, the rest taken over where that last
    event cannot change it."""
    event = ordered[-1]
    kind = event.TYPE
    if event.unit_id and kind.startswith("unit."):
        known = previous.by_unit.get(event.unit_id, {}).get(kind, ())
        if any(_explicit(e) != _explicit(event) for e in known):
            return _assemble(list(ordered), locate)  # one of them supersedes the other
    by_type = dict(previous.by_type)
    by_type[kind] = [*by_type.get(kind, ()), event]
    by_unit = previous.by_unit
    if event.unit_id and kind.startswith("unit."):
        by_unit = dict(by_unit)
        of_unit = by_unit[event.unit_id] = dict(by_unit.get(event.unit_id, {}))
        of_unit[kind] = [*of_unit.get(kind, ()), event]
    pathway, triage = previous.pathway, previous.triage_level
    if kind in _PATHWAY_TYPES:
        pathway, triage = _pathway(ordered), _triage(ordered)
    district_id, area_type = previous.district_id, previous.area_type
    if kind == "call.received" and len(by_type[kind]) == 1:
        district_id, area_type = _area(by_type, locate)
    return Timeline(
        incident_id=previous.incident_id or event.incident_id or "",
        by_type=by_type,
        by_unit=by_unit,
        pathway=pathway,
        triage_level=triage,
        district_id=district_id,
        area_type=area_type,
        facts=_facts(by_type) if _may_change_facts(kind, previous.facts) else previous.facts,
        roles=_roles(by_type) if kind in _ROLE_KINDS else previous.roles,
        ordered=ordered,
    )


def _may_change_facts(kind: str, facts: frozenset[str]) -> bool:
    """Whether one more event of `kind` can change `_facts`. Of unit events, only the first
    counts (`ems`, and no `walk_in`)."""
    if kind.startswith("unit."):
        return "ems" not in facts
    return kind in _FACT_KINDS


def _assemble(ordered: list[ev.Event], locate: Locate | None) -> Timeline:
    by_type: dict[str, list[ev.Event]] = defaultdict(list)
    by_unit: dict[str, dict[str, list[ev.Event]]] = defaultdict(lambda: defaultdict(list))
    superseded = _superseded(ordered)
    for event in ordered:
        if not _explicit(event) and (event.unit_id, event.TYPE) in superseded:
            continue
        by_type[event.TYPE].append(event)
        if event.unit_id and event.TYPE.startswith("unit."):
            by_unit[event.unit_id][event.TYPE].append(event)
    facts = _facts(by_type)
    district_id, area_type = _area(by_type, locate)
    incident = next((e.incident_id for e in ordered if e.incident_id), "")
    return Timeline(
        incident_id=incident or "",
        by_type=dict(by_type),
        by_unit={u: dict(k) for u, k in by_unit.items()},
        pathway=_pathway(ordered),
        triage_level=_triage(ordered),
        district_id=district_id,
        area_type=area_type,
        facts=facts,
        roles=_roles(by_type),
        ordered=tuple(ordered),
    )


def _pathway(ordered: Sequence[ev.Event]) -> str:
    """Latest clinical fact wins; else the latest dispatcher hint; else `other`."""
    hint: str | None = None
    clinical: str | None = None
    for event in ordered:
        if isinstance(event, _CALLS) and event.pathway_hint:
            hint = event.pathway_hint
        elif isinstance(event, ev.DiagnosisMade) and event.diagnosis in DIAGNOSIS_PATHWAY:
            clinical = DIAGNOSIS_PATHWAY[event.diagnosis]
        elif isinstance(event, ev.EcgAcquired) and event.stemi:
            clinical = "chest_pain"
    return clinical or hint or "other"


def _triage(ordered: Sequence[ev.Event]) -> int | None:
    level: int | None = None
    for event in ordered:
        if isinstance(event, _CALLS) and event.triage_level:
            level = event.triage_level
    return level


def _area(by_type: dict[str, list[ev.Event]], locate: Locate | None) -> tuple[str | None, ...]:
    calls = by_type.get("call.received", [])
    if locate is None or not calls:
        return None, None
    call = calls[0]
    assert isinstance(call, ev.CallReceived)
    found = locate(call.location.lat, call.location.lon)
    if found is None or found[1] not in ("urban", "county"):
        return (found[0] if found else None), None
    return found


# The event types with a `stemi` field.
_STEMI_TYPES = tuple(t for t, cls in ev.EVENT_TYPES.items() if "stemi" in cls.__dataclass_fields__)


# The event types `_facts` looks at (besides unit events) and those `_roles` looks at.
_FACT_KINDS = frozenset(
    {
        "diagnosis.made",
        *_STEMI_TYPES,
        "stroke.screen",
        "call.received",
        *ev.HOSPITAL_MILESTONES,
        "call.cancelled",
        "incident.closed",
    }
)
_ROLE_KINDS = frozenset(UNIT_ROLES.values())


def _roles(by_type: dict[str, list[ev.Event]]) -> dict[str, str]:
    """Each unit role's unit: the unit of the role's first event."""
    return {role: by_type[kind][0].unit_id or "" for role, kind in UNIT_ROLES.items()
            if by_type.get(kind)}


def _facts(by_type: dict[str, list[ev.Event]]) -> frozenset[str]:
    facts: set[str] = set()
    diagnoses = {getattr(e, "diagnosis", "") for e in by_type.get("diagnosis.made", [])}
    stemi = (e for k in _STEMI_TYPES for e in by_type.get(k, ()))
    if "stemi" in diagnoses or any(getattr(e, "stemi", False) for e in stemi):
        facts.add("stemi")
    if diagnoses & {"ischemic_stroke", "hemorrhagic_stroke"}:
        facts.add("stroke")
    if "major_trauma" in diagnoses:
        facts.add("major_trauma")
    if any(getattr(e, "lvo_suspected", False) for e in by_type.get("stroke.screen", [])):
        facts.add("lvo_suspected")
    has_units = any(k.startswith("unit.") for k in by_type)
    if has_units:
        facts.add("ems")
    if not has_units and "call.received" not in by_type and "hospital.arrived" in by_type:
        facts.add("walk_in")
    hospitals = {e.hospital_id for k in ev.HOSPITAL_MILESTONES for e in by_type.get(k, [])}
    if "transfer.departed" in by_type or len(hospitals - {None}) > 1:
        facts.add("transferred")
    if "call.cancelled" in by_type:
        facts.add("cancelled")
    if "incident.closed" in by_type:
        facts.add("closed")
    return frozenset(facts)
