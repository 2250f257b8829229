"""Clock skew at the edge: each unit's device clock against the time its message reached Kafka."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from pathways import events as ev
from pathways.outputs import Alert
from pathways.quality import SourceClocks
from streams.agents import Ingest, _live_clocks, _origin
from streams.clock import WallClock, WatermarkClock
from streams.ingest import DeadLetterPolicy, Origin
from streams.sinks import ListSink
from streams.telemetry import NoTelemetry
from tests.integration.scenarios import at, event, gps_path
from tests.streams.harness import run

SKEWED = "A7"


@dataclass
class Counted(NoTelemetry):
    alerts: list[Alert] = field(default_factory=list)

    def count_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Feeds:
    async def to_unit(self, key: str, item: Any) -> None:
        return None

    async def to_incident(self, key: str, item: Any) -> None:
        return None


def ingest() -> Ingest:
    """A live worker's edge (tolerance 120 s, as in the `cn` pack)."""
    return Ingest(DeadLetterPolicy(), ListSink(), Counted(), "", Feeds(), SourceClocks(120.0))


def deliver(desk: Ingest, items: list[tuple[ev.Event, datetime | None]]) -> None:
    """Each event as a message that reached Kafka at the given time (None: no timestamp)."""
    async def go() -> None:
        for offset, (e, reached) in enumerate(items):
            topic = ev.TOPIC_OF_TYPE[e.TYPE]
            await desk.handle(ev.dumps(e), Origin(topic, 0, offset, None, (), reached))

    run(go())


def city(shift_s: float, units: int = 5) -> list[tuple[ev.Event, datetime | None]]:
    """GPS of a few units sent live; unit A7's device clock is off by `shift_s`."""
    items: list[tuple[ev.Event, datetime | None]] = []
    for n in range(units):
        unit = f"A{n + 5}"
        shift = timedelta(seconds=shift_s if unit == SKEWED else 0)
        for fix in gps_path(unit, (30.94, 117.05), (30.95, 117.06), 0, 6):
            items.append((_stamped(fix, fix.ts + shift), fix.ts))
    return sorted(items, key=lambda item: item[1] or at(0))


def _stamped(e: ev.Event, ts: datetime) -> ev.Event:
    obj = ev.to_json(e)
    obj["ts"] = ev.format_timestamp(ts)
    parsed = ev.parse_object(obj)
    assert isinstance(parsed, ev.Event), parsed
    return parsed


def test_the_skewed_unit_is_flagged_by_name_both_ways() -> None:
    for shift_s in (600.0, -600.0):
        desk = ingest()
        deliver(desk, city(shift_s))
        sent = desk.sink.alerts  # type: ignore[attr-defined]
        assert [(a.kind, a.unit_id) for a in sent] == [("data_quality", SKEWED)]
        assert "clock_skew" in sent[0].detail and f"{shift_s:+.0f}s" in sent[0].detail
        assert desk.telemetry.alerts == sent  # type: ignore[attr-defined]


def test_reading_a_backlog_late_flags_no_one() -> None:
    """The worker reads hours after the events: only the record time counts, not reading."""
    desk = ingest()
    deliver(desk, city(0.0))
    assert desk.sink.alerts == []  # type: ignore[attr-defined]


def test_messages_without_a_record_time_are_not_judged() -> None:
    desk = ingest()
    deliver(desk, [(e, None) for e, _ in city(600.0)])
    assert desk.sink.alerts == []  # type: ignore[attr-defined]


def test_only_the_unit_topics_are_judged() -> None:
    """Calls and hospital events have their own sources' clocks; this edge judges units."""
    desk = ingest()
    calls = [event("call.received", m, f"inc-{m}", location={"lat": 30.94, "lon": 117.05})
             for m in range(20)]
    deliver(desk, [(c, at(0) - timedelta(hours=1)) for c in calls])
    assert desk.sink.alerts == []  # type: ignore[attr-defined]


def test_the_record_time_comes_from_the_kafka_message() -> None:
    reached = at(3)
    message = SimpleNamespace(topic="dispatch.gps", partition=2, offset=9, key=b"A7",
                              headers=None, timestamp=reached.timestamp())
    assert _origin(message).timestamp == reached
    assert _origin(SimpleNamespace(**{**vars(message), "timestamp": -0.001})).timestamp is None


def test_only_a_live_worker_judges_device_clocks() -> None:
    """On the watermark clock (replays, a demo at 30x) record time says nothing of `ts`."""
    assert isinstance(_live_clocks(WallClock(), 120.0), SourceClocks)
    assert _live_clocks(WatermarkClock(), 120.0) is None
    desk = Ingest(DeadLetterPolicy(), ListSink(), Counted(), "", Feeds())
    deliver(desk, city(600.0))
    assert desk.sink.alerts == []  # type: ignore[attr-defined]
