"""The unit side: per `unit_id`, its current incident, destination, last fix, geofences and ETA.

Unit status events are forwarded to the incident side (keyed by incident); GPS fixes drive the
geofence step (inferred `unit.on_scene` / `unit.at_destination`, source `avl`) and the ETA to
the destination, both forwarded to the incident side as well.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geo import geofence
from geo.eta import Eta, estimate_eta, new_speed_state
from geo.regions import Hospital, Region
from pathways import events as ev
from streams.clock import Clock
from streams.feeds import Envelope, EtaUpdate, UnitTargets

Forward = Callable[[str, Envelope], Awaitable[None]]
CHECKPOINT_S = 60.0
RECENT_KEPT = 24  # latest fixes kept per unit (2 min at one every 5 s), for fences learnt late
SEEN_KEPT = 64  # recent event ids per unit, for deduplication of redeliveries
TARGETS_KEPT = 4096  # fence targets kept built (one set per unit's current leg)
ETA_RESEND_S = 30.0  # forward a new ETA only when it moved this much (the pre-alert decides more)
# a transporting unit's ETA is estimated again from its fixes at most this often (fix time): a
# fix comes every few seconds, and an ETA is only sent again once it moved by ETA_RESEND_S
ETA_EVERY_S = 15.0
_SPEEDS = new_speed_state()
_STOP_STATUSES = frozenset({"unit.available", "unit.cancelled"})


@dataclass(slots=True)
class UnitDesk:
    """The unit side. A fix that only moves the unit (no fence, status or ETA change) is kept
    in memory and written to the table at most every `checkpoint_s` of event time: nine in ten
    input events are fixes, and a table write is a changelog message. After a restart the
    next fix gives the position again; nothing an incident depends on is left unwritten."""

    region: Region
    clock: Clock
    to_incident: Forward
    checkpoint_s: float = CHECKPOINT_S
    # unit -> its record when newer than the table's (moved since the last write)
    _unsaved: dict[str, dict[str, Any]] = field(default_factory=dict)
    _written_at: dict[str, datetime] = field(default_factory=dict)  # event time of last write
    # unit -> its latest fixes (memory only: after a restart the redelivered input is enough)
    _recent: dict[str, deque[ev.GpsFix]] = field(default_factory=dict)
    # (incident, status, scene, destination) -> the fences, built once and not on every fix
    _built_fences: dict[tuple[Any, ...], tuple[geofence.FenceTarget, ...]] = field(
        default_factory=dict)
    # unit -> time of the fix its ETA was last estimated from (memory only, as `_recent`)
    _estimated_at: dict[str, datetime] = field(default_factory=dict)

    def forget_unsaved(self) -> None:
        """After a rebalance the table is the truth (a partition may have moved away and back)."""
        self._unsaved.clear()
        self._written_at.clear()
        self._recent.clear()
        self._estimated_at.clear()

    async def handle(self, item: Envelope, table: MutableMapping[str, Any]) -> None:
        if isinstance(item, UnitTargets):
            await self._targets(item, table)
        elif isinstance(item, ev.GpsFix):
            await self.fixes(item.unit_id or "", (item,), table)
        elif isinstance(item, ev.Event) and item.unit_id:
            await self._status(item, table)

    async def _status(self, event: ev.Event, table: MutableMapping[str, Any]) -> None:
        unit = self.current(table, event.unit_id or "")
        if _seen(unit, event.event_id):
            await self._forward_again(event, unit)
            return
        self.clock.observe(event.ts)
        if event.incident_id:  # forward first: at-least-once, the incident side dedupes
            await self.to_incident(event.incident_id, event)
        _remember(unit, event.event_id)
        if _is_later(unit, event):  # an older status must not roll the unit's state back
            _apply_status(unit, event)
            await self._refence(unit, event.unit_id or "")
        self._write(table, event.unit_id or "", unit, event.ts)
        if event.TYPE == "unit.left_scene":
            await self._maybe_eta(unit, table_key=event.unit_id or "", table=table)

    async def _forward_again(self, event: ev.Event, unit: dict[str, Any]) -> None:
        """A status the table already holds: read again after a restart, or a duplicate. Its
        forward may not have reached Kafka though the table's changelog write did (the
        producer's batches to different partitions land independently; a worker killed in
        between keeps one and loses the other), so it is forwarded again, and a departure's
        ETA with it. The incident side drops what it already has."""
        if event.incident_id:
            await self.to_incident(event.incident_id, event)
        if event.TYPE == "unit.left_scene":
            estimate = _estimate(self.region, unit)
            if estimate is not None and estimate.incident_id == event.incident_id:
                await self.to_incident(estimate.incident_id, estimate.update(event.unit_id or ""))

    async def _targets(self, item: UnitTargets, table: MutableMapping[str, Any]) -> None:
        unit = self.current(table, item.unit_id)
        if unit.get("incident_id") not in (None, item.incident_id):
            return  # the unit has moved on to another incident
        unit["incident_id"] = item.incident_id
        if item.scene is not None:
            unit["scene"] = list(item.scene)
        if item.hospital_id is not None:
            unit["destination"] = item.hospital_id
        await self._refence(unit, item.unit_id)
        self._write(table, item.unit_id, unit)
        await self._maybe_eta(unit, table_key=item.unit_id, table=table)

    async def fixes(self, unit_id: str, fixes: Sequence[ev.GpsFix],
                    table: MutableMapping[str, Any]) -> None:
        """Fixes of one unit read together (one fetch), in read order. Each goes through the
        fences; the record is read and written once, and a transporting unit's ETA is counted
        from the latest (the fixes before it were superseded as they were read), at most every
        `ETA_EVERY_S` of fix time."""
        unit = self.current(table, unit_id)
        newest = max(fixes, key=_fix_time)  # the first of equal times, as one by one
        self.clock.observe(newest.ts)
        # no id bookkeeping for fixes: a redelivered or older fix changes nothing below
        before = _significant(unit)  # a fix changes no more than the status and the fences
        last = unit.get("fix")
        if last is None or _stored_time(last["ts"]) < newest.ts:
            unit["fix"] = {"lat": newest.lat, "lon": newest.lon, "ts": _ts(newest.ts)}
        for fix in fixes:
            if not _before_status(unit, fix):
                self._keep_recent(unit_id, fix)
                await self._fences(unit, fix)
        if _significant(unit) != before or self._checkpoint_due(unit_id, newest.ts):
            self._write(table, unit_id, unit, newest.ts)
        else:
            self._unsaved[unit_id] = unit
        if self._estimate_due(unit_id, newest.ts):
            await self._maybe_eta(unit, table_key=unit_id, table=table)

    async def _fences(self, unit: dict[str, Any], fix: ev.GpsFix) -> None:
        targets, fences = self._fence_targets(unit), unit.get("fences")
        if not targets and not (fences and fences.get("fences")):
            return  # nothing watched: when a fence comes, `_refence` runs it over this leg
        state, inferred = geofence.step(fences, fix, targets)
        unit["fences"] = state
        for event in inferred:
            if event.incident_id:
                await self.to_incident(event.incident_id, event)
            if event.TYPE == "unit.at_destination":
                unit["status"] = event.TYPE

    async def _refence(self, unit: dict[str, Any], unit_id: str) -> None:
        """When the unit's fences change (a status, the scene or the destination learnt), run
        the new ones over the fixes of this leg already read: input topics are read side by
        side, so a unit's fixes at the scene may come before the scene itself (after an
        outage, or on a backlog), and the arrival must not depend on that order."""
        fences = unit.get("fences") or {}
        targets = self._fence_targets(unit)
        if {t.fence_id for t in targets} == set(fences.get("fences", {})):
            return
        unit["fences"] = None
        for fix in self._leg(unit, unit_id):
            await self._fences(unit, fix)

    def _keep_recent(self, unit_id: str, fix: ev.GpsFix) -> None:
        kept = self._recent.get(unit_id)
        if kept is None:
            kept = self._recent[unit_id] = deque(maxlen=RECENT_KEPT)
        kept.append(fix)

    def _leg(self, unit: dict[str, Any], unit_id: str) -> list[ev.GpsFix]:
        """The kept fixes of the unit's current leg (not before its status), oldest first."""
        since = unit.get("status_ts")
        start = _stored_time(since) if since else None
        fixes = self._recent.get(unit_id, ())
        return sorted((f for f in fixes if start is None or f.ts >= start), key=lambda f: f.ts)

    def _fence_targets(self, unit: dict[str, Any]) -> tuple[geofence.FenceTarget, ...]:
        incident, status, scene = unit.get("incident_id"), unit.get("status"), unit.get("scene")
        key = (incident, status, tuple(scene) if scene else None, unit.get("destination"))
        found = self._built_fences.get(key)
        if found is None:
            if len(self._built_fences) >= TARGETS_KEPT:
                self._built_fences.clear()
            found = self._built_fences[key] = self._new_fence_targets(unit)
        return found

    def _new_fence_targets(self, unit: dict[str, Any]) -> tuple[geofence.FenceTarget, ...]:
        incident, status = unit.get("incident_id"), unit.get("status")
        if not incident:
            return ()
        if status in ("unit.assigned", "unit.enroute") and unit.get("scene"):
            lat, lon = unit["scene"]
            return (geofence.scene_target(incident, lat, lon),)
        hospital = self.region.hospital(unit.get("destination") or "")
        if status == "unit.left_scene" and hospital is not None:
            return (geofence.destination_target(incident, hospital),)
        return ()

    async def _maybe_eta(
        self, unit: dict[str, Any], *, table_key: str, table: MutableMapping[str, Any]
    ) -> None:
        estimate = _estimate(self.region, unit)
        if estimate is None:
            return
        self._estimated_at[table_key] = estimate.at
        sent = unit.get("eta")
        if sent and sent["hospital_id"] == estimate.hospital.hospital_id:
            moved = abs((_stored_time(sent["eta_ts"]) - estimate.eta_ts()).total_seconds())
            if moved < ETA_RESEND_S:
                return  # most fixes: no update is built
        update = estimate.update(table_key)
        await self.to_incident(update.incident_id, update)
        unit["eta"] = {"hospital_id": update.hospital_id, "eta_ts": _ts(update.eta_ts)}
        self._write(table, table_key, unit)

    def _estimate_due(self, unit_id: str, fix_ts: datetime) -> bool:
        last = self._estimated_at.get(unit_id)
        return last is None or (fix_ts - last).total_seconds() >= ETA_EVERY_S

    def current(self, table: MutableMapping[str, Any], unit_id: str) -> dict[str, Any]:
        """A copy of the unit's record as this desk knows it (moves not yet written included)."""
        found = self._unsaved.get(unit_id) or table.get(unit_id)
        return dict(found) if found else {"seen": []}

    def _write(self, table: MutableMapping[str, Any], unit_id: str, unit: dict[str, Any],
               at: datetime | None = None) -> None:
        """Store the record; `at`: the event time it is current to (starts the checkpoint
        interval; None when it came from the incident side, which carries no time)."""
        table[unit_id] = unit
        self._unsaved.pop(unit_id, None)
        if at is not None:
            self._written_at[unit_id] = at

    def _checkpoint_due(self, unit_id: str, fix_ts: datetime) -> bool:
        written = self._written_at.get(unit_id)
        return written is None or (fix_ts - written).total_seconds() >= self.checkpoint_s


