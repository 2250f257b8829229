"""Deadlines: `(timeline, now) -> alerts` for approaching / breached targets and missing milestones.

A `Deadline` is a running clock: an interval with a target whose start is known and end is
not, or a milestone expected within some time of another. Alert ids are
`{incident}:{kind}:{interval or rule}`, so the caller raises each at most once. A cancelled or
closed incident has no running deadlines; an interval that closed after its deadline still gets
its `breach` (it may have closed before any sweep saw it open).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from pathways.intervals import Deadline as Deadline
from pathways.intervals import rule_views
from pathways.outputs import Alert
from pathways.rulepack import MissingRule, RulePack
from pathways.timeline import MILESTONE_TYPES, Timeline, kinds_of

_EVERY_KIND = frozenset(MILESTONE_TYPES)  # never inherited: any change may change it
_END_KINDS = frozenset({"call.cancelled", "incident.closed"})


def open_deadlines(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    """The deadlines still running on this timeline (e.g. for a countdown on a display)."""
    return list(_plan(timeline, pack).open)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about a (timeline, pack) that does not depend on `now`; the timeline never
    changes, so it is computed once per timeline (apply, sweeps and next_deadline share it)."""

    closed_late: tuple[Deadline, ...]  # intervals that closed after their deadline
    open: tuple[Deadline, ...]  # open_deadlines
    judged: tuple[Deadline, ...]  # what deadline_alerts looks at: open, else overdue at end
    moments: tuple[datetime, ...]  # of `open`, sorted: when a sweep could raise an alert


def _plan(timeline: Timeline, pack: RulePack) -> _Plan:
    key = ("deadlines", id(pack))
    return timeline.recall(key, _EVERY_KIND, lambda: _make_plan(timeline, pack), pack)


def _make_plan(timeline: Timeline, pack: RulePack) -> _Plan:
    ended = _ended(timeline) is not None
    running = () if ended else tuple(_running(timeline, pack))
    moments = [m for d in running for m in (d.approaching_ts, d.due_ts) if m is not None]
    moments.sort()
    late = [v.closed_late for v in rule_views(timeline, pack) if v.closed_late is not None]
    return _Plan(
        closed_late=tuple(late),
        open=running,
        judged=running or tuple(_overdue_at_end(timeline, pack)),
        moments=tuple(moments),
    )


def _overdue_at_end(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    """Deadlines an ended (cancelled or closed) incident had already missed when it ended:
    real time would have raised them before the end, so a late look still does."""
    end = _ended(timeline)
    if end is None:
        return []
    return [replace(d, approaching_ts=None) for d in _running(timeline, pack) if d.due_ts <= end]


def _ended(timeline: Timeline) -> datetime | None:
    return timeline.recall(("ended",), _END_KINDS, lambda: _end_of(timeline))


def _end_of(timeline: Timeline) -> datetime | None:
    ends = [e.ts for e in (timeline.find("call.cancelled"), timeline.find("incident.closed")) if e]
    return min(ends, default=None)


def _running(timeline: Timeline, pack: RulePack) -> list[Deadline]:
    views = rule_views(timeline, pack)
    out = [v.running for v in views if v.running is not None]
    for key, kinds, missing in _missing_rules(pack):
        found = timeline.recall(key, kinds, partial(_missing, timeline, pack, missing), pack)
        if found is not None:
            out.append(found)
    return out


_MISSING: dict[int, tuple[RulePack, list[tuple[Any, frozenset[str], MissingRule]]]] = {}


def _missing_rules(pack: RulePack) -> list[tuple[Any, frozenset[str], MissingRule]]:
    """Each missing-milestone rule of the pack with its memo key and what it looks at."""
    known = _MISSING.get(id(pack))
    if known is None or known[0] is not pack:
        if len(_MISSING) > 64:
            _MISSING.clear()
        rules = [
            (("missing", id(pack), index), kinds_of(m.after + m.expect) | {"@attr:pathway"}, m)
            for index, m in enumerate(pack.missing)
        ]
        known = _MISSING[id(pack)] = (pack, rules)
    return known[1]


def _missing(timeline: Timeline, pack: RulePack, missing: MissingRule) -> Deadline | None:
    after = timeline.first(missing.after)
    if after is None or not missing.applies_to(timeline.pathway):
        return None
    if timeline.first(missing.expect) is not None:
        return None
    due = after.ts + timedelta(seconds=missing.within_s)
    return Deadline(missing.name, "missing", after.ts, None, due, missing.within_s)


def next_deadline(timeline: Timeline, pack: RulePack, now: datetime) -> datetime | None:
    """The earliest moment after `now` at which a sweep could raise a new alert, if any."""
    moments = _plan(timeline, pack).moments  # sorted
    at = bisect_right(moments, now)
    return moments[at] if at < len(moments) else None


def deadline_alerts(
    timeline: Timeline, pack: RulePack, now: datetime, *, raised: Set[str] = frozenset()
) -> list[Alert]:
    """The deadline alerts due at `now`; those whose id is in `raised` are left out."""
    plan = _plan(timeline, pack)
    prefix = f"{timeline.incident_id}:"
    alerts = [
        _alert(timeline, "breach", d, now, f"{d.subject} breach")
        for d in plan.closed_late
        if f"{prefix}breach:{d.subject}" not in raised
    ]
    for d in plan.judged:
        if now >= d.due_ts:
            kind: Literal["approaching", "breach", "missing_milestone"] = (
                "breach" if d.kind == "interval" else "missing_milestone"
            )
        elif d.approaching_ts is not None and now >= d.approaching_ts:
            kind = "approaching"
        else:
            continue
        if f"{prefix}{kind}:{d.subject}" not in raised:
            alerts.append(_alert(timeline, kind, d, now, _detail(d, kind)))
    return alerts


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
