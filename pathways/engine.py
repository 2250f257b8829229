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

from mypy_extensions import mypyc_attr

from pathways import events as ev
from pathways.deadlines import deadline_alerts, next_deadline
from pathways.intervals import IntervalValue, RuleView, measured_views
from pathways.outputs import Alert, IntervalRecord, interval_from_json
from pathways.quality import conflict_alert, future_alert, interval_quality_alerts
from pathways.rulepack import RulePack
from pathways.timeline import Timeline, build_timeline, extend_timeline

Locate = Callable[[float, float], tuple[str, str] | None]
"""(lat, lon) -> (district_id, area_type 'urban'|'county'), or None when outside all regions."""

Output = IntervalRecord | Alert

# Cache sizes. The timeline (and emitted-record inputs) of every open incident is kept: a
# replay or a worker sweeps each one at its deadlines and touches it at each of its events.
# An ended (closed or cancelled) incident is rarely touched again, so only the last ones
# stay; the bound on open ones is for incidents whose end is never recorded. (Keeping every
# incident ever seen made the garbage collector's full passes cost a quarter of a 1M-event
# replay.)
_OPEN_INCIDENTS = 20_000
_ENDED_INCIDENTS = 512
_ENDED_FACTS = frozenset({"closed", "cancelled"})
_AREAS = 20_000  # call locations; a full cache is emptied


