"""Where outputs go: Kafka topics in the worker, a list in tests. Agents only see `Sink`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import orjson

from pathways.outputs import Alert, IntervalRecord, PreAlert, prealert_to_json, to_json
from streams.ingest import DeadLetter
from streams.producer import DirectProducer

# Contract fields without `?`: present (maybe null) in every interval record.
_INTERVAL_REQUIRED = ("triage_level", "district_id", "area_type")


def interval_bytes(record: IntervalRecord) -> bytes:
    body = to_json(record)
    for name in _INTERVAL_REQUIRED:
        body.setdefault(name, None)
    return orjson.dumps(body)


def alert_bytes(alert: Alert) -> bytes:
    return orjson.dumps(to_json(alert))


def prealert_bytes(prealert: PreAlert) -> bytes:
    return orjson.dumps(prealert_to_json(prealert))


class Sink(Protocol):
    async def interval(self, record: IntervalRecord) -> None: ...

    async def alert(self, alert: Alert) -> None: ...

    async def prealert(self, prealert: PreAlert) -> None: ...

    async def deadletter(self, letter: DeadLetter) -> None: ...


@dataclass(slots=True)
class KafkaSink:
    """Sends each output to its topic, keyed as the contract says (incident or hospital id)."""

    sends: DirectProducer
    intervals: str  # topic names
    alerts: str
    prealerts: str
    deadletters: str

    async def interval(self, record: IntervalRecord) -> None:
        await self.sends.send(self.intervals, record.incident_id.encode(), interval_bytes(record))

    async def alert(self, alert: Alert) -> None:
        await self.sends.send(self.alerts, alert.incident_id.encode(), alert_bytes(alert))

    async def prealert(self, prealert: PreAlert) -> None:
        await self.sends.send(self.prealerts, prealert.hospital_id.encode(),
                              prealert_bytes(prealert))

    async def deadletter(self, letter: DeadLetter) -> None:
        await self.sends.send(self.deadletters, letter.origin.key, letter.raw,
                              headers=letter.headers)


@dataclass(slots=True)
class ListSink:
    """Collects outputs in memory (tests, offline runs)."""

    intervals: list[IntervalRecord] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    prealerts: list[PreAlert] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)

    async def interval(self, record: IntervalRecord) -> None:
        self.intervals.append(record)

    async def alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    async def prealert(self, prealert: PreAlert) -> None:
        self.prealerts.append(prealert)

    async def deadletter(self, letter: DeadLetter) -> None:
        self.deadletters.append(letter)
