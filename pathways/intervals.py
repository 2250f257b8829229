"""Measure the pack's intervals on a timeline: start/end milestones, target, quality flags."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from pathways import events as ev
from pathways.outputs import AreaType, IntervalRecord
from pathways.rulepack import IntervalRule, RulePack
from pathways.timeline import Timeline

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
        usable = not (set(self.flags) & UNUSABLE)
        met = None if self.target_s is None or not usable else self.seconds <= self.target_s
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
            seconds=self.seconds,
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


def measure(
    timeline: Timeline, pack: RulePack, future: Set[str] = frozenset()
) -> list[IntervalValue]:
    """Every interval of the pack that applies to the pathway and has both milestones."""
    out: list[IntervalValue] = []
    for rule in pack.intervals:
        if not rule.applies_to(timeline.pathway):
            continue
        start = timeline.first(rule.start)
        end = timeline.first(rule.end)
        if start is None or end is None:
            continue
        target, known = target_of(rule, timeline)
        seconds = ev.seconds_between(start.ts, end.ts)
        limit = rule.max_duration_s or pack.quality.max_duration_s
        flags = [
            flag
            for flag, present in (
                ("end_before_start", seconds < 0),
                ("implausible_duration", seconds > limit),
                ("future_timestamp", bool({start.event_id, end.event_id} & future)),
                (_UNKNOWN.get(rule.target.by or "", "unknown_attribute"), not known),
            )
            if present
        ]
        out.append(IntervalValue(rule.name, start, end, target, tuple(flags), timeline))
    return out
