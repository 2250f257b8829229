"""Where outputs go: Kafka topics in the worker, a list in tests. Agents only see `Sink`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from pathways.outputs import Alert, IntervalRecord, PreAlert, prealert_to_json, to_json
from streams.ingest import DeadLetter

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

    intervals: Any  # faust TopicT
    alerts: Any
    prealerts: Any
    deadletters: Any

    async def interval(self, record: IntervalRecord) -> None:
        await self.intervals.send(key=record.incident_id.encode(), value=interval_bytes(record))

    async def alert(self, alert: Alert) -> None:
        await self.alerts.send(key=alert.incident_id.encode(), value=alert_bytes(alert))

    async def prealert(self, prealert: PreAlert) -> None:
        await self.prealerts.send(
            key=prealert.hospital_id.encode(), value=prealert_bytes(prealert)
        )

    async def deadletter(self, letter: DeadLetter) -> None:
        await self.deadletters.send(
            key=letter.origin.key,
            value=letter.raw,
            headers=[(name, value) for name, value in letter.headers],
        )


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