def _keep_recent(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Store `key` as the most recent entry; drop the least recently stored beyond `limit`."""
    cache.pop(key, None)
    cache[key] = value
    if len(cache) > limit:
        del cache[next(iter(cache))]


class _Cached:
    """What the engine keeps of one incident: its latest timeline, the events dict it was built
    from (compared by identity), and per interval the inputs of its last emitted record with
    the `emitted` entry made from them (the same inputs make the same record)."""

    __slots__ = ("emitted", "events", "timeline")

    def __init__(
        self,
        events: dict[str, ev.Event],
        timeline: Timeline,
        emitted: dict[str, tuple[tuple[Any, ...], dict[str, Any]]],
    ) -> None:
        self.events = events
        self.timeline = timeline
        self.emitted = emitted


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
            "events": [_event_json(e) for e in self.events.values()],
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


_EVENT_JSON_KEPT = 20_000
_event_json_of: dict[int, tuple[ev.Event, dict[str, Any]]] = {}


def _event_json(event: ev.Event) -> dict[str, Any]:
    """`ev.to_json`, once per event object: a worker stores an incident whole after each of
    its events, so without this its earlier events are formatted again every time. Keyed by
    identity; an entry holds its event, so that id is not reused while the entry is kept.
    The dict returned is shared: callers must not change it."""
    found = _event_json_of.get(id(event))
    if found is not None:
        return found[1]
    if len(_event_json_of) >= _EVENT_JSON_KEPT:
        del _event_json_of[next(iter(_event_json_of))]  # the oldest
    plain = ev.to_json(event)
    _event_json_of[id(event)] = (event, plain)
    return plain


# compiled (setup.py), and open to subclasses in Python (tests watch its calls that way)
@mypyc_attr(allow_interpreted_subclasses=True)
class Engine:
    """Computes interval records and alerts of one incident at a time, from a rule pack.

    `locate` maps the call location to (district_id, area_type). When it is missing or returns
    None the area is unknown: targets that depend on area_type use the pack's default for that
    interval and the record carries the quality flag `unknown_area`.
    """

    def __init__(self, pack: RulePack, locate: Locate | None = None) -> None:
        self.pack = pack
        self.locate = locate
        # Per incident (open ones, and the last ended ones): apply, sweep and next-deadline of
        # an incident ask for the same timeline, a replay sweeps other incidents in between,
        # and the next apply inherits from it.
        self._open: dict[str, _Cached] = {}
        self._ended: dict[str, _Cached] = {}
        # The call location's district and area, by (lat, lon): `locate` is pure.
        self._areas: dict[tuple[float, float], tuple[str, str] | None] = {}

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
        future = state.future - {event.event_id} if event.event_id in state.future else state.future
        ahead = future_alert(event, now, self.pack.quality.future_tolerance_s)
        if ahead is not None:
            future = future | {event.event_id}
            outputs.append(ahead)
        prior = self._cached_timeline(state)
        events = {**state.events, event.event_id: event}
        state = IncidentState(state.incident_id, events, future, state.emitted, state.alerts)
        if prior is not None and previous is None:  # one more event: no need to sort again
            self._keep_timeline(state, extend_timeline(prior, event, self._area_of()))
        timeline = self.timeline(state)
        if prior is not None:
            changed = {event.TYPE} if previous is None else {event.TYPE, previous.TYPE}
            timeline.inherit(prior, changed)
        state, records = self._emit_intervals(state, timeline, now)
        outputs.extend(records)
        if not hold_deadlines:
            outputs.extend(deadline_alerts(timeline, self.pack, now, raised=state.alerts))
        return _remember(state, outputs)

    def sweep(self, state: IncidentState, now: datetime) -> tuple[IncidentState, list[Alert]]:
        """Deadlines at `now`: approaching / breach / missing_milestone alerts not yet raised."""
        alerts = deadline_alerts(self.timeline(state), self.pack, now, raised=state.alerts)
        if not alerts:
            return state, []
        state, outputs = _remember(state, alerts)
        return state, [o for o in outputs if isinstance(o, Alert)]

    def timeline(self, state: IncidentState) -> Timeline:
        """The incident's milestones and attributes as the pack sees them."""
        cached = self._cached_timeline(state)
        if cached is not None:
            return cached
        timeline = build_timeline(state.events.values(), locate=self._area_of())
        self._keep_timeline(state, timeline)
        return timeline

    def _keep_timeline(self, state: IncidentState, timeline: Timeline) -> None:
        incident_id = state.incident_id
        last = self._cached(incident_id)
        cached = _Cached(state.events, timeline, {} if last is None else last.emitted)
        if timeline.facts.isdisjoint(_ENDED_FACTS):
            self._ended.pop(incident_id, None)
            _keep_recent(self._open, incident_id, cached, _OPEN_INCIDENTS)
        else:
            self._open.pop(incident_id, None)
            _keep_recent(self._ended, incident_id, cached, _ENDED_INCIDENTS)

    def _cached(self, incident_id: str) -> _Cached | None:
        cached = self._open.get(incident_id)
        return cached if cached is not None else self._ended.get(incident_id)

    def _area_of(self) -> Locate | None:
        return self._locate if self.locate is not None else None

    def next_deadline(self, state: IncidentState, now: datetime) -> datetime | None:
        """When a sweep of this incident could next raise an alert (for timers), if ever."""
        return next_deadline(self.timeline(state), self.pack, now)

    # --- internals ------------------------------------------------------------------------

    def _cached_timeline(self, state: IncidentState) -> Timeline | None:
        cached = self._cached(state.incident_id)
        return cached.timeline if cached is not None and cached.events is state.events else None

    def _locate(self, lat: float, lon: float) -> tuple[str, str] | None:
        assert self.locate is not None
        key = (lat, lon)
        if key not in self._areas:
            if len(self._areas) >= _AREAS:
                self._areas.clear()
            self._areas[key] = self.locate(lat, lon)
        return self._areas[key]

    def _emit_intervals(
        self, state: IncidentState, timeline: Timeline, now: datetime
    ) -> tuple[IncidentState, list[Output]]:
        cached = self._cached(state.incident_id)  # kept by `timeline` if it was not
        known_inputs = {} if cached is None else cached.emitted
        # What a record is made of besides its view: the same for every interval.
        about = (
            timeline.pathway,
            timeline.triage_level,
            timeline.district_id,
            timeline.area_type,
            timeline.hospital_id,
        )
        emitted = dict(state.emitted)
        current: set[str] = set()
        out: list[Output] = []
        for view, flags in measured_views(timeline, self.pack, state.future):
            name = view.rule.name
            current.add(name)
            last = emitted.get(name)
            known = known_inputs.get(name)
            if (known is not None and known[1] is last
                    and _same_inputs(known[0], view, flags, about)):
                continue  # the record these inputs make was the last one emitted
            inputs = (view.start, view.end, view.target_s, flags, about)
            assert view.start is not None and view.end is not None
            value = IntervalValue(name, view.start, view.end, view.target_s, flags, timeline)
            revision = 1 if last is None else int(last["revision"]) + 1
            record = value.record(state.incident_id, revision=revision)
            body = _fingerprint(record)  # without the revision
            if last is not None and last["body"] == body:
                known_inputs[name] = (inputs, last)
                continue
            emitted[name] = {"revision": revision, "body": body}
            known_inputs[name] = (inputs, emitted[name])
            out.append(record)
            if record.quality_flags:
                out.extend(interval_quality_alerts(record, now))
        for name, last in state.emitted.items():
            if name not in current and "withdrawn" not in last["body"]["quality_flags"]:
                record = _withdrawn(state.incident_id, name, last)
                emitted[name] = {"revision": record.revision, "body": _fingerprint(record)}
                out.append(record)
        if not out:
            return state, out
        alerts = state.alerts
        return IncidentState(state.incident_id, state.events, state.future, emitted, alerts), out


def _same_inputs(
    known: tuple[Any, ...], view: RuleView, flags: tuple[str, ...], about: tuple[Any, ...]
) -> bool:
    """Whether a record's inputs are those of the record `known` was made from: its events
    and target by identity (the same objects make the same JSON; equal datetimes in other
    offsets would not), its flags and the timeline's attributes by value."""
    return (
        known[0] is view.start
        and known[1] is view.end
        and known[2] is view.target_s
        and known[3] == flags
        and known[4] == about
    )


def _fingerprint(record: IntervalRecord) -> dict[str, Any]:
    """`to_json(record)` without the revision (quality flags always present): what makes two
    revisions the same. Built directly, in the same key order: it runs for every record."""
    body: dict[str, Any] = {
        "incident_id": record.incident_id,
        "interval": record.interval,
        "start_ts": ev.format_timestamp(record.start_ts),
        "end_ts": ev.format_timestamp(record.end_ts),
        "seconds": record.seconds,
    }
    if record.target_s is not None:
        body["target_s"] = record.target_s
    if record.met is not None:
        body["met"] = record.met
    body["pathway"] = record.pathway
    for name, value in (
        ("triage_level", record.triage_level),
        ("district_id", record.district_id),
        ("area_type", record.area_type),
        ("hospital_id", record.hospital_id),
        ("unit_id", record.unit_id),
    ):
        if value is not None:
            body[name] = value
    body["quality_flags"] = list(record.quality_flags)
    return body


def _withdrawn(incident_id: str, name: str, last: dict[str, Any]) -> IntervalRecord:
    """An interval that no longer applies: its last values, flagged `withdrawn`."""
    sent = interval_from_json({**last["body"], "incident_id": incident_id, "interval": name,
                               "revision": int(last["revision"]) + 1})
    return replace(sent, met=None, quality_flags=(*sent.quality_flags, "withdrawn"))


def emitted_intervals(state: IncidentState) -> list[IntervalRecord]:
    """The latest record of each interval as it was sent (revision and body): what a reader
    of the intervals knows of the incident once everything sent has reached it."""
    return [interval_from_json({**last["body"], "revision": int(last["revision"])})
            for last in state.emitted.values()]


def _remember(
    state: IncidentState, outputs: Sequence[Output]
) -> tuple[IncidentState, list[Output]]:
    """Drop alerts already raised and remember the new ones in the state."""
    raised = state.alerts
    new: set[str] = set()
    out: list[Output] = []
    for item in outputs:
        if isinstance(item, Alert):
            if item.alert_id in raised or item.alert_id in new:
                continue
            new.add(item.alert_id)
        out.append(item)
    if not new:
        return state, out  # nothing new raised: the same value
    alerts = raised | new
    return IncidentState(state.incident_id, state.events, state.future, state.emitted, alerts), out
