"""Measure the pack's intervals on a timeline: start/end milestones, target, quality flags."""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from pathways import events as ev
from pathways.outputs import AreaType, IntervalRecord
from pathways.rulepack import IntervalRule, RulePack
from pathways.timeline import MILESTONE_TYPES, Timeline, attribute_kind, kinds_of

# Flags that make a duration unusable for statistics (compliance leaves such records out).
UNUSABLE = frozenset({"end_before_start", "implausible_duration", "withdrawn"})
_UNKNOWN = {"area_type": "unknown_area", "triage_level": "unknown_triage_level"}


@dataclass(frozen=True, slots=True)
class IntervalValue:
    name: str
    start: ev.Event
    end: ev.Event
    target_s: float | None
    flags: tuple[str, ...]
    timeline: Timeline

    @property
    def seconds(self) -> float:
        return ev.seconds_between(self.start.ts, self.end.ts)

    def record(self, incident_id: str, revision: int) -> IntervalRecord:
        seconds = self.seconds
        usable = UNUSABLE.isdisjoint(self.flags)
        met = None if self.target_s is None or not usable else seconds <= self.target_s
        area: AreaType | None = None
        if self.timeline.area_type == "urban":
            area = "urban"
        elif self.timeline.area_type == "county":
            area = "county"
        return IntervalRecord(
            incident_id=incident_id,
            interval=self.name,
            start_ts=self.start.ts,
            end_ts=self.end.ts,
            seconds=seconds,
            target_s=self.target_s,
            met=met,
            pathway=self.timeline.pathway,
            triage_level=self.timeline.triage_level,
            district_id=self.timeline.district_id,
            area_type=area,
            hospital_id=self.timeline.hospital_id,
            unit_id=self.end.unit_id or self.start.unit_id,
            revision=revision,
            quality_flags=self.flags,
        )


def target_of(rule: IntervalRule, timeline: Timeline) -> tuple[float | None, bool]:
    """(target_s, known): known is False when the target depends on an unknown attribute."""
    if rule.target.by is None:
        return rule.target.default_s, True
    return rule.target.for_attribute(timeline.attribute(rule.target.by))


@dataclass(frozen=True, slots=True)
class Deadline:
    """A running clock (see `pathways.deadlines`): an interval with a target whose start is
    known and end is not, or a milestone expected within some time of another."""

    subject: str  # the interval, or the missing-milestone rule
    kind: Literal["interval", "missing"]
    start_ts: datetime
    approaching_ts: datetime | None  # None for missing milestones: they only fire when due
    due_ts: datetime
    target_s: float


class RuleView(NamedTuple):
    """What a timeline says of one interval rule: its milestones, target and whether it applies
    and may alert. Measuring and deadlines both start from it. (A named tuple: one is made per
    rule and changed timeline, and a tuple is several times cheaper to make.)"""

    rule: IntervalRule
    start: ev.Event | None
    end: ev.Event | None
    target_s: float | None
    known: bool  # False: the target depends on an unknown attribute
    applies: bool  # to the timeline's pathway
    alertable: bool  # applies, has deadlines, and its deadline_if fact holds
    flags: tuple[str, ...]  # of the measured interval, unless one milestone is in the future
    future_flags: tuple[str, ...]  # the same when one is
    running: Deadline | None = None  # its deadline while the end is missing
    closed_late: Deadline | None = None  # its missed deadline once the end came too late


def rule_views(timeline: Timeline, pack: RulePack) -> tuple[RuleView, ...]:
    """One view per interval rule of the pack, in order; remembered on the timeline. The
    incident's next timeline takes over the views of the rules that look at nothing that
    differs (`Timeline.inherit`): only the others are made again."""
    key = ("views", id(pack))
    memo = timeline.memo
    whole = memo.get(key)
    if whole is not None and whole[2] is pack:
        views: tuple[RuleView, ...] = whole[0]
        return views
    compiled = _compiled(pack)
    before = _views_before(timeline, key, pack)
    if before is None:
        views = tuple(compiled.view(timeline, index) for index in range(len(compiled.rules)))
    else:
        previous, differ = before
        changed = list(previous)
        for index in compiled.looking_at(differ):
            # A rule that does not apply says nothing more until the pathway changes.
            if previous[index].applies or _PATHWAY in differ:
                changed[index] = compiled.view(timeline, index)
        views = tuple(changed)
    memo[key] = (views, _EVERY_KIND, pack)  # as a whole: not inherited
    return views