def _apply_status(unit: dict[str, Any], event: ev.Event) -> None:
    stopped = event.TYPE in _STOP_STATUSES
    incident = None if stopped else event.incident_id
    if stopped or incident != unit.get("incident_id"):
        unit.update(destination=None, scene=None, eta=None, fences=None)
    unit.update(incident_id=incident, status=event.TYPE, status_ts=_ts(event.ts))
    given = getattr(event, "destination_hospital_id", None)
    if given:
        unit["destination"] = given


@dataclass(frozen=True, slots=True)
class _Estimate:
    """A transporting unit's ETA, before it is made an `EtaUpdate` (most are not sent)."""

    incident_id: str
    hospital: Hospital
    at: datetime
    eta: Eta

    def eta_ts(self) -> datetime:
        return self.at + timedelta(seconds=round(self.eta.seconds))

    def update(self, unit_id: str) -> EtaUpdate:
        at, eta = self.at, self.eta
        return EtaUpdate(
            incident_id=self.incident_id,
            unit_id=unit_id,
            hospital_id=self.hospital.hospital_id,
            at=at,
            eta_ts=self.eta_ts(),
            eta_low_ts=at + timedelta(seconds=round(eta.low_s)),
            eta_high_ts=at + timedelta(seconds=round(eta.high_s)),
        )


