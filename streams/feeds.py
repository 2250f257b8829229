"""Envelopes of the worker's internal topics, which move work to the side that owns its state.

- the incident feed (keyed and partitioned by `incident_id`) carries unit events forwarded by
  the unit side, inferred arrivals, ETA updates, hospital statuses (a copy per partition),
  sweep ticks (one per partition), and input events that came keyed otherwise;
- the unit feed (keyed by `unit_id`) carries the scene and destination the incident side
  knows, and unit input events that came keyed otherwise.

Partitions are computed here (murmur2, as Kafka's default partitioner) rather than left to the
producer, so a sweep tick of partition p reaches exactly the incidents stored for p.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pathways import events as ev
from streams.producer import key_partition

EVENT = "event"
ETA = "eta"
TICK = "tick"
TARGETS = "targets"


def partition_of(key: str, partitions: int) -> int:
    return key_partition(key.encode(), partitions)


@dataclass(frozen=True, slots=True)
class EtaUpdate:
    incident_id: str
    unit_id: str
    hospital_id: str
    at: datetime  # event time the estimate starts from (its fix's, or the departure's)
    eta_ts: datetime
    eta_low_ts: datetime | None = None
    eta_high_ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnitTargets:
    """What the incident side knows that the unit side needs: the scene and the destination."""

    unit_id: str
    incident_id: str
    scene: tuple[float, float] | None = None
    hospital_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    partition: int


Envelope = ev.Event | EtaUpdate | UnitTargets | Tick


def _ts(value: datetime | None) -> str | None:
    return None if value is None else ev.format_timestamp(value)


def _parse_ts(value: Any) -> datetime | None:
    return None if value is None else ev.parse_timestamp(value)


def encode(item: Envelope) -> bytes:
    if isinstance(item, ev.Event):
        return orjson.dumps({"kind": EVENT, "event": ev.to_json(item)})
    if isinstance(item, EtaUpdate):
        return orjson.dumps(
            {
                "kind": ETA,
                "incident_id": item.incident_id,
                "unit_id": item.unit_id,
                "hospital_id": item.hospital_id,
                "at": _ts(item.at),
                "eta_ts": _ts(item.eta_ts),
                "eta_low_ts": _ts(item.eta_low_ts),
                "eta_high_ts": _ts(item.eta_high_ts),
            }
        )
    if isinstance(item, UnitTargets):
        return orjson.dumps(
            {
                "kind": TARGETS,
                "unit_id": item.unit_id,
                "incident_id": item.incident_id,
                "scene": None if item.scene is None else list(item.scene),
                "hospital_id": item.hospital_id,
            }
        )
    return orjson.dumps({"kind": TICK, "partition": item.partition})


class EnvelopeError(ValueError):
    """An internal message this version cannot read (written by a newer or broken worker)."""


def decode(raw: bytes) -> Envelope:
    try:
        obj = orjson.loads(raw)
        kind = obj["kind"]
        if kind == EVENT:
            event = ev.parse_object(obj["event"])
            if isinstance(event, ev.ParseError):
                raise EnvelopeError(str(event))
            return event
        if kind == ETA:
            return EtaUpdate(
                incident_id=obj["incident_id"],
                unit_id=obj["unit_id"],
                hospital_id=obj["hospital_id"],
                at=ev.parse_timestamp(obj["at"]),
                eta_ts=ev.parse_timestamp(obj["eta_ts"]),
                eta_low_ts=_parse_ts(obj.get("eta_low_ts")),
                eta_high_ts=_parse_ts(obj.get("eta_high_ts")),
            )
        if kind == TARGETS:
            scene = obj.get("scene")
            return UnitTargets(
                unit_id=obj["unit_id"],
                incident_id=obj["incident_id"],
                scene=None if scene is None else (float(scene[0]), float(scene[1])),
                hospital_id=obj.get("hospital_id"),
            )
        if kind == TICK:
            return Tick(int(obj["partition"]))
    except EnvelopeError:
        raise
    except Exception as exc:  # any malformed envelope is one error type for the caller
        raise EnvelopeError(f"{type(exc).__name__}") from None
    raise EnvelopeError(f"unknown envelope kind {kind!r}")
