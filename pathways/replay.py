"""Offline replay: drive the same `Engine` over contract events in file order, in event time.

`now` is a watermark (the largest event time seen). Deadlines are swept as it advances: each
incident is woken at its next deadline (a heap), so a sweep costs only the incidents due; a
wake that is no longer its incident's next deadline (an event moved it) is passed over.
A GPS fix counts only for its time (the watermark and its unit's clock skew), so it is read
for that alone (`events.parse_or_fix_time`).
No file I/O here: lines come in, values go out.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pathways import events as ev
from pathways.clock import WatermarkClock
from pathways.compliance import Compliance
from pathways.engine import Engine, IncidentState, Output
from pathways.outputs import Alert, IntervalRecord
from pathways.quality import SourceClocks, device_key, device_key_of

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that is not a valid contract event; replay reports it and goes on."""

    line_no: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}: {self.detail}"


@dataclass(slots=True)
class ReplayCounts:
    lines: int = 0
    events: int = 0
    ignored: int = 0  # valid events that belong to no incident (gps.fix, unit.available, ...)
    errors: int = 0
    records: int = 0
    alerts: int = 0


_NEVER = -(1 << 62)  # epoch microseconds before any event time
_Wake = tuple[int, str, datetime]  # (moment as epoch us, incident, moment)