def _estimate(region: Region, unit: dict[str, Any]) -> _Estimate | None:
    """The ETA of a transporting unit from where it is known to be to its destination's door."""
    if unit.get("status") != "unit.left_scene":
        return None
    hospital = region.hospital(unit.get("destination") or "")
    start, incident = _transport_start(unit), unit.get("incident_id")
    if hospital is None or start is None or not incident:
        return None
    lat, lon, at = start
    located = region.locate(lat, lon)
    area = located[1] if located else "county"
    eta = estimate_eta((lat, lon), (hospital.lat, hospital.lon), area, at, _SPEEDS, at)
    return _Estimate(incident, hospital, at, eta)


def _transport_start(unit: dict[str, Any]) -> tuple[float, float, datetime] | None:
    """Where and when a transporting unit was last known to be: its latest fix, or the scene
    at the departure when no fix has come since. Units send no fixes while they stand at the
    scene, so the latest fix is often from the arrival there: an ETA counted from its time
    came out as early as the time spent on scene (15 min and more)."""
    fix, scene, left = unit.get("fix"), unit.get("scene"), unit.get("status_ts")
    fix_at = _stored_time(fix["ts"]) if fix else None
    left_at = _stored_time(left) if left else None
    if scene and left_at is not None and (fix_at is None or fix_at < left_at):
        return scene[0], scene[1], left_at
    if fix and fix_at is not None:
        return fix["lat"], fix["lon"], fix_at
    return None


