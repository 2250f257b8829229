"""The per-incident pathway engine: `apply(state, event, now)` and `sweep(state, now)`.

Design: an `IncidentState` holds the deduplicated contract events of one incident plus what
was already emitted (latest revision per interval, ids of alerts raised). Every `apply`
recomputes the timeline from all events and emits only what changed, so the final intervals
do not depend on arrival order and a restart from the JSON state is deterministic.

Both the Faust agents (live, wall clock) and `pathways.replay` (watermark clock) drive this
same object; `now` is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pathways import events as ev
from pathways.deadlines import deadline_alerts, next_deadline
from pathways.intervals import IntervalValue, measure
from pathways.outputs import Alert, IntervalRecord, to_json
from pathways.quality import conflict_alert, future_alert, interval_quality_alerts
from pathways.rulepack import RulePack
from pathways.timeline import Timeline, build_timeline

Locate = Callable[[float, float], tuple[str, str] | None]
"""(lat, lon) -> (district_id, area_type 'urban'|'county'), or None when outside all regions."""

Output = IntervalRecord | Alert

# Events that never belong to an incident's timeline (the unit/hospital side handles them).
IGNORED_TYPES = frozenset({"gps.fix", "unit.available", "hospital.status"})


@dataclass(frozen=True, slots=True)
class IncidentState:
    """Everything the engine remembers about one incident; a JSON round-trippable value.

    `events`: deduplicated contract events by event_id (the latest version of a conflicting
    duplicate wins: a producer's correction follows the original in the partition's order).
    `future`: event ids that were ahead of `now` beyond the tolerance when they arrived.
    `emitted`: per interval, the latest emitted record (its JSON) - the revision baseline.
    `alerts`: ids of alerts already raised, so none is raised twice.
    Treat it as immutable (the engine builds new dicts; it caches by their identity).
    """

    incident_id: str
    events: dict[str, ev.Event] = field(default_factory=dict)
    future: frozenset[str] = frozenset()
    emitted: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "events": [ev.to_json(e) for e in self.events.values()],
            "future": sorted(self.future),
            "emitted": self.emitted,
            "alerts": sorted(self.alerts),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IncidentState:
        """Rebuild a state from `to_json` output; raises ValueError if an event is invalid."""
        parsed: dict[str, ev.Event] = {}
        for raw in obj.get("events", []):
            event = ev.parse_object(raw)
            if isinstance(event, ev.ParseError):
                raise ValueError(f"stored event is invalid: {event}")
            parsed[event.event_id] = event
        return cls(
            incident_id=str(obj["incident_id"]),
            events=parsed,
            future=frozenset(obj.get("future", [])),
            emitted=dict(obj.get("emitted", {})),
            alerts=frozenset(obj.get("alerts", [])),
        )


class Engine:
    """Computes interval records and alerts of one incident at a time, from a rule pack.

    `locate` maps the call location to (district_id, area_type). When it is missing or returns
    None the area is unknown: targets that depend on area_type use the pack's default for that
    interval and the record carries the quality flag `unknown_area`.
    """

    def __init__(self, pack: RulePack, locate: Locate | None = None) -> None:
        self.pack = pack
        self.locate = locate
        # The last timeline built, by the identity of the events it came from: apply, sweep
        # and the replay's next-deadline all ask for the same one in a row.
        self._cached: tuple[dict[str, ev.Event], Timeline] | None = None

    def apply(
        self,
        state: IncidentState | None,
        event: ev.Event,
        now: datetime,
        *,
        hold_deadlines: bool = False,
    ) -> tuple[IncidentState, list[Output]]:
        """Add one event; return the new state and the outputs it caused (maybe none).

        `hold_deadlines`: the caller knows events up to `now` may still be unread (a live
        worker catching up a backlog), so deadlines are not judged here but by a later `sweep`
        (a closing event still in flight would make any judgement now a false breach).

        A redelivery (same event_id, same content) returns the state unchanged and no output.
        Events without an incident (gps.fix, unit.available, hospital.status) are ignored:
        the state is returned unchanged (a fresh empty one if `state` is None and the event has
        no incident_id, keyed by '').
        """
        incident_id = event.incident_id or ""
        if state is None:
            state = IncidentState(incident_id=incident_id)
        if event.TYPE in IGNORED_TYPES or event.incident_id is None:
            return state, []
        previous = state.events.get(event.event_id)
        if previous == event:
            return state, []
        outputs: list[Output] = []
        if previous is not None:
            outputs.append(conflict_alert(previous, event, now))
        future = state.future - {event.event_id}
        ahead = future_alert(event, now, self.pack.quality.future_tolerance_s)
        if ahead is not None:
            future = future | {event.event_id}
            outputs.append(ahead)
        state = replace(state, events={**state.events, event.event_id: event}, future=future)
        state, records = self._emit_intervals(state, now)
        outputs.extend(records)
        if not hold_deadlines:
            outputs.extend(deadline_alerts(self.timeline(state), self.pack, now))
        return _remember(state, outputs)

    def sweep(self, state: IncidentState, now: datetime) -> tuple[IncidentState, list[Alert]]:
        """Deadlines at `now`: approaching / breach / missing_milestone alerts not yet raised."""
        state, outputs = _remember(state, deadline_alerts(self.timeline(state), self.pack, now))
        return state, [o for o in outputs if isinstance(o, Alert)]

    def timeline(self, state: IncidentState) -> Timeline:
        """The incident's milestones and attributes as the pack sees them."""
        if self._cached is not None and self._cached[0] is state.events:
            return self._cached[1]
        timeline = build_timeline(state.events.values(), locate=self.locate)
        self._cached = (state.events, timeline)
        return timeline

    def next_deadline(self, state: IncidentState, now: datetime) -> datetime | None:
        """When a sweep of this incident could next raise an alert (for timers), if ever."""
        return next_deadline(self.timeline(state), self.pack, now)

    def intervals(self, state: IncidentState) -> list[IntervalValue]:
        """The current (unrevisioned) intervals of the incident."""
        return measure(self.timeline(state), self.pack, state.future)

    # --- internals ------------------------------------------------------------------------

    def _emit_intervals(
        self, state: IncidentState, now: datetime
    ) -> tuple[IncidentState, list[Output]]:
        current = {v.name: v for v in self.intervals(state)}
        emitted = dict(state.emitted)
        out: list[Output] = []
        for name, value in current.items():
            record = value.record(state.incident_id, revision=1)
            body = _fingerprint(record)
            last = emitted.get(name)
            if last is not None and last["body"] == body:
                continue
            revision = 1 if last is None else int(last["revision"]) + 1
            record = replace(record, revision=revision)
            emitted[name] = {"revision": revision, "body": body}
            out.append(record)
            out.extend(interval_quality_alerts(record, now))
        for name, last in state.emitted.items():
            if name not in current and "withdrawn" not in last["body"]["quality_flags"]:
                record = _withdrawn(state.incident_id, name, last)
                emitted[name] = {"revision": record.revision, "body": _fingerprint(record)}
                out.append(record)
        return replace(state, emitted=emitted), out


