"""The worker's clocks, internal envelopes and log format."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import orjson

from pathways import events as ev
from streams import feeds
from streams.clock import ManualClock, PartitionClock, WallClock, WatermarkClock, clock_named
from streams.logs import JsonFormatter, ref

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_watermark_never_goes_back_and_starts_unknown() -> None:
    clock = WatermarkClock()
    assert clock.now() is None
    clock.observe(T0 + timedelta(minutes=5))
    clock.observe(T0)
    assert clock.now() == T0 + timedelta(minutes=5)
    assert clock_named("watermark").name == "watermark" and clock_named("wall").name == "wall"


def test_wall_clock_is_aware_utc() -> None:
    now = WallClock().now()
    assert now is not None and now.tzinfo is not None


def test_partition_clock_follows_its_partition_until_idle() -> None:
    wall = [0.0]
    clock = PartitionClock(WatermarkClock(), lateness=timedelta(seconds=30), idle_s=2.0,
                           monotonic=lambda: wall[0])
    clock.observe(0, T0 + timedelta(minutes=10))
    clock.observe(1, T0 + timedelta(minutes=50))  # another partition runs ahead
    assert clock.now(0) == T0 + timedelta(minutes=10, seconds=-30)
    wall[0] = 5.0  # partition 0 idle: it follows the worker's watermark
    assert clock.now(0) == T0 + timedelta(minutes=50)
    assert clock.now(7) == T0 + timedelta(minutes=50)


def test_partition_clock_in_wall_mode_is_the_clock() -> None:
    manual = ManualClock(T0)
    clock = PartitionClock(manual)
    clock.observe(0, T0 + timedelta(hours=3))
    assert clock.now(0) == T0 and not clock.event_time


def test_envelopes_round_trip() -> None:
    event = ev.parse_object({"event_id": "g1", "type": "gps.fix", "ts": "2026-11-24T08:00:00Z",
                             "source": "avl", "unit_id": "A1", "lat": 30.9, "lon": 117.0})
    assert not isinstance(event, ev.ParseError)
    items: list[feeds.Envelope] = [
        event,
        feeds.EtaUpdate("i1", "A1", "H01", T0, T0 + timedelta(minutes=9), T0, None),
        feeds.UnitTargets("A1", "i1", (30.9, 117.0), "H01"),
        feeds.UnitTargets("A1", "i1"),
        feeds.Tick(3),
    ]
    for item in items:
        assert feeds.decode(feeds.encode(item)) == item


def test_partition_of_matches_kafka_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("inc-1", "A1", "事件-7"):
        expected = DefaultPartitioner()(key.encode(), list(range(6)), list(range(6)))
        assert feeds.partition_of(key, 6) == expected


def test_logs_are_json_and_keep_only_safe_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.pathwatch.logs")
    log.addHandler(handler)
    log.propagate = False
    log.warning("dead letter", extra={"reason": "schema", "incident_ref": ref("inc-1"),
                                      "complaint": "chest pain", "lat": 30.9})
    line = orjson.loads(stream.getvalue())
    assert line["reason"] == "schema" and line["msg"] == "dead letter"
    assert "complaint" not in line and "lat" not in line
    assert line["incident_ref"] != "inc-1" and len(line["incident_ref"]) == 12
    assert ref("inc-1") == ref("inc-1") != ref("inc-2")
