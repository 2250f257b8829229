"""The incident side: per `incident_id`, the engine state, the pre-alert book and the ETA.

Every decision is a call into `pathways` (engine, pre-alert lifecycle, destination policy) or
`geo` (candidates); this module keeps the table record, sends outputs, then stores the record.
Both are produced without waiting, so a killed worker may leave the record in Kafka without
the outputs; a message read again after a restart then sends the intervals again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from geo.eta import new_speed_state
from geo.nearest import availability_from_status, candidates
from geo.regions import Region
from pathways import events as ev
from pathways import prealerts
from pathways.deadlines import next_deadline
from pathways.destination import ClinicalFacts, HospitalAvailability, recommend
from pathways.due import DueIndex
from pathways.engine import Engine, IncidentState, emitted_intervals
from pathways.outputs import Alert, IntervalRecord
from pathways.timeline import Timeline
from streams.clock import PartitionClock
from streams.feeds import Envelope, EtaUpdate, Tick, UnitTargets, partition_of
from streams.incident_record import IncidentRecord, Position
from streams.logs import ref
from streams.sinks import Sink
from streams.telemetry import Telemetry

log = logging.getLogger(__name__)
ToUnit = Callable[[str, Envelope], Awaitable[None]]
_SPEEDS = new_speed_state()
CACHED_RECORDS = 10_000
_INSTANT = timedelta(microseconds=1)
STATUS_KEY = "hospital-status:"  # table keys of hospital statuses (no incident id has it)


@dataclass(slots=True)
class IncidentDesk:
    engine: Engine
    region: Region
    time: PartitionClock
    sink: Sink
    telemetry: Telemetry
    to_unit: ToUnit
    partitions: int
    rules: prealerts.PreAlertRules = field(default_factory=prealerts.PreAlertRules)
    # partition -> incidents by next deadline; from the table after a start or a rebalance
    _due: dict[int, DueIndex] = field(default_factory=dict)
    # decoded records by incident, valid while the table still holds the very value stored
    _cache: OrderedDict[str, tuple[Any, IncidentRecord]] = field(default_factory=OrderedDict)
    # hospital -> latest hospital.status; every partition stores a copy (key STATUS_KEY + id)
    _status_of: dict[str, ev.HospitalStatus] = field(default_factory=dict)

    async def handle(
        self, item: Envelope, partition: int, table: MutableMapping[str, Any],
        position: Position | None = None,
    ) -> None:
        """`position`: where the message came from (to tell a redelivery from a duplicate)."""
        if partition not in self._due:
            self._index(table)
        if isinstance(item, Tick):
            await self.sweep(partition, table)
            return
        if isinstance(item, ev.HospitalStatus):
            self._status(item, table)
            return
        if isinstance(item, EtaUpdate):
            at = item.at
        elif isinstance(item, ev.Event) and item.incident_id:
            at = item.ts
        else:
            return
        self.time.observe(partition, at)
        if self.time.event_time:  # deadlines passed before this message, in partition order
            await self.sweep(partition, table, before=at)
        if isinstance(item, EtaUpdate):
            await self._eta(item, partition, table)
        else:
            await self._event(item, partition, table, position)

    # --- events ---------------------------------------------------------------------------

    async def _event(
        self, event: ev.Event, partition: int, table: MutableMapping[str, Any],
        position: Position | None,
    ) -> None:
        incident_id = event.incident_id or ""
        record = self._load(table, incident_id)
        if record.state.events.get(event.event_id) == event:
            if record.read_before(position):
                await self._send_again(record)
            return  # a duplicate: nothing changes
        now = self._now(partition, event.ts)
        held = self._deadlines_held()
        state, outputs = self.engine.apply(record.state, event, now, hold_deadlines=held)
        record.state = _with_raised(state, outputs)
        await self._send(outputs)
        timeline = self.engine.timeline(record.state)
        await self._share_targets(record, timeline)
        await self._prealert(record, timeline, at=event.ts, now=now)
        record.took(position)
        self._store(record, timeline, now, partition, table)

    async def _send_again(self, record: IncidentRecord) -> None:
        """A message read again after a restart, whose event the stored record already holds.
        The record's changelog write may have reached Kafka while what the event sent did not
        (the producer's batches to different partitions land independently; a worker killed
        in between keeps one and loses the other), so the intervals are sent again as they
        stand: same revisions and bodies, a reader keeps one. Alerts and pre-alert steps are
        not kept whole in the record, so they cannot be; nor are unit targets, which would
        re-attach a unit that has moved on (RELIABILITY.md, open items)."""
        for interval in emitted_intervals(record.state):
            await self.sink.interval(interval)

    async def _eta(
        self, update: EtaUpdate, partition: int, table: MutableMapping[str, Any]
    ) -> None:
        record = self._load(table, update.incident_id)
        record.eta = prealerts.Eta(
            unit_id=update.unit_id,
            hospital_id=update.hospital_id,
            at=update.at,
            eta_ts=update.eta_ts,
            eta_low_ts=update.eta_low_ts,
            eta_high_ts=update.eta_high_ts,
        )
        timeline = self.engine.timeline(record.state)
        now = self._now(partition, update.at)
        await self._prealert(record, timeline, at=update.at, now=now)
        self._store(record, timeline, now, partition, table)

    async def sweep(
        self, partition: int, table: MutableMapping[str, Any], before: datetime | None = None
    ) -> None:
        """Deadline alerts of every incident of this partition whose next deadline has come;
        `before`: only deadlines strictly before this moment (an event at the very deadline
        closes its interval in time)."""
        now = self.time.now(partition)
        due = self._due.get(partition)
        if now is None or due is None or self.time.catching_up():
            return  # a deadline passed during the backlog is raised once it is read
        if before is not None:
            now = min(now, before - _INSTANT)
        while (incident_id := due.pop_due(now)) is not None:
            record = self._load(table, incident_id)
            state, alerts = self.engine.sweep(record.state, now)
            record.state = _with_raised(state, alerts)
            await self._send(alerts)
            self._store(record, self.engine.timeline(record.state), now, partition, table)

    def forget_deadlines(self) -> None:
        """After a rebalance the table, not this process's memory, knows the deadlines."""
        self._due.clear()

    def _status(self, status: ev.HospitalStatus, table: MutableMapping[str, Any]) -> None:
        hospital = status.hospital_id or ""
        known = self._status_of.get(hospital)
        if known is not None and known.ts >= status.ts:
            return  # an older or repeated report
        self._status_of[hospital] = status
        table[STATUS_KEY + hospital] = {"status": ev.to_json(status)}

    def _availability(self) -> dict[str, HospitalAvailability]:
        return {h: availability_from_status(s) for h, s in self._status_of.items()}

    def _index(self, table: MutableMapping[str, Any]) -> None:
        """Next deadlines of every stored incident, by partition, and the latest hospital
        statuses (one pass over the table)."""
        index = {p: DueIndex() for p in range(self.partitions)}
        for incident_id, value in table.items():
            if incident_id.startswith(STATUS_KEY):
                self._remember_status(value)
                continue
            due = value.get("due") if isinstance(value, dict) else None
            if due is not None:
                partition = partition_of(incident_id, self.partitions)
                index[partition].set(incident_id, ev.parse_timestamp(due, "due"))
        self._due = index

    def _remember_status(self, value: Any) -> None:
        status = ev.parse_object(value.get("status")) if isinstance(value, dict) else None
        if isinstance(status, ev.HospitalStatus) and status.hospital_id:
            known = self._status_of.get(status.hospital_id)
            if known is None or known.ts < status.ts:
                self._status_of[status.hospital_id] = status

    # --- pre-alerts and unit targets ------------------------------------------------------

    async def _prealert(
        self, record: IncidentRecord, timeline: Timeline, *, at: datetime, now: datetime
    ) -> None:
        destination = timeline.hospital_id
        record.advice = self._advice(record, timeline, destination)
        situation = prealerts.situation(
            timeline,
            at=at,
            destination=destination,
            advice=record.advice,
            eta=record.eta,
            rules=self.rules,
        )
        record.book, sent = prealerts.step(record.book, situation, now, self.rules)
        for prealert in sent:
            await self.sink.prealert(prealert)
            self.telemetry.count_prealert(prealert)
            log.info("pre-alert %s", prealert.state,
                     extra={"event": "prealert", "kind": prealert.state,
                            "incident_ref": ref(prealert.incident_id)})
        chosen = situation.hospital_id
        unit = situation.unit_id
        if chosen and unit and record.targets.get(unit, {}).get("hospital_id") != chosen:
            await self._send_targets(record, unit, timeline, chosen)

    def _advice(
        self, record: IncidentRecord, timeline: Timeline, destination: str | None
    ) -> prealerts.Advice | None:
        """The destination policy's choice, made once the transport leaves the scene.

        With a destination given by dispatch the policy only judges that hospital (for the
        activations and the ED bypass). It is made again only if the pathway, the patient's
        critical facts or the given destination change, and always from the scene at the
        departure time, so a replay makes the same choice.
        """
        left = timeline.find("transporting:unit.left_scene")
        call = timeline.find("call.received")
        critical = prealerts.is_time_critical(timeline, self.rules)
        if left is None or not isinstance(call, ev.CallReceived) or not critical:
            return record.advice
        basis = f"{timeline.pathway}|{sorted(timeline.facts)}|{destination}"
        if record.advice is not None and record.advice_basis == basis:
            return record.advice
        origin = (call.location.lat, call.location.lon)
        options = candidates(self.region, origin, left.ts, _SPEEDS, left.ts, self._availability())
        if destination is not None:
            options = [c for c in options if c.hospital_id == destination]
        summary = prealerts.clinical_summary(timeline)
        facts = ClinicalFacts(
            stemi="stemi" in timeline.facts,
            lvo_suspected="lvo_suspected" in timeline.facts or bool(summary.lvo_suspected),
            trauma_activation_level=summary.trauma_activation_level,
            fmc_ts=_fmc(timeline),
            last_known_well=summary.last_known_well,
        )
        choice = recommend(options, pathway=timeline.pathway,
                           triage_level=timeline.triage_level, facts=facts, now=left.ts)
        record.advice_basis = basis
        if choice.hospital_id is None:
            return None
        return prealerts.Advice(hospital_id=choice.hospital_id, activations=choice.activations,
                                ed_bypass=choice.ed_bypass, reason=choice.explanation)

    async def _share_targets(self, record: IncidentRecord, timeline: Timeline) -> None:
        """Tell each unit of the incident where the scene is (for its scene geofence)."""
        call = timeline.find("call.received")
        if not isinstance(call, ev.CallReceived):
            return
        for unit in timeline.by_unit:
            if "scene" not in record.targets.get(unit, {}):
                await self._send_targets(record, unit, timeline, None)

    async def _send_targets(
        self, record: IncidentRecord, unit: str, timeline: Timeline, hospital: str | None
    ) -> None:
        call = timeline.find("call.received")
        scene = (
            (call.location.lat, call.location.lon) if isinstance(call, ev.CallReceived) else None
        )
        known = record.targets.get(unit, {})
        hospital = hospital or known.get("hospital_id")
        await self.to_unit(unit, UnitTargets(unit, record.incident_id, scene, hospital))
        record.targets[unit] = {"hospital_id": hospital, **({"scene": True} if scene else {})}

    # --- plumbing -------------------------------------------------------------------------

    def _load(self, table: MutableMapping[str, Any], incident_id: str) -> IncidentRecord:
        """The incident's record; decoded from the table unless this process stored it last.

        The cache entry is taken out while the record is worked on, so a failure half-way
        leaves no half-changed record behind."""
        value = table.get(incident_id)
        cached = self._cache.pop(incident_id, None)
        if cached is not None and value is not None and cached[0] is value:
            return cached[1]
        return IncidentRecord.load(value, incident_id)

    def _now(self, partition: int, event_ts: datetime) -> datetime:
        return self.time.now(partition) or event_ts

    def _deadlines_held(self) -> bool:
        """Live, while a backlog is read, the wall clock is ahead of what the worker knows:
        a running deadline waits for the sweep after the catch-up (event time needs no hold,
        its `now` only moves as far as the events read)."""
        return not self.time.event_time and self.time.catching_up()

    async def _send(self, outputs: Iterable[IntervalRecord | Alert]) -> None:
        for output in outputs:
            if isinstance(output, IntervalRecord):
                await self.sink.interval(output)
                self.telemetry.observe_interval(output)
            else:
                await self.sink.alert(output)
                self.telemetry.count_alert(output)

    def _store(
        self,
        record: IncidentRecord,
        timeline: Timeline,
        now: datetime,
        partition: int,
        table: MutableMapping[str, Any],
    ) -> None:
        index = self._due.setdefault(partition, DueIndex())
        pending = index.get(record.incident_id)
        due: datetime | None
        if self._deadlines_held() or (pending is not None and pending <= now):
            due = now  # not judged yet (held during a catch-up): the next sweep does it
        else:
            due = next_deadline(timeline, self.engine.pack, now)
        value = record.dump(due)
        table[record.incident_id] = value
        self._cache[record.incident_id] = (value, record)
        if len(self._cache) > CACHED_RECORDS:
            self._cache.popitem(last=False)
        index.set(record.incident_id, due)


def _fmc(timeline: Timeline) -> datetime | None:
    first = timeline.find("first_on_scene:unit.on_scene") or timeline.find("hospital.arrived")
    return first.ts if first else None


def _with_raised(state: IncidentState, outputs: Iterable[object]) -> IncidentState:
    """Remember raised alert ids in the state, so a later sweep does not raise them again."""
    raised = {o.alert_id for o in outputs if isinstance(o, Alert)}
    return replace(state, alerts=state.alerts | raised) if raised - state.alerts else state