def _fix_time(fix: ev.GpsFix) -> datetime:
    return fix.ts


def _significant(unit: dict[str, Any]) -> tuple[Any, ...]:
    """What a fix may change in a unit's record but its latest position (the fix and the
    fences' last fix time): the status and the fences. A change here is written at once."""
    fences = unit.get("fences")
    if isinstance(fences, dict):  # geofence.step's state: its unit_id never changes
        return unit.get("status"), fences.get("v"), fences.get("fences")
    return unit.get("status"), fences


def _seen(unit: dict[str, Any], event_id: str) -> bool:
    return event_id in unit.get("seen", [])


def _remember(unit: dict[str, Any], event_id: str) -> None:
    unit["seen"] = [*unit.get("seen", []), event_id][-SEEN_KEPT:]


def _is_later(unit: dict[str, Any], event: ev.Event) -> bool:
    """Out-of-order status events must not roll a unit's state back."""
    last = unit.get("status_ts")
    return last is None or _stored_time(last) <= event.ts


def _before_status(unit: dict[str, Any], fix: ev.GpsFix) -> bool:
    """A fix from before the unit's latest status belongs to an earlier leg (a redelivery after
    a restart, or a late GPS feed): the fences of the current leg must not see it."""
    last = unit.get("status_ts")
    return last is not None and fix.ts < _stored_time(last)


def _ts(moment: datetime) -> str:
    """A time as a unit record stores it; `_stored_time` gives `moment` back unparsed."""
    text = ev.format_timestamp(moment)
    _keep_time(text, moment)
    return text


def _stored_time(text: str) -> datetime:
    """A time from a unit record (written by `_ts`). Read on every fix (the last fix's time,
    the status time, the ETA sent), most of them again and again, so each text is parsed once
    and the one just written not at all."""
    found = _TIMES.get(text)
    if found is None:
        found = ev.parse_timestamp(text)
        _keep_time(text, found)
    return found


_TIMES: dict[str, datetime] = {}  # text -> time, of the texts written or read last
_TIMES_KEPT = 4096


def _keep_time(text: str, moment: datetime) -> None:
    if len(_TIMES) >= _TIMES_KEPT:
        _TIMES.clear()
    _TIMES[text] = moment