@dataclass(slots=True)
class Replay:
    """One replay run: `run(lines)` yields outputs and line errors as they happen.

    Event times are compared as epoch microseconds (`events.timestamp_us`), and the clock is
    told the largest one only when `now` is read as a time (by an incident event, a sweep or
    an alert): most events are GPS fixes, which need neither."""

    engine: Engine
    compliance: Compliance
    clock: WatermarkClock = field(default_factory=WatermarkClock)
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    states: dict[str, IncidentState] = field(default_factory=dict)
    # ordered as (moment, incident) would be
    _wake: list[_Wake] = field(default_factory=list)
    # per incident waiting for a deadline, its next one (epoch us): the wake that counts
    _next: dict[str, int] = field(default_factory=dict)
    _skew: SourceClocks | None = None

    _latest_us: int = _NEVER  # the largest event time seen
    _now_us: int = _NEVER  # the clock's `now` after it
    _untold: datetime | str | None = None  # that largest time, if the clock was not told yet
    _now: datetime | None = None  # the clock's `now` when it was last told
    _lateness_us: int = 0

    def __post_init__(self) -> None:
        self._skew = SourceClocks(self.engine.pack.quality.skew_tolerance_s)
        self._lateness_us = self.clock.lateness // _MICROSECOND

    def run(self, lines: Iterable[str | bytes]) -> Iterator[Output | LineError]:
        counts = self.counts
        parse = ev.parse_or_fix_time
        for line_no, line in enumerate(lines, start=1):
            counts.lines += 1
            if not line or line.isspace():  # `not line.strip()` without copying the line
                continue
            event = parse(line)
            if type(event) is tuple:  # a valid gps.fix: only its time and clock matter here
                outputs = self._fix(line, *event)
            elif isinstance(event, ev.ParseError):
                counts.errors += 1
                yield LineError(line_no, event.reason.value, event.detail)
                continue
            else:
                assert isinstance(event, ev.Event)
                outputs = self._event(event)
            if outputs:  # most events (GPS fixes) have none: no generator for them
                yield from self._count(outputs)
        final = self._clock_now()
        if final is not None:
            yield from self._count(self._final_sweep(final))

    def _advance(self, ts_us: int, ts: datetime | str) -> list[Output]:
        """Observe one event time: the sweeps it makes due."""
        if ts_us <= self._latest_us:  # `now` stays: nothing new is due
            return []
        self._latest_us = ts_us
        self._untold = ts
        now_us = self._now_us = ts_us - self._lateness_us
        if self._wake and self._wake[0][0] < now_us:
            now = self._clock_now()
            assert now is not None
            return list(self._sweep_due(now_us))
        return []

    def _clock_now(self) -> datetime | None:
        """The clock's `now`, once it is told the largest event time seen."""
        untold = self._untold
        if untold is not None:
            self._untold = None
            self.clock.observe(untold if isinstance(untold, datetime) else
                               ev.parse_timestamp(untold))
            self._now = self.clock.now()
        return self._now

    def _fix(self, line: str | bytes, ts_us: int, ts: str, source: str, unit_id: str
             ) -> list[Output]:
        """A valid gps.fix: the watermark and its unit's clock skew; no incident."""
        self.counts.events += 1
        self.counts.ignored += 1
        outputs = self._advance(ts_us, ts) if ts_us > self._latest_us else []
        if self._skew is not None:
            lag_s = (self._now_us - ts_us) / 1_000_000  # exactly (now - ts) / 1 s
            estimate = self._skew.observe_lag(device_key_of(source, unit_id), lag_s)
            if estimate is not None:  # rare: build the event the alert names
                fix = ev.parse(line)
                now = self._clock_now()
                assert isinstance(fix, ev.GpsFix) and now is not None
                outputs.append(self._skew.alert(fix, estimate, now))
        return outputs

    def _event(self, event: ev.Event) -> list[Output]:
        self.counts.events += 1
        ts_us = ev.epoch_us(event.ts)
        outputs = self._advance(ts_us, event.ts)
        now = self._clock_now()
        assert now is not None
        if self._skew is not None:
            lag_s = (self._now_us - ts_us) / 1_000_000  # exactly (now - ts) / 1 s
            estimate = self._skew.observe_lag(device_key(event), lag_s)
            if estimate is not None:
                outputs.append(self._skew.alert(event, estimate, now))
        if event.incident_id is None or event.TYPE in ("gps.fix", "unit.available"):
            self.counts.ignored += 1
            return outputs
        before = self.states.get(event.incident_id)
        state, applied = self.engine.apply(before, event, now)
        if state is not before:  # else (a redelivery) nothing was judged at `now`: a deadline
            self._keep(state, now)  # at `now` is still due, its wake still the one that counts
        outputs.extend(applied)
        return outputs

    def _keep(self, state: IncidentState, now: datetime) -> None:
        incident_id = state.incident_id
        self.states[incident_id] = state
        wake = self.engine.next_deadline(state, now)
        if wake is None:
            self._next.pop(incident_id, None)
            return
        moment_us = self._next[incident_id] = ev.epoch_us(wake)
        heapq.heappush(self._wake, (moment_us, incident_id, wake))

    def _sweep_due(self, now_us: int) -> Iterator[Output]:
        """Every moment strictly before `now`, judged at that moment: the events at a moment
        are all read once the watermark is past it (one at the very deadline closes its
        interval in time), and no later event can have changed the judgement.

        Only an incident's next deadline is swept. A wake pushed before its later events or
        sweeps is passed over: judged at them, the incident had no moment before its next
        deadline at which a sweep could raise an alert (`Engine.next_deadline`)."""
        while self._wake and self._wake[0][0] < now_us:
            moment_us, incident_id, moment = heapq.heappop(self._wake)
            if self._next.get(incident_id) != moment_us:
                continue
            state, alerts = self.engine.sweep(self.states[incident_id], moment)
            self._keep(state, moment)
            yield from alerts

    def _final_sweep(self, now: datetime) -> Iterator[Output]:
        """Every incident still waiting for a deadline, judged at `now`. The others are quiet:
        judged at their last event or sweep, with no deadline after it (`next_deadline` None),
        a sweep at a later time raises nothing and leaves the state as it is."""
        for incident_id in sorted(self._next):
            state, alerts = self.engine.sweep(self.states[incident_id], now)
            self.states[incident_id] = state
            yield from alerts

    def _count(self, outputs: Iterable[Output]) -> Iterator[Output]:
        for item in outputs:
            if isinstance(item, IntervalRecord):
                self.counts.records += 1
                self.compliance.add(item)
            elif isinstance(item, Alert):
                self.counts.alerts += 1
            yield item


def replay(
    lines: Iterable[str | bytes], engine: Engine, compliance: Compliance | None = None
) -> tuple[list[IntervalRecord], list[Alert], list[LineError], Compliance]:
    """Convenience: run a whole replay in memory."""
    run = Replay(engine, compliance or Compliance(engine.pack))
    records: list[IntervalRecord] = []
    alerts: list[Alert] = []
    errors: list[LineError] = []
    for item in run.run(lines):
        if isinstance(item, IntervalRecord):
            records.append(item)
        elif isinstance(item, Alert):
            alerts.append(item)
        else:
            errors.append(item)
    return records, alerts, errors, run.compliance