def _views_before(
    timeline: Timeline, key: Any, pack: RulePack
) -> tuple[tuple[RuleView, ...], frozenset[str]] | None:
    """The views of the incident's previous timeline, and what differs from it, if known."""
    basis = timeline.basis()
    if basis is None:
        return None
    entry = basis[0].get(key)
    return None if entry is None or entry[2] is not pack else (entry[0], basis[1])


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A pack's interval rules, indexed by what their views look at."""

    pack: RulePack
    rules: tuple[IntervalRule, ...]
    by_kind: dict[str, frozenset[int]]
    idle: tuple[RuleView, ...]  # each rule's view where it does not apply

    def view(self, timeline: Timeline, index: int) -> RuleView:
        rule = self.rules[index]
        if not rule.applies_to(timeline.pathway):
            return self.idle[index]
        return _view(timeline, self.pack, rule)

    def looking_at(self, kinds: Set[str]) -> set[int]:
        """The rules whose view looks at any of `kinds` (see `rule_kinds`)."""
        found: set[int] = set()
        for kind in kinds:
            rules = self.by_kind.get(kind)
            if rules is not None:
                found.update(rules)
        return found


def _compiled(pack: RulePack) -> _Compiled:
    compiled = _COMPILED.get(id(pack))
    if compiled is None or compiled.pack is not pack:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        by_kind: dict[str, set[int]] = {}
        for index, rule in enumerate(pack.intervals):
            for kind in rule_kinds(rule):
                by_kind.setdefault(kind, set()).add(index)
        compiled = _COMPILED[id(pack)] = _Compiled(
            pack,
            pack.intervals,
            {k: frozenset(v) for k, v in by_kind.items()},
            tuple(_idle(rule) for rule in pack.intervals),
        )
    return compiled


_COMPILED: dict[int, _Compiled] = {}
_EVERY_KIND = frozenset(MILESTONE_TYPES)  # depends on everything: never inherited
_PATHWAY = "@attr:pathway"


def rule_kinds(rule: IntervalRule) -> frozenset[str]:
    """What a rule's view depends on (see `Timeline.inherit`)."""
    kinds = set(kinds_of(rule.start + rule.end)) | {_PATHWAY}
    if rule.target.by is not None:
        kinds.add(attribute_kind(rule.target.by))
    if rule.deadline_if is not None:
        kinds.add(f"@fact:{rule.deadline_if}")
    return frozenset(kinds)


def _view(timeline: Timeline, pack: RulePack, rule: IntervalRule) -> RuleView:
    applies = rule.applies_to(timeline.pathway)
    if not applies:  # neither measured nor alerted: its milestones do not matter
        return _idle(rule)
    target, known = target_of(rule, timeline)
    alertable = (
        rule.deadline
        and applies
        and (rule.deadline_if is None or rule.deadline_if in timeline.facts)
    )
    start, end = timeline.first(rule.start), timeline.first(rule.end)
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    if start is not None and end is not None:
        seconds = ev.seconds_between(start.ts, end.ts)
        limit = rule.max_duration_s or pack.quality.max_duration_s
        before = _DURATION_FLAGS[seconds < 0, seconds > limit]
        if not known:
            after = (_UNKNOWN.get(rule.target.by or "", "unknown_attribute"),)
    flags, future_flags = before + after, (*before, "future_timestamp", *after)
    running = closed_late = None
    if target is not None and start is not None and alertable:
        if end is None:
            running = _running_deadline(rule.name, start.ts, target, pack)
        else:
            closed_late = _closed_late(rule.name, start.ts, end.ts, target)
    return RuleView(rule, start, end, target, known, applies, alertable, flags, future_flags,
                    running, closed_late)


# By (end before start, longer than the limit).
_DURATION_FLAGS: dict[tuple[bool, bool], tuple[str, ...]] = {
    (False, False): (),
    (True, False): ("end_before_start",),
    (False, True): ("implausible_duration",),
    (True, True): ("end_before_start", "implausible_duration"),
}


def _idle(rule: IntervalRule) -> RuleView:
    return RuleView(rule, None, None, None, True, False, False, (), ())


def _running_deadline(name: str, start: datetime, target: float, pack: RulePack) -> Deadline:
    approach = start + timedelta(seconds=target * pack.approaching_share)
    due = start + timedelta(seconds=target)
    return Deadline(name, "interval", start, approach, due, target)


def _closed_late(name: str, start: datetime, end: datetime, target: float) -> Deadline | None:
    due = start + timedelta(seconds=target)
    if end <= due or end < start:  # in time, or a bad duration (a data_quality case)
        return None
    return Deadline(name, "interval", start, None, due, target)


def measured_views(
    timeline: Timeline, pack: RulePack, future: Set[str] = frozenset()
) -> Iterator[tuple[RuleView, tuple[str, ...]]]:
    """The view of each interval of the pack that applies to the pathway and has both
    milestones, with the interval's quality flags."""
    for view in rule_views(timeline, pack):
        start, end = view.start, view.end
        if not view.applies or start is None or end is None:
            continue
        ahead = future and (start.event_id in future or end.event_id in future)
        yield view, view.future_flags if ahead else view.flags
