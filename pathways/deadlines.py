"""Deadlines: `(timeline, now) -> alerts` for approaching / breached targets and missing milestones.

A `Deadline` is a running clock: an interval with a target whose start is known and end is
not, or a milestone expected within some time of another. Alert ids are
`{incident}:{kind}:{interval or rule}`, so the caller raises each at most once. A cancelled or
closed incident has no running deadlines; an interval that closed after its deadline still gets
its `breach` (it may have closed before any sweep saw it open).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pathways.intervals import target_of
from pathways.outputs import Alert
from pathways.rulepack import IntervalRule, RulePack
from pathways.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Deadline:
    subject: str  # the interval, or the missing-milestone rule
    kind: Literal["interval", "missing"]
    start_ts: datetime
    approaching_ts: datetime | None  # None for missing milestones: they only fire when due
    due_ts: datetime
    target_s: float


def open_deadlines(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    """The deadlines still running on this timeline (e.g. for a countdown on a display)."""
    return [] if _ended(timeline) else _running(timeline, pack)


def _overdue_at_end(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    """Deadlines an ended (cancelled or closed) incident had already missed when it ended:
    real time would have raised them before the end, so a late look still does."""
    end = _ended(timeline)
    if end is None:
        return []
    return [replace(d, approaching_ts=None) for d in _running(timeline, pack) if d.due_ts <= end]


def _ended(timeline: Timeline) -> datetime | None:
    ends = [e.ts for e in (timeline.find("call.cancelled"), timeline.find("incident.closed")) if e]
    return min(ends, default=None)


def _running(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    out: list[Deadline] = []
    for rule in pack.intervals:
        target, _ = target_of(rule, timeline)
        start = timeline.first(rule.start)
        if target is None or start is None or not _alertable(timeline, rule):
            continue
        if timeline.first(rule.end) is None:
            approach = start.ts + timedelta(seconds=target * pack.approaching_share)
            due = start.ts + timedelta(seconds=target)
            out.append(Deadline(rule.name, "interval", start.ts, approach, due, target))
    for missing in pack.missing:
        after = timeline.first(missing.after)
        if after is None or not missing.applies_to(timeline.pathway):
            continue
        if timeline.first(missing.expect) is None:
            due = after.ts + timedelta(seconds=missing.within_s)
            out.append(Deadline(missing.name, "missing", after.ts, None, due, missing.within_s))
    return out


def next_deadline(timeline: Timeline, pack: RulePack, now: datetime) -> datetime | None:
    """The earliest moment after `now` at which a sweep could raise a new alert, if any."""
    moments = [
        moment
        for d in open_deadlines(timeline, pack)
        for moment in (d.approaching_ts, d.due_ts)
        if moment is not None and moment > now
    ]
    return min(moments, default=None)


def deadline_alerts(timeline: Timeline, pack: RulePack, now: datetime) -> list[Alert]:
    alerts = [_closed_late(timeline, pack, rule, now) for rule in pack.intervals]
    for d in open_deadlines(timeline, pack) or _overdue_at_end(timeline, pack):
        if now >= d.due_ts:
            kind: Literal["approaching", "breach", "missing_milestone"] = (
                "breach" if d.kind == "interval" else "missing_milestone"
            )
        elif d.approaching_ts is not None and now >= d.approaching_ts:
            kind = "approaching"
        else:
            continue
        alerts.append(_alert(timeline, kind, d, now, _detail(d, kind)))
    return [a for a in alerts if a is not None]


def _alertable(timeline: Timeline, rule: IntervalRule) -> bool:
    if not rule.deadline or not rule.applies_to(timeline.pathway):
        return False
    return rule.deadline_if is None or rule.deadline_if in timeline.facts


def _closed_late(
    timeline: Timeline, pack: RulePack, rule: IntervalRule, now: datetime
) -> Alert | None:
    target, _ = target_of(rule, timeline)
    start, end = timeline.first(rule.start), timeline.first(rule.end)
    if target is None or start is None or end is None or not _alertable(timeline, rule):
        return None
    due = start.ts + timedelta(seconds=target)
    if end.ts <= due or end.ts < start.ts:  # in time, or a bad duration (a data_quality case)
        return None
    deadline = Deadline(rule.name, "interval", start.ts, None, due, target)
    return _alert(timeline, "breach", deadline, now, f"{rule.name} breach")


def _detail(deadline: Deadline, kind: str) -> str:
    if deadline.kind == "interval":
        return f"{deadline.subject} {kind}"
    return (
        f"{deadline.subject}: expected milestone not recorded within "
        f"{deadline.target_s:.0f}s of {deadline.start_ts.isoformat()}"
    )


def _alert(
    timeline: Timeline,
    kind: Literal["approaching", "breach", "missing_milestone"],
    deadline: Deadline,
    now: datetime,
    detail: str,
) -> Alert:
    area = timeline.area_type
    return Alert(
        alert_id=f"{timeline.incident_id}:{kind}:{deadline.subject}",
        kind=kind,
        incident_id=timeline.incident_id,
        at_ts=now,
        interval=deadline.subject,
        deadline_ts=deadline.due_ts,
        target_s=deadline.target_s,
        detail=detail,
        pathway=timeline.pathway,
        triage_level=timeline.triage_level,
        district_id=timeline.district_id,
        area_type="urban" if area == "urban" else "county" if area == "county" else None,
        hospital_id=timeline.hospital_id,
    )