def _fingerprint(record: IntervalRecord) -> dict[str, Any]:
    body = to_json(record)
    body.pop("revision", None)
    body["quality_flags"] = list(record.quality_flags)
    return body


def _withdrawn(incident_id: str, name: str, last: dict[str, Any]) -> IntervalRecord:
    """An interval that no longer applies: its last values, flagged `withdrawn`."""
    body = dict(last["body"])
    record = IntervalRecord(
        incident_id=incident_id,
        interval=name,
        start_ts=ev.parse_timestamp(body["start_ts"]),
        end_ts=ev.parse_timestamp(body["end_ts"]),
        seconds=float(body["seconds"]),
        target_s=body.get("target_s"),
        met=None,
        pathway=str(body.get("pathway", "other")),
        triage_level=body.get("triage_level"),
        district_id=body.get("district_id"),
        area_type=body.get("area_type"),
        hospital_id=body.get("hospital_id"),
        unit_id=body.get("unit_id"),
        revision=int(last["revision"]) + 1,
        quality_flags=(*body.get("quality_flags", []), "withdrawn"),
    )
    return record


def _remember(
    state: IncidentState, outputs: Sequence[Output]
) -> tuple[IncidentState, list[Output]]:
    """Drop alerts already raised and remember the new ones in the state."""
    raised = set(state.alerts)
    out: list[Output] = []
    for item in outputs:
        if isinstance(item, Alert):
            if item.alert_id in raised:
                continue
            raised.add(item.alert_id)
        out.append(item)
    return replace(state, alerts=frozenset(raised)), out
